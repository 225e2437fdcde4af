//! Tap tables: which two samples each output blends and how much of each, per row and column,
//! and the horizontal kernels' blocks of them.

/// One horizontal or vertical tap pair: `out = src[left] * (128 - w1) + src[right] * w1`
/// (over 128), `w1` below 128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tap {
    pub left: usize,
    pub right: usize,
    pub w1: u8,
}

impl Tap {
    /// The two weights as `pmaddubsw` takes them (each below 128): a tap right on a sample is
    /// that sample twice at 64.
    pub fn weights(self) -> [u8; 2] {
        if self.w1 == 0 { [64, 64] } else { [128 - self.w1, self.w1] }
    }
}

/// Taps of `out` outputs over a line that spans `extent` pixels (pixel centres aligned:
/// output `o` sits at pixel `(o + 0.5) * extent / out - 0.5`) through `n` samples. `paired`:
/// each sample covers two pixels and sits between them (subsampled chroma). Past the last
/// sample (halving may have dropped a few at the end) taps clamp to it.
pub(super) fn taps(out: usize, extent: f64, n: usize, paired: bool) -> Vec<Tap> {
    assert!(n >= 1 && out >= 1, "{out} outputs from {n} samples");
    let step = extent / out as f64;
    (0..out)
        .map(|o| {
            let at = (o as f64 + 0.5) * step - 0.5;
            let p = if paired { (at - 0.5) / 2.0 } else { at }.clamp(0.0, (n - 1) as f64);
            let left = p.floor() as usize;
            let w1 = ((p - left as f64) * 128.0).round() as u16;
            let (left, w1) = if w1 == 128 { (left + 1, 0) } else { (left, w1 as u8) };
            Tap { left, right: if w1 == 0 { left } else { left + 1 }, w1 }
        })
        .collect()
}

/// Sixteen horizontal outputs in two halves of eight: for half `h`, the 16 source bytes from
/// `base[h]` hold both taps of each of its outputs; `index[16 * h + 2 * k]` and `+ 1` pick
/// output `k`'s left and right taps, `weight` (same places) weighs them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Block {
    pub base: [usize; 2],
    pub index: [u8; 32],
    pub weight: [u8; 32],
}

impl Block {
    /// Bytes of a row its windows need.
    pub fn reach(&self) -> usize {
        self.base[0].max(self.base[1]) + 16
    }
}

/// The blocks of a row of outputs (the last block repeats the last tap). Needs a scale below
/// 2 (samples per output), which the resampler ensures by halving first: eight outputs then
/// span at most 16 samples.
pub(super) fn blocks(taps: &[Tap]) -> Vec<Block> {
    taps.chunks(16)
        .map(|c| {
            let tap = |k: usize| c[k.min(c.len() - 1)];
            let base = [tap(0).left, tap(8).left];
            let mut block = Block { base, index: [0; 32], weight: [0; 32] };
            for k in 0..16 {
                let (t, base) = (tap(k), base[k / 8]);
                assert!(t.right - base < 16, "below scale 2 eight outputs span at most 16 samples");
                block.index[2 * k..2 * k + 2]
                    .copy_from_slice(&[(t.left - base) as u8, (t.right - base) as u8]);
                block.weight[2 * k..2 * k + 2].copy_from_slice(&t.weights());
            }
            block
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_align_pixel_centres_and_clamp_edges() {
        // 2:1 down: each output between two sources, half and half.
        let t = taps(2, 4.0, 4, false);
        assert_eq!(t, [Tap { left: 0, right: 1, w1: 64 }, Tap { left: 2, right: 3, w1: 64 }]);
        // 1:2 up: the first output clamps to the first source, the last to the last.
        let t = taps(4, 2.0, 2, false);
        assert_eq!(t[0], Tap { left: 0, right: 0, w1: 0 });
        assert_eq!(t[1], Tap { left: 0, right: 1, w1: 32 });
        assert_eq!(t[3], Tap { left: 1, right: 1, w1: 0 });
        // Paired chroma of 8 pixels (4 samples at pixels 0.5, 2.5, 4.5, 6.5) for 4 outputs (at
        // pixels 0.5, 2.5, 4.5, 6.5): exactly on the samples.
        let t = taps(4, 8.0, 4, true);
        assert!(t.iter().enumerate().all(|(k, t)| t.left == k && t.w1 == 0), "{t:?}");
        // Weights fit pmaddubsw's signed bytes and add up to 128.
        for t in taps(256, 480.0 / 2.0, 240, false) {
            let [a, b] = t.weights();
            assert!(a < 128 && b < 128 && a as u16 + b as u16 == 128, "{t:?}");
        }
    }

    #[test]
    fn blocks_fit_sixteen_bytes_below_scale_two() {
        for (out, n) in [(256, 511), (256, 480), (58, 115), (7, 13), (256, 256), (256, 40), (3, 2)] {
            for paired in [false, true] {
                let t = taps(out, n as f64, if paired { n / 2 } else { n }, paired);
                assert_eq!(blocks(&t).len(), out.div_ceil(16));
            }
        }
    }
}
