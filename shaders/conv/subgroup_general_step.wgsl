// One step of conv/subgroup_general.wgsl, included per (input channel, kernel line): load
// this line's weight vec4s (NL per lane) and the window's SPAN input values, then for each of
// the TAPS taps along the segment broadcast its QB weight vec4s and accumulate.
//# for j in range(NL)
      let wl{{ j }} = ws[wb + wo{{ j }}];
//# endfor
//# for i in range(SPAN)
      let xv{{ i }} = select(0.0, xs[rb + ci{{ i }}], lineok && cv{{ i }});
//# endfor
//# for t in range(TAPS)
      {
//#   for q in range(QB)
        let w{{ q }} = subgroupBroadcast(wl{{ (t * QB + q) // 8 }}, {{ (t * QB + q) % 8 }}u);
//#   endfor
//#   for p in range(PX)
//#     for q in range(QB)
        acc{{ p }}_{{ q }} = fma(vec4<f32>(xv{{ p * S + t }}), w{{ q }}, acc{{ p }}_{{ q }});
//#     endfor
//#   endfor
      }
//# endfor
