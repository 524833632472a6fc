#!/usr/bin/env python3
"""The PyTorch twin of stylegan-wgpu: the same StyleGAN (v1) network, the same benchmark suites
and the same JSON report, in plain eager PyTorch, so that `stylegan bench` can be compared with
PyTorch on the same machine, case by case.

    stylegan1.py bench {kernels,generate,train,all} [--quick] [--tiny] [--json FILE]
                       [--precision fp32|tf32] [--device cuda|cpu] [--runs N] [--iters N]
    stylegan1.py check --model M.safetensors (--latents z.npy | --seeds 0-3) --images ours.npy
                       [--trunc PSI] [--trunc-cutoff L] [--noise-mode const|none]
                       [--losses ours.safetensors --reals reals.npy [--gamma 10]]
                       [--classes classes.npy|2,0,1]

`bench` mirrors `src/bench/` (cases, shapes, warm-up, median of runs, JSON schema v1 from
`benches/README.md`, plus `implementation`, `precision` and `torch` fields). `check` loads one of
our model files (`stylegan init`, `stylegan convert`, a training snapshot), recomputes what
`stylegan generate --out-npy` and `stylegan losses` wrote, in float64 by default, and prints
the largest differences; it exits 1 when any tensor differs by more than `--rtol` of its
largest value. A class-conditional model (`label_size > 0`) takes one class per image
(`--classes`; with `--seeds` and no `--classes`, seed mod label_size, as `stylegan generate`):
the mapping concatenates the label embedding, D scores with its per-class outputs, and both
losses use those labels for reals and fakes. The network follows the description in `docs/network.md` and was written from it, not
translated from our Rust code, so it is an independent check.

Needs only torch and numpy (the lent GPU machine has no network to install more): the
safetensors reader below is a few lines of struct and json.
"""

import argparse
import json
import math
import os
import platform
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

SCHEMA_VERSION = 1
EPS = 1e-8
SLOPE = 0.2
SQRT2 = math.sqrt(2.0)

# --------------------------------------------------------------------------------------------
# Config (src/nn/config.rs)

DEFAULT_CONFIG = dict(
    resolution=1024, num_channels=3, latent_size=512, dlatent_size=512, label_size=0,
    mapping_layers=8, mapping_fmaps=512, mapping_lrmul=0.01, fmap_base=8192, fmap_decay=1.0,
    fmap_max=512, fused_scale="auto", mbstd_group_size=4, mbstd_num_features=1,
    truncation_psi=0.7, truncation_cutoff=8, dlatent_avg_beta=0.995, style_mixing_prob=0.9,
    progressive=False,
)
PRESETS = {
    "ffhq": {},
    "tiny": dict(resolution=32, latent_size=32, dlatent_size=32, mapping_layers=2,
                 mapping_fmaps=32, fmap_base=128, fmap_max=32),
}


class Config:
    def __init__(self, **kw):
        unknown = set(kw) - set(DEFAULT_CONFIG)
        if unknown:
            raise ValueError(f"config: unknown keys {sorted(unknown)}")
        for k, v in {**DEFAULT_CONFIG, **kw}.items():
            setattr(self, k, v)
        r = self.resolution
        if r < 4 or r & (r - 1):
            raise ValueError(f"config: resolution {r} must be a power of two >= 4")
        if not isinstance(self.label_size, int) or self.label_size < 0:
            raise ValueError(f"config: label_size {self.label_size!r} must be an integer >= 0")
        if self.mbstd_num_features != 1:
            raise ValueError("config: only mbstd_num_features = 1 is supported")

    @staticmethod
    def preset(name, **overrides):
        return Config(**{**PRESETS[name], **overrides})

    @property
    def log2_res(self):
        return int(math.log2(self.resolution))

    def nf(self, stage):
        return min(int(math.floor(self.fmap_base / 2.0 ** (stage * self.fmap_decay))), self.fmap_max)

    @property
    def num_layers(self):
        return 2 * self.log2_res - 2

    def fused(self, side):
        """G up-conv producing `side` / D down-conv consuming `side` is one stride-2 conv."""
        fs = self.fused_scale
        return side >= 128 if fs == "auto" else bool(fs is True or fs == "on")


