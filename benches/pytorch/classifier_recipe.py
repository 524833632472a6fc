#!/usr/bin/env python3
"""A PyTorch replica of the evaluation classifier (nn::classifier: runtime-scaled 3x3 convs
32/64/64 with ReLU and 2x2 max pooling, dense 1024 -> 128 -> 10), used to choose the training
recipe of `stylegan train-classifier` in minutes on a CPU before the slower run on lavapipe.
Its accuracies track ours within a few tenths of a percent (same init scheme, Adam, batch 64,
data order differs); the recipe comparison is in assets/README.md.

    THREADS=2 DROP1=0.25 DROP2=0.5 python3 benches/pytorch/classifier_recipe.py \
        /usr/share/datasets/fashion-mnist 0.01,0.01,0.01,0.01,0.01,0.01,0.01,0.01,0.005,0.0025,0.001,0.0005

PLAN is the learning rate of each epoch; a rate ending in `a` trains that epoch with random
shifts (up to 2 px) and mirroring. DROP1/DROP2: dropout on the flattened pooling output and on
the 128 features.
"""
import gzip, os, sys, time

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
DROP1 = float(os.environ.get("DROP1", "0"))
DROP2 = float(os.environ.get("DROP2", "0"))


def idx(folder, name):
    p = os.path.join(folder, name)
    b = gzip.open(p + ".gz").read() if os.path.exists(p + ".gz") else open(p, "rb").read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)


def images(folder, split):
    x = np.pad(idx(folder, f"{split}-images-idx3-ubyte"), ((0, 0), (2, 2), (2, 2)))
    y = idx(folder, f"{split}-labels-idx1-ubyte")
    return torch.tensor(x, dtype=torch.float32)[:, None] / 127.5 - 1, torch.tensor(y, dtype=torch.long)


def main():
    folder = sys.argv[1]
    plan = [(float(v.rstrip("a")), v.endswith("a")) for v in sys.argv[2].split(",")]
    xtr, ytr = images(folder, "train")
    xte, yte = images(folder, "t10k")
    g = torch.Generator().manual_seed(0)
    shapes = [(32, 1, 3, 3), (64, 32, 3, 3), (64, 64, 3, 3), (128, 1024), (10, 128)]
    W = [torch.randn(s, generator=g, requires_grad=True) for s in shapes]
    B = [torch.zeros(s[0], requires_grad=True) for s in shapes]

    def forward(x, train=False):
        for i in range(3):
            w = W[i] * (2 / W[i][0].numel()) ** 0.5
            x = F.max_pool2d(F.relu(F.conv2d(x, w, B[i], padding=1)), 2)
        x = x.flatten(1)
        if train and DROP1:
            x = F.dropout(x, DROP1)
        h = F.relu(x @ (W[3] * (2 / 1024) ** 0.5).T + B[3])
        if train and DROP2:
            h = F.dropout(h, DROP2)
        return h @ (W[4] * (1 / 128) ** 0.5).T + B[4]

    opt = torch.optim.Adam(W + B, lr=plan[0][0])
    for ep, (lr, aug) in enumerate(plan):
        for pg in opt.param_groups:
            pg["lr"] = lr
        t = time.time()
        perm = torch.randperm(len(xtr), generator=g)
        for s in range(0, len(xtr), 64):
            i = perm[s:s + 64]
            x = xtr[i]
            if aug:
                n = len(i)
                flip = torch.rand(n, generator=g) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(3), x)
                d = torch.randint(0, 5, (n, 2), generator=g)
                xp, a = F.pad(x, (2, 2, 2, 2)), torch.arange(32)
                rows, cols = (d[:, 0:1] + a)[:, :, None], (d[:, 1:2] + a)[:, None, :]
                x = xp[torch.arange(n)[:, None, None], 0, rows, cols][:, None]
            loss = F.cross_entropy(forward(x, True), ytr[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            acc = (forward(xte).argmax(1) == yte).float().mean().item()
        print(f"epoch {ep + 1} lr {lr} augment {aug} test {acc * 100:.2f} % ({time.time() - t:.0f} s)",
              flush=True)


if __name__ == "__main__":
    main()
