#!/usr/bin/python3
"""AnimeGANv2's generator (the architecture of bryandlee/animegan2-pytorch, MIT), exported by
PyTorch to ONNX with seeded random weights: what a kiosk owner exporting the public model gets,
down to PyTorch's way of writing ReflectionPad2d and GroupNorm. For scripts/compare-ort; needs
Debian's python3-torch (models/train/setup.sh installs it), so it runs with /usr/bin/python3.

    /usr/bin/python3 scripts/animegan2_export.py OUT.onnx
"""
import sys

import torch, torch.nn as nn, torch.nn.functional as F
class ConvNormLReLU(nn.Sequential):
    def __init__(s, i, o, k=3, st=1, p=1, g=1, bias=False):
        super().__init__(nn.ReflectionPad2d(p), nn.Conv2d(i, o, k, st, padding=0, groups=g, bias=bias),
                         nn.GroupNorm(1, o, affine=True), nn.LeakyReLU(0.2, inplace=True))
class IRB(nn.Module):
    def __init__(s, i, o, e=2):
        super().__init__(); b = int(round(i*e)); s.res = i == o
        s.layers = nn.Sequential(ConvNormLReLU(i, b, k=1, p=0), ConvNormLReLU(b, b, g=b, bias=True),
                                 nn.Conv2d(b, o, 1, bias=False), nn.GroupNorm(1, o, affine=True))
    def forward(s, x):
        y = s.layers(x); return x + y if s.res else y
class G(nn.Module):
    def __init__(s):
        super().__init__()
        s.a = nn.Sequential(ConvNormLReLU(3, 32, k=7, p=3), ConvNormLReLU(32, 64, st=2, p=(0,1,0,1)), ConvNormLReLU(64, 64))
        s.b = nn.Sequential(ConvNormLReLU(64, 128, st=2, p=(0,1,0,1)), ConvNormLReLU(128, 128))
        s.c = nn.Sequential(ConvNormLReLU(128, 128), IRB(128, 256), IRB(256, 256), IRB(256, 256), IRB(256, 256), ConvNormLReLU(256, 128))
        s.d = nn.Sequential(ConvNormLReLU(128, 128), ConvNormLReLU(128, 128))
        s.e = nn.Sequential(ConvNormLReLU(128, 64), ConvNormLReLU(64, 64), ConvNormLReLU(64, 32, k=7, p=3))
        s.o = nn.Sequential(nn.Conv2d(32, 3, 1, bias=False), nn.Tanh())
    def forward(s, x):
        y = s.a(x); y = s.b(y); y = s.c(y)
        y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)
        y = s.d(y)
        y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)
        return s.o(s.e(y))
torch.manual_seed(0)
m = G().eval()
torch.onnx.export(m, torch.rand(1, 3, 256, 256), sys.argv[1], opset_version=17, input_names=["input"], output_names=["output"])