def layer_scope(i):
    if i == 0:
        return "4x4/Const"
    if i == 1:
        return "4x4/Conv"
    s = 1 << (i // 2 + 2)
    return f"{s}x{s}/" + ("Conv0_up" if i % 2 == 0 else "Conv1")


def layer_channels(cfg, i):
    return cfg.nf(i // 2 + 1)


def layer_side(i):
    return 1 << (i // 2 + 2)


# --------------------------------------------------------------------------------------------
# Variables: official names, shapes and initialization (src/nn/params.rs).
# Each entry: (name, shape, init, trainable); init is ("normal", std), "zeros" or "ones".

def generator_specs(cfg):
    v = []
    fan_in = cfg.latent_size
    if cfg.label_size:
        # The label embedding: N(0, 1), used as stored (no equalized-lr scale, no bias).
        v.append(("G_mapping/LabelConcat/weight", (cfg.label_size, cfg.latent_size), ("normal", 1.0), True))
        fan_in += cfg.latent_size
    for l in range(cfg.mapping_layers):
        out = cfg.dlatent_size if l + 1 == cfg.mapping_layers else cfg.mapping_fmaps
        v.append((f"G_mapping/Dense{l}/weight", (fan_in, out), ("normal", 1.0 / cfg.mapping_lrmul), True))
        v.append((f"G_mapping/Dense{l}/bias", (out,), "zeros", True))
        fan_in = out
    syn = "G_synthesis"
    for i in range(cfg.num_layers):
        scope, c = layer_scope(i), layer_channels(cfg, i)
        if i == 0:
            v.append((f"{syn}/{scope}/const", (1, c, 4, 4), "ones", True))
        else:
            cin = layer_channels(cfg, i - 1) if i % 2 == 0 else c
            v.append((f"{syn}/{scope}/weight", (3, 3, cin, c), ("normal", 1.0), True))
        v.append((f"{syn}/{scope}/Noise/weight", (c,), "zeros", True))
        v.append((f"{syn}/{scope}/bias", (c,), "zeros", True))
        v.append((f"{syn}/{scope}/StyleMod/weight", (cfg.dlatent_size, 2 * c), ("normal", 1.0), True))
        v.append((f"{syn}/{scope}/StyleMod/bias", (2 * c,), "zeros", True))
    last = cfg.num_layers - 1
    v.append((f"{syn}/ToRGB_lod0/weight", (1, 1, layer_channels(cfg, last), cfg.num_channels), ("normal", 1.0), True))
    v.append((f"{syn}/ToRGB_lod0/bias", (cfg.num_channels,), "zeros", True))
    for i in range(cfg.num_layers):
        s = layer_side(i)
        v.append((f"{syn}/noise{i}", (1, 1, s, s), ("normal", 1.0), False))
    v.append(("dlatent_avg", (cfg.dlatent_size,), "zeros", False))
    return v


def discriminator_specs(cfg):
    r = cfg.log2_res
    v = [("FromRGB_lod0/weight", (1, 1, cfg.num_channels, cfg.nf(r - 1)), ("normal", 1.0), True),
         ("FromRGB_lod0/bias", (cfg.nf(r - 1),), "zeros", True)]
    for res in range(r, 2, -1):
        s = 1 << res
        c0, c1 = cfg.nf(res - 1), cfg.nf(res - 2)
        v.append((f"{s}x{s}/Conv0/weight", (3, 3, c0, c0), ("normal", 1.0), True))
        v.append((f"{s}x{s}/Conv0/bias", (c0,), "zeros", True))
        v.append((f"{s}x{s}/Conv1_down/weight", (3, 3, c0, c1), ("normal", 1.0), True))
        v.append((f"{s}x{s}/Conv1_down/bias", (c1,), "zeros", True))
    c = cfg.nf(1)
    extra = 1 if cfg.mbstd_group_size > 1 else 0
    v.append(("4x4/Conv/weight", (3, 3, c + extra, c), ("normal", 1.0), True))
    v.append(("4x4/Conv/bias", (c,), "zeros", True))
    v.append(("4x4/Dense0/weight", (c * 16, cfg.nf(0)), ("normal", 1.0), True))
    v.append(("4x4/Dense0/bias", (cfg.nf(0),), "zeros", True))
    outs = max(cfg.label_size, 1)
    v.append(("4x4/Dense1/weight", (cfg.nf(0), outs), ("normal", 1.0), True))
    v.append(("4x4/Dense1/bias", (outs,), "zeros", True))
    return v


def init_params(specs, device, dtype, seed):
    """Fresh variables with the official initialization (values differ from ours: a benchmark
    only needs the distribution; `check` loads our file instead)."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    out = {}
    for name, shape, init, trainable in specs:
        if init == "zeros":
            t = torch.zeros(shape, dtype=dtype)
        elif init == "ones":
            t = torch.ones(shape, dtype=dtype)
        else:
            t = torch.randn(shape, generator=g, dtype=dtype) * init[1]
        out[name] = t.to(device).requires_grad_(trainable)
    return out


def trainable(params, specs):
    return [params[name] for name, _, _, tr in specs if tr]


# --------------------------------------------------------------------------------------------
# Ops. Weights are stored as the official release stores them: conv HWIO [kh, kw, in, out],
# dense [in, out]; equalized learning rate multiplies by gain / sqrt(fan_in) at run time.

def dense(x, w, gain, lrmul=1.0, bias=None):
    y = x @ (w * (gain / math.sqrt(w.shape[0]) * lrmul))
    return y if bias is None else y + bias * lrmul


def he_scale(w, gain):
    return gain / math.sqrt(w.shape[0] * w.shape[1] * w.shape[2])


def conv2d(x, w, gain):
    """Stride 1, "same" zero padding."""
    return F.conv2d(x, (w * he_scale(w, gain)).permute(3, 2, 0, 1), padding=w.shape[0] // 2)


def fuse4(w):
    """3x3 HWIO kernel -> 4x4: zero-pad to 5x5 and sum the four 1-pixel shifts."""
    p = F.pad(w, (0, 0, 0, 0, 1, 1, 1, 1))
    return p[1:, 1:] + p[:-1, 1:] + p[1:, :-1] + p[:-1, :-1]


def conv_up2_fused(x, w, gain):
    """Official fused upscale2d_conv2d: a stride-2 transposed conv with the fused 4x4 kernel,
    laid out [in, out, 4, 4], not flipped."""
    k = fuse4(w * he_scale(w, gain))
    return F.conv_transpose2d(x, k.permute(2, 3, 0, 1), stride=2, padding=1)


def conv_down2_fused(x, w, gain):
    """Official fused conv2d_downscale2d: stride-2 conv with the fused 4x4 kernel times 0.25."""
    k = fuse4(w * he_scale(w, gain)) * 0.25
    return F.conv2d(x, k.permute(3, 2, 0, 1), stride=2, padding=1)


_BLUR = {}


def blur(x):
    """Depthwise [1,2,1] x [1,2,1] / 16, zero padding "same"."""
    c = x.shape[1]
    key = (c, x.device, x.dtype)
    if key not in _BLUR:
        f = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device)
        f = torch.outer(f, f) / 16.0
        _BLUR[key] = f.expand(c, 1, 3, 3).contiguous()
    return F.conv2d(x, _BLUR[key], padding=1, groups=c)


def upsample2(x):
    return F.interpolate(x, scale_factor=2, mode="nearest")


def downsample2(x):
    return F.avg_pool2d(x, 2)


def lrelu(x):
    return F.leaky_relu(x, SLOPE)


def pixel_norm(z):
    return z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + EPS)


def epilogue(x, noise, strength, bias):
    """Noise * per-channel strength + bias, leaky ReLU (our fused epilogue kernel)."""
    if noise is not None:
        x = x + noise * strength.view(1, -1, 1, 1)
    return lrelu(x + bias.view(1, -1, 1, 1))


def adain(x, style):
    """Instance norm, then x * (s[:C] + 1) + s[C:] with style [N, 2C] (our fused AdaIN kernel)."""
    x = x - x.mean(dim=(2, 3), keepdim=True)
    x = x * torch.rsqrt(x.square().mean(dim=(2, 3), keepdim=True) + EPS)
    s = style.view(style.shape[0], 2, x.shape[1], 1, 1)
    return x * (s[:, 0] + 1) + s[:, 1]


def minibatch_stddev(x, group_size):
    n, c, h, w = x.shape
    g = min(group_size, n)
    if n % g:
        raise ValueError(f"minibatch stddev: batch {n} is not a multiple of the group size {g}")
    y = x.reshape(g, n // g, c, h, w)
    y = y - y.mean(dim=0, keepdim=True)
    y = torch.sqrt(y.square().mean(dim=0) + EPS)
    y = y.mean(dim=(1, 2, 3)).reshape(1, n // g, 1, 1, 1)
    y = y.expand(g, n // g, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y], dim=1)


# --------------------------------------------------------------------------------------------
# Networks (functions of a {name: tensor} dict, official names as in our files).

def check_labels(cfg, labels, n, what):
    if cfg.label_size == 0:
        if labels is not None:
            raise ValueError(f"{what}: labels given to an unconditional network")
        return
    if labels is None or tuple(labels.shape) != (n, cfg.label_size):
        raise ValueError(f"{what}: labels must be [{n}, {cfg.label_size}], got "
                         f"{None if labels is None else list(labels.shape)}")


def one_hot(cfg, classes, dtype, dev):
    """Integer classes [N] -> one-hot rows [N, label_size]."""
    c = torch.as_tensor(np.asarray(classes, dtype=np.int64), device=dev)
    if c.numel() and (int(c.min()) < 0 or int(c.max()) >= cfg.label_size):
        raise ValueError(f"classes {c.tolist()}: the model has {cfg.label_size} (0-{cfg.label_size - 1})")
    return F.one_hot(c, cfg.label_size).to(dtype)


def mapping(cfg, p, z, labels=None):
    """z [N, latent] (and one-hot labels [N, label_size] when conditional) -> w [N, dlatent]."""
    check_labels(cfg, labels, z.shape[0], "mapping")
    if labels is not None:
        # LabelConcat: y = labels @ E as stored, then pixel norm over the whole [z, y] row.
        z = torch.cat([z, labels @ p["G_mapping/LabelConcat/weight"]], dim=1)
    x = pixel_norm(z)
    for l in range(cfg.mapping_layers):
        x = lrelu(dense(x, p[f"G_mapping/Dense{l}/weight"], SQRT2, cfg.mapping_lrmul,
                        p[f"G_mapping/Dense{l}/bias"]))
    return x


def truncate(cfg, p, w, psi, cutoff):
    """w [N, L, D]: avg + psi (w - avg) for layers < cutoff."""
    coef = torch.ones(cfg.num_layers, dtype=w.dtype, device=w.device)
    coef[:cutoff] = psi
    avg = p["dlatent_avg"].view(1, 1, -1)
    return avg + coef.view(1, -1, 1) * (w - avg)


def layer_epilogue(p, i, x, noise, w_i):
    s = f"G_synthesis/{layer_scope(i)}"
    x = epilogue(x, noise, p[f"{s}/Noise/weight"], p[f"{s}/bias"])
    return adain(x, dense(w_i, p[f"{s}/StyleMod/weight"], 1.0, 1.0, p[f"{s}/StyleMod/bias"]))


def synthesis(cfg, p, w, noise):
    """w [N, L, D] -> images; `noise` holds one map (or None) per layer."""
    n = w.shape[0]
    x = p["G_synthesis/4x4/Const/const"].expand(n, -1, -1, -1)
    x = layer_epilogue(p, 0, x, noise[0], w[:, 0])
    x = conv2d(x, p["G_synthesis/4x4/Conv/weight"], SQRT2)
    x = layer_epilogue(p, 1, x, noise[1], w[:, 1])
    for r in range(3, cfg.log2_res + 1):
        side, i0, i1 = 1 << r, 2 * r - 4, 2 * r - 3
        w0 = p[f"G_synthesis/{layer_scope(i0)}/weight"]
        x = conv_up2_fused(x, w0, SQRT2) if cfg.fused(side) else conv2d(upsample2(x), w0, SQRT2)
        x = layer_epilogue(p, i0, blur(x), noise[i0], w[:, i0])
        x = conv2d(x, p[f"G_synthesis/{layer_scope(i1)}/weight"], SQRT2)
        x = layer_epilogue(p, i1, x, noise[i1], w[:, i1])
    return conv2d(x, p["G_synthesis/ToRGB_lod0/weight"], 1.0) + p["G_synthesis/ToRGB_lod0/bias"].view(1, -1, 1, 1)


def noise_maps(cfg, p, n, mode, gen=None):
    if mode == "none":
        return [None] * cfg.num_layers
    if mode == "const":
        return [p[f"G_synthesis/noise{i}"] for i in range(cfg.num_layers)]
    dev, dt = p["dlatent_avg"].device, p["dlatent_avg"].dtype
    return [torch.randn((n, 1, layer_side(i), layer_side(i)), device=dev, dtype=dt, generator=gen)
            for i in range(cfg.num_layers)]


def generate(cfg, p, z, psi, cutoff, noise_mode="const", labels=None):
    w = mapping(cfg, p, z, labels).unsqueeze(1).expand(-1, cfg.num_layers, -1)
    if psi != 1.0 and cutoff > 0:
        w = truncate(cfg, p, w, psi, cutoff)
    return synthesis(cfg, p, w, noise_maps(cfg, p, z.shape[0], noise_mode))


def discriminator(cfg, p, img, labels=None):
    """Scores [N, 1]; a conditional D takes its output of each image's class (LabelSwitch:
    sum(out * labels, 1))."""
    check_labels(cfg, labels, img.shape[0], "discriminator")

    def conv_act(x, scope):
        return lrelu(conv2d(x, p[f"{scope}/weight"], SQRT2) + p[f"{scope}/bias"].view(1, -1, 1, 1))

    x = conv_act(img, "FromRGB_lod0")
    for res in range(cfg.log2_res, 2, -1):
        s = 1 << res
        x = conv_act(x, f"{s}x{s}/Conv0")
        w = p[f"{s}x{s}/Conv1_down/weight"]
        x = blur(x)
        x = conv_down2_fused(x, w, SQRT2) if cfg.fused(s) else downsample2(conv2d(x, w, SQRT2))
        x = lrelu(x + p[f"{s}x{s}/Conv1_down/bias"].view(1, -1, 1, 1))
    if cfg.mbstd_group_size > 1:
        x = minibatch_stddev(x, cfg.mbstd_group_size)
    x = conv_act(x, "4x4/Conv")
    x = lrelu(dense(x.flatten(1), p["4x4/Dense0/weight"], SQRT2, 1.0, p["4x4/Dense0/bias"]))
    out = dense(x, p["4x4/Dense1/weight"], 1.0, 1.0, p["4x4/Dense1/bias"])
    return out if labels is None else (out * labels).sum(dim=1, keepdim=True)


def losses(cfg, gp, dp, z, reals, gamma, noise_mode="const", labels=None):
    """What `stylegan losses` computes: sums over the batch, G and D as stored (no truncation,
    mixing or EMA); grad/G = d g_loss / d G, grad/D = d d_loss_r1 / d D (fakes held constant).
    A conditional network takes one-hot `labels` [N, label_size]: the fakes are made for them
    and D scores reals and fakes with them (the release's D loss: the minibatch's labels)."""
    g_vars = {n: gp[n] for n, _, _, tr in generator_specs(cfg) if tr}
    d_vars = {n: dp[n] for n, _, _, tr in discriminator_specs(cfg) if tr}
    fakes = generate(cfg, gp, z, 1.0, 0, noise_mode, labels)
    g_loss = F.softplus(-discriminator(cfg, dp, fakes, labels)).sum()
    g_grads = torch.autograd.grad(g_loss, list(g_vars.values()), allow_unused=True)
    x = reals.detach().requires_grad_(True)
    d_fake = discriminator(cfg, dp, fakes.detach(), labels)
    d_real = discriminator(cfg, dp, x, labels)
    logistic = F.softplus(d_fake) + F.softplus(-d_real)
    (gx,) = torch.autograd.grad(d_real.sum(), [x], create_graph=True)
    r1 = gx.square().sum(dim=(1, 2, 3))
    total = (logistic.view(-1) + 0.5 * gamma * r1).sum()
    d_grads = torch.autograd.grad(total, list(d_vars.values()), allow_unused=True)
    out = {"d_real": d_real, "d_fake": d_fake, "g_loss": g_loss.view(1),
           "d_loss": logistic.sum().view(1), "r1_penalty": r1, "d_loss_r1": total.view(1)}
    for prefix, names, grads in (("G", g_vars, g_grads), ("D", d_vars, d_grads)):
        for name, gr in zip(names, grads):
            out[f"grad/{prefix}/{name}"] = torch.zeros_like(names[name]) if gr is None else gr
    return out


# --------------------------------------------------------------------------------------------
# Files: safetensors (ours) and .npy.

_ST_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16}


def read_safetensors(path):
    """{name: ndarray}, metadata dict."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (hlen,) = struct.unpack("<Q", data[:8])
    if 8 + hlen > len(data):
        raise ValueError(f"{path}: header length {hlen} runs past the end of the file")
    header = json.loads(data[8:8 + hlen])
    meta = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + hlen:]
    out = {}
    for name, info in header.items():
        dt = _ST_DTYPES.get(info["dtype"])
        if dt is None:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype=dt).reshape(info["shape"]).copy()
    return out, meta


