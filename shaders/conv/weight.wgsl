// Linear transforms of HWIO conv weights, one invocation per output element (gathers, so no
// atomics are needed):
//   mode 0  flip_swap: out[a,b,u,v] = w[flip ? kh-1-a : a, flip ? kw-1-b : b, (u,v) or (v,u)]
//           (input [kh,kw,I,O], output [kh,kw,I,O] or [kh,kw,O,I] when swapped)
//   mode 1  fuse:      out[a,b,c,o] = sum_{da,db in {0,1}} w[a-da, b-db, c, o]
//           (input [k,k,C,O] zero-padded, output [k+1,k+1,C,O])
//   mode 2  fuse adjoint: out[a,b,c,o] = sum_{da,db in {0,1}} w[a+da, b+db, c, o]
//           (input [k+1,k+1,C,O], output [k,k,C,O])
// kh, kw, i, o always describe the *input* tensor.
struct Params { total: u32, kh: u32, kw: u32, i: u32, o: u32, mode: u32, flip: u32, swap: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Wi: array<f32>;
@group(0) @binding(2) var<storage, read_write> Wo: array<f32>;

fn at(a: u32, b: u32, c: u32, o: u32) -> f32 {
    return Wi[((a * P.kw + b) * P.i + c) * P.o + o];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let id = linear_id(wid, nwg, lid);
    if (id >= P.total) { return; }
    if (P.mode == 0u) {
        // Output channel dims are (I,O) or (O,I).
        let d3 = select(P.o, P.i, P.swap != 0u);
        let d2 = select(P.i, P.o, P.swap != 0u);
        let v = id % d3;
        let u = (id / d3) % d2;
        let b = (id / (d3 * d2)) % P.kw;
        let a = id / (d3 * d2 * P.kw);
        let sa = select(a, P.kh - 1u - a, P.flip != 0u);
        let sb = select(b, P.kw - 1u - b, P.flip != 0u);
        var c = u;
        var o = v;
        if (P.swap != 0u) { c = v; o = u; }
        Wo[id] = at(sa, sb, c, o);
        return;
    }
    let ko = select(P.kh - 1u, P.kh + 1u, P.mode == 1u);
    let o = id % P.o;
    let c = (id / P.o) % P.i;
    let b = (id / (P.o * P.i)) % ko;
    let a = id / (P.o * P.i * ko);
    var acc = 0.0;
    for (var da = 0u; da < 2u; da++) {
        for (var db = 0u; db < 2u; db++) {
            if (P.mode == 1u) {
                // a-da in [0,kh): written with unsigned arithmetic (a >= da first).
                if (a >= da && a - da < P.kh && b >= db && b - db < P.kw) {
                    acc += at(a - da, b - db, c, o);
                }
            } else {
                acc += at(a + da, b + db, c, o);
            }
        }
    }
    Wo[id] = acc;
}
