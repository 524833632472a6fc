#!/usr/bin/env python3
"""The lpips package as the reference for `stylegan lpips` and nn::lpips.

torchvision's VGG16 weights cannot be downloaded on our machines, so this builds torchvision's
own VGG16 with random weights, saves its state dict as a `.pth` (what users pass as
vgg16-397923af.pth), and runs the lpips package's own model, `lpips.LPIPS(net='vgg')` with
its shipped v0.1 linear layers, on that backbone. tests/lpips.rs compares our distances with
these.

  lpips_ref.py weights OUT.pth [--seed S]     random torchvision VGG16 state dict
  lpips_ref.py lin                            prints the path of the package's v0.1 vgg.pth
  lpips_ref.py distance VGG.pth LIN.pth A B   prints "LPIPS: <d>" for images A and B
"""
import argparse
import os

import numpy as np
import torch
import torchvision
from PIL import Image

import lpips


def random_vgg16(seed):
    torch.manual_seed(seed)
    net = torchvision.models.vgg16(weights=None)  # torchvision's own init, no download
    return net.state_dict()


def package_lin():
    return os.path.join(os.path.dirname(lpips.__file__), "weights", "v0.1", "vgg.pth")


def model(vgg_path, lin_path):
    m = lpips.LPIPS(net="vgg", version="0.1", pnet_rand=True, model_path=lin_path, verbose=False)
    sd = torch.load(vgg_path, map_location="cpu")
    # The package's vgg16 keeps torchvision's layer indices inside slice1..slice5.
    own = m.net.state_dict()
    mapped = {}
    for k in own:
        _, idx, kind = k.split(".")
        mapped[k] = sd[f"features.{idx}.{kind}"]
    m.net.load_state_dict(mapped, strict=True)
    return m.eval()


def image(path):
    img = np.array(Image.open(path).convert("RGB"))
    return lpips.im2tensor(img)  # [1, 3, H, W], x / 127.5 - 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("weights")
    w.add_argument("out")
    w.add_argument("--seed", type=int, default=0)
    sub.add_parser("lin")
    d = sub.add_parser("distance")
    for a in ["vgg", "lin", "a", "b"]:
        d.add_argument(a)
    a = p.parse_args()
    if a.cmd == "weights":
        torch.save(random_vgg16(a.seed), a.out)
    elif a.cmd == "lin":
        print(package_lin())
    else:
        m = model(a.vgg, a.lin)
        with torch.no_grad():
            v = m(image(a.a), image(a.b)).item()
        print(f"LPIPS: {v:.10g}")


if __name__ == "__main__":
    main()
