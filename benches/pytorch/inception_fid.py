#!/usr/bin/env python3
"""pytorch-fid as the reference for `stylegan features` and `stylegan fid`.

No real Inception weights exist on our machines, so this builds pytorch-fid's own FID Inception
(`pytorch_fid.inception.fid_inception_v3`, its FIDInceptionA/C/E blocks) with random weights by
replacing its download with a random state dict, saves that state dict as a `.pth`, and runs
pytorch-fid's own pipeline (its image dataset, its model wrapper, its statistics) on folders of
images. tests/inception.rs compares our outputs with these.

  inception_fid.py weights OUT.pth [--seed S] [--legacy]
  inception_fid.py features WEIGHTS.pth DIR OUT.npy      pool features [N, 2048], sorted file names
  inception_fid.py fid WEIGHTS.pth DIR_A DIR_B            prints the FID (pytorch_fid.fid_score)
  inception_fid.py stats WEIGHTS.pth DIR OUT.npz          pytorch-fid's --save-stats (mu, sigma)
  (features, fid and stats take --dims 64|192|768|2048, pytorch-fid's own flag; A or B of fid
  may be an .npz of statistics, as pytorch-fid accepts)
  inception_fid.py kid GEN.npy REAL.npy                   prints KID (not scaled), stylegan2-ada's
                                                          compute_kid on two feature files
"""
import argparse
import math

import numpy as np
import torch
import pytorch_fid.inception as inception
from pytorch_fid import fid_score


def random_state_dict(seed):
    """Every tensor of the FID Inception, random but with activations of order 1: convs like He
    initialization, batch-norm statistics and affine parameters near their neutral values."""
    torch.manual_seed(seed)
    saved = inception.load_state_dict_from_url
    inception.load_state_dict_from_url = lambda *a, **k: None
    try:
        net = build_without_weights()
    finally:
        inception.load_state_dict_from_url = saved
    sd = net.state_dict()
    out = {}
    for k, v in sd.items():
        if k.endswith("conv.weight"):
            fan_in = v.shape[1] * v.shape[2] * v.shape[3]
            out[k] = torch.randn(v.shape) * math.sqrt(2.0 / fan_in)
        elif k.endswith("bn.weight"):
            out[k] = torch.rand(v.shape) + 0.5
        elif k.endswith("bn.bias") or k.endswith("running_mean"):
            out[k] = torch.randn(v.shape) * 0.1
        elif k.endswith("running_var"):
            out[k] = torch.rand(v.shape) + 0.5
        elif k.startswith("fc."):
            out[k] = torch.randn(v.shape) * 0.02
        else:  # num_batches_tracked: int64, kept so the file has what real checkpoints have
            out[k] = v.clone()
    return out


def build_without_weights():
    """fid_inception_v3() with `load_state_dict` made a no-op (its loader returns None)."""
    real = torch.nn.Module.load_state_dict
    torch.nn.Module.load_state_dict = lambda self, sd, *a, **k: None
    try:
        return inception.fid_inception_v3()
    finally:
        torch.nn.Module.load_state_dict = real


def use_weights(path):
    """pytorch-fid's download replaced by our file."""
    inception.load_state_dict_from_url = lambda *a, **k: torch.load(path, map_location="cpu")


def model(path, dims=2048):
    use_weights(path)
    m = inception.InceptionV3([inception.InceptionV3.BLOCK_INDEX_BY_DIM[dims]])
    return m.eval()


def compute_kid(gen_features, real_features, num_subsets=100, max_subset_size=1000):
    """stylegan2-ada-pytorch metrics/kernel_inception_distance.py, verbatim but for names."""
    n = real_features.shape[1]
    m = min(min(real_features.shape[0], gen_features.shape[0]), max_subset_size)
    t = 0
    for _subset_idx in range(num_subsets):
        x = gen_features[np.random.choice(gen_features.shape[0], m, replace=False)]
        y = real_features[np.random.choice(real_features.shape[0], m, replace=False)]
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        t += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return t / num_subsets / m


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("weights")
    w.add_argument("out")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--legacy", action="store_true", help="pre-1.6 (non-zip) torch.save format")
    f = sub.add_parser("features")
    f.add_argument("weights")
    f.add_argument("dir")
    f.add_argument("out")
    f.add_argument("--dims", type=int, default=2048)
    d = sub.add_parser("fid")
    d.add_argument("weights")
    d.add_argument("a")
    d.add_argument("b")
    d.add_argument("--dims", type=int, default=2048)
    st = sub.add_parser("stats")
    st.add_argument("weights")
    st.add_argument("dir")
    st.add_argument("out")
    st.add_argument("--dims", type=int, default=2048)
    k = sub.add_parser("kid")
    k.add_argument("gen")
    k.add_argument("real")
    args = ap.parse_args()
    torch.set_num_threads(2)

    if args.cmd == "weights":
        torch.save(random_state_dict(args.seed), args.out,
                   _use_new_zipfile_serialization=not args.legacy)
    elif args.cmd == "features":
        import pathlib
        files = sorted(
            file
            for ext in fid_score.IMAGE_EXTENSIONS
            for file in pathlib.Path(args.dir).glob("*.{}".format(ext))
        )
        feats = fid_score.get_activations(files, model(args.weights, args.dims), batch_size=8,
                                          dims=args.dims, device="cpu", num_workers=0)
        np.save(args.out, feats.astype(np.float32))
    elif args.cmd == "fid":
        use_weights(args.weights)
        v = fid_score.calculate_fid_given_paths([args.a, args.b], batch_size=8, device="cpu",
                                                dims=args.dims, num_workers=0)
        print(repr(float(v)))
    elif args.cmd == "stats":
        use_weights(args.weights)
        fid_score.save_fid_stats([args.dir, args.out], batch_size=8, device="cpu",
                                 dims=args.dims, num_workers=0)
    elif args.cmd == "kid":
        # float64, so the comparison measures the formula, not float32 rounding.
        gen = np.load(args.gen).astype(np.float64)
        real = np.load(args.real).astype(np.float64)
        print(repr(float(compute_kid(gen, real))))


if __name__ == "__main__":
    main()
