//! Saving animations and pictures. Every file is written to a temporary name in the target
//! folder, flushed to disk and renamed into place, so a crash, a full disk or SIGTERM never
//! leaves a half-written file under the real name.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, ImageFormat, RgbImage};

use crate::animate::Animation;
use crate::config::Format;

#[cfg(feature = "mp4")]
pub mod mp4;

/// A file that could not be written. Nothing is left under its name.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot write it ({cause}); fix: {}", fix_for(cause))]
pub struct ExportError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub cause: io::Error,
}

fn fix_for(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::StorageFull => "free disk space, or point export.dir at a larger disk",
        io::ErrorKind::PermissionDenied => "make the folder writable for this user, or choose another",
        io::ErrorKind::NotFound => "create the folder, or choose one that exists",
        io::ErrorKind::Unsupported => {
            "use a file type this build writes: .png, .jpg pictures; gif, webp animations, and mp4 in builds with `--features mp4`"
        }
        _ => "check the folder and the disk",
    }
}

/// Creates `dir` and its parents where missing (the export folder, a stylize output folder).
pub fn create_dir(dir: &Path) -> Result<(), ExportError> {
    std::fs::create_dir_all(dir).map_err(|cause| ExportError { path: dir.to_owned(), cause })
}

/// Writes `path` atomically: `write` fills a temporary file beside it, which is fsync'd and
/// renamed over `path` only when everything succeeded.
pub fn atomic_write(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), ExportError> {
    let err = |cause| ExportError { path: path.to_owned(), cause };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| err(io::Error::other("not a file name")))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// The GIF encoder's error as the I/O error it wraps (a full disk stays `StorageFull`, so the
/// message names the right fix), or as itself.
fn gif_err(e: gif::EncodingError) -> io::Error {
    match e {
        gif::EncodingError::Io(e) => e,
        other => io::Error::other(other),
    }
}

fn image_err(e: image::ImageError) -> io::Error {
    match e {
        image::ImageError::IoError(e) => e,
        other => io::Error::other(other),
    }
}

/// Saves a picture; the format follows the extension (.png, .jpg/.jpeg).
pub fn write_image(path: &Path, img: &RgbImage) -> Result<(), ExportError> {
    let format = match ImageFormat::from_path(path) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        _ => {
            return Err(ExportError {
                path: path.to_owned(),
                cause: io::Error::new(io::ErrorKind::Unsupported, "unknown picture extension"),
            });
        }
    };
    atomic_write(path, |w| img.write_to(w, format).map_err(image_err))
}

/// Saves an animation as a looping GIF. Comic frames drawn by the look share one palette of
/// under 256 colours: they are written exactly, with one global colour table and no
/// quantiser. Other animations (a passed-through picture) are quantised frame by frame.
pub fn write_gif(path: &Path, anim: &Animation) -> Result<(), ExportError> {
    // A loop repeats its time points (a boomerang of 8 plays 6 of them twice): each distinct
    // frame is indexed and compressed once, and written wherever it plays.
    let (distinct, order) = distinct_frames(&anim.frames);
    atomic_write(path, |w| match one_palette(&distinct) {
        Some((palette, indexed)) => write_indexed_gif(w, anim, &palette, &indexed, &order),
        None => write_quantised_gif(w, anim),
    })
}

/// The distinct pictures among `frames`, and for each frame, which of them it is.
fn distinct_frames(frames: &[RgbImage]) -> (Vec<&RgbImage>, Vec<usize>) {
    let mut distinct: Vec<&RgbImage> = Vec::new();
    let order = frames
        .iter()
        .map(|f| {
            // A few thousand samples tell different frames apart before comparing them whole.
            let same = |d: &&RgbImage| {
                let (a, b) = (d.as_raw(), f.as_raw());
                d.dimensions() == f.dimensions() && (0..a.len()).step_by(997).all(|i| a[i] == b[i]) && a == b
            };
            distinct.iter().position(same).unwrap_or_else(|| {
                distinct.push(f);
                distinct.len() - 1
            })
        })
        .collect();
    (distinct, order)
}

/// A loop's colours, and each frame as indices into them.
type Indexed = (Vec<[u8; 3]>, Vec<Vec<u8>>);

