//! Criterion benches of saving one comic in each format: the booth's comic at its saved size
//! (a sample photo at 720x720, the default 8 time points as a 14-frame boomerang at 100 ms),
//! written through `export` as the booth writes it (temporary file, fsync, rename; into
//! /dev/shm where there is one, so the disk's flush time stays out). Prints each file's size.
//! Run with `cargo bench --bench export --features mp4` (without the feature: GIF and WebP).
//!
//! On the 2-core x86 dev box, shared with two other jobs' builds at the time (so absolute times
//! are high; compare them with each other), `-- --warm-up-time 1 --measurement-time 3`:
//!
//! | format | time per comic (median) | bytes |
//! |---|---|---|
//! | GIF, one colour table | 97 ms | 1,078,637 |
//! | WebP, lossless, effort 50 | 567 ms | 877,618 |
//! | MP4, H.264 at QP 24, 14 frames encoded, 42 in the file (4.2 s) | 408 ms | 2,808,062 |
//!
//! (OpenH264 without nasm here: its plain C++ path, no x86 assembly.)
//!
//! GIF since stop 28 (each distinct frame of the boomerang compressed once, on all cores; the
//! stop 27 generator): 45 ms, 1,054,426 bytes, on a quieter machine.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use comicbooth::animate::Animation;
use comicbooth::assets::SAMPLE_PHOTOS;
use comicbooth::camera::{FileSource, FrameSource};
use comicbooth::config::{AnimateConfig, Format, LookConfig};
use comicbooth::model::{Generator, ModelSource};
use comicbooth::{convert, export};
use criterion::{Criterion, criterion_group, criterion_main};

/// The comic the booth would save for the first sample photo, at 720x720.
fn comic() -> Animation {
    let mut source = FileSource::builtin(&SAMPLE_PHOTOS[..1]);
    let rgb = convert::frame_to_rgb(&source.next_frame(Duration::from_secs(1)).unwrap()).unwrap();
    let photo = convert::resize(&convert::crop_square(&rgb, 720), 720, 720);
    let g = Generator::load(&ModelSource::Builtin(comicbooth::assets::GENERATOR), 256, 256, 0).unwrap();
    let config = AnimateConfig::default();
    let look = comicbooth::look::Look::from_config(&LookConfig::default());
    let points =
        comicbooth::animate::comic_frames(std::slice::from_ref(&photo), (256, 256), &config, &look, |i| {
            g.run(i)
        })
        .unwrap();
    comicbooth::animate::assemble(&points, &config, "comic")
}

fn files(c: &mut Criterion) {
    let anim = comic();
    let (w, h) = anim.frames[0].dimensions();
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.unwrap();
    for &format in Format::IN_THIS_BUILD {
        let path = dir.path().join(format!("comic.{}", format.extension()));
        let write = |anim: &Animation| match format {
            Format::Gif => export::write_gif(&path, anim),
            Format::Webp => export::write_webp(&path, anim),
            Format::Mp4 => export::write_mp4(&path, anim),
        };
        c.bench_function(&format!("{format:?} {w}x{h}, {} frames", anim.frames.len()), |b| {
            b.iter(|| write(black_box(&anim)).unwrap())
        });
        eprintln!(
            "{format:?} {w}x{h}, {} frames: {} bytes",
            anim.frames.len(),
            std::fs::metadata(&path).unwrap().len()
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = files
}
criterion_main!(benches);
