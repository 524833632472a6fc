#!/usr/bin/env python3
"""The measurement tables of the default model's card (assets/README.md) from what
benches/study/card.sh wrote:

    python3 benches/study/card_tables.py OUTDIR [CLASSIFIER.safetensors]

Prints, as Markdown: every metric of OUTDIR/metrics.jsonl with the floor (OUTDIR/floor.json),
and for a class-conditional model one row per class: its FID, the evaluation network's accuracy
on its fakes, and the same network's accuracy on the real test images of that class (the
diagonal of the confusion matrix in the classifier's metadata), which bounds what "accuracy on
fakes" can mean for a class the network itself confuses.
"""
import json, os, struct, sys


def results(out):
    """metric name -> {result key: value} of OUTDIR/metrics.jsonl (the last line of each)."""
    got = {}
    for line in open(os.path.join(out, "metrics.jsonl")):
        r = json.loads(line)
        got[r["metric"]] = r["results"]
    return got


def real_accuracy(classifier):
    """Per-class accuracy of the evaluation network on the real test set, from its metadata."""
    b = open(classifier, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    confusion = json.loads(json.loads(b[8:8 + n])["__metadata__"]["confusion"])
    return [row[i] / sum(row) for i, row in enumerate(confusion)]


def main():
    out = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    classifier = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        here, "..", "..", "assets", "fmnist-classifier.safetensors")
    r = results(out)
    floor = json.load(open(os.path.join(out, "floor.json"))) if os.path.exists(
        os.path.join(out, "floor.json")) else {}

    print("| metric | value |")
    print("|---|---|")
    for name, res in r.items():
        if name.startswith(("fid_per_class", "acc_per_class")):
            continue
        vals = ", ".join(f"{k} {v:.4g}" for k, v in res.items())
        print(f"| `{name}` | {vals} |")
    for k, v in floor.items():
        if isinstance(v, int):
            print(f"| floor: {k} | {v:,} |")
        elif isinstance(v, float):
            print(f"| floor: {k} | {v:.4g} |")

    fid = next((v for k, v in r.items() if k.startswith("fid_per_class")), None)
    acc = next((v for k, v in r.items() if k.startswith("acc_per_class")), None)
    if not (fid and acc):
        return
    real = real_accuracy(classifier)
    names = [k.split("_", 3)[3] for k in acc if not k.endswith("_mean")]
    # The results come sorted by key; the classes' order is the confusion matrix's, which the
    # accuracy keys do not carry: take it from the class names of Fashion-MNIST.
    order = ["t_shirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
             "sneaker", "bag", "ankle_boot"]
    if sorted(names) != sorted(order):
        order = sorted(names)
        real = None
    acc_prefix = [k for k in acc if k.endswith("_mean")][0][:-len("mean")]
    fid_prefix = [k for k in fid if k.endswith("_mean")][0][:-len("mean")]
    print()
    print("| class | FID of the class | accuracy on its fakes | accuracy on real test images |")
    print("|---|---|---|---|")
    for i, c in enumerate(order):
        rr = f"{real[i]:.3f}" if real else ""
        print(f"| {c} | {fid[fid_prefix + c]:.1f} | {acc[acc_prefix + c]:.3f} | {rr} |")
    rm = f"{sum(real) / len(real):.3f}" if real else ""
    print(f"| **mean** | {fid[fid_prefix + 'mean']:.1f} | {acc[acc_prefix + 'mean']:.3f} | {rm} |")


if __name__ == "__main__":
    main()