def load_model(path):
    """Our model file -> (Config, {"G": {...}, "D": {...}, "Gs": {...}}) of float64 arrays."""
    tensors, meta = read_safetensors(path)
    if "config" not in meta:
        raise ValueError(f"{path}: no 'config' in the metadata (not written by stylegan-wgpu?)")
    cfg_json = json.loads(meta["config"])
    cfg = Config(**{k: v for k, v in cfg_json.items() if k in DEFAULT_CONFIG})
    nets = {}
    for name, arr in tensors.items():
        net, _, rest = name.partition("/")
        nets.setdefault(net, {})[rest] = arr
    return cfg, nets


def to_params(arrays, specs, device, dtype, what):
    out = {}
    for name, shape, _, tr in specs:
        if name not in arrays:
            raise ValueError(f"{what}: missing tensor {name}")
        a = arrays[name]
        if tuple(a.shape) != tuple(shape):
            raise ValueError(f"{what}: tensor {name} has shape {list(a.shape)}, expected {list(shape)}")
        out[name] = torch.tensor(a, dtype=dtype, device=device).requires_grad_(tr)
    return out


def parse_seeds(s):
    out = []
    for part in s.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


# --------------------------------------------------------------------------------------------
# check: our outputs against this twin.

def compare(name, ours, ref, tol, rows, f32_noise=0.0):
    """Passes when max |ours - twin| <= rtol * max |twin| + atol + f32_noise, where f32_noise is
    what the twin itself moves by between float32 and float64 (scaled by --f32-slack): a tensor
    that f32 rounding cannot pin down (e.g. a gradient that is exactly 0 through an instance
    norm of a constant plane, where rsqrt(eps) = 1e4 amplifies rounding) is judged by that."""
    rtol, atol = tol
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ours.shape != ref.shape:
        rows.append((name, float("inf"), float("nan"), float("inf"), False))
        print(f"FAIL {name}: shape {list(ours.shape)} (ours) vs {list(ref.shape)} (twin)")
        return
    err = float(np.abs(ours - ref).max()) if ours.size else 0.0
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    rel = err / scale if scale > 0 else (0.0 if err == 0 else float("inf"))
    rows.append((name, err, scale, rel, err <= rtol * scale + atol + f32_noise))


