#!/usr/bin/env python3
"""Side-by-side table of two or more benchmark reports (schema `stylegan-wgpu-bench`, v1):
ours (`stylegan bench --json`) first, then PyTorch twin reports (`stylegan1.py bench --json`).

    compare.py ours.json torch-fp32.json [torch-tf32.json ...] [--markdown]

Cases are matched by (suite, name, shape). For each twin report the table gives its time and
`speed = t_twin / t_ours`: above 1 we are faster, below 1 PyTorch is. Times are the reports'
medians per call (`ms`); each report's timer (GPU timestamps/events or wall clock) is shown in
its column header. Cases only one side measured are listed with a dash. Stdlib only.
"""

import argparse
import json
import sys


def load(path):
    with open(path) as f:
        r = json.load(f)
    if r.get("schema") != "stylegan-wgpu-bench":
        raise SystemExit(f"{path}: not a stylegan-wgpu benchmark report")
    if r.get("schema_version") != 1:
        raise SystemExit(f"{path}: schema version {r.get('schema_version')}, this script reads 1")
    return r


def label(r):
    impl = r.get("implementation", "stylegan-wgpu")
    prec = r.get("precision")
    return f"{impl}{' ' + prec if prec else ''}"


def rate(res):
    for key, unit in (("gflops", "GFLOP/s"), ("gbps", "GB/s"), ("images_per_s", "img/s")):
        if key in res:
            return f"{res[key]:.2f} {unit}"
    return ""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ours")
    ap.add_argument("twins", nargs="+")
    ap.add_argument("--markdown", action="store_true", help="a Markdown table (default: aligned text)")
    a = ap.parse_args(argv)
    ours = load(a.ours)
    twins = [load(p) for p in a.twins]
    key = lambda res: (res["suite"], res["name"], res["shape"])
    index = [{key(res): res for res in t["results"]} for t in twins]
    keys = [key(res) for res in ours["results"]]
    for idx in index:
        keys += [k for k in idx if k not in keys]
    mine = {key(res): res for res in ours["results"]}

    print(f"ours: {ours['adapter']} ({ours['backend']}, {ours['driver']})")
    for t in twins:
        print(f"{label(t)}: {t['adapter']} ({t['backend']}, {t['driver']})")
    head = ["suite", "case", "shape", f"ours ms ({ours['results'][0]['timer'] if ours['results'] else '-'})", "ours rate"]
    for t in twins:
        timer = t["results"][0]["timer"] if t["results"] else "-"
        head += [f"{label(t)} ms ({timer})", f"{label(t)} rate", "speed ours/theirs"]
    rows = []
    for k in keys:
        o = mine.get(k)
        row = [k[0], k[1], k[2], f"{o['ms']:.3f}" if o else "-", rate(o) if o else "-"]
        for idx in index:
            t = idx.get(k)
            row += [f"{t['ms']:.3f}" if t else "-", rate(t) if t else "-",
                    f"{t['ms'] / o['ms']:.2f}x" if (t and o and o["ms"] > 0) else "-"]
        rows.append(row)
    if a.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
        for r in [head] + rows:
            print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
