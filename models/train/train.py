"""Train the comic generator (GAN recipe) and the "already comic?" gate.

    python3 models/train/train.py generator DATA RUN --minutes 95
    python3 models/train/train.py gate DATA RUN --minutes 5

The gate stage fits the shipped gate (nets.StatsGate: fixed statistics of a 256x256 picture
and a logistic regression, 2 to 3 minutes) by default; `--gate-kind cnn` trains the first,
learned-filter gate (nets.Gate) for comparison. Its comic class is clip art, teacher outputs
and the look's comics of the training photos (DATA/look-comics/, look_comics.py), half of these
seen whole as `comicbooth stylize` shows them to the gate; its photo class the generator's
training photos and the gate-only ones (DATA/gate-photos/).

DATA is what gather.py wrote; RUN is a folder for checkpoints, logs and metrics. Both stages
checkpoint every few minutes and resume from RUN when started again (a stopped session loses
at most one interval). Training time, not an iteration count, is the budget: the learning
rate follows a cosine over the time given, so a slower machine trains fewer steps, not longer.

Generator loss, per batch of 128x128 photo crops x with teacher targets T(x) (teacher.py:
flat cel regions and XDoG ink):
    L1_ink(G(x), T(x))                              paired supervision by the teacher, ink
                                                    pixels weighted 1 + W_INK (ink_weight)
  + W_ADV * (D(G(x)) - 1)^2                         LSGAN: look like real comic pictures
  + W_TEMP * L1(G(x') - shift(G(x)))                temporal coherence: x' is x moved by a few
                                                    pixels with sensor-like noise and gain
D sees teacher outputs and openclipart pictures as real; G's outputs as fake, and, CartoonGAN's
edge-promoting trick (Chen et al., CVPR 2018), edge-blurred copies of the same real pictures
as fake too (edge_blur: the band around their edges dilated and Gaussian-blurred), so that D
punishes soft edges and G draws crisp ones. Photos of people are drawn PEOPLE_WEIGHT times as
often as the others, also with exposure and colour variants (people_variants): a booth sees
people.
"""

import argparse
import io
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

import teacher
from nets import Discriminator, Gate, Generator, StatsGate, load_gate, macs, params

CROP = 128
BATCH = 8
W_ADV = 0.04
PEOPLE = {"astronaut", "grace_hopper"}  # training photos of people (gather.py: few are licensed)
PEOPLE_WEIGHT = 3
W_TEMP = 1.0
# Ink is a few percent of a teacher target's pixels, so a plain L1 lets the generator skip it
# (the recipe of stop 23 trained a generator that drew almost none); weighting ink pixels makes
# missing a line cost what missing a large region costs.
W_INK = 4.0
MAX_SHIFT = 3
NOISE = 0.02
CHECKPOINT_EVERY_S = 300
PHOTO_SCALES = (512, 320)  # short sides the photos are seen at (the teacher is per scale)
# The generator also learns at 224, about what the booth shows it (a whole picture fitted into
# 256); its held-out figure uses the 320 scale.
GENERATOR_SCALES = PHOTO_SCALES + (224,)


def load_rgb(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0


def resize(img, short):
    h, w = img.shape[:2]
    s = short / min(h, w)
    pil = Image.fromarray((img * 255 + 0.5).astype(np.uint8))
    return np.asarray(pil.resize((round(w * s), round(h * s)), Image.LANCZOS), dtype=np.float32) / 255.0


def people_variants(img):
    """Exposure and colour variants of a photo of people (a booth's light varies): darker and
    warmer, brighter and cooler. Named so that the teacher cache keeps them."""
    return {
        "dark-warm": np.clip((img * np.array([1.0, 0.93, 0.82], np.float32) * 0.8) ** 1.15, 0, 1),
        "bright-cool": np.clip((img * np.array([0.94, 1.0, 1.06], np.float32)) ** 0.75, 0, 1),
    }


def photo_pairs(data, split, cache, folder="photos", variants=False, scales=PHOTO_SCALES):
    """(photo, teacher) pairs at each training scale; teacher outputs cached as .npy. With
    `variants` (training), photos of people (PEOPLE) come PEOPLE_WEIGHT times, the last times
    as people_variants."""
    pairs = []
    cache.mkdir(parents=True, exist_ok=True)
    for path in sorted((data / folder / split).glob("*.png")):
        full = load_rgb(path)
        for short in scales:
            img = resize(full, short) if short != min(full.shape[:2]) else full
            images = {"": img}
            if variants and path.stem in PEOPLE:
                images.update(list(people_variants(img).items())[: PEOPLE_WEIGHT - 1])
            for name, im in images.items():
                cached = cache / f"{path.stem}-{short}{'-' + name if name else ''}.npy"
                if cached.exists():
                    target = np.load(cached)
                else:
                    target = teacher.comic(im)
                    np.save(cached, target)
                pairs.append((im.astype(np.float32), target))
    return pairs


def edge_blur(x, sigma=1.5, threshold=0.08, band=5):
    """CartoonGAN's edge-promoted fakes: Nx3xHxW pictures with the band around their edges
    (luminance steps above `threshold`, dilated to `band` pixels) replaced by a Gaussian blur
    of the picture: the same picture with soft edges."""
    y = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    gx = F.pad((y[..., :, 1:] - y[..., :, :-1]).abs(), (0, 1, 0, 0))
    gy = F.pad((y[..., 1:, :] - y[..., :-1, :]).abs(), (0, 0, 0, 1))
    edges = (torch.max(gx, gy) > threshold).float()
    edges = F.max_pool2d(edges, band, stride=1, padding=band // 2)
    r = int(math.ceil(3 * sigma))
    k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * sigma**2))
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    blurred = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k, groups=3)
    blurred = F.conv2d(F.pad(blurred, (0, 0, r, r), mode="replicate"), k.transpose(2, 3), groups=3)
    return edges * blurred + (1 - edges) * x


