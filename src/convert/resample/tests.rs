use super::*;

/// A noisy crop (every byte differs from its neighbours) of `w` x `h` in each layout.
fn noisy(w: usize, h: usize) -> Vec<(Vec<u8>, bool, bool)> {
    let data: Vec<u8> = (0..w * 2 * h).map(|i| (i * 7919 % 251) as u8).collect();
    [(false, false), (false, true), (true, false), (true, true)]
        .into_iter()
        .map(|(semi, swap)| (data.clone(), semi, swap))
        .collect()
}

fn crop(data: &[u8], w: usize, h: usize, semi: bool, swap: bool) -> Yuv<'_> {
    if semi {
        let luma = Plane { data: Cow::Borrowed(data), start: 0, stride: w, len: w, rows: h };
        let chroma = Plane { data: Cow::Borrowed(data), start: w * h, stride: w, len: w, rows: h / 2 };
        Yuv::SemiPlanar { luma, chroma, nv21: swap }
    } else {
        let plane = Plane { data: Cow::Borrowed(data), start: 0, stride: w * 2, len: w * 2, rows: h };
        Yuv::Packed { plane, uyvy: swap }
    }
}

/// Runs `check` with each SIMD level this CPU has: on x86_64, AVX2 and, where the CPU has it,
/// AVX-512.
fn each_simd_level(check: impl Fn()) {
    check();
    #[cfg(target_arch = "x86_64")]
    if x86::avx512() {
        x86::NO_AVX512.set(true);
        check();
        x86::NO_AVX512.set(false);
    }
}

#[test]
fn simd_and_plain_paths_give_identical_pictures() {
    each_simd_level(simd_and_plain_paths_agree);
}

fn simd_and_plain_paths_agree() {
    // Odd output sizes, halving once, twice and not at all, a width that is not a whole number
    // of SIMD blocks.
    let (w, h) = (202usize, 150usize);
    for (data, semi, swap) in noisy(w, h) {
        for side in [58, 64, 100, 150, 256] {
            let yuv = crop(&data, w, h, semi, swap);
            let (mut fast, mut plain) = (vec![0u8; side * side * 3], vec![0u8; side * side * 3]);
            resample(yuv.clone(), side, &mut fast).expect("a square crop");
            resample_with::<false>(yuv, side, &mut plain).unwrap();
            assert!(fast == plain, "{side} semi {semi} swap {swap}");
        }
    }
}

#[test]
fn halving_keeps_chroma_beside_its_luma() {
    each_simd_level(halving_keeps_chroma);
}

fn halving_keeps_chroma() {
    // YUYV rows of 20 macropixels (past one SIMD block): even ones Y 10, 30 / 50, 70,
    // U 100 / 110, V 200 / 220; odd ones Y 0, U 0 / 1, V 255.
    let even = [[10, 100, 30, 200], [50, 110, 70, 220]];
    let odd = [[0, 0, 0, 255], [0, 1, 0, 255]];
    let row =
        |r: usize| -> Vec<u8> { (0..20).flat_map(|k| if k % 2 == 0 { even[r] } else { odd[r] }).collect() };
    let uyvy = |row: &[u8]| -> Vec<u8> { row.chunks(2).flat_map(|p| [p[1], p[0]]).collect() };
    let (a, b) = (row(0), row(1));
    let (ua, ub) = (uyvy(&a), uyvy(&b));
    for simd in [false, true] {
        #[cfg(target_arch = "x86_64")]
        if simd && !std::arch::is_x86_feature_detected!("avx2") {
            continue;
        }
        let halve = if simd { kernels::halve_packed::<true> } else { kernels::halve_packed::<false> };
        for (odd_row, rounded_u) in [(false, 1), (true, 0)] {
            // Y: even rows (10+50+1)/2 = 30 and (30+70+1)/2 = 50, then (30+50)/2 = 40; odd rows
            // 30 and 50, then (30+50+1)/2 = 40.
            for (rows, swap) in [((&a, &b), false), ((&ua, &ub), true)] {
                let (mut y, mut u, mut v) = ([0u8; 20], [0u8; 20], [0u8; 20]);
                halve((rows.0, rows.1), odd_row, swap, (&mut y, &mut u, &mut v));
                for k in 0..20 {
                    let want = if k % 2 == 0 { (40, 105, 210) } else { (0, rounded_u, 255) };
                    assert_eq!(
                        (y[k], u[k], v[k]),
                        want,
                        "macropixel {k} simd {simd} uyvy {swap} odd row {odd_row}"
                    );
                }
            }
        }
    }
}
