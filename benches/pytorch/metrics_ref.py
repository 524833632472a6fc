#!/usr/bin/env python3
"""Python ports of the official metric code, the reference of tests/metrics_ref.rs.

  metrics_ref.py pr REAL.npy FAKE.npy K [--dtype float32|float64] [--radii official|exact]
      stylegan2-ada-pytorch's metrics/precision_recall.py (compute_distances, compute_pr),
      single process: prints "precision: <v>" and "recall: <v>", the exact fractions of the
      counts, and after each the count and the official (float32) mean.
  metrics_ref.py ppl_parts Z.npy T.npy OUT.npy
      the official StyleGAN (TF) slerp of the pairs Z [n, 2, dim] at T [n]; writes the
      normalized results [n, dim] as float64.
  metrics_ref.py filter D.npy
      the official PPL percentile filter and mean of the distances D: prints "ppl: <v>".
  metrics_ref.py ls LATENTS.npy PROBS.npy
      the official StyleGAN metrics/linear_separability.py procedure, one-vs-rest for each
      class of PROBS [n, classes]: prints one "H[c]: <bits>" line per class and "ls: <v>".

Inputs are .npy (float32 as our tests write them); every number printed uses repr, so the
full double precision reaches the test.
"""
import argparse
import sys

import numpy as np


# ---------------------------------------------------------------------------------------------
# Precision and recall: stylegan2-ada-pytorch metrics/precision_recall.py without the
# torch.distributed parts (num_gpus = 1, rank = 0).


