//! Photo and JPEG decoding, in one place: [`decode_photo`] turns a JPEG or PNG file into an
//! upright RGB picture (EXIF orientation applied), [`decode_jpeg`] decodes a JPEG as stored (an
//! MJPEG camera frame, which is never rotated) and [`jpeg_is_complete`] is the cheap check for
//! truncated files and torn frames. Both refuse damaged data instead of returning a half-grey
//! picture.
//!
//! A leaf module: it uses only the image and zune crates, so the camera (photos as frames,
//! MJPEG frames through `convert`) and `stylize` share it without depending on each other.

use std::path::{Path, PathBuf};

use image::RgbImage;
use image::metadata::Orientation;

/// Why a photo gave no picture. Every message names the file, the reason and the fix.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// The file has no bytes.
    #[error("{path}: the file is empty (0 bytes); fix: replace it with a JPEG or PNG photo")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The bytes are no image format at all (a text file named .jpg, say).
    #[error(
        "{path}: not a readable photo (its contents are not JPEG or PNG: the first bytes match no image format); fix: save it again as JPEG or PNG, or remove it"
    )]
    NotAnImage {
        /// The file.
        path: PathBuf,
    },
    /// A JPEG whose end is missing (an interrupted copy or download).
    #[error(
        "{path}: not a readable photo (the JPEG is truncated: its end-of-image marker is missing); fix: copy the photo again from its source, or remove it"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
    },
    /// A whole JPEG whose data does not decode.
    #[error(
        "{path}: not a readable photo (corrupt JPEG data: {cause}); fix: save it again as JPEG or PNG, or remove it"
    )]
    Jpeg {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        cause: JpegError,
    },
    /// A photo whose header claims more pixels than a booth decodes (a corrupt header, or a
    /// panorama far beyond any camera's): refused before anything is allocated.
    #[error(
        "{path}: not a readable photo (its header says {width}x{height} pixels, more than the {MAX_PIXELS} a photo may have); fix: scale it down to at most {MAX_SIDE} pixels a side, or remove it"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Width its header claims.
        width: u64,
        /// Height its header claims.
        height: u64,
    },
    /// A PNG (or another format the image crate reads) that does not decode.
    #[error("{path}: not a readable photo ({reason}); fix: save it again as JPEG or PNG, or remove it")]
    Image {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
}

/// The longest side of a photo or MJPEG frame comicbooth decodes.
pub const MAX_SIDE: u64 = 16_384;
/// The most pixels a photo may have (a 100-megapixel camera's); decoding it takes 300 MB.
pub const MAX_PIXELS: u64 = 100_000_000;

/// Whether a picture of `width` x `height` is small enough to decode.
fn fits(width: u64, height: u64) -> bool {
    width <= MAX_SIDE && height <= MAX_SIDE && width * height <= MAX_PIXELS
}

/// Why JPEG data did not decode: the decoder's words, on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JpegError(String);

/// Whether `bytes` look like a whole JPEG: the SOI marker (FF D8) first and the EOI marker
/// (FF D9) last, possibly followed by zero padding. A cheap check that catches truncated files
/// and torn MJPEG frames before decoding.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    bytes.starts_with(&[0xFF, 0xD8]) && bytes[..end].ends_with(&[0xFF, 0xD9])
}

/// Decodes a JPEG (a photo or an MJPEG camera frame) to RGB as stored, strictly: corrupt
/// entropy-coded data is an error, not a half-grey picture, so a damaged frame is dropped
/// instead of shown. EXIF orientation is not applied (camera frames come upright; photos go
/// through [`decode_photo`]).
pub fn decode_jpeg(bytes: &[u8]) -> Result<RgbImage, JpegError> {
    decode_jpeg_with_exif(bytes, false).map(|(rgb, _)| rgb)
}

/// As [`decode_jpeg`], also handing back the EXIF payload (the TIFF data after "Exif\0\0" in
/// APP1) when `exif` is asked for and the file has one.
fn decode_jpeg_with_exif(bytes: &[u8], exif: bool) -> Result<(RgbImage, Option<Vec<u8>>), JpegError> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let options = DecoderOptions::default().set_strict_mode(true).jpeg_set_out_colorspace(ColorSpace::RGB);
    let options = options.set_max_width(MAX_SIDE as usize).set_max_height(MAX_SIDE as usize);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(|e| JpegError(format!("{e:?}").replace('\n', " ")))?;
    if let Some(info) = decoder.info()
        && !fits(info.width as u64, info.height as u64)
    {
        return Err(JpegError(format!(
            "its header says {}x{} pixels, more than the {MAX_PIXELS} a picture may have",
            info.width, info.height
        )));
    }
    let pixels = decoder.decode().map_err(|e| JpegError(format!("{e:?}").replace('\n', " ")))?;
    let info = decoder.info().ok_or_else(|| JpegError("JPEG headers missing".into()))?;
    let rgb = RgbImage::from_raw(info.width as u32, info.height as u32, pixels)
        .ok_or_else(|| JpegError("decoded JPEG has fewer pixels than its header says".into()))?;
    let payload = if exif { decoder.exif().cloned() } else { None };
    Ok((rgb, payload))
}

