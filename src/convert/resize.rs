//! Resizing RGB pictures (fast_image_resize's SIMD convolution), for the pixel formats that are
//! converted before they are resized, for screens and for the gate's input.

use image::RgbImage;

/// Resizes with a SIMD convolution (bilinear), or returns a copy when the size already fits.
pub fn resize(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer, images};
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    let (iw, ih) = img.dimensions();
    let src = images::ImageRef::new(iw, ih, img.as_raw(), PixelType::U8x3).expect("sized to its pixels");
    let mut dst = images::Image::new(w, h, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new().resize(&src, &mut dst, &options).expect("same pixel type, non-empty sizes");
    RgbImage::from_raw(w, h, dst.into_vec()).expect("buffer sized to w*h*3")
}
