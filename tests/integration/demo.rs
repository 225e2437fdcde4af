//! `comicbooth demo` end to end: the real binary, the built-in photos and model, files out.

use std::path::Path;

use image::AnimationDecoder;
use image::codecs::gif::GifDecoder;

use comicbooth::look::measure::measure;

use crate::util::{comicbooth, files_in, mean_abs_diff, texts};

fn decode_gif(path: &Path) -> Vec<image::RgbImage> {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let frames = GifDecoder::new(file).unwrap().into_frames().collect_frames().unwrap();
    frames.into_iter().map(|f| image::DynamicImage::ImageRgba8(f.into_buffer()).into_rgb8()).collect()
}

fn input_photo(name: &str, side: u32) -> image::RgbImage {
    let photo = image::open(crate::util::repo(&format!("assets/photos/{name}.jpg"))).unwrap().into_rgb8();
    comicbooth::convert::crop_square(&photo, side)
}

#[test]
fn demo_writes_looping_gifs_and_screen_frames() {
    let out = tempfile::tempdir().unwrap();
    let run = comicbooth(&["demo", "--out", out.path().to_str().unwrap()]);
    let (stdout, stderr) = texts(&run);
    assert!(run.status.success(), "demo failed: {stderr}");
    for stage in ["capture", "preprocess", "generate", "draw", "animate", "display", "export", "total"] {
        assert!(stdout.contains(stage), "stage {stage} missing from:\n{stdout}");
    }

    // Each comic is the square of the photo's short side (all under look.size = 720).
    let names = [("astronaut", 480), ("grace_hopper", 410), ("chelsea", 319), ("coffee", 320)];
    let mut motion = Vec::new();
    for (name, side) in names {
        let gif = out.path().join(format!("{name}.gif"));
        assert!(stdout.contains(&gif.display().to_string()), "{stdout}");
        let frames = decode_gif(&gif);
        // 8 time points in a boomerang: 0 1 .. 7 6 .. 1.
        assert_eq!(frames.len(), 14, "{name}");
        // The same loop as a lossless animated WebP, saved beside it.
        let webp = gif.with_extension("webp");
        assert!(stdout.contains(&webp.display().to_string()), "{stdout}");
        let reader = std::io::BufReader::new(std::fs::File::open(&webp).unwrap());
        let webp_frames =
            image::codecs::webp::WebPDecoder::new(reader).unwrap().into_frames().collect_frames().unwrap();
        assert_eq!(webp_frames.len(), 14, "{name}.webp");
        assert!(webp_frames.iter().all(|f| f.buffer().dimensions() == (side, side)), "{name}.webp");
        assert!(frames.iter().all(|f| f.dimensions() == (side, side)), "{name}");
        // The loop's return leg repeats time points exactly.
        assert_eq!(frames[1], frames[13]);
        assert_eq!(frames[6], frames[8]);
        // The still moves visibly (boil, halftone, zoom), every step of the loop, and stays
        // the same picture.
        let steps: Vec<f64> = frames.windows(2).map(|p| mean_abs_diff(&p[0], &p[1])).collect();
        assert!(steps.iter().all(|&d| d > 4.0 && d < 40.0), "{name}: consecutive frames differ by {steps:?}");
        motion.push(steps.iter().sum::<f64>() / steps.len() as f64);
        // And the comic is not the photo: it reads as drawn, with flat colour from a small
        // palette and ink, where the photo has almost none.
        let photo = input_photo(name, side);
        let d = mean_abs_diff(&frames[0], &photo);
        assert!(d > 8.0, "{name}: comic is too close to the photo ({d})");
        let (drawn, shot) = (measure(&frames[0]), measure(&photo));
        assert!(drawn.flat >= 0.25 && drawn.colours_90 <= 40 && drawn.ink >= 0.003, "{name}: {drawn}");
        assert!(
            shot.flat * 2.0 < drawn.flat && shot.colours_90 > 1000,
            "{name}: photo {shot}, comic {drawn}"
        );
    }

    // Consecutive frames differ by 10 levels or more on average (about 1.3 before the effects).
    let mean = motion.iter().sum::<f64>() / motion.len() as f64;
    assert!(mean >= 10.0, "mean change between consecutive frames {mean:.1} ({motion:?})");

    // The headless screen showed each frame letterboxed on 480x320: black bars left and right.
    let screen = files_in(&out.path().join("screen"));
    // Around each loop, what a guest sees: the making-of at four moments (a pencil sketch,
    // inked, half coloured, done) and the result screen.
    assert_eq!(screen.len(), 4 * (4 + 14 + 1), "{screen:?}");
    let chroma = |name: &str| {
        let shot = image::open(out.path().join("screen").join(name)).unwrap().into_rgb8();
        let picture = shot.view(80, 0, 320, 240).to_image();
        picture.pixels().map(|p| (p.0.iter().max().unwrap() - p.0.iter().min().unwrap()) as f64).sum::<f64>()
            / (320.0 * 240.0)
    };
    let (sketch, done) = (chroma("astronaut-making-000.png"), chroma("astronaut-making-003.png"));
    // (The sketch's paper is a warm white: 14 levels of chroma at most.)
    assert!(sketch <= 14.0 && done > 30.0, "chroma: the sketch {sketch:.1}, the finished picture {done:.1}");
    let shot = image::open(out.path().join("screen/astronaut-000.png")).unwrap().into_rgb8();
    assert_eq!(shot.dimensions(), (480, 320));
    for (x, y) in [(0, 0), (79, 160), (400, 10), (479, 319)] {
        assert_eq!(shot.get_pixel(x, y).0, [0, 0, 0], "bar pixel ({x},{y})");
    }
    let centre = shot.view(80, 0, 320, 320).to_image();
    let lit = centre.pixels().filter(|p| p.0.iter().any(|&c| c > 40)).count();
    assert!(lit > 320 * 320 / 2, "picture area mostly dark: {lit} lit pixels");
    // Nothing half-written is left behind.
    assert!(files_in(out.path()).iter().all(|p| !p.file_name().unwrap().to_string_lossy().contains(".tmp-")));
}

