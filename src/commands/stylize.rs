//! `comicbooth stylize IN OUT`: one photo, or a folder of photos, to comic pictures. A folder
//! goes on past a bad photo and reports it; nothing is written for a photo that failed.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::bail;
use image::RgbImage;

use crate::camera::{CameraError, FileSource};
use crate::config::Config;
use crate::look::Look;
use crate::look::measure::{Figures, measure as figures};
use crate::model::{Gate, Generator, ModelError, ModelFile};
use crate::{export, model, photo, wiring};

/// What `comicbooth stylize` did; its `Display` is what the command prints.
#[derive(Debug, Default)]
pub struct StylizeReport {
    /// (input, output) of every picture written.
    pub written: Vec<(PathBuf, PathBuf)>,
    /// Pictures that failed, with the reason (one line each).
    pub failed: Vec<(PathBuf, String)>,
    /// Inputs the gate found already comic-style: written untouched (resized only).
    pub passed_through: Vec<PathBuf>,
    /// With `--measure`: the look's figures of each photo (at the output size) and its comic.
    pub figures: Vec<(PathBuf, Figures, Figures)>,
}

impl fmt::Display for StylizeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, o) in &self.written {
            let note = if self.passed_through.contains(i) {
                " (already comic: passed through untouched)"
            } else {
                ""
            };
            writeln!(f, "{} -> {}{note}", i.display(), o.display())?;
        }
        for (i, photo, comic) in &self.figures {
            writeln!(f, "{}: photo {photo}; comic {comic}", i.display())?;
        }
        for (i, e) in &self.failed {
            writeln!(f, "failed: {}: {e}", i.display())?;
        }
        writeln!(f, "{} written, {} failed", self.written.len(), self.failed.len())
    }
}

/// The largest size with the photo's aspect whose longest side is at most `longest`, each
/// side a multiple of `multiple`.
pub fn fit_size(w: u32, h: u32, longest: u32, multiple: u32) -> (u32, u32) {
    let m = multiple.max(1);
    let scale = longest as f64 / w.max(h) as f64;
    let round = |v: u32| (((v as f64 * scale) as u32 / m) * m).max(m);
    (round(w), round(h))
}

/// Generators by input size: a folder of same-sized photos loads the model once.
struct Generators<'a> {
    file: &'a ModelFile,
    threads: u32,
    loaded: HashMap<(u32, u32), Generator>,
    gate: Option<Gate>,
}

impl Generators<'_> {
    fn get(&mut self, (w, h): (u32, u32)) -> anyhow::Result<&Generator> {
        if !self.loaded.contains_key(&(w, h)) {
            let f = self.file;
            let g =
                Generator::from_bytes(&f.bytes, f.manifest.clone(), f.origin.clone(), w, h, self.threads)?;
            self.loaded.insert((w, h), g);
        }
        Ok(&self.loaded[&(w, h)])
    }
}

/// Stylizes one photo into `output`; returns whether the gate passed it through untouched,
/// and with `measure` the figures of the photo (at the output size) and of the comic. The
/// generator runs at `model_side` on the long side; the look draws the comic at its output
/// size from that.
fn stylize_one(
    input: &Path,
    output: &Path,
    (look, model_side, measure): (&Look, u32, bool),
    gens: &mut Generators,
) -> anyhow::Result<(bool, Option<(Figures, Figures)>)> {
    let bytes = std::fs::read(input).map_err(|cause| CameraError::Read { path: input.into(), cause })?;
    let photo = photo::decode_photo(&bytes, input)?;
    let (w, h) = look.output_size(photo.width(), photo.height());
    let fitted: RgbImage = image::imageops::resize(&photo, w, h, image::imageops::FilterType::Triangle);
    // The generator never runs above the comic's own size.
    let small_size = fit_size(w, h, model_side.min(w.max(h)), gens.file.manifest.size_multiple);
    let small = crate::convert::resize(&fitted, small_size.0, small_size.1);
    let passed = model::already_comic(gens.gate.as_ref(), &small);
    let comic = if passed {
        fitted.clone()
    } else {
        look.draw(&fitted, &gens.get(small_size)?.run(&small)?, None).compose()
    };
    export::write_image(output, &comic)?;
    Ok((passed, measure.then(|| (figures(&fitted), figures(&comic)))))
}

/// (input, output) pairs: every photo of a folder into the output folder, or the one photo
/// into a file or folder.
fn pairs(input: &Path, output: &Path, is_dir: bool) -> anyhow::Result<Vec<(PathBuf, PathBuf)>> {
    let into =
        |dir: &Path, photo: &Path| dir.join(photo.file_stem().unwrap_or_default()).with_extension("png");
    if is_dir {
        let photos = FileSource::list_photos(input)?;
        export::create_dir(output)?;
        return Ok(photos.into_iter().map(|p| (into(output, &p), p)).map(|(o, i)| (i, o)).collect());
    }
    if output.is_dir() {
        return Ok(vec![(input.into(), into(output, input))]);
    }
    if !matches!(
        image::ImageFormat::from_path(output),
        Ok(image::ImageFormat::Png | image::ImageFormat::Jpeg)
    ) {
        bail!(
            "{}: cannot write a picture with this extension; fix: name the output .png or .jpg, or give a folder",
            output.display()
        );
    }
    Ok(vec![(input.into(), output.into())])
}

/// Turns `input` (a photo or a folder of them) into comic pictures whose short side is `short`
/// pixels (the photo's own when smaller).
/// With `measure`, the look's figures of each photo and comic are reported too.
pub fn run(
    config: &Config,
    input: &Path,
    output: &Path,
    short: u32,
    measure: bool,
) -> anyhow::Result<StylizeReport> {
    let meta = std::fs::metadata(input).map_err(|cause| CameraError::Read { path: input.into(), cause })?;
    let pairs = pairs(input, output, meta.is_dir())?;
    let file = wiring::generator_source(config)?.read()?;
    let gate = wiring::load_gate(config)?;
    let mut gens = Generators { file: &file, threads: config.model.threads, loaded: HashMap::new(), gate };
    let look = Look { size: short, ..Look::from_config(&config.look) };
    let mut report = StylizeReport::default();
    for (i, o) in pairs {
        match stylize_one(&i, &o, (&look, config.model.size, measure), &mut gens) {
            Ok((passed, measured)) => {
                if passed {
                    report.passed_through.push(i.clone());
                }
                if let Some((photo, comic)) = measured {
                    report.figures.push((i.clone(), photo, comic));
                }
                report.written.push((i, o))
            }
            // A model that does not load fails every photo the same way: stop at once.
            Err(e) if e.downcast_ref::<ModelError>().is_some() => return Err(e),
            Err(e) => report.failed.push((i, format!("{e:#}"))),
        }
    }
    if meta.is_file()
        && let Some((_, e)) = report.failed.pop()
    {
        bail!(e);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_size_keeps_aspect_and_multiple() {
        assert_eq!(fit_size(640, 480, 256, 1), (256, 192));
        assert_eq!(fit_size(480, 319, 256, 8), (256, 168));
        assert_eq!(fit_size(10, 1000, 256, 8), (8, 256));
    }
}