def read_classes(a, cfg, n, seeds=None):
    """The class of each of `n` images: `--classes` (a .npy of integer values, or 2,0,1), or
    for seeds seed mod label_size (`stylegan generate`); None for an unconditional model."""
    if cfg.label_size == 0:
        if a.classes:
            raise SystemExit("check --classes: the model is unconditional (label_size 0)")
        return None
    if a.classes:
        if a.classes.endswith(".npy"):
            c = np.load(a.classes).astype(np.float64).reshape(-1)
        else:
            c = np.array([float(v) for v in a.classes.split(",") if v.strip()])
        if c.shape != (n,) or np.any(c != np.round(c)):
            raise SystemExit(f"check --classes {a.classes}: need {n} integer classes, got {c.tolist()}")
        return c.astype(np.int64)
    if seeds is not None:
        return np.array(seeds, dtype=np.int64) % cfg.label_size
    raise SystemExit(f"check: the model is class-conditional (label_size {cfg.label_size}): give --classes")


def twin_outputs(a, cfg, nets, dtype, dev):
    """{name: ndarray} of what the twin computes for the given files, in `dtype`."""
    out = {}
    if a.images:
        net = a.net or ("Gs" if "Gs" in nets else "G")
        gp = to_params(nets[net], generator_specs(cfg), dev, dtype, f"{a.model} {net}")
        seeds = parse_seeds(a.seeds) if a.seeds else None
        if seeds is not None:
            z = np.stack([np.random.RandomState(s).randn(cfg.latent_size) for s in seeds])
            z = z.astype(np.float32)
        else:
            z = np.load(a.latents)
        classes = read_classes(a, cfg, z.shape[0], seeds)
        labels = None if classes is None else one_hot(cfg, classes, dtype, dev)
        # The release's G_style: truncation_cutoff from the network's kwargs (8) unless given.
        cutoff = {None: cfg.truncation_cutoff, "model": cfg.truncation_cutoff,
                  "all": cfg.num_layers}.get(a.trunc_cutoff)
        if cutoff is None:
            cutoff = int(a.trunc_cutoff)
        with torch.no_grad():
            img = generate(cfg, gp, torch.tensor(z, dtype=dtype, device=dev), a.trunc, cutoff, a.noise_mode,
                           labels)
        out[f"images ({net}, psi {a.trunc}, noise {a.noise_mode})"] = img.cpu().numpy()
    if a.losses:
        gp = to_params(nets["G"], generator_specs(cfg), dev, dtype, f"{a.model} G")
        dp = to_params(nets["D"], discriminator_specs(cfg), dev, dtype, f"{a.model} D")
        z = torch.tensor(np.load(a.latents), dtype=dtype, device=dev)
        reals = torch.tensor(np.load(a.reals), dtype=dtype, device=dev)
        classes = read_classes(a, cfg, z.shape[0])
        labels = None if classes is None else one_hot(cfg, classes, dtype, dev)
        for name, t in losses(cfg, gp, dp, z, reals, a.gamma, a.noise_mode, labels).items():
            out[name] = t.detach().cpu().numpy()
    return out


