//! Comic lettering: text in the bundled comic font (Comic Neue Bold, `assets/fonts/`) drawn
//! into RGB pictures through `ab_glyph`. Coverage is rounded to a few steps, so lettering adds
//! only a handful of colours to a comic (a whole loop still fits one GIF colour table).

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::RgbImage;

/// Coverage steps kept when blending glyph edges (0 and full included).
const STEPS: f32 = 4.0;

/// The comic font, parsed once per use (parsing borrows the bundled bytes, no copy).
pub struct Lettering {
    font: FontRef<'static>,
}

impl Lettering {
    /// The bundled comic font.
    pub fn comic() -> Lettering {
        let font = FontRef::try_from_slice(crate::assets::COMIC_FONT.bytes).expect("the bundled font parses");
        Lettering { font }
    }

    /// Width and height in pixels of `text` on one line at `px` pixels a line.
    pub fn measure(&self, text: &str, px: f32) -> (u32, u32) {
        let font = self.font.as_scaled(PxScale::from(px));
        let mut width = 0.0;
        let mut last = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(prev) = last {
                width += font.kern(prev, id);
            }
            width += font.h_advance(id);
            last = Some(id);
        }
        (width.ceil() as u32, (font.ascent() - font.descent()).ceil() as u32)
    }

    /// Draws `text` on one line with its top-left at (`x`, `y`), `px` pixels a line, in
    /// `colour`, clipped to the picture.
    pub fn draw(&self, img: &mut RgbImage, text: &str, (x, y): (i32, i32), px: f32, colour: [u8; 3]) {
        let font = self.font.as_scaled(PxScale::from(px));
        let mut caret = ab_glyph::point(x as f32, y as f32 + font.ascent());
        let mut last = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(prev) = last {
                caret.x += font.kern(prev, id);
            }
            let glyph = id.with_scale_and_position(PxScale::from(px), caret);
            caret.x += font.h_advance(id);
            last = Some(id);
            let Some(outline) = self.font.outline_glyph(glyph) else { continue };
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                let (px, py) = (bounds.min.x as i32 + gx as i32, bounds.min.y as i32 + gy as i32);
                let a = (coverage.clamp(0.0, 1.0) * STEPS).round() / STEPS;
                if a <= 0.0 || px < 0 || py < 0 || px >= img.width() as i32 || py >= img.height() as i32 {
                    return;
                }
                let p = img.get_pixel_mut(px as u32, py as u32);
                for k in 0..3 {
                    p[k] = (p[k] as f32 * (1.0 - a) + colour[k] as f32 * a).round() as u8;
                }
            });
        }
    }

    /// Breaks `text` into lines no wider than `width` pixels at `px` (words longer than a line
    /// stay whole).
    pub fn wrap(&self, text: &str, px: f32, width: u32) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for word in text.split_whitespace() {
            match lines.last_mut() {
                Some(line) if self.measure(&format!("{line} {word}"), px).0 <= width => {
                    line.push(' ');
                    line.push_str(word);
                }
                _ => lines.push(word.to_owned()),
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_drawn_where_measured_with_few_colours() {
        let l = Lettering::comic();
        let (w, h) = l.measure("POW!", 48.0);
        assert!((70..160).contains(&w) && (40..70).contains(&h), "{w}x{h}");
        let mut img = RgbImage::from_pixel(200, 80, image::Rgb([255, 255, 255]));
        l.draw(&mut img, "POW!", (10, 10), 48.0, [0, 0, 0]);
        let dark = img.pixels().filter(|p| p[0] < 128).count();
        assert!(dark > 300, "{dark} dark pixels");
        // Nothing drawn beyond the measured box (with a pixel of slack for anti-aliasing).
        for (x, y, p) in img.enumerate_pixels() {
            if x > 10 + w + 1 || y > 10 + h + 1 {
                assert_eq!(p.0, [255, 255, 255], "ink at {x},{y}");
            }
        }
        let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        colours.sort_unstable();
        colours.dedup();
        assert!(colours.len() <= 5, "{} colours", colours.len());
    }

    #[test]
    fn wraps_at_the_width() {
        let l = Lettering::comic();
        let lines = l.wrap("Hello from the comic booth at the party", 30.0, 200);
        assert!(lines.len() >= 2, "{lines:?}");
        assert!(lines.iter().all(|s| l.measure(s, 30.0).0 <= 200));
    }
}
