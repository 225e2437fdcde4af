"""The networks: the comic generator G, its discriminator D and the "already comic?" gate.

Chosen for tract on ARM (see README.md in this folder for the candidates measured):
plain 3x3 convolutions and ReLU only (tract's fastest path; depthwise convolutions and
normalisation layers are slow or unsupported there), a stride-4 encoder so most of the work
runs at a quarter of the resolution, 4x4 stride-2 transposed convolutions to upsample (1.56x
faster in tract than nearest resize plus 3x3 conv, candidates.py), and skip connections by
addition, not concatenation (fewer channels to convolve).

Input and output of G: 1x3xHxW float32 RGB in 0..1, H and W multiples of 4 (SIZE_MULTIPLE).
"""

import torch
from torch import nn
import torch.nn.functional as F

SIZE_MULTIPLE = 4


def conv(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class Generator(nn.Module):
    """Encoder (full -> 1/2 -> 1/4), a body of residual blocks at 1/4, decoder back up."""

    def __init__(self, c1=24, c2=48, blocks=2, c_out=16, upsample="transpose"):
        super().__init__()
        self.upsample = upsample
        self.e1 = conv(3, c1, 2)  # 1/2
        self.e2 = conv(c1, c2, 2)  # 1/4
        self.body = nn.ModuleList([nn.ModuleList([conv(c2, c2), conv(c2, c2)]) for _ in range(blocks)])
        if upsample == "transpose":
            self.u1 = nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)
            self.u2 = nn.ConvTranspose2d(c1, c_out, 4, stride=2, padding=1)
        else:
            self.u1 = conv(c2, c1)
            self.u2 = conv(c1, c_out)
        self.head = conv(c_out, 3)
        # A skip of the input's own colours into the head keeps flat regions' hue exact.
        self.skip = nn.Conv2d(3, c_out, 1)

    def _up(self, x, layer):
        if self.upsample == "transpose":
            return layer(x)
        return layer(F.interpolate(x, scale_factor=2.0, mode="nearest"))

    def forward(self, x):
        h1 = F.relu(self.e1(x))
        h = F.relu(self.e2(h1))
        for a, b in self.body:
            h = h + b(F.relu(a(h)))
        h = F.relu(self._up(h, self.u1) + h1)
        h = F.relu(self._up(h, self.u2) + self.skip(x))
        return torch.sigmoid(self.head(h))


class Discriminator(nn.Module):
    """PatchGAN: one real/fake score per 16x16-ish patch (LSGAN targets 1 and 0)."""

    def __init__(self, c=32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 4 * c, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(4 * c, 1, 3, 1, 1),
        )

    def forward(self, x):
        return self.net(x)


class Gate(nn.Module):
    """Photo (0) or already comic (1): one logit from a 1x3x128x128 RGB picture in 0..1.

    Strided plain convolutions, then global average pooling: any size that is a multiple of 16
    works; it was trained and shipped for 128x128 (no longer shipped: StatsGate).
    """

    def __init__(self, c=16):
        super().__init__()
        self.features = nn.Sequential(
            conv(3, c, 2),
            nn.ReLU(),
            conv(c, 2 * c, 2),
            nn.ReLU(),
            conv(2 * c, 2 * c, 2),
            nn.ReLU(),
            conv(2 * c, 4 * c, 2),
            nn.ReLU(),
        )
        self.classify = nn.Linear(4 * c, 1)

    def forward(self, x):
        h = self.features(x).mean(dim=(2, 3))
        return self.classify(h)