def cmd_check(a):
    dtype = torch.float64 if a.dtype == "float64" else torch.float32
    dev = torch.device(a.device)
    cfg, nets = load_model(a.model)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if a.losses and (not a.reals or not a.latents):
        raise SystemExit("check --losses needs --latents and --reals (those given to stylegan losses)")
    ref = twin_outputs(a, cfg, nets, dtype, dev)
    noise = {}
    if dtype == torch.float64 and a.f32_slack > 0:
        ref32 = twin_outputs(a, cfg, nets, torch.float32, dev)
        noise = {k: a.f32_slack * float(np.abs(ref32[k].astype(np.float64) - v).max()) for k, v in ref.items()}
    ours = {}
    if a.images:
        ours[next(k for k in ref if k.startswith("images"))] = np.load(a.images)
    if a.losses:
        lt, _ = read_safetensors(a.losses)
        missing = sorted(k for k in ref if not k.startswith("images") and k not in lt)
        if missing:
            raise SystemExit(f"{a.losses}: missing {missing[:5]}{'...' if len(missing) > 5 else ''}")
        ours.update({k: lt[k] for k in ref if k in lt})
    rows = []
    tol = (a.rtol, a.atol)
    for name, t in ref.items():
        compare(name, ours[name], t, tol, rows, noise.get(name, 0.0))
    if not rows:
        raise SystemExit("check: nothing to compare: give --images and/or --losses")
    worst = max(rows, key=lambda r: r[3])
    width = max(len(r[0]) for r in rows)
    shown = rows if a.verbose else [r for r in rows if not r[4]] + sorted(rows, key=lambda r: -r[3])[:8]
    seen = set()
    print(f"{'tensor':<{width}}  {'max abs err':>11}  {'max |twin|':>11}  {'rel':>9}")
    for name, err, scale, rel, ok in shown:
        if name in seen:
            continue
        seen.add(name)
        print(f"{name:<{width}}  {err:11.3e}  {scale:11.3e}  {rel:9.2e}  {'ok' if ok else 'FAIL'}")
    bad = [r for r in rows if not r[4]]
    print(f"{len(rows)} tensors compared ({a.dtype} twin on {a.device}); worst rel {worst[3]:.2e} "
          f"({worst[0]}); tolerance rtol {a.rtol:g} atol {a.atol:g} + {a.f32_slack:g} x the twin's "
          f"f32 rounding: {'FAIL' if bad else 'match'}")
    return 1 if bad else 0


