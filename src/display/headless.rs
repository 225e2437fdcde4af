//! A display with no hardware: a framebuffer in memory whose every presented frame is written
//! as a PNG file. The demo and the tests use it to see exactly what a screen would show.

use std::convert::Infallible;
use std::path::{Path, PathBuf};

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use image::RgbImage;

use super::Screen;
use crate::export::{self, ExportError};

/// Why a headless frame could not be kept.
#[derive(Debug, thiserror::Error)]
#[error("headless display: {0}")]
pub struct HeadlessError(#[from] pub ExportError);

impl From<Infallible> for HeadlessError {
    fn from(e: Infallible) -> Self {
        match e {}
    }
}

/// An in-memory screen; [`Screen::present`] saves the picture as `<dir>/<prefix>-NNN.png`.
pub struct HeadlessDisplay {
    pixels: RgbImage,
    dir: Option<PathBuf>,
    prefix: String,
    presented: u32,
}

impl HeadlessDisplay {
    /// A black screen of `width` x `height` that keeps presented frames in memory only.
    pub fn new(width: u32, height: u32) -> HeadlessDisplay {
        HeadlessDisplay {
            pixels: RgbImage::new(width, height),
            dir: None,
            prefix: "frame".into(),
            presented: 0,
        }
    }

    /// Also write each presented frame into `dir` (which must exist).
    pub fn writing_to(mut self, dir: &Path) -> HeadlessDisplay {
        self.dir = Some(dir.to_owned());
        self
    }

    /// Starts a new file sequence: `<prefix>-000.png`, `<prefix>-001.png`, ...
    pub fn start_sequence(&mut self, prefix: &str) {
        self.prefix = prefix.to_owned();
        self.presented = 0;
    }

    /// What the screen shows now.
    pub fn pixels(&self) -> &RgbImage {
        &self.pixels
    }

    /// Frames presented in the current sequence.
    pub fn presented(&self) -> u32 {
        self.presented
    }
}

impl OriginDimensions for HeadlessDisplay {
    fn size(&self) -> Size {
        Size::new(self.pixels.width(), self.pixels.height())
    }
}

impl DrawTarget for HeadlessDisplay {
    type Color = Rgb888;
    type Error = HeadlessError;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        let (w, h) = self.pixels.dimensions();
        for Pixel(p, c) in pixels {
            if p.x >= 0 && p.y >= 0 && (p.x as u32) < w && (p.y as u32) < h {
                self.pixels.put_pixel(p.x as u32, p.y as u32, image::Rgb([c.r(), c.g(), c.b()]));
            }
        }
        Ok(())
    }
}

impl Screen for HeadlessDisplay {
    fn present(&mut self) -> Result<(), HeadlessError> {
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{}-{:03}.png", self.prefix, self.presented));
            export::write_image(&path, &self.pixels)?;
        }
        self.presented += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::show;
    use embedded_graphics::mock_display::MockDisplay;
    use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};

    #[test]
    fn draws_clip_to_the_screen() {
        let mut d = HeadlessDisplay::new(4, 3);
        Rectangle::new(Point::new(2, 1), Size::new(5, 5))
            .into_styled(PrimitiveStyle::with_fill(Rgb888::RED))
            .draw(&mut d)
            .unwrap();
        assert_eq!(d.pixels().get_pixel(1, 1).0, [0, 0, 0]);
        assert_eq!(d.pixels().get_pixel(3, 2).0, [255, 0, 0]);
    }

    #[test]
    fn show_letterboxes_a_square_on_a_wide_screen() {
        let mut d = HeadlessDisplay::new(8, 4);
        show(&mut d, &RgbImage::from_pixel(2, 2, image::Rgb([0, 0, 255]))).unwrap();
        let mut mock: MockDisplay<Rgb888> = MockDisplay::new();
        for y in 0..4 {
            for x in 0..8 {
                let p = d.pixels().get_pixel(x, y);
                Pixel(Point::new(x as i32, y as i32), Rgb888::new(p[0], p[1], p[2])).draw(&mut mock).unwrap();
            }
        }
        mock.assert_pattern(&["KKBBBBKK", "KKBBBBKK", "KKBBBBKK", "KKBBBBKK"]);
        assert_eq!(d.presented(), 1);
    }

    #[test]
    fn present_writes_numbered_pngs() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = HeadlessDisplay::new(6, 6).writing_to(dir.path());
        d.start_sequence("cat");
        d.present().unwrap();
        d.present().unwrap();
        assert!(dir.path().join("cat-000.png").exists());
        assert_eq!(image::open(dir.path().join("cat-001.png")).unwrap().width(), 6);
    }
}
