#!/usr/bin/env python3
"""FID-FMNIST, KID, recall and the noise strength of each synthesis layer over training runs: the
plots in assets/README.md.

    python3 benches/study/fid_curve.py OUT.png RUNDIR[:LABEL[:OFFSET]] ... [--point LABEL@KIMG:FID:KID ...]

Each RUNDIR is a `stylegan train --snapshot-kimg K --metrics fid10k,kid10k` output folder: the
metrics come from its metric-fid10k.jsonl, metric-kid10k.jsonl and metric-pr10k3.jsonl (written
by `train --metrics` or by `stylegan metrics --json RUNDIR/metric-pr10k3.jsonl` on its snapshots),
the noise strengths (mean |weight| of each layer's noise input in Gs) from its
network-snapshot-*.safetensors. Prints one table per run and writes a PNG with a panel each for
FID, KID (where a run measured it), recall (likewise) and the noise strengths (needs
matplotlib). `--point` marks a single measured model (e.g. an earlier embedded one) on the FID
and KID panels. OFFSET (kimg) shifts a run that went on from another's snapshot (`train
--init-from`) to where it started, so that the stages of one recipe draw as one curve.
"""
import glob, json, os, re, sys

from noise_ablation import floats, load


def snapshot_kimg(path):
    m = re.search(r"network-snapshot-(\d+)(?:_(\d+))?\.safetensors$", path)
    return int(m.group(1)) + (int(m.group(2)) / 1000 if m.group(2) else 0)


def parse(spec):
    """RUNDIR[:LABEL[:OFFSET]] -> (run, label, offset in kimg)."""
    run, _, rest = spec.partition(":")
    label, _, offset = rest.partition(":")
    return run, label or os.path.basename(run.rstrip("/")), float(offset or 0)


def shifted(values, offset):
    return {round(k + offset, 3): v for k, v in values.items()}


def metric(run, name, key=None):
    """kimg -> value of result `key` (default `name`) of metric-`name`.jsonl; kid as stylegan
    writes it (×10³). `stylegan metrics` lines have no kimg: it comes from the snapshot's name."""
    path = os.path.join(run, f"metric-{name}.jsonl")
    out = {}
    if os.path.exists(path):
        for line in open(path):
            r = json.loads(line)
            kimg = r["kimg"] if "kimg" in r else snapshot_kimg(r["snapshot_pkl"])
            out[round(kimg, 3)] = r["results"][key or name]
    return out


def noise_strengths(run):
    """kimg -> {layer: mean |noise weight|} of Gs in every snapshot."""
    out = {}
    for path in sorted(glob.glob(os.path.join(run, "network-snapshot-*.safetensors"))):
        kimg = snapshot_kimg(path)
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

    # The KID and recall panels only where a run measured them (`--metrics fid10k` alone has
    # neither).
    runs = [parse(spec) for spec in runs]
    has_kid = any(metric(run, "kid10k") for run, _, _ in runs)
    has_recall = any(metric(run, "pr10k3", "pr10k3_recall") for run, _, _ in runs)
    panels = ["fid"] + ["kid"] * has_kid + ["recall"] * has_recall + ["noise"]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2))
    ax = {p: a for p, a in zip(panels, axes)}
    for run, label, offset in runs:
        fid, kid = shifted(metric(run, "fid10k"), offset), shifted(metric(run, "kid10k"), offset)
        noise = shifted(noise_strengths(run), offset)
        recall = shifted(metric(run, "pr10k3", "pr10k3_recall"), offset)
        layers = sorted({l for v in noise.values() for l in v},
                        key=lambda l: (int(l.split("x")[0]), l))
        print(f"# {label} ({run})")
        print("kimg    fid10k   kid10k×1e3  recall  " + " ".join(f"{l:>16}" for l in layers))
        for k in sorted(set(fid) | set(noise) | set(recall)):
            f = f"{fid[k]:8.3f}" if k in fid else f"{'':8}"
            d = f"{kid[k]:10.1f}" if k in kid else f"{'':10}"
            r = f"{recall[k]:7.4f}" if k in recall else f"{'':7}"
            n = " ".join(f"{noise.get(k, {}).get(l, float('nan')):16.4f}" for l in layers)
            print(f"{k:6.1f} {f} {d}  {r}   {n}")
        ks = sorted(fid)
        color = ax["fid"].plot(ks, [fid[k] for k in ks], "o-", label=label)[0].get_color()
        for p, values in (("kid", kid), ("recall", recall)):
            ks = sorted(values)
            if p in ax and ks:
                ax[p].plot(ks, [values[k] for k in ks], "o-", label=label, color=color)
        ks = sorted(noise)
        for l in layers:
            style = "o-" if l == "32x32/Conv0_up" else ":"
            ax["noise"].plot(ks, [noise[k].get(l, float("nan")) for k in ks], style, color=color,
                       label=f"{label}: {l}" if l == "32x32/Conv0_up" else None,
                       alpha=1 if l == "32x32/Conv0_up" else 0.5)
    for p in points:
        label, _, rest = p.rpartition("@")
        kimg, fid, kid = map(float, rest.split(":"))
        ax["fid"].plot([kimg], [fid], "k*", markersize=12, label=label)
        if has_kid:
            ax["kid"].plot([kimg], [kid], "k*", markersize=12, label=label)
    ax["fid"].set(title="FID-FMNIST (fid10k)", xlabel="kimg", yscale="log")
    if has_kid:
        ax["kid"].set(title="KID-FMNIST ×10³ (kid10k)", xlabel="kimg", yscale="log")
    if has_recall:
        ax["recall"].set(title="recall (pr10k3)", xlabel="kimg")
    ax["noise"].set(title="noise strength, mean |w| (solid: 32x32/Conv0_up; dotted: other layers)",
                    xlabel="kimg")
    ax["noise"].title.set_fontsize(9)
    for a in axes:
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=80)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
