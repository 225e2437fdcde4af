//! Every screen a guest or operator sees, rendered at a small panel size (240x240) and a
//! landscape one (480x320), against reference PNGs in `tests/golden/screens/`. A person looked
//! at each reference (they are small enough to open in any viewer); this test keeps them true.
//! After a deliberate change to a screen, regenerate them and look again:
//!
//!     COMICBOOTH_UPDATE_SCREENS=1 cargo test --test integration screens::

use comicbooth::display::{HeadlessDisplay, screens};
use image::RgbImage;

use crate::util::{repo, zbarimg};

/// A preview or comic stand-in: four flat quadrants, so the picture's placement is obvious.
fn picture(side: u32) -> RgbImage {
    RgbImage::from_fn(side, side, |x, y| match (x < side / 2, y < side / 2) {
        (true, true) => image::Rgb([220, 60, 40]),
        (false, true) => image::Rgb([40, 160, 220]),
        (true, false) => image::Rgb([250, 230, 120]),
        (false, false) => image::Rgb([30, 30, 30]),
    })
}

/// The picture's ink for the making-of: lines along the quadrants' edges, on white.
fn ink(side: u32) -> RgbImage {
    RgbImage::from_fn(side, side, |x, y| {
        let near = |v: u32, at: u32| v.abs_diff(at) < side / 64 + 1;
        if near(x, side / 2)
            || near(y, side / 2)
            || near(x, 0)
            || near(y, 0)
            || near(x, side - 1)
            || near(y, side - 1)
        {
            image::Rgb([24, 20, 28])
        } else {
            image::Rgb([255, 255, 255])
        }
    })
}

fn share_codes() -> screens::ShareCodes {
    let config = comicbooth::config::ShareConfig {
        enabled: true,
        base_url: "http://10.42.0.1:8080".into(),
        wifi_ssid: "ComicBooth".into(),
        wifi_password: "comics-2026".into(),
        ..Default::default()
    };
    comicbooth::share::codes(&config, "comic-1764700000-0123456789abcdef").unwrap()
}

fn render(name: &str, w: u32, h: u32) -> RgbImage {
    use std::time::Duration;
    let mut d = HeadlessDisplay::new(w, h);
    let pic = picture(256);
    let mut sketch = screens::Sketch::new(&pic, embedded_graphics::geometry::Size::new(w, h));
    if name != "making-sketch" {
        sketch.drawn(&ink(256), &pic);
    }
    let wipe = |f: f32| Some(screens::INKING.mul_f32(f));
    match name {
        "attract" => screens::attract(&mut d, Some(&pic), "Press the button!"),
        "countdown" => screens::countdown(&mut d, Some(&pic), 3),
        "capturing" => screens::capturing(&mut d, Some(&pic), 3, 8),
        "making-sketch" => screens::making(&mut d, Some(&sketch), None, 0, 8),
        "making-ink" => screens::making(&mut d, Some(&sketch), wipe(0.6), 1, 8),
        "making-colour" => screens::making(&mut d, Some(&sketch), wipe(1.5), 1, 8),
        "making-done" => screens::making(&mut d, Some(&sketch), wipe(3.0), 3, 8),
        "result" => screens::result(&mut d, &pic, "Your comic is saved!", None, Duration::ZERO),
        "result-share" => {
            screens::result(&mut d, &pic, "Your comic is saved!", Some(&share_codes()), Duration::ZERO)
        }
        "result-wifi" => screens::result(
            &mut d,
            &pic,
            "Your comic is saved!",
            Some(&share_codes()),
            Duration::from_secs(4),
        ),
        "camera-lost" => screens::camera_lost(&mut d, 12),
        "diagnostics" => screens::diagnostics(
            &mut d,
            &[
                ("Camera: LOST".into(), false),
                ("Frames 1200 dropped 3".into(), true),
                ("Not saving: disk full".into(), false),
                ("Up 2h05m  v0.1.0".into(), true),
            ],
        ),
        other => panic!("no screen {other}"),
    }
    .unwrap();
    d.pixels().clone()
}

