#!/usr/bin/env python3
"""High-frequency energy of images: the texture study of the default model (assets/README.md).

    python3 benches/study/spectrum.py REAL_IDX.gz NAME=images.npy ...

REAL_IDX is an IDX image file (Fashion-MNIST, 28x28 padded to 32x32 like the training data);
each .npy is a `stylegan generate --out-npy` output ([N, 1, 32, 32] in [-1, 1]). For every set
it prints the share of the (mean-removed) spectral energy above half the Nyquist frequency and the
energy at the highest frequencies (the period-2 checkerboard rows/columns), both relative to the
real images, so a texture shows up as a number.
"""
import gzip, sys
import numpy as np


def read_idx(path):
    b = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    x = np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims).astype(np.float64)
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)))
    return x / 127.5 - 1.0


def stats(x):
    x = x.reshape(len(x), x.shape[-2], x.shape[-1]).astype(np.float64)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    p = np.abs(np.fft.fft2(x)) ** 2
    p = p.mean(axis=0)
    n = p.shape[0]
    f = np.abs(np.fft.fftfreq(n))
    r = np.maximum(f[:, None], f[None, :])  # Chebyshev radius: square bands
    high = p[r > 0.25].sum() / p.sum()
    nyq = p[(f[:, None] == 0.5) | (f[None, :] == 0.5)].sum() / p.sum()
    return high, nyq


def main():
    real = read_idx(sys.argv[1])[:10000]
    rows = [("real (test set)", real)]
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        rows.append((name, np.load(path)))
    h0, n0 = stats(real)
    print(f"{'images':<28} {'n':>6} {'E(f>1/4)':>9} {'x real':>7} {'E(Nyquist)':>11} {'x real':>7}")
    for name, x in rows:
        h, q = stats(x)
        print(f"{name:<28} {len(x):>6} {h:9.4f} {h / h0:7.2f} {q:11.5f} {q / n0:7.2f}")


if __name__ == "__main__":
    main()
