//! Photos as a camera: the demo's built-in samples, one photo, or a folder of them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{CameraError, Frame, FrameSource, PixelFormat};
use crate::assets::Asset;

enum Entry {
    Builtin(Asset),
    File(PathBuf),
}

impl Entry {
    fn label(&self) -> String {
        let name = match self {
            Entry::Builtin(a) => Path::new(a.name),
            Entry::File(p) => p.as_path(),
        };
        name.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "photo".into())
    }
}

/// Hands out photos as frames, in order, starting again after the last one as a camera would
/// keep delivering. Photos are decoded when asked for, so a bad file fails on its own turn with
/// an error that names it.
pub struct FileSource {
    entries: Vec<Entry>,
    what: String,
    next: usize,
    sequence: u64,
    opened: Instant,
}

const PHOTO_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

impl FileSource {
    /// The sample photos built into the binary.
    pub fn builtin(photos: &[Asset]) -> FileSource {
        FileSource::new(
            photos.iter().copied().map(Entry::Builtin).collect(),
            format!("{} built-in sample photos", photos.len()),
        )
    }

    /// One photo, or every .jpg/.jpeg/.png in a folder (sorted by name).
    pub fn open(path: &Path) -> Result<FileSource, CameraError> {
        let meta = std::fs::metadata(path).map_err(|cause| CameraError::Read { path: path.into(), cause })?;
        if !meta.is_dir() {
            return Ok(FileSource::new(vec![Entry::File(path.into())], format!("photo {}", path.display())));
        }
        let files = FileSource::list_photos(path)?;
        let what = format!("{} photos in {}", files.len(), path.display());
        Ok(FileSource::new(files.into_iter().map(Entry::File).collect(), what))
    }

    /// The .jpg/.jpeg/.png files in a folder, sorted by name; an error when there are none.
    pub fn list_photos(path: &Path) -> Result<Vec<PathBuf>, CameraError> {
        let read_err = |cause| CameraError::Read { path: path.into(), cause };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(read_err)? {
            let p = entry.map_err(read_err)?.path();
            let is_photo = p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| PHOTO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
            if is_photo && p.is_file() {
                files.push(p);
            }
        }
        if files.is_empty() {
            return Err(CameraError::NoPhotos { path: path.into() });
        }
        files.sort();
        Ok(files)
    }

    fn new(entries: Vec<Entry>, what: String) -> FileSource {
        FileSource { entries, what, next: 0, sequence: 0, opened: Instant::now() }
    }

    /// How many photos one round holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no photos (never true for a source that opened).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl FrameSource for FileSource {
    fn next_frame(&mut self, _timeout: Duration) -> Result<Frame<'_>, CameraError> {
        // Decoding a photo does not block on anything external, so there is nothing to time out.
        let entry = &self.entries[self.next];
        self.next = (self.next + 1) % self.entries.len();
        let (bytes, path) = match entry {
            Entry::Builtin(a) => (std::borrow::Cow::Borrowed(a.bytes), PathBuf::from(a.name)),
            Entry::File(p) => {
                let bytes = std::fs::read(p).map_err(|cause| CameraError::Read { path: p.clone(), cause })?;
                (std::borrow::Cow::Owned(bytes), p.clone())
            }
        };
        let rgb = crate::photo::decode_photo(&bytes, &path)?;
        let frame = Frame {
            format: PixelFormat::Rgb24,
            width: rgb.width(),
            height: rgb.height(),
            stride: rgb.width() as usize * 3,
            data: rgb.into_raw().into(),
            sequence: self.sequence,
            timestamp: self.opened.elapsed(),
            label: entry.label(),
        };
        self.sequence += 1;
        Ok(frame)
    }

    fn describe(&self) -> String {
        self.what.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::SAMPLE_PHOTOS;

    #[test]
    fn builtin_photos_decode_in_order_and_wrap_around() {
        let mut src = FileSource::builtin(&SAMPLE_PHOTOS);
        let first = src.next_frame(Duration::from_secs(1)).unwrap();
        assert_eq!(first.label, "astronaut");
        assert_eq!((first.width, first.height), (480, 480));
        assert_eq!(first.data.len(), first.stride * first.height as usize);
        drop(first);
        for _ in 1..SAMPLE_PHOTOS.len() {
            src.next_frame(Duration::from_secs(1)).unwrap();
        }
        let again = src.next_frame(Duration::from_secs(1)).unwrap();
        assert_eq!(again.label, "astronaut");
        assert_eq!(again.sequence, SAMPLE_PHOTOS.len() as u64);
    }

    #[test]
    fn a_bad_photo_fails_on_its_own_turn_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = SAMPLE_PHOTOS[0].bytes;
        std::fs::write(dir.path().join("a.jpg"), good).unwrap();
        std::fs::write(dir.path().join("b.jpg"), &good[..good.len() / 2]).unwrap();
        let mut src = FileSource::open(dir.path()).unwrap();
        assert_eq!(src.next_frame(Duration::from_secs(1)).unwrap().label, "a");
        let err = src.next_frame(Duration::from_secs(1)).err().unwrap();
        assert!(matches!(err, CameraError::Photo(crate::photo::PhotoError::Truncated { .. })), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("b.jpg") && text.contains("truncated") && text.contains("fix: "), "{text}");
        assert!(!err.is_transient(), "a broken photo stays broken");
        // The next turn goes on with the next photo.
        assert_eq!(src.next_frame(Duration::from_secs(1)).unwrap().label, "a");
    }

    #[test]
    fn folder_without_photos_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("readme.txt"), "no photos").unwrap();
        let err = FileSource::open(dir.path()).err().unwrap();
        assert!(matches!(err, CameraError::NoPhotos { .. }), "{err}");
    }
}
