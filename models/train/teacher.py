"""The procedural comic "teacher": the paired target the generator learns to imitate.

Pure numpy (runs with Debian's numpy 1.24 for training and the pinned numpy 2 of
models/requirements.txt for the report). It DRAWS: flat cel colour and ink, not blur. Every
step is local (a few to a dozen pixels around each pixel), so a small convolutional generator
can learn it from crops:

1. edge-preserving smoothing: three passes of a 5x5 bilateral filter (texture and noise go,
   shape edges stay);
2. cel regions: the smoothed luminance falls into TONES tone steps (fixed thresholds, so the
   rule is the same in every picture and every crop); each pixel takes the mean colour of the
   pixels of its own tone step within a 15x15 window (region means: flat fills whose hue
   follows the picture), saturated a little. Skin (a soft YCbCr skin-colour mask) is kept
   flattering: two tone steps only (light and shadow), lifted, a larger window, less
   saturation, so faces are not cut into dark bands;
3. ink: XDoG, the soft threshold 1 + tanh(phi * (u - eps)) on a difference of Gaussians u of
   the smoothed luminance, dark side of an edge only; where lines crowd (texture: grass, fur,
   gravel) they are thinned out by their local density, so ink follows shape edges; on skin
   the threshold is stricter (eyes, brows, mouth, the face's outline, not pores or wrinkles)
   and lines stay thin and lighter (a small face stays a face, not blots); elsewhere they are
   thickened by one pixel (a 3x3 cross); anti-aliased.

Input and output: HxWx3 float32 RGB in 0..1. `comic_v1` is the previous teacher (bilateral,
soft posterised luminance, DoG ink) that the generator shipped until the drawing teacher
learned from.
"""

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# The drawing teacher (comic).
TONES = (0.2, 0.42, 0.66)  # luminance thresholds between the 4 tone steps
PALETTE = 8  # colours of the picture's own palette (k-means); regions are palette x tone step
SKIN_TONE = 0.38  # skin: one threshold, light and shadow
RADIUS, SKIN_RADIUS = 7, 10  # region-mean windows (15x15, 21x21)
SATURATION, SKIN_SATURATION = 1.3, 1.12
SKIN_LIFT = 0.03
PHI, EPS, SKIN_EPS = 220.0, -0.007, -0.016  # XDoG on the DoG (sigma 0.8 and 1.28)
INK = 0.88  # how dark a full ink line is (a multiple of the fill below it)

# The previous teacher (comic_v1).
LEVELS = 5
SATURATION_V1 = 1.35


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


def box(a, r):
    """Mean over a (2r+1)x(2r+1) window of a 2-D or HxWxC array (edge replication), by
    cumulative sums."""
    pad = [(r + 1, r), (r + 1, r)] + [(0, 0)] * (a.ndim - 2)
    c = np.pad(a.astype(np.float64), pad, mode="edge")
    c[0] = 0
    c[:, 0] = 0
    c = c.cumsum(0).cumsum(1)
    n = 2 * r + 1
    s = c[n:, n:] - c[:-n, n:] - c[n:, :-n] + c[:-n, :-n]
    return (s / (n * n)).astype(np.float32)


def dilate_cross(a):
    """Grey dilation by a 3x3 cross: lines one pixel thicker."""
    p = np.pad(a, 1, mode="edge")
    return np.maximum.reduce([p[1:-1, 1:-1], p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]])


def skin_mask(rgb):
    """Soft skin-colour mask (0..1) from the chroma of YCbCr (the classic Cb 77-127, Cr
    133-173 box, with soft edges), off in the darkest and brightest pixels."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = rgb @ LUMA
    cb = 128 + 255 * (-0.168736 * r - 0.331264 * g + 0.5 * b)
    cr = 128 + 255 * (0.5 * r - 0.418688 * g - 0.081312 * b)

    def inside(v, lo, hi, soft):
        return np.clip((v - lo) / soft + 0.5, 0, 1) * np.clip((hi - v) / soft + 0.5, 0, 1)

    m = inside(cb, 80, 125, 8) * inside(cr, 136, 178, 8) * inside(y, 0.2, 0.97, 0.1)
    return gaussian(m.astype(np.float32), 1.0)


def palette(smooth, k=PALETTE, iterations=8, seed=0):
    """The picture's own small palette: k-means (k colours, fixed seed) on a subsample of the
    smoothed pixels; returns each pixel's palette index."""
    px = smooth.reshape(-1, 3)
    rng = np.random.default_rng(seed)
    sample = px[rng.choice(len(px), min(len(px), 8000), replace=False)]
    centres = sample[rng.choice(len(sample), k, replace=False)]
    for _ in range(iterations):
        near = ((sample[:, None] - centres[None]) ** 2).sum(2).argmin(1)
        for c in range(k):
            if (near == c).any():
                centres[c] = sample[near == c].mean(0)
    return ((px[:, None] - centres[None]) ** 2).sum(2).argmin(1).reshape(smooth.shape[:2])


