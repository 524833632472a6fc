#!/usr/bin/env python3
"""The mesh-texture study of the default model (assets/README.md): per-layer noise strengths and
copies of a model with some layers' noise weights set to zero.

    python3 benches/study/noise_ablation.py assets/default.safetensors OUTDIR

prints mean/max |noise weight| per layer and writes OUTDIR/no-noise-32up.safetensors (only the
32x32/Conv0_up noise weights zeroed) and OUTDIR/no-noise.safetensors (every noise weight zeroed).
Plain Python: the safetensors layout is an 8-byte header length, a JSON header and raw data.
"""
import json, os, struct, sys
from array import array


def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), bytearray(b[8 + n:]), b[:8 + n]


def floats(data, entry):
    lo, hi = entry["data_offsets"]
    return array("f", bytes(data[lo:hi]))


def zeroed(header, data, names):
    out = bytearray(data)
    for k in names:
        lo, hi = header[k]["data_offsets"]
        out[lo:hi] = bytes(hi - lo)
    return out


def main():
    src, outdir = sys.argv[1], sys.argv[2]
    header, data, prefix = load(src)
    noise = sorted((k for k in header if k.endswith("/Noise/weight")),
                   key=lambda k: (int(k.split("/")[2].split("x")[0]), k))
    print(f"{'layer':<34} {'mean|w|':>8} {'max|w|':>8}")
    for k in noise:
        w = [abs(v) for v in floats(data, header[k])]
        print(f"{k.split('G_synthesis/')[1]:<34} {sum(w) / len(w):8.4f} {max(w):8.4f}")
    os.makedirs(outdir, exist_ok=True)
    for name, keys in [("no-noise-32up", [k for k in noise if "/32x32/Conv0_up/" in k]),
                       ("no-noise", noise)]:
        path = os.path.join(outdir, name + ".safetensors")
        with open(path, "wb") as f:
            f.write(prefix + zeroed(header, data, keys))
        print(f"wrote {path} ({len(keys)} noise weight tensors zeroed)")


if __name__ == "__main__":
    main()