class StatsGate(nn.Module):
    """Photo (0) or already comic (1): one logit from a 1x3xHxW RGB picture in 0..1 (trained
    and shipped for 256x256, the generator's input size; the first StatsGate was 128x128, where
    the look's comics lose their flat fills). The gate that ships.

    The picture is summed up in FEATURES, 21 fixed statistics of what sets a comic apart from
    a photograph, and a logistic regression weighs them (`classify`, the only trained part:
    22 numbers). Comics have flat areas whose neighbours are exactly equal, luminance piled
    into a few levels (a low histogram entropy), thin dark ink lines, white or unsaturated
    fills; photographs have sensor noise and texture everywhere (a Laplacian that is rarely
    exactly 0) and smooth histograms. The learned CNN gate (`Gate`) memorised its 11 training
    photographs and judged new ones by what they show (90% held-out accuracy); these
    statistics do not depend on what a picture shows (96.5 to 98.5%: README.md, "The gate").
    Standard ONNX ops only (Mul, ReduceSum, Slice, Sub, Abs, Max, Less, Greater, Cast,
    ReduceMean, Floor, Clip, Equal, Log, ReduceMax, ReduceMin, Concat, Gemm): tract runs it as
    it is. Nothing in it is worth quantizing: there is no convolution, and thresholds on
    single pixel steps would not survive int8.
    """

    BINS = 64
    FEATURES = (
        ["histogram_entropy", "histogram_max"]
        + [f"flat_below_{t}/255" for t in ("0.5", "1.5", "4", "10")]
        + [f"edge_above_{t}" for t in ("0.1", "0.25")]
        + ["laplacian_below_-0.03", "laplacian_above_0.03", "laplacian_below_-0.08", "laplacian_above_0.08"]
        + ["laplacian_mean_abs", "saturation_mean", "saturation_above_0.5", "saturation_below_0.05", "white"]
        + [f"laplacian_abs_below_{t}/255" for t in ("0.5", "1", "2", "4")]
    )

    def __init__(self):
        super().__init__()
        self.register_buffer("luma", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1))
        self.register_buffer("bins", torch.arange(self.BINS, dtype=torch.float32).view(1, self.BINS, 1, 1))
        self.classify = nn.Linear(len(self.FEATURES), 1)

    def features(self, x):
        """Nx21: the statistics in FEATURES' order, each a share of pixels or a mean."""
        y = (x * self.luma).sum(dim=1, keepdim=True)  # N,1,H,W luminance
        level = torch.clamp(torch.floor(y * self.BINS), max=self.BINS - 1)
        hist = (level == self.bins).float().mean(dim=(2, 3))  # N,BINS
        f = [-(hist * torch.log(hist + 1e-9)).sum(dim=1, keepdim=True), hist.max(dim=1, keepdim=True)[0]]

        def share(mask):
            return mask.float().mean(dim=(1, 2, 3)).unsqueeze(1)

        gx = (y[:, :, :, 1:] - y[:, :, :, :-1]).abs()[:, :, :-1, :]
        gy = (y[:, :, 1:, :] - y[:, :, :-1, :]).abs()[:, :, :, :-1]
        g = torch.max(gx, gy)
        f += [share(g < t / 255) for t in (0.5, 1.5, 4.0, 10.0)]
        f += [share(g > t) for t in (0.1, 0.25)]
        around = y[:, :, :-2, 1:-1] + y[:, :, 2:, 1:-1] + y[:, :, 1:-1, :-2] + y[:, :, 1:-1, 2:]
        lap = y[:, :, 1:-1, 1:-1] - 0.25 * around
        for t in (0.03, 0.08):
            f += [share(lap < -t), share(lap > t)]
        f.append(lap.abs().mean(dim=(1, 2, 3)).unsqueeze(1))
        sat = x.max(dim=1, keepdim=True)[0] - x.min(dim=1, keepdim=True)[0]
        f += [sat.mean(dim=(1, 2, 3)).unsqueeze(1), share(sat > 0.5), share(sat < 0.05)]
        f.append(share(x.min(dim=1, keepdim=True)[0] > 0.97))
        f += [share(lap.abs() < t / 255) for t in (0.5, 1.0, 2.0, 4.0)]
        return torch.cat(f, dim=1)

    def forward(self, x):
        return self.classify(self.features(x))


def load_gate(state, width=16):
    """The gate a checkpoint (RUN/gate.pt) holds: the shipped StatsGate or a CNN Gate."""
    gate = StatsGate() if state.get("kind") == "stats" else Gate(state.get("width", width))
    gate.load_state_dict(state["gate"])
    return gate


def macs(model, h=256, w=256):
    """Multiply-accumulates of the convolutions and linear layers for one HxW input."""
    total = 0

    def hook(m, inp, out):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
            total += out.numel() * k
        elif isinstance(m, nn.ConvTranspose2d):
            k = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            total += inp[0].numel() * k
        elif isinstance(m, nn.Linear):
            total += m.in_features * m.out_features

    hooks = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model(torch.zeros(1, 3, h, w))
    for handle in hooks:
        handle.remove()
    return total


def params(model):
    return sum(p.numel() for p in model.parameters())


def to_onnx(model, path, example_hw=(256, 256), dynamic=True):
    """Export in opset 17 with free height and width (input "image", output "comic"/"logit")."""
    model.eval()
    example = torch.rand(1, 3, *example_hw)
    gate = isinstance(model, (Gate, StatsGate))
    out_name = "logit" if gate else "comic"
    axes = {"image": {2: "height", 3: "width"}}
    if not gate:
        axes[out_name] = {2: "height", 3: "width"}
    torch.onnx.export(
        model,
        example,
        str(path),
        input_names=["image"],
        output_names=[out_name],
        dynamic_axes=axes if dynamic else None,
        opset_version=17,
        do_constant_folding=True,
    )