/// The colours of all `frames` and each frame as indices into them, if there are at most 256.
fn one_palette(frames: &[&RgbImage]) -> Option<Indexed> {
    let mut index: std::collections::HashMap<[u8; 3], u8> = std::collections::HashMap::new();
    let mut palette = Vec::new();
    let mut indexed = Vec::with_capacity(frames.len());
    for f in frames {
        let mut out = Vec::with_capacity((f.width() * f.height()) as usize);
        let mut last: Option<([u8; 3], u8)> = None;
        for p in f.pixels() {
            let i = match last {
                Some((c, i)) if c == p.0 => i,
                _ => {
                    let i = match index.get(&p.0) {
                        Some(&i) => i,
                        None if palette.len() < 256 => {
                            let i = palette.len() as u8;
                            palette.push(p.0);
                            index.insert(p.0, i);
                            i
                        }
                        None => return None,
                    };
                    last = Some((p.0, i));
                    i
                }
            };
            out.push(i);
        }
        indexed.push(out);
    }
    Some((palette, indexed))
}

/// Writes the GIF of `frames` (indices into `palette`) in play `order`. The frames are
/// compressed (LZW, the bulk of the work) on all cores first, then written in order: the same
/// bytes as compressing each as it is written.
fn write_indexed_gif(
    w: &mut dyn Write,
    anim: &Animation,
    palette: &[[u8; 3]],
    frames: &[Vec<u8>],
    order: &[usize],
) -> io::Result<()> {
    use rayon::prelude::*;
    let (width, height) = anim.frames.first().map_or((1, 1), |f| (f.width() as u16, f.height() as u16));
    let flat: Vec<u8> = palette.iter().flatten().copied().collect();
    let delay = (anim.frame_time.as_millis() as u64).div_ceil(10).min(u16::MAX as u64) as u16;
    let compressed: Vec<gif::Frame> = frames
        .par_iter()
        .map(|f| {
            let mut frame = gif::Frame {
                width,
                height,
                delay,
                buffer: std::borrow::Cow::Borrowed(f),
                ..gif::Frame::default()
            };
            frame.make_lzw_pre_encoded();
            frame
        })
        .collect();
    let mut enc = gif::Encoder::new(w, width, height, &flat).map_err(gif_err)?;
    enc.set_repeat(gif::Repeat::Infinite).map_err(gif_err)?;
    for &i in order {
        enc.write_lzw_pre_encoded_frame(&compressed[i]).map_err(gif_err)?;
    }
    Ok(())
}

fn write_quantised_gif(w: &mut dyn Write, anim: &Animation) -> io::Result<()> {
    // Speed 10 of 30: good colours at a fraction of the quantiser's slowest setting.
    let mut enc = GifEncoder::new_with_speed(w, 10);
    enc.set_repeat(Repeat::Infinite).map_err(image_err)?;
    let delay = Delay::from_numer_denom_ms(anim.frame_time.as_millis() as u32, 1);
    for f in &anim.frames {
        let rgba = image::DynamicImage::ImageRgb8(f.clone()).into_rgba8();
        enc.encode_frame(Frame::from_parts(rgba, 0, 0, delay)).map_err(image_err)?;
    }
    Ok(())
}

/// Saves an animation as a looping animated WebP, lossless: a comic's flat colours, ink and
/// halftone dots compress better without loss than with it (the demo's four comics: 1.26 MB
/// lossless at effort 50, 1.47 MB lossy at quality 70, 1.46 MB as GIF), and stay exact.
pub fn write_webp(path: &Path, anim: &Animation) -> Result<(), ExportError> {
    atomic_write(path, |w| {
        let (width, height) = anim.frames.first().map_or((1, 1), |f| f.dimensions());
        let options = webp_animation::EncoderOptions {
            color_mode: webp_animation::ColorMode::Rgb,
            encoding_config: Some(webp_animation::EncodingConfig {
                encoding_type: webp_animation::EncodingType::Lossless,
                quality: 50.0,
                method: 4,
            }),
            ..Default::default()
        };
        let err = |e: webp_animation::Error| io::Error::other(format!("WebP encoder: {e}"));
        let mut enc = webp_animation::Encoder::new_with_options((width, height), options).map_err(err)?;
        let step = anim.frame_time.as_millis().min(i32::MAX as u128 / 1024) as i32;
        for (i, f) in anim.frames.iter().enumerate() {
            enc.add_frame(f.as_raw(), i as i32 * step).map_err(err)?;
        }
        let data = enc.finalize(anim.frames.len() as i32 * step).map_err(err)?;
        w.write_all(&data)
    })
}

