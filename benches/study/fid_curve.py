#!/usr/bin/env python3
"""FID-FMNIST, KID and the noise strength of each synthesis layer over a training run: the plot
in assets/README.md.

    python3 benches/study/fid_curve.py OUT.png RUNDIR[:LABEL] ... [--point LABEL@KIMG:FID:KID ...]

Each RUNDIR is a `stylegan train --snapshot-kimg K --metrics fid10k,kid10k` output folder: the
metrics come from its metric-fid10k.jsonl and metric-kid10k.jsonl, the noise strengths (mean
|weight| of each layer's noise input in Gs) from its network-snapshot-*.safetensors. Prints one
table per run and writes a three-panel PNG (two without KID; needs matplotlib). `--point` marks a single measured
model (e.g. an earlier embedded one) on the FID and KID panels.
"""
import glob, json, os, re, sys

from noise_ablation import floats, load


def metric(run, name):
    path = os.path.join(run, f"metric-{name}.jsonl")
    out = {}  # kimg -> value (kid as stylegan writes it: ×10³)
    if os.path.exists(path):
        for line in open(path):
            r = json.loads(line)
            out[round(r["kimg"], 3)] = r["results"][name]
    return out


def noise_strengths(run):
    """kimg -> {layer: mean |noise weight|} of Gs in every snapshot."""
    out = {}
    for path in sorted(glob.glob(os.path.join(run, "network-snapshot-*.safetensors"))):
        m = re.search(r"network-snapshot-(\d+)(?:_(\d+))?\.safetensors$", path)
        kimg = int(m.group(1)) + (int(m.group(2)) / 1000 if m.group(2) else 0)
        header, data, _ = load(path)
        layers = {}
        for k, e in header.items():
            if k.startswith("Gs/") and k.endswith("/Noise/weight"):
                w = [abs(v) for v in floats(data, e)]
                layers[k.split("G_synthesis/")[1].rsplit("/Noise", 1)[0]] = sum(w) / len(w)
        out[round(kimg, 3)] = layers
    return out


def main():
    png, args = sys.argv[1], sys.argv[2:]
    points = [args[i + 1] for i, a in enumerate(args) if a == "--point"]
    runs = [a for i, a in enumerate(args) if a != "--point" and (i == 0 or args[i - 1] != "--point")]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # The KID panel only where a run measured KID (`--metrics fid10k` alone has none).
    has_kid = any(metric(spec.partition(":")[0], "kid10k") for spec in runs)
    fig, ax = plt.subplots(1, 3 if has_kid else 2, figsize=(15 if has_kid else 10, 4.2))
    ax = list(ax) if has_kid else [ax[0], None, ax[1]]
    for spec in runs:
        run, _, label = spec.partition(":")
        label = label or os.path.basename(run.rstrip("/"))
        fid, kid, noise = metric(run, "fid10k"), metric(run, "kid10k"), noise_strengths(run)
        layers = sorted({l for v in noise.values() for l in v},
                        key=lambda l: (int(l.split("x")[0]), l))
        print(f"# {label} ({run})")
        print("kimg    fid10k   kid10k×1e3  " + " ".join(f"{l:>16}" for l in layers))
        for k in sorted(set(fid) | set(noise)):
            f = f"{fid[k]:8.3f}" if k in fid else f"{'':8}"
            d = f"{kid[k]:10.1f}" if k in kid else f"{'':10}"
            n = " ".join(f"{noise.get(k, {}).get(l, float('nan')):16.4f}" for l in layers)
            print(f"{k:6.1f} {f} {d}   {n}")
        ks = sorted(fid)
        color = ax[0].plot(ks, [fid[k] for k in ks], "o-", label=label)[0].get_color()
        ks = sorted(kid)
        if has_kid:
            ax[1].plot(ks, [kid[k] for k in ks], "o-", label=label, color=color)
        ks = sorted(noise)
        for l in layers:
            style = "o-" if l == "32x32/Conv0_up" else ":"
            ax[2].plot(ks, [noise[k].get(l, float("nan")) for k in ks], style, color=color,
                       label=f"{label}: {l}" if l == "32x32/Conv0_up" else None,
                       alpha=1 if l == "32x32/Conv0_up" else 0.5)
    for p in points:
        label, _, rest = p.rpartition("@")
        kimg, fid, kid = map(float, rest.split(":"))
        ax[0].plot([kimg], [fid], "k*", markersize=12, label=label)
        if has_kid:
            ax[1].plot([kimg], [kid], "k*", markersize=12, label=label)
    ax[0].set(title="FID-FMNIST (fid10k)", xlabel="kimg", yscale="log")
    if has_kid:
        ax[1].set(title="KID-FMNIST ×10³ (kid10k)", xlabel="kimg", yscale="log")
    ax[2].set(title="noise strength, mean |w| (solid: 32x32/Conv0_up; dotted: other layers)",
              xlabel="kimg")
    ax[2].title.set_fontsize(9)
    for a in filter(None, ax):
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=80)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