/// Every screen, at a small square panel, a landscape panel and a 1080p monitor.
const SCREENS: [&str; 12] = [
    "attract",
    "countdown",
    "capturing",
    "making-sketch",
    "making-ink",
    "making-colour",
    "making-done",
    "result",
    "result-share",
    "result-wifi",
    "camera-lost",
    "diagnostics",
];
const SIZES: [(u32, u32); 3] = [(240, 240), (480, 320), (1920, 1080)];

#[test]
fn every_screen_matches_its_reference_at_each_size() {
    let update = std::env::var_os("COMICBOOTH_UPDATE_SCREENS").is_some();
    let mut failures = Vec::new();
    for name in SCREENS {
        for (w, h) in SIZES {
            let got = render(name, w, h);
            let path = repo(&format!("tests/golden/screens/{name}-{w}x{h}.png"));
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                got.save(&path).unwrap();
                continue;
            }
            let want = image::open(&path)
                .unwrap_or_else(|e| {
                    panic!("{}: {e}; make it with COMICBOOTH_UPDATE_SCREENS=1", path.display())
                })
                .into_rgb8();
            assert_eq!(got.dimensions(), want.dimensions(), "{name} {w}x{h}");
            // Text and flat colours must match exactly; the picture is scaled with SIMD
            // kernels whose rounding may differ by a step between CPUs.
            let worst = got
                .as_raw()
                .iter()
                .zip(want.as_raw())
                .map(|(&a, &b)| (a as i32 - b as i32).abs())
                .max()
                .unwrap_or(0);
            if worst > 2 {
                let out = repo(&format!("target/screens/{name}-{w}x{h}.png"));
                std::fs::create_dir_all(out.parent().unwrap()).unwrap();
                got.save(&out).unwrap();
                failures.push(format!("{name} {w}x{h}: off by {worst}; got {}", out.display()));
            }
        }
    }
    assert!(failures.is_empty(), "screens differ from tests/golden/screens/:\n{}", failures.join("\n"));
}

#[test]
fn the_result_screen_qr_codes_read_back_as_the_comics_address_and_the_hotspot() {
    use comicbooth::config::ShareConfig;
    let config = ShareConfig {
        enabled: true,
        base_url: "http://10.42.0.1:8080".into(),
        wifi_ssid: "ComicBooth".into(),
        wifi_password: "comics-2026".into(),
        ..ShareConfig::default()
    };
    let id = "comic-1764700000-0123456789abcdef";
    let url = "http://10.42.0.1:8080/c/comic-1764700000-0123456789abcdef";
    let wifi = "WIFI:T:WPA;S:ComicBooth;P:comics-2026;;";
    let codes = comicbooth::share::codes(&config, id).unwrap();
    let pic = picture(256);
    for (w, h) in [(240, 240), (480, 320), (1920, 1080)] {
        // Each turn of the result screen, 4 s apart.
        let mut read = Vec::new();
        for turn in 0..3 {
            let mut d = HeadlessDisplay::new(w, h);
            let at = std::time::Duration::from_secs(4 * turn);
            screens::result(&mut d, &pic, "Your comic is saved!", Some(&codes), at).unwrap();
            let Some(got) = zbarimg(d.pixels()) else { return };
            read.push(got);
            // At least 3 px a module, as phones need from arm's length.
            let dark_run = d
                .pixels()
                .rows()
                .map(|row| {
                    let (mut best, mut run) = (usize::MAX, 0);
                    for p in row {
                        if p.0 == [0, 0, 0] {
                            run += 1
                        } else {
                            if run > 0 {
                                best = best.min(run)
                            }
                            run = 0
                        }
                    }
                    best
                })
                .min()
                .unwrap();
            assert!(dark_run == usize::MAX || dark_run >= 3, "{w}x{h}: modules of {dark_run} px");
        }
        let all: Vec<String> = read.concat();
        assert!(all.contains(&url.to_owned()) && all.contains(&wifi.to_owned()), "{w}x{h}: read {read:?}");
    }
}