def cartoons(data, split, side=CROP + 32):
    out = []
    for path in sorted((data / "cartoons" / split).glob("*.png")):
        img = load_rgb(path)
        h, w = img.shape[:2]
        canvas = np.ones((max(h, side), max(w, side), 3), dtype=np.float32)
        y, x = (canvas.shape[0] - h) // 2, (canvas.shape[1] - w) // 2
        canvas[y : y + h, x : x + w] = img
        out.append(canvas)
    return out


def crop(rng, img, size, *others):
    h, w = img.shape[:2]
    y, x = rng.randint(0, h - size), rng.randint(0, w - size)
    flip = rng.random() < 0.5
    outs = []
    for a in (img,) + others:
        c = a[y : y + size, x : x + size]
        outs.append(c[:, ::-1] if flip else c)
    return outs


def to_batch(arrays):
    return torch.from_numpy(np.ascontiguousarray(np.stack(arrays).transpose(0, 3, 1, 2)))


class Run:
    """Checkpoint, log and metrics files of one training stage in RUN."""

    def __init__(self, folder, stage):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.checkpoint = self.folder / f"{stage}.pt"
        self.log_file = open(self.folder / f"{stage}.log", "a")

    def log(self, msg):
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        self.log_file.write(line + "\n")
        self.log_file.flush()

    def save(self, state):
        tmp = self.checkpoint.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(self.checkpoint)

    def load(self):
        return torch.load(self.checkpoint) if self.checkpoint.exists() else None


def ink_weight(target):
    """Per-pixel L1 weight, 1 + W_INK * inkness: inkness is how much darker a target pixel is
    than the lightest pixel within 2 px (the teacher's full ink line darkens the fill below it
    by teacher.INK, so a line's core scores about 0.88 and flat colour 0)."""
    lum = target.mean(1, keepdim=True)
    local = F.max_pool2d(lum, 5, stride=1, padding=2)
    inkness = ((local - lum) / (local + 0.05)).clamp(0.0, 1.0)
    return 1.0 + W_INK * inkness


def cosine_lr(base, elapsed, budget):
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / budget)))


def heldout_l1(g, pairs):
    """Mean L1 to the teacher on held-out photos, centre 256x256 of the 320 scale."""
    losses = []
    with torch.no_grad():
        for img, target in pairs:
            if min(img.shape[:2]) != PHOTO_SCALES[1]:
                continue
            h, w = img.shape[:2]
            y, x = (h - 256) // 2 // 4 * 4, (w - 256) // 2 // 4 * 4
            out = g(to_batch([img[y : y + 256, x : x + 256]]))
            losses.append(F.l1_loss(out, to_batch([target[y : y + 256, x : x + 256]])).item())
    return float(np.mean(losses))