def compute_distances(row_features, col_features, col_batch_size):
    import torch

    num_gpus, rank = 1, 0
    num_cols = col_features.shape[0]
    num_batches = ((num_cols - 1) // col_batch_size // num_gpus + 1) * num_gpus
    col_batches = torch.nn.functional.pad(
        col_features, [0, 0, 0, -num_cols % num_batches]
    ).chunk(num_batches)
    dist_batches = []
    for col_batch in col_batches[rank::num_gpus]:
        dist_batch = torch.cdist(row_features.unsqueeze(0), col_batch.unsqueeze(0))[0]
        for _src in range(num_gpus):
            dist_broadcast = dist_batch.clone()
            dist_batches.append(dist_broadcast.cpu())
    return torch.cat(dist_batches, dim=1)[:, :num_cols]


def compute_pr(real_features, gen_features, nhood_size, row_batch_size, col_batch_size,
               radii="official"):
    import torch

    results = dict()
    for name, manifold, probes in [
        ("precision", real_features, gen_features),
        ("recall", gen_features, real_features),
    ]:
        kth = []
        for manifold_batch in manifold.split(row_batch_size):
            dist = compute_distances(manifold_batch, manifold, col_batch_size)
            if radii == "official":
                # The official line: radii computed in float32, stored in float16.
                kth.append(dist.to(torch.float32).kthvalue(nhood_size + 1).values.to(torch.float16))
            else:
                # The same k-th value kept in the distances' own dtype.
                kth.append(dist.kthvalue(nhood_size + 1).values)
        kth = torch.cat(kth)
        pred = []
        for probes_batch in probes.split(row_batch_size):
            dist = compute_distances(probes_batch, manifold, col_batch_size)
            pred.append((dist <= kth).any(dim=1))
        pred = torch.cat(pred)
        results[name] = float(pred.to(torch.float32).mean())  # the official value
        results[name + "_count"] = (int(pred.sum()), pred.numel())
    return results


def cmd_pr(a):
    import torch

    dtype = {"float32": torch.float32, "float64": torch.float64}[a.dtype]
    real = torch.from_numpy(np.load(a.real)).to(dtype)
    fake = torch.from_numpy(np.load(a.fake)).to(dtype)
    # The official defaults are row_batch_size=10000, col_batch_size=10000; ours exercise the
    # batching too.
    res = compute_pr(real, fake, a.k, a.row_batch, a.col_batch, a.radii)
    for name in ["precision", "recall"]:
        inside, total = res[name + "_count"]
        # The official value is a float32 mean (0.356 prints as 0.35600000619888306); the
        # exact fraction of the same count is what a comparison wants.
        print(f"{name}: {inside / total!r}")
        print(f"{name} count: {inside} of {total}; official float32 mean {res[name]!r}")


# ---------------------------------------------------------------------------------------------
# PPL: the official StyleGAN (TF) metrics/perceptual_path_length.py, in numpy float64.


def normalize(v):
    return v / np.sqrt(np.sum(np.square(v), axis=-1, keepdims=True))


def slerp(a, b, t):
    a = normalize(a)
    b = normalize(b)
    d = np.sum(a * b, axis=-1, keepdims=True)
    p = t * np.arccos(d)
    c = normalize(b - d * a)
    d = a * np.cos(p) + c * np.sin(p)
    return normalize(d)


def cmd_ppl_parts(a):
    z = np.load(a.z).astype(np.float64)  # [n, 2, dim]
    t = np.load(a.t).astype(np.float64).reshape(-1, 1)  # [n, 1]
    out = slerp(z[:, 0], z[:, 1], t)
    np.save(a.out, out.astype(np.float64))
    print(f"slerp: {out.shape[0]} pairs of {out.shape[1]}-d vectors")


def percentile(d, q, method):
    try:
        return np.percentile(d, q, method=method)
    except TypeError:  # numpy < 1.22
        return np.percentile(d, q, interpolation=method)


def cmd_filter(a):
    # float64: the official distances are float32 TF outputs, but its mean of a float32 array
    # accumulates in float32; the comparison wants the formula, not float32 rounding.
    all_distances = np.load(a.d).astype(np.float64)
    lo = percentile(all_distances, 1, "lower")
    hi = percentile(all_distances, 99, "higher")
    filtered_distances = np.extract(
        np.logical_and(lo <= all_distances, all_distances <= hi), all_distances
    )
    print(f"kept: {filtered_distances.size} of {all_distances.size} "
          f"(lo {float(lo)!r}, hi {float(hi)!r})")
    print(f"ppl: {float(np.mean(filtered_distances))!r}")


# ---------------------------------------------------------------------------------------------
# Linear separability: the official StyleGAN metrics/linear_separability.py (its functions
# verbatim, float32 and log2 included).


def prob_normalize(p):
    p = np.asarray(p).astype(np.float32)
    assert len(p.shape) == 2
    return p / np.sum(p)


def mutual_information(p):
    p = prob_normalize(p)
    px = np.sum(p, axis=1)
    py = np.sum(p, axis=0)
    result = 0.0
    for x in range(p.shape[0]):
        p_x = px[x]
        for y in range(p.shape[1]):
            p_xy = p[x][y]
            p_y = py[y]
            if p_xy > 0.0:
                result += p_xy * np.log2(p_xy / (p_x * p_y))  # get bits as output
    return result


def entropy(p):
    p = prob_normalize(p)
    result = 0.0
    for x in range(p.shape[0]):
        for y in range(p.shape[1]):
            p_xy = p[x][y]
            if p_xy > 0.0:
                result -= p_xy * np.log2(p_xy)
    return result


def conditional_entropy(p):
    # H(Y|X) where X corresponds to axis 0, Y to axis 1
    p = prob_normalize(p)
    y = np.sum(p, axis=0, keepdims=True)  # marginalize to calculate H(Y)
    return max(0.0, entropy(y) - mutual_information(p))  # can slip just below 0


def cmd_ls(a):
    import warnings

    import sklearn.svm
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    # LinearSVC() draws liblinear's seed from numpy's global generator: fix it, so this
    # script's output is reproducible.
    np.random.seed(0)
    latents = np.load(a.latents)  # [n, dim]
    probs = np.load(a.probs)  # [n, classes]
    num_samples = latents.shape[0]
    num_keep = num_samples // 2
    entropies = []
    for attrib_idx in range(probs.shape[1]):
        # The official classifiers give softmax([logit, -logit]): [p, 1 - p] per image. Ours
        # are one-vs-rest of a softmax over classes; 1 - p is taken in float64, where it is
        # exact for float32 p, so the kept half is exactly the Rust one.
        p_attr = probs[:, attrib_idx].astype(np.float64)
        result = np.stack([p_attr, 1.0 - p_attr], axis=1)

        # Prune the least confident samples.
        pruned_indices = list(range(num_samples))
        pruned_indices = sorted(pruned_indices, key=lambda i: -np.max(result[i]))
        pruned_indices = pruned_indices[:num_keep]

        # Fit SVM to the remaining samples (target 0: attribute present).
        svm_targets = np.argmax(result[pruned_indices], axis=1)
        svm_inputs = latents[pruned_indices]
        try:
            svm = sklearn.svm.LinearSVC(dual=True)  # the official LinearSVC() of its time
            svm.fit(svm_inputs, svm_targets)
            svm.score(svm_inputs, svm_targets)
            svm_outputs = svm.predict(svm_inputs)
        except Exception:  # the official bare except: one class only
            svm_outputs = svm_targets  # assume perfect prediction

        # Calculate conditional entropy.
        p = [
            [np.mean([case == (row, col) for case in zip(svm_outputs, svm_targets)])
             for col in (0, 1)]
            for row in (0, 1)
        ]
        h = conditional_entropy(p)
        print(f"H[{attrib_idx}]: {float(h)!r}")
        entropies.append(h)

    # Calculate separability scores.
    print(f"ls: {float(2 ** np.sum(entropies))!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pr")
    p.add_argument("real")
    p.add_argument("fake")
    p.add_argument("k", type=int)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--radii", choices=["official", "exact"], default="official",
                   help="official: float16 radii as stylegan2-ada; exact: the distances' dtype")
    p.add_argument("--row-batch", type=int, default=10000)
    p.add_argument("--col-batch", type=int, default=10000)
    p.set_defaults(fn=cmd_pr)
    p = sub.add_parser("ppl_parts")
    p.add_argument("z")
    p.add_argument("t")
    p.add_argument("out")
    p.set_defaults(fn=cmd_ppl_parts)
    p = sub.add_parser("filter")
    p.add_argument("d")
    p.set_defaults(fn=cmd_filter)
    p = sub.add_parser("ls")
    p.add_argument("latents")
    p.add_argument("probs")
    p.set_defaults(fn=cmd_ls)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
