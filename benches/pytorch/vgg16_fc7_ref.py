#!/usr/bin/env python3
"""torchvision's VGG16 fc7 features as the reference for `stylegan features --vgg16` (the
network of precision/recall, nn::vgg16::Vgg16Fc7).

The model is torchvision's own `vgg16` in eval mode (dropout off) with the weights given
(tests make them with `lpips_ref.py weights`, torchvision's init with a seed), truncated after
fc7's ReLU as torch-fidelity's `fc2_relu`: classifier[0] (fc6), ReLU, Dropout, classifier[3]
(fc7), ReLU. Images: 8-bit PNGs, grayscale repeated to RGB, x / 255, resized to 224x224 with
F.interpolate(mode="bilinear", align_corners=False), normalized by ImageNet's mean and std.

  vgg16_fc7_ref.py VGG.pth OUT.npy IMAGE...     writes [N, 4096] float32
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def fc7_model(path):
    net = torchvision.models.vgg16(weights=None)
    net.load_state_dict(torch.load(path, map_location="cpu"), strict=True)
    net.classifier = net.classifier[:5]  # fc6, ReLU, Dropout, fc7, ReLU
    return net.eval().double()


def image(path):
    img = np.array(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
    return torch.from_numpy(img).permute(2, 0, 1)[None]


def main():
    vgg, out, *paths = sys.argv[1:]
    net = fc7_model(vgg)
    x = torch.cat([image(p) for p in paths])
    x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
    mean = torch.tensor(MEAN, dtype=torch.float64)[None, :, None, None]
    std = torch.tensor(STD, dtype=torch.float64)[None, :, None, None]
    with torch.no_grad():
        f = net((x - mean) / std)
    np.save(out, f.float().numpy())
    print(f"wrote {out} {tuple(f.shape)}")


if __name__ == "__main__":
    main()