use image::GenericImageView;

#[test]
fn demo_follows_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("booth.toml");
    let out = dir.path().join("out");
    std::fs::write(
        &config,
        format!(
            "[animate]\ntime_points = 3\nloop_mode = \"cycle\"\n\n[model]\nsize = 128\nthreads = 1\n\n\
             [look]\nsize = 200\ncolours = 8\n\n[export]\ndir = \"{}\"\n",
            out.display()
        ),
    )
    .unwrap();
    let run = comicbooth(&["--config", config.to_str().unwrap(), "demo"]);
    assert!(run.status.success(), "{}", texts(&run).1);
    let frames = decode_gif(&out.join("coffee.gif"));
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].dimensions(), (200, 200));
    // One palette of 8 colours (with their halftone tones, and the ink) for the whole loop.
    let mut colours: Vec<[u8; 3]> = frames.iter().flat_map(|f| f.pixels().map(|p| p.0)).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() <= 17, "{} colours", colours.len());
}

#[test]
fn bench_reports_the_model_the_gate_the_camera_conversion_and_the_display_pacing() {
    let run = comicbooth(&["bench", "-n", "1", "--display"]);
    let (stdout, stderr) = texts(&run);
    assert!(run.status.success(), "bench failed: {stderr}");
    assert!(stdout.contains("matmul kernels:") && stdout.contains("gate built-in"), "{stdout}");
    // The default display is headless 480x320; the booth made a comic and looped it.
    let line = stdout.lines().find(|l| l.contains("result loop paced to 100 ms:")).expect(&stdout);
    assert!(stdout.contains("display headless 480x320"), "{stdout}");
    let frames: usize = line
        .split("ms: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no frame count in {line}"));
    // Structure, not speed: at least a few frames reached the screen and were measured.
    assert!(frames >= 3, "{line}");
    // Both raw webcam formats into the generator's 256 tensor, each beside a copy of its frame.
    for format in ["YUYV", "NV12"] {
        let head = format!("camera {format} 640x480 -> 256x256 input tensor");
        let at = stdout.find(&head).unwrap_or_else(|| panic!("no {head} in {stdout}"));
        let figures = stdout[at..].lines().nth(1).expect(&stdout);
        assert!(figures.contains("x a copy of the frame ("), "{figures}");
    }
}

#[test]
fn demo_with_sharing_names_comics_by_id_and_shows_the_codes_of_their_pages() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("booth.toml");
    let out = dir.path().join("out");
    std::fs::write(
        &config,
        format!(
            "[animate]\ntime_points = 3\n\n[model]\nsize = 128\n\n[look]\nsize = 200\n\n\
             [export]\ndir = \"{}\"\n\n[share]\nenabled = true\nbase_url = \"http://10.42.0.1:8080\"\n\
             wifi_ssid = \"ComicBooth\"\nwifi_password = \"comics-2026\"\n",
            out.display()
        ),
    )
    .unwrap();
    let run = comicbooth(&["--config", config.to_str().unwrap(), "demo"]);
    let (stdout, stderr) = texts(&run);
    assert!(run.status.success(), "{stderr}");
    let mut pages = Vec::new();
    for photo in ["astronaut", "grace_hopper", "chelsea", "coffee"] {
        // 480x320 is wide: the comic beside the Wi-Fi code, then beside its page's.
        let read: Vec<String> = (0..2)
            .filter_map(|turn| {
                let shot = out.join(format!("screen/{photo}-result-{turn:03}.png"));
                crate::util::zbarimg(&image::open(shot).unwrap().into_rgb8())
            })
            .flatten()
            .collect();
        if read.is_empty() {
            return; // no zbarimg outside CI
        }
        assert_eq!(read[0], "WIFI:T:WPA;S:ComicBooth;P:comics-2026;;", "{photo}");
        let id = read[1].strip_prefix("http://10.42.0.1:8080/c/").unwrap_or_else(|| panic!("{read:?}"));
        assert!(comicbooth::share::is_id(id), "{id}");
        assert!(out.join(format!("{id}.gif")).exists() && out.join(format!("{id}.webp")).exists(), "{id}");
        assert!(stdout.contains(&read[1]), "the report does not give the page:\n{stdout}");
        pages.push(id.to_owned());
    }
    pages.sort();
    pages.dedup();
    assert_eq!(pages.len(), 4, "{pages:?}");
}
