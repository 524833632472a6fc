#!/usr/bin/env python3
"""FID against kimg of the fine-tuning comparison (`examples/fine_tune_bags.rs`): one line per
run from its fid-bags.jsonl, as a table on stdout and a PNG (needs matplotlib).

    python3 benches/study/fine_tune_plot.py OUTDIR/fid-bags.jsonl OUT.png
"""
import json, sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    runs = {}
    for line in open(src):
        r = json.loads(line)
        runs.setdefault(r["run"], []).append((r["kimg"], r["fid1k_bags"]))
    kimgs = sorted({k for pts in runs.values() for k, _ in pts})
    names = list(runs)
    print("| kimg | " + " | ".join(names) + " |")
    print("|---:|" + "---:|" * len(names))
    for k in kimgs:
        row = [dict(runs[n]).get(k) for n in names]
        print(f"| {k:g} | " + " | ".join("" if v is None else f"{v:.1f}" for v in row) + " |")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    for n in names:
        pts = sorted(runs[n])
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=n)
    ax.set_xlabel("kimg (thousands of real images shown)")
    ax.set_ylabel("FID, 1k fakes vs 1k test bags")
    ax.set_title("1,000 Fashion-MNIST bags: from the embedded model vs from scratch", fontsize=9)
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