# --------------------------------------------------------------------------------------------
# bench: the suites of src/bench/, timed the same way.

CONV_SHAPES = [(4, 512, 8), (4, 512, 16), (4, 512, 32), (4, 256, 64), (4, 128, 128), (4, 64, 256), (4, 32, 32)]
CONV_SHAPES_QUICK = [(1, 512, 4), (1, 512, 8), (4, 128, 16), (4, 32, 32)]


class Bench:
    def __init__(self, a):
        self.a = a
        self.dev = torch.device(a.device)
        self.cuda = self.dev.type == "cuda"
        self.results, self.skipped = [], []

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def time_op(self, f, gpu_timer=True):
        """warmup calls, one estimate, then `runs` runs of `reps` calls; median per call."""
        a = self.a
        for _ in range(a.warmup):
            f()
        self.sync()
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        f()
        self.sync()
        est = max(time.perf_counter() - t, 1e-6)
        target, default_runs = (0.1, 3) if a.quick else (0.3, 5)
        runs = max(a.runs or default_runs, 1)
        reps = max(a.iters or min(max(int(target / est), 1), 1000), 1)
        walls, gpus = [], []
        for _ in range(runs):
            t = time.perf_counter()
            if self.cuda and gpu_timer:
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                e0.record()
            for _ in range(reps):
                f()
            if self.cuda and gpu_timer:
                e1.record()
            self.sync()
            walls.append((time.perf_counter() - t) / reps)
            if self.cuda and gpu_timer:
                gpus.append(e0.elapsed_time(e1) * 1e-3 / reps)
        use_gpu = len(gpus) == runs and all(g > 0 for g in gpus)
        v = sorted(gpus if use_gpu else walls)
        return dict(timer="gpu" if use_gpu else "wall", median=v[len(v) // 2], min=v[0], max=v[-1],
                    wall_median=sorted(walls)[len(walls) // 2], runs=runs, reps=reps,
                    peak_bytes=torch.cuda.max_memory_allocated() if self.cuda else 0)

    def record(self, suite, name, shape, f, gpu_timer=True, **rate):
        """Times `f` and pushes a result; out of memory becomes a skipped case."""
        try:
            t = self.time_op(f, gpu_timer)
        except torch.OutOfMemoryError as e:
            self.skipped.append(dict(suite=suite, name=name, shape=shape, reason=f"out of memory: {e}"))
            print(f"skipped  {name:<18} {shape:<34} out of memory", flush=True)
            if self.cuda:
                torch.cuda.empty_cache()
            return
        r = dict(suite=suite, name=name, shape=shape, timer=t["timer"], ms=t["median"] * 1e3,
                 ms_min=t["min"] * 1e3, ms_max=t["max"] * 1e3, wall_ms=t["wall_median"] * 1e3,
                 runs=t["runs"], reps=t["reps"], peak_bytes=int(t["peak_bytes"]))
        med = t["median"]
        if "flops" in rate:
            r["gflops"] = rate["flops"] / med / 1e9
        if "bytes" in rate:
            r["gbps"] = rate["bytes"] / med / 1e9
        if "batch" in rate:
            n = rate["batch"]
            r.update(batch=n, images_per_s=n / med, ms_per_image=med * 1e3 / n)
        self.results.append(r)
        rate_s = (f"{r['gflops']:9.2f} GFLOP/s" if "gflops" in r else f"{r['gbps']:9.2f} GB/s   " if "gbps" in r
                  else f"{r['images_per_s']:9.2f} img/s  " if "images_per_s" in r else " " * 17)
        print(f"{suite:<8} {name:<18} {shape:<34} {rate_s} {r['ms']:10.3f} ms [{r['ms_min']:.3f}-{r['ms_max']:.3f}] "
              f"{r['timer']} {r['peak_bytes'] / 2**20:7.1f} MiB", flush=True)

    def filled(self, shape, seed):
        g = torch.Generator(device="cpu").manual_seed(seed)
        return (torch.rand(shape, generator=g) * 2 - 1).to(self.dev)

    # --- kernels
    def kernels(self):
        a = self.a
        shapes = CONV_SHAPES_QUICK[:1] if a.tiny else CONV_SHAPES_QUICK if a.quick else CONV_SHAPES
        with torch.no_grad():
            for i, (n, c, hw) in enumerate(shapes):
                k = c
                x, w = self.filled((n, c, hw, hw), 10 + i), self.filled((3, 3, c, k), 20 + i)
                w_oihw = (w / math.sqrt(9 * c)).permute(3, 2, 0, 1).contiguous()
                self.record("kernels", "conv3x3", f"N{n} C{c}->K{k} {hw}x{hw}",
                            lambda: F.conv2d(x, w_oihw, padding=1), flops=2.0 * n * hw * hw * 9 * c * k)
            n, side, cbig, csmall = (1, 32, 64, 64) if (a.quick or a.tiny) else (4, 128, 256, 128)
            half = side // 2
            x, w = self.filled((n, cbig, half, half), 50), self.filled((3, 3, cbig, csmall), 51)
            self.record("kernels", "conv_up2_fused", f"N{n} C{cbig}->K{csmall} {half}x{half}->{side}x{side}",
                        lambda: conv_up2_fused(x, w, 1.0), flops=2.0 * n * half * half * 16 * cbig * csmall)
            x, w = self.filled((n, csmall, side, side), 52), self.filled((3, 3, csmall, cbig), 53)
            self.record("kernels", "conv_down2_fused", f"N{n} C{csmall}->K{cbig} {side}x{side}->{half}x{half}",
                        lambda: conv_down2_fused(x, w, 1.0), flops=2.0 * n * half * half * 16 * csmall * cbig)
            m, kd, nd = 64, 512, 512
            xa, xb = self.filled((m, kd), 30), self.filled((kd, nd), 31)
            self.record("kernels", "dense matmul", f"{m}x{kd} @ {kd}x{nd}", lambda: xa @ xb, flops=2.0 * m * kd * nd)
            for hw in ([64] if (a.quick or a.tiny) else [64, 256]):
                n, c = 4, 64
                numel = n * c * hw * hw
                x, style = self.filled((n, c, hw, hw), 40), self.filled((n, 2 * c), 41)
                self.record("kernels", "adain", f"N{n} C{c} {hw}x{hw}", lambda: adain(x, style),
                            bytes=4.0 * (2 * numel + n * 2 * c))
                noise, strength, bias = self.filled((n, 1, hw, hw), 42), self.filled((c,), 43), self.filled((c,), 44)
                self.record("kernels", "epilogue", f"N{n} C{c} {hw}x{hw} +noise",
                            lambda: epilogue(x, noise, strength, bias), bytes=4.0 * (2 * numel + n * hw * hw + 2 * c))

    # --- generate
    def generate_cases(self):
        a = self.a
        if a.tiny:
            return [(32, 1, True), (32, 2, True)]
        if a.quick:
            return [(64, 1, False), (64, 2, False)]
        return [(r, b, False) for r in (256, 1024) for b in (1, 8, 16)]

    def generate(self):
        for res, n, tiny in self.generate_cases():
            cfg = Config.preset("tiny" if tiny else "ffhq", resolution=res)
            p = init_params(generator_specs(cfg), self.dev, torch.float32, 1)
            for t in p.values():
                t.requires_grad_(False)
            z = self.filled((n, cfg.latent_size), 7)
            shape = f"{res}x{res} batch {n} ({'tiny' if tiny else 'ffhq'} widths)"

            def call():
                with torch.inference_mode():
                    generate(cfg, p, z, cfg.truncation_psi, cfg.truncation_cutoff, "const")

            self.record("generate", "generator", shape, call, batch=n)
            del p
            if self.cuda:
                torch.cuda.empty_cache()

    # --- train
    def train(self):
        a = self.a
        cases = [(32, 4, True)] if (a.quick or a.tiny) else [(64, 16, False), (256, 16, False)]
        for res, n, tiny in cases:
            cfg = Config.preset("tiny" if tiny else "ffhq", resolution=res)
            step = TrainStep(cfg, n, self.dev)
            reals = self.filled((n, cfg.num_channels, res, res), 3)
            shape = f"{res}x{res} batch {n} ({'tiny' if tiny else 'ffhq'} widths)"
            self.record("train", "train step", shape, lambda: step(reals), gpu_timer=False, batch=n)
            del step
            if self.cuda:
                torch.cuda.empty_cache()


class TrainStep:
    """One iteration as `Trainer::step` does it: D step (logistic + R1 on every step, Adam),
    then G step (non-saturating loss, Adam), Gs moving average; style mixing p 0.9,
    dlatent_avg tracking, random noise; lr and Adam (beta1 0, beta2 0.99, eps 1e-8) official."""

    def __init__(self, cfg, batch, dev, gamma=10.0, seed=0):
        if cfg.label_size:
            raise ValueError("bench train: the benchmark's networks are unconditional (label_size 0)")
        self.cfg, self.n, self.dev, self.gamma = cfg, batch, dev, gamma
        gspecs, dspecs = generator_specs(cfg), discriminator_specs(cfg)
        self.g = init_params(gspecs, dev, torch.float32, seed)
        self.d = init_params(dspecs, dev, torch.float32, seed + 1)
        self.gs = {k: v.detach().clone() for k, v in self.g.items()}
        self.g_train, self.d_train = trainable(self.g, gspecs), trainable(self.d, dspecs)
        self.g_names = [name for name, _, _, tr in gspecs if tr]
        lr = {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}.get(cfg.resolution, 0.001)
        fused = dev.type == "cuda"
        kw = dict(lr=lr, betas=(0.0, 0.99), eps=1e-8, **({"fused": True} if fused else {"foreach": True}))
        self.g_opt = torch.optim.Adam(self.g_train, **kw)
        self.d_opt = torch.optim.Adam(self.d_train, **kw)
        self.ema_beta = 0.5 ** (batch / 10000.0)
        self.gen = torch.Generator(device=dev).manual_seed(seed)
        self.host_rng = random.Random(seed)

    def g_forward(self):
        cfg, n = self.cfg, self.n
        z = torch.randn((n, cfg.latent_size), device=self.dev, generator=self.gen)
        w = mapping(cfg, self.g, z)
        with torch.no_grad():
            self.g["dlatent_avg"].lerp_(w.mean(dim=0), 1.0 - cfg.dlatent_avg_beta)
        w = w.unsqueeze(1).expand(-1, cfg.num_layers, -1)
        # Mixing decisions on the host, as ours: no device round trip inside the step.
        if cfg.num_layers > 1 and self.host_rng.random() < cfg.style_mixing_prob:
            z2 = torch.randn((n, cfg.latent_size), device=self.dev, generator=self.gen)
            w2 = mapping(cfg, self.g, z2).unsqueeze(1).expand(-1, cfg.num_layers, -1)
            k = self.host_rng.randrange(1, cfg.num_layers)
            w = torch.cat([w[:, :k], w2[:, k:]], dim=1)
        return synthesis(cfg, self.g, w, noise_maps(cfg, self.g, n, "random", self.gen))

    def __call__(self, reals):
        cfg = self.cfg
        with torch.no_grad():
            fakes = self.g_forward()
        x = reals.detach().requires_grad_(True)
        d_fake = discriminator(cfg, self.d, fakes)
        d_real = discriminator(cfg, self.d, x)
        (gx,) = torch.autograd.grad(d_real.sum(), [x], create_graph=True)
        r1 = gx.square().sum(dim=(1, 2, 3))
        d_loss = (F.softplus(d_fake).view(-1) + F.softplus(-d_real).view(-1) + 0.5 * self.gamma * r1).mean()
        grads = torch.autograd.grad(d_loss, self.d_train)
        for p, gr in zip(self.d_train, grads):
            p.grad = gr
        self.d_opt.step()

        fakes = self.g_forward()
        g_loss = F.softplus(-discriminator(cfg, self.d, fakes)).mean()
        grads = torch.autograd.grad(g_loss, self.g_train)
        for p, gr in zip(self.g_train, grads):
            p.grad = gr
        self.g_opt.step()
        with torch.no_grad():
            gs = [self.gs[k] for k in self.g_names]
            torch._foreach_lerp_(gs, [self.g[k].detach() for k in self.g_names], 1.0 - self.ema_beta)
            for k, v in self.g.items():
                if not v.requires_grad:
                    self.gs[k].copy_(v)


def set_precision(precision, cuda):
    tf32 = precision == "tf32"
    if tf32 and not cuda:
        print("note: --precision tf32 has no effect off CUDA", file=sys.stderr)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True


def device_info(dev):
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        return dict(adapter=props.name, backend=f"PyTorch {torch.__version__} CUDA {torch.version.cuda}",
                    device_type="DiscreteGpu",
                    driver=f"cuDNN {torch.backends.cudnn.version()}, {props.total_memory / 2**30:.0f} GiB",
                    timestamp_queries=True)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return dict(adapter=name, backend=f"PyTorch {torch.__version__} CPU", device_type="Cpu",
                driver=f"{torch.get_num_threads()} threads", timestamp_queries=False)


def cmd_bench(a):
    dev = torch.device(a.device)
    set_precision(a.precision, dev.type == "cuda")
    b = Bench(a)
    info = device_info(dev)
    print(f"adapter: {info['adapter']} ({info['backend']}; {info['driver']}); precision {a.precision}", flush=True)
    if a.suite in ("kernels", "all"):
        b.kernels()
    if a.suite in ("generate", "all"):
        b.generate()
    if a.suite in ("train", "all"):
        b.train()
    report = dict(schema="stylegan-wgpu-bench", schema_version=SCHEMA_VERSION, version="pytorch-twin",
                  created_unix_s=int(time.time()), suite=a.suite, quick=a.quick, tiny=a.tiny, **info,
                  implementation="pytorch", precision=a.precision, torch=torch.__version__,
                  results=b.results, skipped=b.skipped)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        print(f"wrote {a.json}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="examples:\n"
                                        "  stylegan1.py bench all --quick --json torch.json\n"
                                        "  stylegan1.py bench generate --precision tf32 --json torch-tf32.json\n"
                                        "  stylegan1.py check --model m.safetensors --latents z.npy --images ours.npy\n")
    sub = ap.add_subparsers(dest="cmd", required=True)
    default_dev = "cuda" if torch.cuda.is_available() else "cpu"

    b = sub.add_parser("bench", help="the benchmark suites of `stylegan bench`, same cases and JSON")
    b.add_argument("suite", choices=["kernels", "generate", "train", "all"])
    b.add_argument("--quick", action="store_true", help="fewer, smaller cases and shorter runs")
    b.add_argument("--tiny", action="store_true", help="the smallest cases (tests)")
    b.add_argument("--json", help="write the report here (schema: benches/README.md)")
    b.add_argument("--runs", type=int, help="timed runs per case (default 5, quick 3)")
    b.add_argument("--iters", type=int, help="calls per timed run (default: about 0.3 s)")
    b.add_argument("--warmup", type=int, default=2, help="untimed calls first (cuDNN picks algorithms)")
    b.add_argument("--precision", choices=["fp32", "tf32"], default="fp32",
                   help="fp32: TF32 off (IEEE f32 like wgpu); tf32: TF32 tensor cores on (CUDA)")
    b.add_argument("--device", default=default_dev, help=f"torch device (default {default_dev})")

    c = sub.add_parser("check", help="compare our outputs (generate --out-npy, losses) with this twin")
    c.add_argument("--model", required=True, help="our .safetensors model file")
    c.add_argument("--net", choices=["G", "Gs"], help="generator for --images (default Gs, else G)")
    c.add_argument("--latents", help=".npy [N, latent_size] given to stylegan")
    c.add_argument("--seeds", help="seeds given to stylegan generate instead of --latents")
    c.add_argument("--images", help="stylegan generate --out-npy output to check")
    c.add_argument("--trunc", type=float, default=1.0, help="--trunc given to stylegan generate")
    c.add_argument("--trunc-cutoff", help="--trunc-cutoff given to stylegan generate: N, all or model "
                   "(default: the model's truncation_cutoff, as the official Gs.run)")
    c.add_argument("--noise-mode", choices=["const", "none"], default="const")
    c.add_argument("--losses", help="stylegan losses --out file to check")
    c.add_argument("--reals", help=".npy reals given to stylegan losses")
    c.add_argument("--gamma", type=float, default=10.0)
    c.add_argument("--classes", help="class of each image for a conditional model (label_size > 0): "
                   ".npy of integers [N] or a list 2,0,1 (default with --seeds: seed mod label_size)")
    c.add_argument("--rtol", type=float, default=1e-4,
                   help="per tensor, max |ours - twin| may be rtol * max |twin| + atol")
    c.add_argument("--atol", type=float, default=0.0, help="see --rtol")
    c.add_argument("--f32-slack", type=float, default=10.0,
                   help="also allow this many times the twin's own float32-vs-float64 difference per "
                        "tensor (0: off; float64 only)")
    c.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    c.add_argument("--device", default="cpu")
    c.add_argument("--verbose", action="store_true", help="print every tensor")
    a = ap.parse_args(argv)
    if a.cmd == "check" and a.images and not (a.latents or a.seeds):
        ap.error("check --images needs --latents or --seeds")
    return cmd_bench(a) if a.cmd == "bench" else cmd_check(a)


if __name__ == "__main__":
    sys.exit(main())
