//! Every screen a guest or operator sees, rendered at a small panel size (240x240) and a
//! landscape one (480x320), against reference PNGs in `tests/golden/screens/`. A person looked
//! at each reference (they are small enough to open in any viewer); this test keeps them true.
//! After a deliberate change to a screen, regenerate them and look again:
//!
//!     COMICBOOTH_UPDATE_SCREENS=1 cargo test --test integration screens::

use comicbooth::display::{HeadlessDisplay, screens};
use image::RgbImage;

use crate::util::repo;

/// A preview or comic stand-in: four flat quadrants, so the picture's placement is obvious.
fn picture(side: u32) -> RgbImage {
    RgbImage::from_fn(side, side, |x, y| match (x < side / 2, y < side / 2) {
        (true, true) => image::Rgb([220, 60, 40]),
        (false, true) => image::Rgb([40, 160, 220]),
        (true, false) => image::Rgb([250, 230, 120]),
        (false, false) => image::Rgb([30, 30, 30]),
    })
}

fn render(name: &str, w: u32, h: u32) -> RgbImage {
    let mut d = HeadlessDisplay::new(w, h);
    let pic = picture(256);
    match name {
        "attract" => screens::attract(&mut d, Some(&pic), "Press the button!"),
        "countdown" => screens::countdown(&mut d, Some(&pic), 3),
        "making" => screens::making(&mut d, 2, 4),
        "result" => screens::result(&mut d, &pic, "Saved: comic-001.gif", None, std::time::Duration::ZERO),
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

#[test]
fn every_screen_matches_its_reference_at_both_sizes() {
    let update = std::env::var_os("COMICBOOTH_UPDATE_SCREENS").is_some();
    let mut failures = Vec::new();
    for name in ["attract", "countdown", "making", "result", "camera-lost", "diagnostics"] {
        for (w, h) in [(240, 240), (480, 320)] {
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

/// What Debian's `zbarimg` reads from a picture, one code per line (`None` when the tool is
/// missing outside CI: scripts/setup-dev installs zbar-tools).
fn zbarimg(img: &RgbImage) -> Option<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("screen.png");
    img.save(&png).unwrap();
    match std::process::Command::new("zbarimg").args(["--raw", "-q"]).arg(&png).output() {
        Ok(out) => Some(String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("zbarimg not run ({e}): apt-get install zbar-tools (scripts/setup-dev does)");
            None
        }
        Err(e) => panic!("zbarimg: {e}; scripts/setup-dev installs zbar-tools"),
    }
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
