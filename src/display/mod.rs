//! Screens. Every backend is an `embedded-graphics` [`DrawTarget`] with its own error type and
//! a [`Screen::present`] that makes what was drawn visible. [`show`] letterboxes a picture
//! onto any screen.

mod framebuffer;
mod headless;
pub mod screens;
#[cfg(feature = "spi")]
pub mod spi;

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;
use image::RgbImage;

pub use framebuffer::{Framebuffer, FramebufferError, Layout as FramebufferLayout};
pub use headless::{HeadlessDisplay, HeadlessError};

/// A display the booth can draw on.
pub trait Screen: DrawTarget<Color = Rgb888> + OriginDimensions {
    /// Makes everything drawn since the last call visible (a page flip, an SPI transfer, a file).
    fn present(&mut self) -> Result<(), Self::Error>;
}

/// The back buffer of a hardware screen: drawing lands here, and the rows touched since the
/// last present are tracked so the backend sends only those to the device.
pub struct BackBuffer {
    width: u32,
    height: u32,
    pixels: Vec<Rgb888>,
    dirty: Option<(u32, u32)>,
}

impl BackBuffer {
    /// A black buffer, all of it dirty (the first present paints the whole screen).
    pub fn new(width: u32, height: u32) -> BackBuffer {
        BackBuffer {
            width,
            height,
            pixels: vec![Rgb888::BLACK; width as usize * height as usize],
            dirty: height.checked_sub(1).map(|last| (0, last)),
        }
    }

    /// Its size.
    pub fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }

    /// Stores pixels, clipped to the buffer.
    pub fn draw(&mut self, pixels: impl IntoIterator<Item = Pixel<Rgb888>>) {
        let (w, h) = (self.width as i32, self.height as i32);
        for Pixel(p, c) in pixels {
            if (0..w).contains(&p.x) && (0..h).contains(&p.y) {
                self.pixels[(p.y * w + p.x) as usize] = c;
                let y = p.y as u32;
                self.dirty = Some(self.dirty.map_or((y, y), |(a, b)| (a.min(y), b.max(y))));
            }
        }
    }

    /// The first and last row drawn since the last call, and those rows' pixels; `None` when
    /// nothing changed.
    pub fn take_dirty(&mut self) -> Option<(u32, u32, &[Rgb888])> {
        let (first, last) = self.dirty.take()?;
        let w = self.width as usize;
        Some((first, last, &self.pixels[first as usize * w..(last as usize + 1) * w]))
    }
}

/// Where a picture of `w` x `h` lands when scaled to fit a `sw` x `sh` screen, centred, with
/// its aspect kept (black bars fill the rest).
pub fn letterbox(w: u32, h: u32, sw: u32, sh: u32) -> Rectangle {
    // Integer maths on the cross products avoids rounding a side past the screen.
    let (fw, fh) = if w as u64 * sh as u64 > h as u64 * sw as u64 {
        (sw, ((h as u64 * sw as u64) / w as u64).max(1) as u32)
    } else {
        (((w as u64 * sh as u64) / h as u64).max(1) as u32, sh)
    };
    Rectangle::new(Point::new(((sw - fw) / 2) as i32, ((sh - fh) / 2) as i32), Size::new(fw, fh))
}

/// Any screen, with the time of every [`Screen::present`] recorded: how `comicbooth bench
/// --display` measures frame pacing on the real backend.
pub struct Timed<S> {
    inner: S,
    presents: Vec<(std::time::Instant, std::time::Duration)>,
}

impl<S> Timed<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Timed<S> {
        Timed { inner, presents: Vec::new() }
    }

    /// When each present started, and how long it took.
    pub fn presents(&self) -> &[(std::time::Instant, std::time::Duration)] {
        &self.presents
    }
}

impl<S: OriginDimensions> OriginDimensions for Timed<S> {
    fn size(&self) -> Size {
        self.inner.size()
    }
}

