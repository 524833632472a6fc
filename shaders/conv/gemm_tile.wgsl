  // The workgroup's tile: output channels o_base .., pixels pix_base .. of its phase class.
  // Transposed convs (mode 1) run per class of output parity (py, px): the taps of a class
  // start at (a0, b0) and step by the stride, and input rows move against output rows.
  let tile = wid.x + wid.y * nwg.x;
  let cls = wid.z % P.classes;
  let o_base = (wid.z / P.classes) * BM;
  let pix_base = tile * BN;
  let s = P.s;
  let plane = P.h * P.w;
  var py = 0; var px = 0; var a0 = 0; var b0 = 0; var astep = 1; var rsign = 1;
  if (P.mode == 1u) {
    py = i32(cls) / s; px = i32(cls) % s;
    a0 = (py + P.ph) % s; b0 = (px + P.pw) % s; astep = s; rsign = -1;
  }