/// Decodes a JPEG or PNG photo to upright RGB: refuses truncated or corrupt files that a
/// lenient decoder would half-fill, and turns the picture as its EXIF orientation (1-8) says,
/// so a phone photo taken sideways comes out the right way up. A damaged EXIF block leaves
/// the picture as stored (logged at debug level); it never fails the photo.
pub fn decode_photo(bytes: &[u8], path: &Path) -> Result<RgbImage, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty { path: path.into() });
    }
    let format = image::guess_format(bytes).map_err(|_| PhotoError::NotAnImage { path: path.into() })?;
    if format != image::ImageFormat::Jpeg {
        return decode_other(bytes, format, path);
    }
    if !jpeg_is_complete(bytes) {
        return Err(PhotoError::Truncated { path: path.into() });
    }
    let (rgb, exif) =
        decode_jpeg_with_exif(bytes, true).map_err(|cause| PhotoError::Jpeg { path: path.into(), cause })?;
    Ok(upright(rgb, exif.as_deref().map(|e| orientation(e, path)).unwrap_or(Orientation::NoTransforms)))
}

/// PNG (and whatever else the image crate was built to read), with the orientation of a PNG
/// eXIf chunk that comes before the image data.
fn decode_other(bytes: &[u8], format: image::ImageFormat, path: &Path) -> Result<RgbImage, PhotoError> {
    use image::ImageDecoder;
    let fail = |e: image::ImageError| PhotoError::Image { path: path.into(), reason: e.to_string() };
    let mut decoder =
        image::ImageReader::with_format(std::io::Cursor::new(bytes), format).into_decoder().map_err(fail)?;
    // The header's size, checked before the pixels are allocated: a corrupt PNG header once
    // asked for 66 GB here (found by fuzzing), which aborts the process.
    let (width, height) = decoder.dimensions();
    if !fits(width as u64, height as u64) {
        return Err(PhotoError::TooLarge { path: path.into(), width: width as u64, height: height as u64 });
    }
    let turn = match decoder.exif_metadata() {
        Ok(Some(exif)) => orientation(&exif, path),
        Ok(None) => Orientation::NoTransforms,
        Err(e) => {
            tracing::debug!(photo = %path.display(), "EXIF metadata unreadable ({e}); left as stored");
            Orientation::NoTransforms
        }
    };
    Ok(upright(image::DynamicImage::from_decoder(decoder).map_err(fail)?.into_rgb8(), turn))
}

/// The orientation an EXIF (TIFF) block gives, or none when it has no valid one.
fn orientation(exif: &[u8], path: &Path) -> Orientation {
    // PNG's eXIf chunk is bare TIFF data, but some writers keep JPEG's "Exif\0\0" prefix.
    let tiff = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
    Orientation::from_exif_chunk(tiff).unwrap_or_else(|| {
        tracing::debug!(
            photo = %path.display(),
            "EXIF block ({} bytes) without a readable orientation (1-8); left as stored",
            exif.len()
        );
        Orientation::NoTransforms
    })
}