impl<S: DrawTarget<Color = Rgb888> + OriginDimensions> DrawTarget for Timed<S> {
    type Color = Rgb888;
    type Error = S::Error;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        self.inner.draw_iter(pixels)
    }

    fn fill_contiguous<I>(&mut self, area: &Rectangle, colors: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Self::Color>,
    {
        self.inner.fill_contiguous(area, colors)
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Self::Color) -> Result<(), Self::Error> {
        self.inner.fill_solid(area, color)
    }

    fn clear(&mut self, color: Self::Color) -> Result<(), Self::Error> {
        self.inner.clear(color)
    }
}

impl<S: Screen> Screen for Timed<S> {
    fn present(&mut self) -> Result<(), Self::Error> {
        let start = std::time::Instant::now();
        let r = self.inner.present();
        self.presents.push((start, start.elapsed()));
        r
    }
}

/// Clears `screen` and draws `img` scaled to fit in the middle (no present).
pub fn draw_picture<S: Screen>(screen: &mut S, img: &RgbImage) -> Result<(), S::Error> {
    screen.clear(Rgb888::BLACK)?;
    draw_picture_in(screen, img, Rectangle::new(Point::zero(), screen.size()))
}

/// Draws `img` scaled to fit in the middle of `bounds` (what is around it is left as it is).
pub fn draw_picture_in<S: Screen>(screen: &mut S, img: &RgbImage, bounds: Rectangle) -> Result<(), S::Error> {
    let fit = letterbox(img.width(), img.height(), bounds.size.width, bounds.size.height);
    let area = Rectangle::new(bounds.top_left + fit.top_left, fit.size);
    let fitted = if area.size == Size::new(img.width(), img.height()) {
        std::borrow::Cow::Borrowed(img)
    } else {
        std::borrow::Cow::Owned(crate::convert::resize(img, area.size.width, area.size.height))
    };
    screen.fill_contiguous(&area, fitted.pixels().map(|p| Rgb888::new(p[0], p[1], p[2])))
}

/// Clears `screen`, draws `img` scaled to fit in the middle and presents it.
pub fn show<S: Screen>(screen: &mut S, img: &RgbImage) -> Result<(), S::Error> {
    draw_picture(screen, img)?;
    screen.present()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_buffer_tracks_dirty_rows() {
        let mut b = BackBuffer::new(4, 4);
        assert_eq!(b.take_dirty().map(|d| (d.0, d.1)), Some((0, 3)));
        assert!(b.take_dirty().is_none());
        b.draw([Pixel(Point::new(1, 2), Rgb888::RED), Pixel(Point::new(9, 1), Rgb888::RED)]);
        let (first, last, px) = b.take_dirty().unwrap();
        assert_eq!((first, last, px.len()), (2, 2, 4));
        assert_eq!(px[1], Rgb888::RED);
    }

    #[test]
    fn timed_screen_forwards_drawing_and_records_presents() {
        let mut t = Timed::new(HeadlessDisplay::new(8, 4));
        t.clear(Rgb888::RED).unwrap();
        t.present().unwrap();
        t.present().unwrap();
        assert_eq!(t.inner.pixels().get_pixel(7, 3).0, [255, 0, 0]);
        assert_eq!(t.inner.presented(), 2);
        assert_eq!(t.presents().len(), 2);
        assert!(t.presents()[0].0 <= t.presents()[1].0);
    }

    #[test]
    fn letterbox_keeps_aspect_and_centres() {
        assert_eq!(letterbox(256, 256, 480, 320), Rectangle::new(Point::new(80, 0), Size::new(320, 320)));
        assert_eq!(letterbox(640, 480, 240, 240), Rectangle::new(Point::new(0, 30), Size::new(240, 180)));
        assert_eq!(letterbox(100, 50, 100, 50), Rectangle::new(Point::zero(), Size::new(100, 50)));
    }
}
