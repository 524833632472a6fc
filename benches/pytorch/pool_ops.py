#!/usr/bin/env python3
"""PyTorch's values for the pooling and resizing ops (`tests/ops_pool.rs` and
`tests/ops_resize.rs`, the ignored `against_pytorch` tests): for each line `NAME OP ARGS...` of DIR/cases.txt it reads DIR/NAME.x.npy
(the input) and DIR/NAME.r.npy (a projection of the output), computes in float32 on the CPU

    y = OP(x, ARGS)    and    dx = d<y, r>/dx

and writes DIR/NAME.y.npy and DIR/NAME.dx.npy. OPs (torch.nn.functional):

    max_pool K S P              F.max_pool2d(x, K, S, P)
    avg_pool K S P INCLUDE      F.avg_pool2d(x, K, S, P, count_include_pad=INCLUDE == 1)
    global_avg_pool             F.adaptive_avg_pool2d(x, 1)
    resize HO WO                F.interpolate(x, size=(HO, WO), mode="bilinear",
                                              align_corners=False, antialias=False)

    pool_ops.py DIR
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F


def run(op, args, x):
    a = [int(v) for v in args]
    if op == "max_pool":
        return F.max_pool2d(x, a[0], a[1], a[2])
    if op == "avg_pool":
        return F.avg_pool2d(x, a[0], a[1], a[2], count_include_pad=a[3] == 1)
    if op == "global_avg_pool":
        return F.adaptive_avg_pool2d(x, 1)
    if op == "resize":
        return F.interpolate(
            x, size=(a[0], a[1]), mode="bilinear", align_corners=False, antialias=False
        )
    raise SystemExit(f"unknown op {op}")


def main():
    d = sys.argv[1]
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    with open(os.path.join(d, "cases.txt")) as f:
        for line in f:
            if not line.strip():
                continue
            name, op, *args = line.split()
            x = torch.from_numpy(np.load(os.path.join(d, name + ".x.npy"))).float()
            r = torch.from_numpy(np.load(os.path.join(d, name + ".r.npy"))).float()
            x.requires_grad_(True)
            y = run(op, args, x)
            (dx,) = torch.autograd.grad((y * r).sum(), x)
            np.save(os.path.join(d, name + ".y.npy"), y.detach().numpy())
            np.save(os.path.join(d, name + ".dx.npy"), dx.numpy())
            print(f"{name}: {op} {' '.join(args)} {tuple(x.shape)} -> {tuple(y.shape)}")


if __name__ == "__main__":
    main()
