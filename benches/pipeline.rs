//! Criterion benches of the pipeline's hot stages on one sample photo: preprocessing, the
//! generator at the booth's default size, the look at the comic's size (720x720), the still's
//! effects and a whole comic with its GIF, a burst's alignment and steadying.
//!
//! Burst figures (x86, 2 cores shared with a training run): aligning 8 frames of 720x720
//! 175 ms (22 ms a frame: the bilinear warp and about 20 correlations of 128x128), steadying
//! them 33 ms. Run with
//! `cargo bench --bench pipeline`; `comicbooth bench` times the model on a board without cargo.

use std::hint::black_box;
use std::time::Duration;

use comicbooth::assets::SAMPLE_PHOTOS;
use comicbooth::camera::{FileSource, FrameSource};
use comicbooth::config::{AnimateConfig, LookConfig};
use comicbooth::convert::{self, Layout, ValueRange};
use comicbooth::look::Look;
use comicbooth::model::{Gate, Generator, ModelSource};
use criterion::{Criterion, criterion_group, criterion_main};

fn pipeline(c: &mut Criterion) {
    let mut source = FileSource::builtin(&SAMPLE_PHOTOS[..1]);
    let rgb = convert::frame_to_rgb(&source.next_frame(Duration::from_secs(1)).unwrap()).unwrap();
    let square = convert::crop_square(&rgb, 256);

    c.bench_function("preprocess 480x480 -> 256x256 NCHW tensor", |b| {
        b.iter(|| {
            convert::to_tensor(&convert::crop_square(black_box(&rgb), 256), Layout::Nchw, ValueRange::UNIT)
        })
    });
    // The shipped generator in both forms: f32 (the default) and int8 (QLinearConv).
    for form in ["f32", "int8"] {
        let source = ModelSource::File(format!("models/comic_generator.{form}.onnx").into());
        for threads in [1, 2] {
            let g = Generator::load(&source, 256, 256, threads).unwrap();
            c.bench_function(&format!("generator {form} 256x256, {threads} thread(s)"), |b| {
                b.iter(|| g.run(black_box(&square)).unwrap())
            });
        }
    }
    // The gate ships as f32 only (models/train/nets.py, StatsGate: nothing to quantize).
    let gate = Gate::load(&ModelSource::File("models/comic_gate.f32.onnx".into()), 0.9, 1).unwrap();
    c.bench_function("gate f32 256x256, 1 thread", |b| {
        b.iter(|| gate.comic_probability(black_box(&square)).unwrap())
    });
    let g = Generator::load(&ModelSource::Builtin(comicbooth::assets::GENERATOR), 256, 256, 0).unwrap();
    let config = AnimateConfig::default();

    // The look at the comic's default size: a 720x720 photo (the sample, enlarged) drawn from
    // the generator's 256x256 picture, with its own palette and with one shared by the loop.
    let photo = convert::resize(&rgb, 720, 720);
    let generated = g.run(&square).unwrap();
    let look = Look::from_config(&LookConfig::default());
    let first = look.draw(&photo, &generated, None);
    c.bench_function("look: draw 720x720 from 256x256, palette fitted", |b| {
        b.iter(|| look.draw(black_box(&photo), black_box(&generated), None))
    });
    c.bench_function("look: draw 720x720 from 256x256, shared palette", |b| {
        b.iter(|| look.draw(black_box(&photo), black_box(&generated), first.palette()))
    });
    // A whole still comic at 720x720: generated and drawn once, moved into 8 frames by the
    // effects (boil, halftone, zoom), then the GIF of the 14-frame boomerang.
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("comic.gif");
    c.bench_function("whole still comic 720x720: generate, draw, 8 frames of effects, GIF", |b| {
        b.iter(|| {
            let frames = comicbooth::animate::comic_frames(
                std::slice::from_ref(&photo),
                (256, 256),
                &config,
                &look,
                |i| g.run(i),
            )
            .unwrap();
            let anim = comicbooth::animate::assemble(&frames, &config, "bench");
            comicbooth::export::write_gif(&gif, &anim).unwrap();
        })
    });
    let frames =
        comicbooth::animate::comic_frames(std::slice::from_ref(&photo), (256, 256), &config, &look, |i| {
            g.run(i)
        })
        .unwrap();
    let anim = comicbooth::animate::assemble(&frames, &config, "bench");
    c.bench_function("GIF 720x720, 14 frames, one palette", |b| {
        b.iter(|| comicbooth::export::write_gif(&gif, black_box(&anim)).unwrap())
    });
    comicbooth::export::write_gif(&gif, &anim).unwrap();
    println!("GIF 720x720, 14 frames: {} bytes", std::fs::metadata(&gif).unwrap().len());

    // A burst of 8 at 720x720 made steady (animate/burst.rs): the photo moved a few pixels and
    // turned a little per frame, as a wobbly booth sees it.
    let burst: Vec<image::RgbImage> = (0..8)
        .map(|t| {
            let m = comicbooth::animate::burst::Motion {
                shift: (t as f32 * 0.7, -(t as f32) * 0.4),
                angle: t as f32 * 0.1,
            };
            comicbooth::animate::burst::warp(&photo, m)
        })
        .collect();
    c.bench_function("burst: align 8 frames of 720x720 to the first", |b| {
        b.iter(|| comicbooth::animate::burst::align(black_box(&burst)))
    });
    // The booth's default comic with a live camera: the burst aligned, generated and drawn
    // with one palette, made steady, and its boomerang (14 frames) saved as a GIF; the gate's
    // one run is timed above.
    let boomerang = AnimateConfig { loop_mode: comicbooth::config::LoopMode::Boomerang, ..config.clone() };
    c.bench_function("whole burst comic, 8 frames of 720x720: align, generate, draw, steady, GIF", |b| {
        b.iter(|| {
            let frames =
                comicbooth::animate::comic_frames(black_box(&burst), (256, 256), &boomerang, &look, |i| {
                    g.run(i)
                })
                .unwrap();
            let anim = comicbooth::animate::assemble(&frames, &boomerang, "bench");
            comicbooth::export::write_gif(&gif, &anim).unwrap();
        })
    });
    let drawn: Vec<image::RgbImage> =
        burst.iter().map(|f| look.draw(f, &generated, first.palette()).compose()).collect();
    c.bench_function("burst: steady, 8 drawn frames of 720x720", |b| {
        b.iter(|| comicbooth::animate::burst::steady(black_box(&burst), drawn.clone()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = pipeline
}
criterion_main!(benches);
