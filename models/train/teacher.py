"""The procedural comic "teacher": the paired target the generator learns to imitate.

Pure numpy (runs with Debian's numpy 1.24 for training and the pinned numpy 2 of
models/requirements.txt for the report). Every step is local (a few pixels around each
pixel), so a small convolutional generator can learn it from crops:

1. edge-preserving smoothing: two passes of a 5x5 bilateral filter;
2. a small palette: luminance posterised to LEVELS soft steps, colour kept from the smoothed
   picture with a saturation boost;
3. ink: dark lines where a difference of Gaussians of the luminance is strongly negative
   (the dark side of an edge), softened so they are anti-aliased.

Input and output: HxWx3 float32 RGB in 0..1.
"""

import numpy as np

LEVELS = 5
SATURATION = 1.35
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _shift(img, dy, dx):
    """img shifted by (dy, dx) with edge replication, same shape."""
    h, w = img.shape[:2]
    pad = np.pad(img, ((2, 2), (2, 2), (0, 0)), mode="edge")
    return pad[2 + dy : 2 + dy + h, 2 + dx : 2 + dx + w]


def bilateral(img, sigma_space=1.6, sigma_range=0.12):
    acc = np.zeros_like(img)
    norm = np.zeros(img.shape[:2] + (1,), dtype=np.float32)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            q = _shift(img, dy, dx)
            d2 = ((q - img) ** 2).sum(axis=2, keepdims=True)
            wgt = np.exp(-(dy * dy + dx * dx) / (2 * sigma_space**2) - d2 / (2 * sigma_range**2))
            acc += wgt * q
            norm += wgt
    return (acc / norm).astype(np.float32)


def gaussian(gray, sigma):
    """Separable Gaussian blur of a 2-D array (edge replication)."""
    r = int(np.ceil(3 * sigma))
    x = np.arange(-r, r + 1, dtype=np.float32)
    k = np.exp(-(x**2) / (2 * sigma**2))
    k /= k.sum()
    pad = np.pad(gray, r, mode="edge")
    tmp = sum(k[i] * pad[:, i : i + gray.shape[1]] for i in range(2 * r + 1))
    return sum(k[i] * tmp[i : i + gray.shape[0], :] for i in range(2 * r + 1)).astype(np.float32)


def posterise(y, levels=LEVELS, sharpness=10.0):
    """Soft staircase: `levels` flat steps from 0 to 1 with smooth risers."""
    t = y * (levels - 1)
    base = np.floor(t)
    frac = t - base
    step = 1.0 / (1.0 + np.exp(-sharpness * (frac - 0.5)))
    return np.clip((base + step) / (levels - 1), 0.0, 1.0)


def comic(rgb):
    rgb = np.asarray(rgb, dtype=np.float32)
    smooth = bilateral(bilateral(rgb))
    y = smooth @ LUMA
    chroma = smooth - y[..., None]
    flat_y = posterise(y)
    out = flat_y[..., None] + SATURATION * chroma
    dog = gaussian(y, 1.0) - gaussian(y, 1.8)
    ink = np.clip((-dog - 0.012) * 40.0, 0.0, 1.0)
    out = out * (1.0 - 0.9 * ink[..., None])
    return np.clip(out, 0.0, 1.0).astype(np.float32)
