//! Resizing RGB pictures (fast_image_resize's SIMD convolution), for the pixel formats that are
//! converted before they are resized, for screens and for the gate's input.

use image::RgbImage;

/// Resizes with a SIMD convolution (bilinear), or returns a copy when the size already fits.
///
/// Through fast_image_resize's typed API for 8-bit RGB only: its untyped `resize` dispatches on
/// the pixel type at run time, which builds its kernels for every pixel type it knows into the
/// binary (about 3.5 MB of an x86_64 release build), for the one type comicbooth resizes.
pub fn resize(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    use fast_image_resize::images::{TypedImage, TypedImageRef};
    use fast_image_resize::pixels::U8x3;
    use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    let (iw, ih) = img.dimensions();
    let src = TypedImageRef::<U8x3>::from_buffer(iw, ih, img.as_raw()).expect("sized to its pixels");
    let mut out = vec![0u8; w as usize * h as usize * 3];
    let mut dst = TypedImage::<U8x3>::from_buffer(w, h, &mut out).expect("sized to its pixels");
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new().resize_typed(&src, &mut dst, &options).expect("non-empty sizes");
    RgbImage::from_raw(w, h, out).expect("buffer sized to w*h*3")
}