/// `rgb` turned as `turn` says (the one place a photo's orientation is applied).
fn upright(rgb: RgbImage, turn: Orientation) -> RgbImage {
    if turn == Orientation::NoTransforms {
        return rgb;
    }
    let mut img = image::DynamicImage::ImageRgb8(rgb);
    img.apply_orientation(turn);
    img.into_rgb8()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    const RED: Rgb<u8> = Rgb([255, 0, 0]);
    const GREEN: Rgb<u8> = Rgb([0, 255, 0]);
    const BLUE: Rgb<u8> = Rgb([0, 0, 255]);
    const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
    /// Top left, top right, bottom left, bottom right of the test pictures as stored.
    const CORNERS: [Rgb<u8>; 4] = [RED, GREEN, BLUE, WHITE];

    /// A `w` x `h` picture in four flat quadrants of [`CORNERS`].
    fn quadrants(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| CORNERS[(x >= w / 2) as usize + 2 * (y >= h / 2) as usize])
    }

    /// The colours at the centres of the four quadrants of `img`, each matched to the nearest
    /// of [`CORNERS`] (JPEG is lossy); panics when one is far from all of them.
    fn corners_of(img: &RgbImage) -> [Rgb<u8>; 4] {
        let (w, h) = img.dimensions();
        [(w / 4, h / 4), (w * 3 / 4, h / 4), (w / 4, h * 3 / 4), (w * 3 / 4, h * 3 / 4)].map(|(x, y)| {
            let p = img.get_pixel(x, y);
            let dist = |c: &Rgb<u8>| (0..3).map(|i| (p[i] as i32 - c[i] as i32).abs()).max().unwrap();
            let nearest = *CORNERS.iter().min_by_key(|c| dist(c)).unwrap();
            assert!(dist(&nearest) <= 48, "pixel {p:?} at ({x}, {y}) is none of the corner colours");
            nearest
        })
    }

    /// A TIFF block with one IFD entry: orientation = `value`, big- or little-endian.
    fn tiff_orientation(value: u16, big_endian: bool) -> Vec<u8> {
        let u16b = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let u32b = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut t = Vec::new();
        t.extend_from_slice(if big_endian { b"MM\0\x2A" } else { b"II\x2A\0" });
        t.extend_from_slice(&u32b(8)); // IFD0 right after the header
        t.extend_from_slice(&u16b(1)); // one entry
        t.extend_from_slice(&u16b(0x0112)); // Orientation
        t.extend_from_slice(&u16b(3)); // SHORT
        t.extend_from_slice(&u32b(1)); // one value
        t.extend_from_slice(&u16b(value));
        t.extend_from_slice(&[0, 0]); // value padding
        t.extend_from_slice(&u32b(0)); // no next IFD
        t
    }

    fn jpeg(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95).encode_image(img).unwrap();
        out
    }

    /// `jpeg` with an APP1 "Exif" segment holding `tiff` right after SOI.
    fn with_app1(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&(payload.len() as u16 + 2).to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    fn png(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
        out
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    /// `png` with an eXIf chunk holding `tiff` right after IHDR (before the image data).
    fn with_exif_chunk(png: &[u8], tiff: &[u8]) -> Vec<u8> {
        let after_ihdr = 8 + 4 + 4 + 13 + 4; // signature, length, "IHDR", its data, CRC
        assert_eq!(&png[12..16], b"IHDR");
        let mut chunk = (tiff.len() as u32).to_be_bytes().to_vec();
        let mut body = b"eXIf".to_vec();
        body.extend_from_slice(tiff);
        chunk.extend_from_slice(&body);
        chunk.extend_from_slice(&crc32(&body).to_be_bytes());
        let mut out = png[..after_ihdr].to_vec();
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&png[after_ihdr..]);
        out
    }

    /// Where the stored corners [`CORNERS`] land for each EXIF orientation, and whether the
    /// picture's width and height swap.
    fn expected(orientation: u16) -> ([Rgb<u8>; 4], bool) {
        match orientation {
            1 => ([RED, GREEN, BLUE, WHITE], false),
            2 => ([GREEN, RED, WHITE, BLUE], false), // mirrored left to right
            3 => ([WHITE, BLUE, GREEN, RED], false), // upside down
            4 => ([BLUE, WHITE, RED, GREEN], false), // mirrored top to bottom
            5 => ([RED, BLUE, GREEN, WHITE], true),  // transposed
            6 => ([BLUE, RED, WHITE, GREEN], true),  // turned a quarter clockwise
            7 => ([WHITE, GREEN, BLUE, RED], true),  // transversed
            8 => ([GREEN, WHITE, RED, BLUE], true),  // turned a quarter anticlockwise
            _ => unreachable!(),
        }
    }

    #[test]
    fn jpeg_photos_are_turned_upright_by_their_exif_orientation() {
        // 64x32 in flat 32x16 quadrants: whole 16x16 MCUs, so JPEG keeps the colours flat.
        let stored = jpeg(&quadrants(64, 32));
        assert_eq!(corners_of(&decode_photo(&stored, Path::new("plain.jpg")).unwrap()), CORNERS);
        for (value, big_endian) in [
            (1, true),
            (2, true),
            (3, true),
            (4, false),
            (5, true),
            (6, true),
            (6, false),
            (7, false),
            (8, true),
        ] {
            let bytes = with_app1(&stored, &tiff_orientation(value, big_endian));
            let img = decode_photo(&bytes, Path::new("turned.jpg")).unwrap();
            let (corners, swapped) = expected(value);
            let size = if swapped { (32, 64) } else { (64, 32) };
            assert_eq!(img.dimensions(), size, "orientation {value}");
            assert_eq!(corners_of(&img), corners, "orientation {value} (big-endian: {big_endian})");
        }
    }

    #[test]
    fn png_photos_are_turned_upright_by_their_exif_chunk() {
        // Lossless: a 4x2 picture with four distinct corner pixels is enough.
        let stored = quadrants(4, 2);
        let plain = png(&stored);
        assert_eq!(decode_photo(&plain, Path::new("plain.png")).unwrap(), stored);
        for value in 1..=8 {
            let bytes = with_exif_chunk(&plain, &tiff_orientation(value, value % 2 == 0));
            let img = decode_photo(&bytes, Path::new("turned.png")).unwrap();
            let (corners, swapped) = expected(value);
            assert_eq!(img.dimensions(), if swapped { (2, 4) } else { (4, 2) }, "orientation {value}");
            let (w, h) = img.dimensions();
            let got = [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)].map(|(x, y)| *img.get_pixel(x, y));
            assert_eq!(got, corners, "orientation {value}");
        }
        // Some writers keep JPEG's "Exif\0\0" prefix in the chunk.
        let mut prefixed = b"Exif\0\0".to_vec();
        prefixed.extend_from_slice(&tiff_orientation(6, true));
        let img = decode_photo(&with_exif_chunk(&plain, &prefixed), Path::new("prefixed.png")).unwrap();
        assert_eq!(img.dimensions(), (2, 4));
    }

    #[test]
    fn camera_frames_are_not_turned() {
        let bytes = with_app1(&jpeg(&quadrants(64, 32)), &tiff_orientation(6, true));
        let frame = decode_jpeg(&bytes).unwrap();
        assert_eq!(frame.dimensions(), (64, 32));
        assert_eq!(corners_of(&frame), CORNERS);
    }

    #[test]
    fn a_bad_exif_block_leaves_the_photo_as_stored() {
        let stored = jpeg(&quadrants(64, 32));
        let mut pointing_nowhere = tiff_orientation(6, true);
        pointing_nowhere[4..8].copy_from_slice(&9999u32.to_be_bytes()); // IFD0 past the end
        let mut out_of_range = tiff_orientation(6, true);
        out_of_range[18..20].copy_from_slice(&9u16.to_be_bytes()); // orientation 9 does not exist
        for tiff in [b"MM".to_vec(), b"not TIFF at all".to_vec(), pointing_nowhere, out_of_range] {
            let img = decode_photo(&with_app1(&stored, &tiff), Path::new("odd.jpg")).unwrap();
            assert_eq!(img.dimensions(), (64, 32), "{tiff:02x?}");
            assert_eq!(corners_of(&img), CORNERS);
            let png = with_exif_chunk(&png(&quadrants(4, 2)), &tiff);
            assert_eq!(decode_photo(&png, Path::new("odd.png")).unwrap(), quadrants(4, 2));
        }
    }

    #[test]
    fn empty_files_are_refused_with_the_fix() {
        let err = decode_photo(b"", Path::new("empty.jpg")).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, PhotoError::Empty { .. }), "{err:?}");
        assert!(text.starts_with("empty.jpg: ") && text.contains("empty (0 bytes)"), "{text}");
        assert!(text.contains("fix: "), "{text}");
    }

    #[test]
    fn truncated_jpeg_is_refused() {
        let bytes = crate::assets::SAMPLE_PHOTOS[0].bytes;
        let err = decode_photo(&bytes[..bytes.len() / 2], Path::new("half.jpg")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("half.jpg: ") && text.contains("truncated") && text.contains("fix: "),
            "{text}"
        );
    }

    #[test]
    fn corrupt_jpeg_data_is_refused() {
        // Headers and end marker kept, bits flipped all through the entropy-coded data.
        let mut bytes = crate::assets::SAMPLE_PHOTOS[0].bytes.to_vec();
        let n = bytes.len();
        bytes[n / 3..n - 2].iter_mut().step_by(7).for_each(|b| *b ^= 0x5A);
        let err = decode_photo(&bytes, Path::new("garbled.jpg")).unwrap_err();
        assert!(matches!(err, PhotoError::Jpeg { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("garbled.jpg") && text.contains("not a readable photo"), "{text}");
    }

    #[test]
    fn text_is_not_a_photo() {
        let err = decode_photo(b"hello, I am not a picture", Path::new("note.jpg")).unwrap_err();
        assert!(err.to_string().contains("note.jpg") && err.to_string().contains("not JPEG or PNG"), "{err}");
    }

    #[test]
    fn jpeg_completeness() {
        assert!(jpeg_is_complete(&[0xFF, 0xD8, 1, 2, 0xFF, 0xD9]));
        assert!(jpeg_is_complete(&[0xFF, 0xD8, 1, 2, 0xFF, 0xD9, 0, 0, 0]), "zero padding after EOI");
        assert!(!jpeg_is_complete(&[0xFF, 0xD8, 1, 2]), "no EOI");
        assert!(!jpeg_is_complete(&[1, 2, 0xFF, 0xD9]), "no SOI");
        assert!(!jpeg_is_complete(&[]));
    }
}