def train_generator(args, stage="generator", w_temp=W_TEMP, w_still=0.0):
    """Both generator stages. "generator" trains from scratch; "temporal" starts from the
    generator stage's weights (RUN/generator.pt, left as it is) and goes on with a larger
    temporal weight w_temp and a still twin: x with sensor noise and gain but no shift, whose
    output must match G(x) (weight w_still). Its checkpoint is RUN/temporal.pt."""
    run = Run(args.run, stage)
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    cache = args.run / "teacher-cache"
    train = photo_pairs(args.data, "train", cache, variants=True, scales=GENERATOR_SCALES)
    heldout = photo_pairs(args.data, "heldout", cache)
    clips = cartoons(args.data, "train")
    g, d = Generator(), Discriminator()
    opt_g = torch.optim.Adam(g.parameters(), lr=args.lr, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=args.lr / 2, betas=(0.5, 0.99))
    state = run.load()
    step, elapsed = 0, 0.0
    if not state and stage == "temporal":
        start = torch.load(args.run / "generator.pt")
        g.load_state_dict(start["g"])
        d.load_state_dict(start["d"])
        run.log(
            f"temporal: from the generator stage (step {start['step']}, held-out L1 {start['heldout_l1']:.4f}); "
            f"W_TEMP {w_temp}, still twin {w_still}, lr {args.lr:.1e}"
        )
    if state:
        g.load_state_dict(state["g"])
        d.load_state_dict(state["d"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        step, elapsed = state["step"], state["elapsed"]
        rng.setstate(state["rng"])
        run.log(f"resumed at step {step}, {elapsed / 60:.1f} min trained")
    else:
        run.log(
            f"generator: {params(g)} parameters, {macs(g) / 1e6:.0f} MMAC at 256x256; "
            f"{len(train)} train and {len(heldout)} held-out photo scales, {len(clips)} cartoons"
        )
    budget = args.minutes * 60
    started = time.time() - elapsed
    last_save = time.time()
    window = []
    while True:
        elapsed = time.time() - started
        if elapsed >= budget or (args.steps and step >= args.steps):
            break
        lr = cosine_lr(args.lr, elapsed, budget)
        if stage == "temporal":  # fresh Adam moments: warm up over 100 steps, not to jolt G
            lr *= min(1.0, (step + 1) / 100)
        for group in opt_g.param_groups:
            group["lr"] = lr
        for group in opt_d.param_groups:
            group["lr"] = lr / 2

        # A batch: crops with a margin for the temporal shift, the shifted noisy twin, targets.
        big = CROP + 2 * MAX_SHIFT
        xs, ts, x2s, x3s, shifts = [], [], [], [], []
        for _ in range(BATCH):
            img, target = train[rng.randrange(len(train))]
            c, t = crop(rng, img, big, target)
            m = MAX_SHIFT
            dy, dx = rng.randint(-m, m), rng.randint(-m, m)
            xs.append(c[m : m + CROP, m : m + CROP])
            ts.append(t[m : m + CROP, m : m + CROP])
            gain = 1.0 + rng.uniform(-0.03, 0.03)
            twin = c[m + dy : m + dy + CROP, m + dx : m + dx + CROP] * gain
            twin = twin + np.random.default_rng(rng.randrange(1 << 30)).normal(0, NOISE, twin.shape)
            x2s.append(np.clip(twin, 0, 1).astype(np.float32))
            shifts.append((dy, dx))
            if w_still:
                still = xs[-1] * (1.0 + rng.uniform(-0.03, 0.03))
                still = still + np.random.default_rng(rng.randrange(1 << 30)).normal(0, NOISE, still.shape)
                x3s.append(np.clip(still, 0, 1).astype(np.float32))
        x, target, x2 = to_batch(xs), to_batch(ts), to_batch(x2s)
        real = to_batch(
            [crop(rng, clips[rng.randrange(len(clips))], CROP)[0] for _ in range(BATCH // 2)] + ts[: BATCH // 2]
        )
        # Edge-promoted fakes: other clip art and the other teacher targets, edges blurred.
        with torch.no_grad():
            soft = edge_blur(to_batch(
                [crop(rng, clips[rng.randrange(len(clips))], CROP)[0] for _ in range(BATCH // 2)] + ts[BATCH // 2 :]
            ))

        out = g(torch.cat([x, x2] + ([to_batch(x3s)] if w_still else [])))
        fake, fake2, fake3 = out[:BATCH], out[BATCH : 2 * BATCH], out[2 * BATCH :]
        # D step (LSGAN).
        opt_d.zero_grad()
        loss_d = ((d(real) - 1) ** 2).mean() + (d(fake.detach()) ** 2).mean() + (d(soft) ** 2).mean()
        loss_d.backward()
        opt_d.step()
        # G step.
        opt_g.zero_grad()
        w = ink_weight(target)
        l1 = (w * (fake - target).abs()).mean() / w.mean()
        adv = ((d(fake) - 1) ** 2).mean()
        temporal = 0.0
        e = 2 * MAX_SHIFT  # compare the interior only: borders see different padding
        for i, (dy, dx) in enumerate(shifts):
            a = fake2[i, :, e : CROP - e, e : CROP - e]
            b = fake[i, :, e + dy : CROP - e + dy, e + dx : CROP - e + dx]
            temporal = temporal + F.l1_loss(a, b)
        temporal = temporal / BATCH
        loss = l1 + W_ADV * adv + w_temp * temporal
        if w_still:
            loss = loss + w_still * F.l1_loss(fake3, fake)
        loss.backward()
        opt_g.step()
        step += 1
        window.append((l1.item(), adv.item(), float(temporal), loss_d.item()))

        if step % 50 == 0:
            m = np.mean(window, axis=0)
            window.clear()
            run.log(
                f"step {step} {elapsed / 60:.1f} min lr {lr:.2e}: l1 {m[0]:.4f} adv {m[1]:.3f} "
                f"temporal {m[2]:.4f} d {m[3]:.3f} ({elapsed / step:.2f} s/step)"
            )
        if time.time() - last_save > CHECKPOINT_EVERY_S:
            save_generator(run, g, d, opt_g, opt_d, step, time.time() - started, rng, heldout, stage=stage)
            last_save = time.time()
    save_generator(run, g, d, opt_g, opt_d, step, time.time() - started, rng, heldout, final=True, stage=stage)


def save_generator(run, g, d, opt_g, opt_d, step, elapsed, rng, heldout, final=False, stage="generator"):
    g.eval()
    val = heldout_l1(g, heldout)
    g.train()
    run.save(
        dict(g=g.state_dict(), d=d.state_dict(), opt_g=opt_g.state_dict(), opt_d=opt_d.state_dict(),
             step=step, elapsed=elapsed, rng=rng.getstate(), heldout_l1=val)
    )
    run.log(f"{'final' if final else 'checkpoint'} at step {step}, {elapsed / 60:.1f} min: held-out L1 to teacher {val:.4f}")
    metrics = dict(steps=step, minutes=round(elapsed / 60, 1), heldout_l1=round(val, 5),
                   parameters=params(g), mmac_256=round(macs(g) / 1e6))
    (run.folder / f"{stage}.json").write_text(json.dumps(metrics, indent=2) + "\n")


# The gate ---------------------------------------------------------------------------------

GATE_SIDE = 256  # the side of the gate's square input; --gate-side (the manifest's native_size)
GATE_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)


def gate_view(rng, img, augment):
    """A GATE_SIDE square view of a photo or of its teacher output, as the booth shows the gate
    a camera frame. Without augment (the held-out set): a square crop covering half to all of
    the short side (the gate judges whole camera frames, not close-ups of a patch of sky, which
    no one can tell from a comic). With augment: a third are whole frames (the booth's centre
    square, or the whole picture squashed to a square as `comicbooth stylize` does), the rest
    the same crops with a little aspect jitter."""
    h, w = img.shape[:2]
    short = min(h, w)
    if not augment:
        side = rng.randint(max(GATE_SIDE, short // 2), short)
        return resize(crop(rng, img, side)[0], GATE_SIDE)[:GATE_SIDE, :GATE_SIDE]
    if id(img) not in _PIL:
        _PIL[id(img)] = (img, Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)))
    pil = _PIL[id(img)][1]
    r = rng.random()
    if r < 0.15:  # whole picture, squashed
        box = (0, 0, w, h)
    elif r < 0.33:  # whole short side, anywhere
        y, x = rng.randint(0, h - short), rng.randint(0, w - short)
        box = (x, y, x + short, y + short)
    else:
        ch = rng.randint(max(GATE_SIDE, short // 2), short)
        cw = min(w, max(GATE_SIDE, round(ch * rng.uniform(0.8, 1.25))))
        y, x = rng.randint(0, h - ch), rng.randint(0, w - cw)
        box = (x, y, x + cw, y + ch)
    view = pil.resize((GATE_SIDE, GATE_SIDE), rng.choice([Image.LANCZOS, Image.BILINEAR, Image.BOX]), box=box)
    if rng.random() < 0.5:
        view = view.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(view, dtype=np.float32) / 255.0


_PIL = {}  # id of a photo or teacher array -> (the array, kept alive; it as a uint8 PIL image)


def camera_look(rng, v, strength):
    """Colour and camera degradations: exposure, white balance, saturation (now and then grey),
    gamma, blur, sensor noise, JPEG. `strength` 1 for photos and teacher outputs alike (so
    none of it tells the two apart), lower for clip art (which the booth sees less degraded)."""
    if rng.random() < 0.8:
        v = v * rng.uniform(0.65, 1.3) * np.array([rng.uniform(0.9, 1.1) for _ in range(3)], np.float32)
        v = np.clip(v, 0, 1) ** rng.uniform(0.75, 1.33)
        grey = v.mean(axis=2, keepdims=True)
        sat = 0.0 if rng.random() < 0.08 else rng.uniform(0.6, 1.4)
        v = np.clip(grey + (v - grey) * sat, 0, 1)
    pil = None
    if rng.random() < 0.25 * strength:
        pil = Image.fromarray((v * 255 + 0.5).astype(np.uint8)).filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
        v = np.asarray(pil, dtype=np.float32) / 255.0
    if rng.random() < 0.4 * strength:
        sigma = rng.uniform(0.003, 0.03)
        noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, sigma, v.shape).astype(np.float32)
        v = np.clip(v + noise, 0, 1)
    if rng.random() < 0.35 * strength:
        buf = io.BytesIO()
        Image.fromarray((v * 255 + 0.5).astype(np.uint8)).save(buf, "JPEG", quality=rng.randint(35, 95))
        v = np.asarray(Image.open(buf).convert("RGB"), dtype=np.float32) / 255.0
    return v.astype(np.float32)


def whole_view(img):
    """The whole picture as `comicbooth stylize` shows it to the gate: fitted into 256 pixels
    on its long side (sides multiples of 4, the generator's input), then squashed to
    GATE_SIDE x GATE_SIDE, both resized bilinearly with a filter as wide as the step down (as
    src/convert/resize.rs does)."""
    h, w = img.shape[:2]
    s = 256 / max(h, w)
    size = (max(4, int(w * s) // 4 * 4), max(4, int(h * s) // 4 * 4))
    pil = Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
    pil = pil.resize(size, Image.BILINEAR).resize((GATE_SIDE, GATE_SIDE), Image.BILINEAR)
    return np.asarray(pil, dtype=np.float32) / 255.0


def look_view(rng, img, whole):
    """A view of a look comic (or, for balance, of a photo): with probability `whole` the
    whole picture as stylize shows it (whole_view, flipped half the time), else a crop as
    gate_view draws one (a picture too small to crop is always seen whole)."""
    if (whole and rng.random() < whole) or min(img.shape[:2]) < GATE_SIDE:
        v = whole_view(img)
        return v[:, ::-1] if rng.random() < 0.5 else v
    return gate_view(rng, img, None)


def gate_examples(rng, photos, clips, n, augment=None, looks=None, whole=0.0, mix=(1, 1, 1)):
    """n (picture, label) pairs: half photos, half comic: clip art and the teacher's output of
    a photo (a quarter each), or, with `looks` (the look's comics, look_comics.py), clip art,
    teacher outputs and look comics in the proportions `mix`. `whole`: share of the photo and
    look-comic views that show the whole picture as `comicbooth stylize` does (whole_view; 0
    draws the same pictures as before look comics came). augment (training only, --augment):
    camera_look strengths for (photo, clip art, teacher output), with whole-frame views; the
    held-out set is drawn without it."""
    xs, ys = [], []
    kinds = [k for k, m in zip(("clip", "teacher", "look"), mix) for _ in range(m)] if looks else ["clip", "teacher"]
    for i in range(n):
        kind = kinds[(i // 2) % len(kinds)]
        if i % 2 == 0:
            img, _ = photos[rng.randrange(len(photos))]
            v = look_view(rng, img, whole) if whole else gate_view(rng, img, augment)
            xs.append(camera_look(rng, v, augment[0]) if augment else v)
            ys.append(0.0)
        elif kind == "clip":
            v = crop(rng, clips[rng.randrange(len(clips))], GATE_SIDE)[0]
            xs.append(camera_look(rng, v, augment[1]) if augment else v)
            ys.append(1.0)
        elif kind == "teacher":
            img, target = photos[rng.randrange(len(photos))]
            v = gate_view(rng, target, augment)
            xs.append(camera_look(rng, v, augment[2]) if augment else v)
            ys.append(1.0)
        else:
            xs.append(look_view(rng, looks[rng.randrange(len(looks))], whole))
            ys.append(1.0)
    return to_batch(xs), torch.tensor(ys).unsqueeze(1)


def gate_cartoons(data, split):
    """The clip art as the gate sees it: as cartoons() gives it for a 128 px gate, enlarged by
    GATE_SIDE / 128 for a larger one (stylize enlarges a picture smaller than model.size the
    same way, bilinearly)."""
    clips = cartoons(data, split)
    if GATE_SIDE <= 128:
        return clips
    scale = GATE_SIDE / 128
    out = []
    for c in clips:
        pil = Image.fromarray((c * 255 + 0.5).astype(np.uint8))
        pil = pil.resize((round(pil.width * scale), round(pil.height * scale)), Image.BILINEAR)
        out.append(np.asarray(pil, dtype=np.float32) / 255.0)
    return out


def look_comics(data, split):
    """The look's comics of the photos of `split` (DATA/look-comics/, look_comics.py); none
    where DATA has none."""
    return [load_rgb(p) for p in sorted((data / "look-comics" / split).glob("*.png"))]


def gate_photos(args):
    """Training and held-out (photo, teacher) pairs of the gate: the generator's photos, and
    the gate-only ones (gather.py) for training where --gate-photos says so; the held-out set
    always has both (more held-out photos, a steadier figure)."""
    cache = args.run / "teacher-cache"
    train = photo_pairs(args.data, "train", cache)
    if args.gate_photos:
        train += photo_pairs(args.data, "train", cache, "gate-photos")
    heldout_v1 = photo_pairs(args.data, "heldout", cache)
    heldout = heldout_v1 + photo_pairs(args.data, "heldout", cache, "gate-photos")
    return train, heldout, heldout_v1


def train_gate(args):
    run = Run(args.run, "gate")
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    train, heldout, heldout_v1 = gate_photos(args)
    clips, clips_heldout = cartoons(args.data, "train"), cartoons(args.data, "heldout")
    gate = Gate(args.gate_width)
    opt = torch.optim.Adam(gate.parameters(), lr=args.lr)
    run.log(
        f"gate: {params(gate)} parameters, {macs(gate, GATE_SIDE, GATE_SIDE) / 1e6:.1f} MMAC at {GATE_SIDE}x{GATE_SIDE}; "
        f"{len(train) // len(PHOTO_SCALES)} train and {len(heldout) // len(PHOTO_SCALES)} held-out photos, "
        f"{len(clips)} train and {len(clips_heldout)} held-out cartoons; augment {args.augment}"
    )
    # The learning rate follows a cosine over the time budget or, where --steps is given, over
    # the steps, whichever ends first (a step count makes the run repeatable on a busy machine).
    budget, started, step = args.minutes * 60, time.time(), 0
    while time.time() - started < budget and not (args.steps and step >= args.steps):
        done = max((time.time() - started) / budget, step / args.steps if args.steps else 0.0)
        for group in opt.param_groups:
            group["lr"] = cosine_lr(args.lr, done, 1.0)
        x, y = gate_examples(rng, train, clips, 32, augment=args.augment)
        loss = F.binary_cross_entropy_with_logits(gate(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            run.log(f"step {step}: loss {loss.item():.4f}")
    run.save(dict(gate=gate.state_dict(), step=step, kind="cnn", width=args.gate_width, side=GATE_SIDE))
    metrics = dict(steps=step, side=GATE_SIDE, minutes=round((time.time() - started) / 60, 1),
                   kind="cnn", width=args.gate_width, train_photos=len(train) // len(PHOTO_SCALES), augment=args.augment,
                   parameters=params(gate), mmac=round(macs(gate, GATE_SIDE, GATE_SIDE) / 1e6, 1))
    evaluate_gate(run, gate, heldout, clips_heldout, metrics, heldout_v1)


def train_stats_gate(args):
    """The shipped gate (nets.StatsGate): its fixed statistics of --views training views at
    GATE_SIDE (half photos; half comics: clip art, teacher outputs and look comics in the
    proportions --comic-mix, 1:1:2; --whole of the photo and look-comic views whole, as stylize
    shows a picture to the gate; --photo-blur of the photos blurred, as an out-of-focus camera
    sees them), then a logistic regression on them (standardised; C by 5-fold cross-validation
    on the training views), folded into the gate's one linear layer."""
    from sklearn.linear_model import LogisticRegressionCV  # python3-sklearn (setup.sh)

    run = Run(args.run, "gate")
    rng = random.Random(args.seed)
    train, heldout, heldout_v1 = gate_photos(args)
    clips, clips_heldout = gate_cartoons(args.data, "train"), gate_cartoons(args.data, "heldout")
    looks = look_comics(args.data, "train") if args.looks else []
    gate = StatsGate()
    run.log(f"stats gate at {GATE_SIDE}x{GATE_SIDE}: {len(StatsGate.FEATURES)} statistics, "
            f"{len(train) // len(PHOTO_SCALES)} train photos, "
            f"{len(clips)} train cartoons, {len(looks)} look comics, {args.views} views, whole {args.whole}")
    started = time.time()
    feats, labels = [], []
    with torch.no_grad():
        for start in range(0, args.views, 200):  # chunks of 200 views: memory stays small
            x, y = gate_examples(rng, train, clips, min(200, args.views - start), augment=args.augment,
                                 looks=looks, whole=args.whole if looks else 0.0, mix=args.comic_mix)
            if args.photo_blur:
                x = blur_some_photos(rng, x, y, args.photo_blur)
            if args.photo_jpeg:
                x = jpeg_some_photos(rng, x, y, args.photo_jpeg)
            feats.append(gate.features(x).numpy())
            labels.append(y.numpy()[:, 0])
    f, y = np.concatenate(feats).astype(np.float64), np.concatenate(labels)
    mu, sd = f.mean(axis=0), f.std(axis=0) + 1e-9
    folds = min(5, len(y) // 2)
    lr = LogisticRegressionCV(Cs=[0.1, 1.0, 10.0, 100.0], cv=folds, max_iter=10000).fit((f - mu) / sd, y)
    w = lr.coef_[0] / sd
    with torch.no_grad():
        gate.classify.weight.copy_(torch.tensor(w[None], dtype=torch.float32))
        gate.classify.bias.copy_(torch.tensor([lr.intercept_[0] - (w * mu).sum()], dtype=torch.float32))
    train_accuracy = float(((gate.classify(torch.tensor(f, dtype=torch.float32)) > 0).numpy()[:, 0] == y).mean())
    cv_accuracy = float(lr.scores_[1.0].mean(axis=0).max())
    run.save(dict(gate=gate.state_dict(), kind="stats", side=GATE_SIDE))
    metrics = dict(kind="stats", side=GATE_SIDE, minutes=round((time.time() - started) / 60, 1), views=len(y),
                   train_photos=len(train) // len(PHOTO_SCALES), train_look_comics=len(looks),
                   photo_blur=args.photo_blur, photo_jpeg=args.photo_jpeg,
                   whole_views=args.whole if looks else 0.0, comic_mix=args.comic_mix if looks else None,
                   C=float(lr.C_[0]),
                   train_accuracy=round(train_accuracy, 4), cv_accuracy=round(cv_accuracy, 4),
                   parameters=params(gate), weights=dict(zip(StatsGate.FEATURES, [round(float(v), 4) for v in w])))
    run.log(f"C {lr.C_[0]}, train accuracy {train_accuracy:.3f}, cross-validated {cv_accuracy:.3f}")
    evaluate_gate(run, gate, heldout, clips_heldout, metrics, heldout_v1, look_comics(args.data, "heldout"))


def jpeg_some_photos(rng, x, y, share):
    """x with `share` of its photos (label 0) JPEG-compressed at quality 20 to 90, at the
    gate's size: a camera's MJPEG frame or a compressed photo file is still a photo, and
    JPEG's flattened 8x8 blocks must not read as a comic's fills. Comics are left as they are."""
    x = x.clone()
    for i in range(len(x)):
        if y[i, 0] == 0 and rng.random() < share:
            buf = io.BytesIO()
            Image.fromarray((x[i].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)).save(
                buf, "JPEG", quality=rng.randint(20, 90))
            im = Image.open(buf).convert("RGB")
            x[i] = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)
    return x


def blur_some_photos(rng, x, y, share):
    """x (Nx3xHxW in 0..1) with `share` of its photos (label 0) blurred by a Gaussian of 0.3 to
    2 pixels at 128x128 (scaled with GATE_SIDE): an out-of-focus camera is still a photo, and
    its smooth areas must not read as a comic's flat fills. Comics are left sharp."""
    x = x.clone()
    for i in range(len(x)):
        if y[i, 0] == 0 and rng.random() < share:
            im = Image.fromarray((x[i].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
            im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 2.0) * GATE_SIDE / 128))
            x[i] = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)
    return x


def evaluate_gate(run, gate, heldout, clips_heldout, metrics, heldout_v1=None, looks_heldout=None):
    """Held-out evaluation on a fixed set: never-seen photos, clip art and teacher outputs.
    Writes RUN/gate-heldout.npz (the report scores the exported gate on the same pictures) and RUN/gate.json (metrics with the held-out figures). With `heldout_v1` (the
    generator's 4 held-out photos, the first report's set), also RUN/gate-heldout-v1.npz: the
    same draw from those photos alone, so gates compare with the first one on its own set.
    With `looks_heldout` (the look's comics of the held-out photos), also
    RUN/gate-heldout-look.npz: 300 views of them (a third the whole comic as stylize shows it,
    the rest crops as the teacher outputs get) and the share the gate passes at each
    threshold."""
    gate.eval()
    if looks_heldout:
        rng = random.Random(4321)
        x = to_batch([look_view(rng, looks_heldout[i % len(looks_heldout)], 1 / 3) for i in range(300)])
        x = (x.numpy() * 255 + 0.5).astype(np.uint8)
        np.savez_compressed(run.folder / "gate-heldout-look.npz", x=x, y=np.ones((len(x), 1), np.float32))
        with torch.no_grad():
            prob = torch.sigmoid(gate(torch.from_numpy(x.astype(np.float32) / 255)))[:, 0].numpy()
        passed = {str(t): round(float((prob >= t).mean()), 4) for t in GATE_THRESHOLDS}
        metrics.update(heldout_look_comics=len(looks_heldout), heldout_look_passed=passed)
        run.log(f"held-out look comics ({len(looks_heldout)}, 300 views) passed at thresholds {passed}")

    def draw(photos, name):
        x, y = gate_examples(random.Random(1234), photos, clips_heldout, 600)
        x = (x.numpy() * 255 + 0.5).astype(np.uint8)
        np.savez_compressed(run.folder / name, x=x, y=y.numpy())
        with torch.no_grad():
            pred = (gate(torch.from_numpy(x.astype(np.float32) / 255)) > 0).float()
        confusion = [[int(((y == a) & (pred == b)).sum()) for b in (0.0, 1.0)] for a in (0.0, 1.0)]
        return (confusion[0][0] + confusion[1][1]) / len(y), confusion

    accuracy, confusion = draw(heldout, "gate-heldout.npz")
    metrics.update(heldout_photos=len(heldout) // len(PHOTO_SCALES), heldout_examples=600,
                   accuracy=round(accuracy, 4), confusion_rows_true_photo_comic=confusion)
    run.log(f"gate held-out accuracy {accuracy:.3f}, confusion (rows true photo/comic) {confusion}")
    if heldout_v1:
        accuracy, confusion = draw(heldout_v1, "gate-heldout-v1.npz")
        metrics.update(heldout_v1_accuracy=round(accuracy, 4), heldout_v1_confusion=confusion)
        run.log(f"gate on the first report's set (4 photos): accuracy {accuracy:.3f}, confusion {confusion}")
    (run.folder / "gate.json").write_text(json.dumps(metrics, indent=2) + "\n")


def rescore_gate(args):
    """Stage gate-heldout: the held-out set and figures of the trained gate in RUN/gate.pt
    again, from DATA's held-out photos (for a gate trained before the held-out set grew); the
    training figures in gate.json stay."""
    global GATE_SIDE
    run = Run(args.run, "gate")
    state = run.load()
    gate, GATE_SIDE = load_gate(state, args.gate_width), state.get("side", 128)
    _, heldout, heldout_v1 = gate_photos(args)
    metrics = json.loads((args.run / "gate.json").read_text())
    run.log(f"gate-heldout: the trained gate on {len(heldout) // len(PHOTO_SCALES)} held-out photos")
    evaluate_gate(run, gate, heldout, gate_cartoons(args.data, "heldout"), metrics, heldout_v1,
                  look_comics(args.data, "heldout"))


def main():
    global GATE_SIDE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["generator", "temporal", "gate", "gate-heldout"])
    ap.add_argument("data", type=Path)
    ap.add_argument("run", type=Path)
    ap.add_argument("--minutes", type=float, required=True, help="training time budget")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (smoke runs)")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--gate-photos", action=argparse.BooleanOptionalAction, default=True,
                    help="gate: train on DATA/gate-photos/train too (default; --no-gate-photos: the 11 photos only)")
    ap.add_argument("--augment", type=lambda v: [float(a) for a in v.split(",")], default=None,
                    help="gate: camera_look strengths for photo,clipart,teacher (e.g. 1,0.5,1); off by default")
    ap.add_argument("--gate-width", type=int, default=16, help="gate: channels of its first conv (nets.Gate)")
    ap.add_argument("--gate-kind", choices=["stats", "cnn"], default="stats",
                    help="gate: stats (nets.StatsGate, shipped) or cnn (nets.Gate, the first one)")
    ap.add_argument("--views", type=int, default=6000, help="stats gate: training views")
    ap.add_argument("--gate-side", type=int, default=GATE_SIDE,
                    help="gate: side of its square input, the manifest's native_size (default %(default)s)")
    ap.add_argument("--photo-blur", type=float, default=0.25,
                    help="stats gate: share of training photos blurred (an out-of-focus camera)")
    ap.add_argument("--photo-jpeg", type=float, default=0.0,
                    help="stats gate: share of training photos JPEG-compressed (quality 20 to 90)")
    ap.add_argument("--looks", action=argparse.BooleanOptionalAction, default=True,
                    help="stats gate: show it the look's comics of the training photos (DATA/look-comics/train, "
                         "look_comics.py) among its comic views (default; --no-looks: clip art and teacher only)")
    ap.add_argument("--comic-mix", type=lambda v: [int(a) for a in v.split(",")], default=[1, 1, 2],
                    help="stats gate with look comics: proportions of clip art, teacher outputs and look comics "
                         "in its comic views (default 1,1,2: half the comics are look comics)")
    ap.add_argument("--whole", type=float, default=0.5,
                    help="stats gate with look comics: share of photo and look-comic views showing the whole "
                         "picture as stylize does")
    ap.add_argument("--w-temp", type=float, default=4.0, help="temporal stage: weight of the shifted twin")
    ap.add_argument("--w-still", type=float, default=2.0, help="temporal stage: weight of the still (noise-only) twin")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    GATE_SIDE = args.gate_side
    if args.stage == "generator":
        args.lr = args.lr or 2e-3
        train_generator(args)
    elif args.stage == "temporal":
        args.lr = args.lr or 2e-4
        train_generator(args, "temporal", w_temp=args.w_temp, w_still=args.w_still)
    elif args.stage == "gate":
        args.lr = args.lr or 3e-3
        train_stats_gate(args) if args.gate_kind == "stats" else train_gate(args)
    else:
        rescore_gate(args)


if __name__ == "__main__":
    main()