/// Saves an animation as H.264 video in an MP4 file, the loop repeated to 3 s or more (module
/// `export::mp4`). A build without the cargo feature `mp4` refuses with `Unsupported` (the
/// configuration refuses `"mp4"` first).
pub fn write_mp4(path: &Path, anim: &Animation) -> Result<(), ExportError> {
    #[cfg(feature = "mp4")]
    return atomic_write(path, |w| mp4::write(w, anim));
    #[cfg(not(feature = "mp4"))]
    {
        let _ = anim;
        Err(ExportError {
            path: path.to_owned(),
            cause: io::Error::new(io::ErrorKind::Unsupported, "MP4 is not in this build"),
        })
    }
}

/// Saves `anim` in every format of `formats` as `dir/<label>.<ext>`; returns the paths, in
/// order. The first failure stops it and removes what this call wrote, so a comic is on disk
/// whole or not at all.
pub fn write_animation(
    dir: &Path,
    anim: &Animation,
    formats: &[Format],
) -> Result<Vec<PathBuf>, ExportError> {
    let mut written = Vec::with_capacity(formats.len());
    for &format in formats {
        let path = dir.join(format!("{}.{}", anim.label, format.extension()));
        let result = match format {
            Format::Gif => write_gif(&path, anim),
            Format::Webp => write_webp(&path, anim),
            Format::Mp4 => write_mp4(&path, anim),
        };
        if let Err(e) = result {
            for p in &written {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
        written.push(path);
    }
    Ok(written)
}

/// Free space for an unprivileged writer on the file system holding `dir`, in bytes.
pub fn free_space(dir: &Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
    // SAFETY: statvfs only writes into the zeroed struct we own; `path` is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

/// The owner of a temporary file [`atomic_write`] made (`.NAME.tmp-PID`): its process id.
fn temp_owner(name: &str) -> Option<u32> {
    let (stem, pid) = name.strip_prefix('.')?.rsplit_once(".tmp-")?;
    (!stem.is_empty()).then_some(())?;
    pid.parse().ok()
}

/// Deletes the temporary files [`atomic_write`] left in `dir` when its process was killed
/// mid-write (a power cut, SIGKILL, a SIGTERM to a command that does not catch it): files named
/// `.NAME.tmp-PID` whose process is gone. They were never renamed, so they were never a comic,
/// but each one would keep its disk space on the SD card for good. Files of live processes
/// (another writer at work) are left alone. Returns how many were deleted.
pub fn remove_stale_temps(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let Some(pid) = e.file_name().to_str().and_then(temp_owner) else { continue };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        match std::fs::remove_file(e.path()) {
            Ok(()) => removed += 1,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    Ok(removed)
}

/// The extensions of comic files: what pruning counts and deletes (every format's, whether or
/// not this build writes it: a folder may hold an MP4 build's comics).
const COMIC_EXTENSIONS: [&str; 3] = ["gif", "webp", "mp4"];

/// Deletes the comics in `dir` older than `max_age`, then the oldest until those left take at
/// most `quota` bytes (either `None`: no such limit); returns how many comics were deleted. A
/// comic is every file with its name and a comic extension (its GIF, WebP and MP4), deleted
/// together; its age is its newest file's. Other files are never touched, except the
/// temporary files of killed writers ([`remove_stale_temps`]).
pub fn prune(dir: &Path, quota: Option<u64>, max_age: Option<std::time::Duration>) -> std::io::Result<usize> {
    remove_stale_temps(dir)?;
    let mut comics: std::collections::HashMap<
        std::ffi::OsString,
        (std::time::SystemTime, u64, Vec<PathBuf>),
    > = std::collections::HashMap::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if !p.extension().is_some_and(|x| COMIC_EXTENSIONS.iter().any(|c| x == *c)) {
            continue;
        }
        let (Some(stem), m) = (p.file_stem().map(|s| s.to_owned()), e.metadata()?) else { continue };
        let entry = comics.entry(stem).or_insert((std::time::UNIX_EPOCH, 0, Vec::new()));
        entry.0 = entry.0.max(m.modified()?);
        entry.1 += m.len();
        entry.2.push(p);
    }
    let mut comics: Vec<_> = comics.into_values().collect();
    comics.sort();
    let mut total: u64 = comics.iter().map(|c| c.1).sum();
    let oldest_kept = max_age.and_then(|age| std::time::SystemTime::now().checked_sub(age));
    let mut deleted = 0;
    for (modified, len, paths) in comics {
        let expired = oldest_kept.is_some_and(|t| modified < t);
        if !expired && quota.is_none_or(|q| total <= q) {
            break;
        }
        for p in paths {
            std::fs::remove_file(&p)?;
        }
        total -= len;
        deleted += 1;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_under_the_gif_encoder_says_to_free_space() {
        let full = gif_err(gif::EncodingError::Io(io::Error::from_raw_os_error(libc::ENOSPC)));
        let e = ExportError { path: "/tmp/comics/a.gif".into(), cause: full };
        assert!(e.to_string().contains("fix: free disk space"), "{e}");
    }

    #[test]
    fn temporary_files_of_killed_writers_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let put = |name: &str| std::fs::write(dir.path().join(name), b"half").unwrap();
        // A pid that cannot be running (above the kernel's pid_max limit of 2^22).
        put(".comic-1.gif.tmp-4194305");
        put(&format!(".comic-2.webp.tmp-{}", std::process::id()));
        put("comic-3.gif");
        put(".hidden");
        put(".x.tmp-notapid");
        assert_eq!(remove_stale_temps(dir.path()).unwrap(), 1);
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let own = format!(".comic-2.webp.tmp-{}", std::process::id());
        assert_eq!(left, [own.as_str(), ".hidden", ".x.tmp-notapid", "comic-3.gif"]);
    }

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.gif");
        let err = atomic_write(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("free disk space"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn write_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        std::fs::write(&path, b"old").unwrap();
        write_image(&path, &RgbImage::new(2, 2)).unwrap();
        assert_eq!(image::open(&path).unwrap().width(), 2);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn prune_deletes_oldest_gifs_first_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = std::time::SystemTime::now() - std::time::Duration::from_secs(100);
        for (i, name) in ["a.gif", "b.gif", "c.gif"].iter().enumerate() {
            let p = dir.path().join(name);
            std::fs::write(&p, vec![0u8; 1000]).unwrap();
            let f = File::options().write(true).open(&p).unwrap();
            f.set_modified(t0 + std::time::Duration::from_secs(i as u64 * 10)).unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), vec![0u8; 5000]).unwrap();
        assert_eq!(prune(dir.path(), Some(2000), None).unwrap(), 1);
        assert!(!dir.path().join("a.gif").exists());
        assert!(dir.path().join("b.gif").exists() && dir.path().join("notes.txt").exists());
        assert_eq!(prune(dir.path(), Some(0), None).unwrap(), 2);
        assert!(dir.path().join("notes.txt").exists());
    }

    #[test]
    fn prune_deletes_a_comics_files_together() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = std::time::SystemTime::now() - std::time::Duration::from_secs(100);
        for (i, name) in ["a.gif", "a.webp", "a.mp4", "b.gif", "b.webp", "b.mp4"].iter().enumerate() {
            let p = dir.path().join(name);
            std::fs::write(&p, vec![0u8; 1000]).unwrap();
            let f = File::options().write(true).open(&p).unwrap();
            f.set_modified(t0 + std::time::Duration::from_secs(i as u64 * 10)).unwrap();
        }
        // 6000 bytes against 4000 allowed: comic "a" (all its files) goes, "b" stays whole.
        assert_eq!(prune(dir.path(), Some(4000), None).unwrap(), 1);
        assert!(["a.gif", "a.webp", "a.mp4"].iter().all(|n| !dir.path().join(n).exists()));
        assert!(["b.gif", "b.webp", "b.mp4"].iter().all(|n| dir.path().join(n).exists()));
    }

    #[test]
    fn prune_deletes_comics_older_than_their_days() {
        let dir = tempfile::tempdir().unwrap();
        let now = std::time::SystemTime::now();
        let day = std::time::Duration::from_secs(86_400);
        for (name, age) in
            [("old.gif", 3 * day), ("old.webp", 3 * day), ("new.gif", day / 2), ("new.webp", day / 2)]
        {
            let p = dir.path().join(name);
            std::fs::write(&p, vec![0u8; 10]).unwrap();
            File::options().write(true).open(&p).unwrap().set_modified(now - age).unwrap();
        }
        assert_eq!(prune(dir.path(), None, Some(2 * day)).unwrap(), 1);
        assert!(!dir.path().join("old.gif").exists() && !dir.path().join("old.webp").exists());
        assert!(dir.path().join("new.gif").exists() && dir.path().join("new.webp").exists());
        assert_eq!(prune(dir.path(), None, None).unwrap(), 0);
    }

    /// A three-frame loop of flat colours and "ink", 48x32, 100 ms a frame.
    fn loop_of_three() -> Animation {
        let frames = (0..3u32)
            .map(|t| {
                RgbImage::from_fn(48, 32, |x, y| match (x + t * 4) % 16 {
                    0..2 => image::Rgb(crate::look::INK),
                    2..9 => image::Rgb([230, 120, 40]),
                    _ => image::Rgb([120 + y as u8, 180, 220]),
                })
            })
            .collect();
        Animation { frames, frame_time: std::time::Duration::from_millis(100), label: "loop".into() }
    }

    #[test]
    fn every_format_decodes_to_the_same_frames() {
        use image::AnimationDecoder;
        let dir = tempfile::tempdir().unwrap();
        let anim = loop_of_three();
        let paths = write_animation(dir.path(), &anim, &[Format::Gif, Format::Webp]).unwrap();
        assert_eq!(paths, [dir.path().join("loop.gif"), dir.path().join("loop.webp")]);
        let reader = |p: &Path| std::io::BufReader::new(File::open(p).unwrap());
        // Decoded by the image crate's own decoders (image-webp is pure Rust, not the libwebp
        // that wrote the file).
        let gif = image::codecs::gif::GifDecoder::new(reader(&paths[0])).unwrap().into_frames();
        let webp = image::codecs::webp::WebPDecoder::new(reader(&paths[1])).unwrap().into_frames();
        // Both are exact: the GIF through its one colour table, the WebP lossless (libwebp's
        // own decoder, through Pillow, reads it back exactly; image-webp blends animation
        // frames onto its canvas with rounding, so allow it 1 level).
        for (decoded, tolerance) in [(gif.collect_frames().unwrap(), 0), (webp.collect_frames().unwrap(), 1)]
        {
            assert_eq!(decoded.len(), 3);
            for (f, want) in decoded.iter().zip(&anim.frames) {
                assert_eq!(f.delay().numer_denom_ms(), (100, 1));
                let got = image::DynamicImage::ImageRgba8(f.buffer().clone()).into_rgb8();
                assert_eq!(got.dimensions(), want.dimensions());
                let worst = got.as_raw().iter().zip(want.as_raw()).map(|(a, b)| a.abs_diff(*b)).max();
                assert!(worst <= Some(tolerance), "off by {worst:?}");
            }
        }
    }

    #[test]
    fn a_boomerangs_repeated_frames_are_compressed_once_and_played_in_order() {
        use image::AnimationDecoder;
        let mut anim = loop_of_three();
        // 0 1 2 1, and a copy of frame 0 that differs in one pixel between the sampled ones.
        let mut almost = anim.frames[0].clone();
        almost.put_pixel(47, 31, image::Rgb([1, 2, 3]));
        anim.frames = vec![anim.frames[0].clone(), anim.frames[1].clone(), anim.frames[2].clone()];
        anim.frames.extend([anim.frames[1].clone(), almost]);
        let (distinct, order) = distinct_frames(&anim.frames);
        assert_eq!((distinct.len(), order), (4, vec![0, 1, 2, 1, 3]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.gif");
        write_gif(&path, &anim).unwrap();
        let decoded =
            image::codecs::gif::GifDecoder::new(std::io::BufReader::new(File::open(&path).unwrap()))
                .unwrap()
                .into_frames()
                .collect_frames()
                .unwrap();
        assert_eq!(decoded.len(), 5);
        for (f, want) in decoded.iter().zip(&anim.frames) {
            assert_eq!(&image::DynamicImage::ImageRgba8(f.buffer().clone()).into_rgb8(), want);
        }
    }

    #[test]
    fn a_failed_format_leaves_none_of_the_comic() {
        let dir = tempfile::tempdir().unwrap();
        let mut anim = loop_of_three();
        // A frame of another size makes the WebP encoder fail after the GIF was written.
        anim.frames.push(RgbImage::new(8, 8));
        assert!(write_animation(dir.path(), &anim, &[Format::Gif, Format::Webp]).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn mp4_is_written_only_by_builds_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut anim = loop_of_three();
        // Odd sides: the MP4 drops the last column and row (4:2:0 needs even ones).
        anim.frames =
            anim.frames.iter().map(|f| image::imageops::crop_imm(f, 0, 0, 47, 31).to_image()).collect();
        let written = write_animation(dir.path(), &anim, &[Format::Gif, Format::Mp4]);
        if Format::MP4_BUILT {
            let bytes = std::fs::read(&written.unwrap()[1]).unwrap();
            assert_eq!(&bytes[4..8], b"ftyp");
        } else {
            let err = written.unwrap_err().to_string();
            assert!(err.contains("MP4 is not in this build") && err.contains("--features mp4"), "{err}");
            // All or nothing: the GIF written first is gone again.
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }

    #[test]
    fn unknown_extension_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_image(&dir.path().join("a.bmpx"), &RgbImage::new(2, 2)).unwrap_err();
        assert!(err.to_string().contains(".png, .jpg"), "{err}");
    }
}