def cel(smooth, y, skin):
    """Region means: each pixel takes the mean colour of the pixels nearby that share its
    palette colour and its tone step (two windows, blended by the skin mask)."""
    step = np.digitize(y + SKIN_LIFT * skin, TONES) + (len(TONES) + 1) * palette(smooth)
    skin_step = (y + SKIN_LIFT * skin > SKIN_TONE).astype(np.int64)
    out = np.zeros_like(smooth)
    # The skin means average skin pixels only (weighted by the mask), so no face colour
    # bleeds into what is around it.
    for steps, count, radius, weight, among in (
        (step, (len(TONES) + 1) * PALETTE, RADIUS, 1.0 - skin, np.ones_like(skin)),
        (skin_step, 2, SKIN_RADIUS, skin, skin + 1e-3),
    ):
        part = np.zeros_like(smooth)
        for s in range(count):
            m = (steps == s).astype(np.float32)
            if not m.any():
                continue
            num = box(smooth * (m * among)[..., None], radius)
            den = box(m * among, radius)[..., None]
            part += m[..., None] * num / np.maximum(den, 1e-6)
        out += weight[..., None] * part
    return out


def comic(rgb):
    rgb = np.asarray(rgb, dtype=np.float32)
    smooth = bilateral(bilateral(bilateral(rgb, sigma_range=0.1), sigma_range=0.1), sigma_range=0.1)
    y = smooth @ LUMA
    skin = skin_mask(smooth)
    flat = cel(smooth, y, skin)
    fy = flat @ LUMA
    sat = SATURATION + (SKIN_SATURATION - SATURATION) * skin
    fill = fy[..., None] + sat[..., None] * (flat - fy[..., None]) + SKIN_LIFT * skin[..., None]
    # Soften the steps' staircase edges by a pixel (anti-aliasing, not blur).
    fill = np.stack([gaussian(fill[..., c], 0.6) for c in range(3)], axis=2)

    # XDoG ink on the smoothed luminance: dark side of edges only.
    u = gaussian(y, 0.8) - gaussian(y, 1.28)
    eps = EPS + (SKIN_EPS - EPS) * np.clip(skin * 1.5, 0, 1)
    ink = np.clip(-np.tanh(PHI * (u - eps)), 0.0, 1.0)
    # Texture: where lines crowd a 21x21 window (a shape's outline fills about 10% of it;
    # grass, gravel and fur far more) they fade out, unless the edge is strong at a coarser
    # scale too (a shape's outline: the DoG at sigma 2 and 3.2) and not crowded there.
    density = box(ink, 10)
    coarse = np.clip((-(gaussian(y, 2.0) - gaussian(y, 3.2)) - 0.012) / 0.012, 0.0, 1.0)
    coarse = coarse * np.clip(1.0 - (box(coarse, 10) - 0.12) / 0.12, 0.0, 1.0)
    ink = ink * np.maximum(np.clip(1.0 - (density - 0.14) / 0.12, 0.0, 1.0), coarse)
    # Thickened by a pixel off skin; on skin thin and lighter (small faces stay faces, not
    # blots).
    on_skin = np.clip(skin * 1.5, 0, 1)
    ink = gaussian(dilate_cross(ink) * (1 - on_skin) + ink * on_skin, 0.5)
    out = fill * (1.0 - (INK - 0.25 * on_skin)[..., None] * np.clip(ink, 0, 1)[..., None])
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def posterise(y, levels=LEVELS, sharpness=10.0):
    """Soft staircase: `levels` flat steps from 0 to 1 with smooth risers."""
    t = y * (levels - 1)
    base = np.floor(t)
    frac = t - base
    step = 1.0 / (1.0 + np.exp(-sharpness * (frac - 0.5)))
    return np.clip((base + step) / (levels - 1), 0.0, 1.0)


def comic_v1(rgb):
    """The previous teacher: bilateral x2, soft posterised luminance, DoG ink."""
    rgb = np.asarray(rgb, dtype=np.float32)
    smooth = bilateral(bilateral(rgb))
    y = smooth @ LUMA
    chroma = smooth - y[..., None]
    flat_y = posterise(y)
    out = flat_y[..., None] + SATURATION_V1 * chroma
    dog = gaussian(y, 1.0) - gaussian(y, 1.8)
    ink = np.clip((-dog - 0.012) * 40.0, 0.0, 1.0)
    out = out * (1.0 - 0.9 * ink[..., None])
    return np.clip(out, 0.0, 1.0).astype(np.float32)
