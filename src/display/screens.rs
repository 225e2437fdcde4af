//! The screens a guest sees, drawn with embedded-graphics on any [`Screen`]: attract (live
//! preview), countdown, "making your comic" with progress, the result loop with a caption,
//! "camera lost" and diagnostics. Text uses the 10x20 bitmap font scaled by whole pixels so it
//! stays crisp and legible from a 240x240 panel to a 1920x1080 monitor.

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_10X20;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, PrimitiveStyleBuilder, Rectangle};
use embedded_graphics::text::{Alignment, Baseline, Text, TextStyleBuilder};
use image::RgbImage;

use super::{Screen, draw_picture};

/// Comic yellow, used for banners.
pub const YELLOW: Rgb888 = Rgb888::new(255, 214, 0);
/// Ink.
pub const INK: Rgb888 = Rgb888::new(16, 16, 16);
/// Alarm red for problems.
pub const ALARM: Rgb888 = Rgb888::new(200, 30, 30);
/// A failing line on the diagnostics screen (light red: legible on the dark background).
pub const FAULT: Rgb888 = Rgb888::new(255, 90, 90);

/// Draws into `D` with every pixel scaled to an `s` x `s` block.
struct Scaled<'a, D> {
    inner: &'a mut D,
    s: u32,
    offset: Point,
}

impl<D: DrawTarget<Color = Rgb888>> OriginDimensions for Scaled<'_, D> {
    fn size(&self) -> Size {
        let b = self.inner.bounding_box().size;
        Size::new(b.width / self.s, b.height / self.s)
    }
}

impl<D: DrawTarget<Color = Rgb888>> DrawTarget for Scaled<'_, D> {
    type Color = Rgb888;
    type Error = D::Error;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(&mut self, pixels: I) -> Result<(), D::Error> {
        let s = self.s;
        for Pixel(p, c) in pixels {
            let top_left = self.offset + Point::new(p.x * s as i32, p.y * s as i32);
            self.inner.fill_solid(&Rectangle::new(top_left, Size::new(s, s)), c)?;
        }
        Ok(())
    }
}

/// Text scale for a screen: 1 up to 320 pixels on the short side, growing with it.
pub fn text_scale(size: Size) -> u32 {
    (size.width.min(size.height) / 320).max(1)
}

/// Draws centred lines of text with their middle at `centre_y` (in screen pixels), each line
/// `scale` times the 10x20 font, on a `bg` band when given.
fn lines<S: Screen>(
    screen: &mut S,
    text: &[&str],
    centre_y: i32,
    scale: u32,
    fg: Rgb888,
    bg: Option<Rgb888>,
) -> Result<(), S::Error> {
    let centre_x = screen.size().width as i32 / 2;
    lines_at(screen, text, (centre_x, centre_y), scale, fg, bg)
}

/// As [`lines`], centred on `centre_x` too (the band, when given, still spans the screen).
fn lines_at<S: Screen>(
    screen: &mut S,
    text: &[&str],
    (centre_x, centre_y): (i32, i32),
    scale: u32,
    fg: Rgb888,
    bg: Option<Rgb888>,
) -> Result<(), S::Error> {
    let size = screen.size();
    let line_h = 22 * scale as i32;
    let top = centre_y - line_h * text.len() as i32 / 2;
    if let Some(bg) = bg {
        let band = Rectangle::new(
            Point::new(0, top - 4 * scale as i32),
            Size::new(size.width, (line_h * text.len() as i32) as u32 + 8 * scale),
        );
        band.into_styled(PrimitiveStyle::with_fill(bg)).draw(screen)?;
    }
    let style = MonoTextStyle::new(&FONT_10X20, fg);
    let layout = TextStyleBuilder::new().alignment(Alignment::Center).baseline(Baseline::Top).build();
    let mut scaled = Scaled { inner: screen, s: scale, offset: Point::zero() };
    for (i, line) in text.iter().enumerate() {
        let y = (top + i as i32 * line_h) / scale as i32;
        let x = centre_x / scale as i32;
        Text::with_text_style(line, Point::new(x, y), style, layout).draw(&mut scaled)?;
    }
    Ok(())
}

/// Attract: the live preview (stylized or plain) with a call to action at the bottom.
pub fn attract<S: Screen>(screen: &mut S, preview: Option<&RgbImage>, hint: &str) -> Result<(), S::Error> {
    match preview {
        Some(p) => draw_picture(screen, p)?,
        None => screen.clear(INK)?,
    }
    let (size, s) = (screen.size(), text_scale(screen.size()));
    lines(screen, &["comicbooth", hint], size.height as i32 - 30 * s as i32, s, INK, Some(YELLOW))?;
    screen.present()
}

/// Countdown: the preview behind a big number on a dark disc, legible over any picture (a
/// yellow digit straight on a yellow shirt would vanish).
pub fn countdown<S: Screen>(screen: &mut S, preview: Option<&RgbImage>, n: u32) -> Result<(), S::Error> {
    match preview {
        Some(p) => draw_picture(screen, p)?,
        None => screen.clear(INK)?,
    }
    let size = screen.size();
    let short = size.width.min(size.height);
    let centre = Point::new(size.width as i32 / 2, size.height as i32 / 2);
    embedded_graphics::primitives::Circle::with_center(centre, short * 3 / 5)
        .into_styled(PrimitiveStyle::with_fill(INK))
        .draw(screen)?;
    // Big digit: its 20-pixel font cell scaled to half the short side.
    let s = (short / 2 / 20).max(2);
    let n = n.to_string();
    lines(screen, &[&n], centre.y, s, YELLOW, None)?;
    screen.present()
}

/// Taking the pictures: the camera's picture as it is taken, a white frame around it (the
/// flash), and for a burst a call to move with a dot per picture, filled as each is taken.
pub fn capturing<S: Screen>(
    screen: &mut S,
    preview: Option<&RgbImage>,
    taken: usize,
    total: usize,
) -> Result<(), S::Error> {
    match preview {
        Some(p) => draw_picture(screen, p)?,
        None => screen.clear(INK)?,
    }
    let (size, s) = (screen.size(), text_scale(screen.size()));
    let edge = (size.width.min(size.height) / 40).max(3);
    Rectangle::new(Point::zero(), size)
        .into_styled(PrimitiveStyleBuilder::new().stroke_color(Rgb888::WHITE).stroke_width(edge).build())
        .draw(screen)?;
    if total > 1 {
        lines(screen, &["Move!"], 24 * s as i32, s, INK, Some(YELLOW))?;
        let d = (size.width / (2 * total as u32 + 1)).min(14 * s);
        let y = size.height as i32 - 2 * d as i32;
        let x0 = (size.width as i32 - (2 * total as i32 - 1) * d as i32) / 2;
        for i in 0..total {
            let style = if i < taken {
                PrimitiveStyle::with_fill(YELLOW)
            } else {
                PrimitiveStyleBuilder::new().stroke_color(YELLOW).stroke_width(2).fill_color(INK).build()
            };
            embedded_graphics::primitives::Circle::new(Point::new(x0 + 2 * i as i32 * d as i32, y), d)
                .into_styled(style)
                .draw(screen)?;
        }
    }
    screen.present()
}

/// "Making your comic", with a progress bar for `done` of `total` pictures.
pub fn making<S: Screen>(screen: &mut S, done: usize, total: usize) -> Result<(), S::Error> {
    screen.clear(INK)?;
    let (size, s) = (screen.size(), text_scale(screen.size()));
    lines(screen, &["Making your", "comic..."], size.height as i32 / 3, s, YELLOW, None)?;
    let (w, h) = (size.width * 3 / 4, (size.height / 16).max(6));
    let bar = Rectangle::new(
        Point::new(((size.width - w) / 2) as i32, (size.height * 2 / 3) as i32),
        Size::new(w, h),
    );
    let frame = PrimitiveStyleBuilder::new().stroke_color(YELLOW).stroke_width(2).fill_color(INK).build();
    bar.into_styled(frame).draw(screen)?;
    let filled = (w.saturating_sub(8) as usize * done / total.max(1)) as u32;
    if filled > 0 {
        let inner = Rectangle::new(bar.top_left + Point::new(4, 4), Size::new(filled, h.saturating_sub(8)));
        inner.into_styled(PrimitiveStyle::with_fill(YELLOW)).draw(screen)?;
    }
    screen.present()
}

/// The QR codes a result screen shows when sharing is on ([`crate::share::codes`]).
pub struct ShareCodes {
    /// The comic's page.
    pub page: qrcode::QrCode,
    /// Joining the booth's hotspot, when one is configured.
    pub wifi: Option<qrcode::QrCode>,
}

/// How long each of the result screen's turns lasts on a screen too small for the comic and
/// a code side by side.
const TURN: std::time::Duration = std::time::Duration::from_secs(4);

/// One frame of the result loop with a caption band at the bottom. With `codes`, `shown` (how
/// long the result has been up) picks what else shows: on a wide screen the comic on the left
/// and a code on the right, the Wi-Fi one and the page's taking turns; on a square or small
/// one the comic, then each code full screen, in turns of [`TURN`].
pub fn result<S: Screen>(
    screen: &mut S,
    frame: &RgbImage,
    caption: &str,
    codes: Option<&ShareCodes>,
    shown: std::time::Duration,
) -> Result<(), S::Error> {
    let (size, s) = (screen.size(), text_scale(screen.size()));
    let Some(codes) = codes else {
        draw_picture(screen, frame)?;
        lines(screen, &[caption], size.height as i32 - 14 * s as i32, s, INK, Some(YELLOW))?;
        return screen.present();
    };
    let turns: Vec<(&qrcode::QrCode, &str)> = codes
        .wifi
        .iter()
        .map(|w| (w, "1. Join the Wi-Fi"))
        .chain(std::iter::once((
            &codes.page,
            if codes.wifi.is_some() { "2. Get your comic" } else { "Scan me!" },
        )))
        .collect();
    let turn = (shown.as_millis() / TURN.as_millis()) as usize;
    if size.width * 4 >= size.height * 5 {
        // Wide: the comic in a square on the left, the code on the right.
        let side = size.height.min(size.width * 3 / 5);
        screen.clear(INK)?;
        super::draw_picture_in(screen, frame, Rectangle::new(Point::zero(), Size::new(side, size.height)))?;
        let (code, title) = turns[turn % turns.len()];
        let right = Rectangle::new(Point::new(side as i32, 0), Size::new(size.width - side, size.height));
        let band = 30 * s as i32;
        let centre_x = (side + right.size.width / 2) as i32;
        lines_at(screen, &[title], (centre_x, band / 2 + 4), s, YELLOW, None)?;
        let room =
            Rectangle::new(right.top_left + Point::new(0, band), right.size - Size::new(0, band as u32));
        draw_code(screen, code, room, centre_x)?;
    } else {
        // Square or small: the comic, then each code full screen.
        let slots = 1 + turns.len();
        match turn % slots {
            0 => {
                draw_picture(screen, frame)?;
                lines(screen, &["Scan me next!"], size.height as i32 - 14 * s as i32, s, INK, Some(YELLOW))?;
            }
            k => {
                let (code, title) = turns[k - 1];
                screen.clear(INK)?;
                let band = 30 * s as i32;
                lines(screen, &[title], band / 2 + 2, s, YELLOW, None)?;
                let room =
                    Rectangle::new(Point::new(0, band), Size::new(size.width, size.height - band as u32));
                draw_code(screen, code, room, size.width as i32 / 2)?;
            }
        }
    }
    screen.present()
}

/// A QR code on white with its quiet zone (4 modules), as large as whole-pixel modules allow
/// in `room`, centred on `centre_x` horizontally and in `room` vertically.
fn draw_code<S: Screen>(
    screen: &mut S,
    code: &qrcode::QrCode,
    room: Rectangle,
    centre_x: i32,
) -> Result<(), S::Error> {
    let n = code.width() as u32;
    let module = (room.size.width.min(room.size.height) / (n + 8)).max(1);
    let side = module * (n + 8);
    let top_left =
        Point::new(centre_x - side as i32 / 2, room.top_left.y + (room.size.height as i32 - side as i32) / 2);
    screen.fill_solid(&Rectangle::new(top_left, Size::new(side, side)), Rgb888::WHITE)?;
    for (i, c) in code.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (x, y) = ((i as u32 % n + 4) * module, (i as u32 / n + 4) * module);
            let at = top_left + Point::new(x as i32, y as i32);
            screen.fill_solid(&Rectangle::new(at, Size::new(module, module)), Rgb888::BLACK)?;
        }
    }
    Ok(())
}

/// The camera has gone; it is being reopened.
pub fn camera_lost<S: Screen>(screen: &mut S, seconds: u64) -> Result<(), S::Error> {
    screen.clear(ALARM)?;
    let (size, s) = (screen.size(), text_scale(screen.size()));
    let since = format!("{seconds} s, reconnecting");
    lines(
        screen,
        &["Camera lost", &since, "Check the cable"],
        size.height as i32 / 2,
        s,
        Rgb888::WHITE,
        None,
    )?;
    screen.present()
}

/// Diagnostics: one line per check, ok in white, failures in red.
pub fn diagnostics<S: Screen>(screen: &mut S, items: &[(String, bool)]) -> Result<(), S::Error> {
    screen.clear(INK)?;
    let (size, s) = (screen.size(), text_scale(screen.size()));
    lines(screen, &["Diagnostics"], 20 * s as i32, s, YELLOW, None)?;
    // 24 px apart, closer when that would push the last line (10 px below its middle) off the
    // screen: a ninth line (a failing display) still fits a 240x240 panel.
    let room = (size.height / s) as i32 - 60;
    let pitch = 24.min(room / (items.len() as i32 - 1).max(1));
    for (i, (text, ok)) in items.iter().enumerate() {
        let y = (50 + pitch * i as i32) * s as i32;
        let colour = if *ok { Rgb888::WHITE } else { FAULT };
        let clipped: String = text.chars().take((size.width / (10 * s)) as usize).collect();
        lines(screen, &[&clipped], y, s, colour, None)?;
    }
    screen.present()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::HeadlessDisplay;

    fn count(d: &HeadlessDisplay, area: Rectangle, c: Rgb888) -> usize {
        area.points()
            .filter(|p| {
                let px = d.pixels().get_pixel(p.x as u32, p.y as u32).0;
                px == [c.r(), c.g(), c.b()]
            })
            .count()
    }

    #[test]
    fn countdown_digit_is_big_and_centred_at_both_sizes() {
        for (w, h) in [(240, 240), (1920, 1080)] {
            let mut d = HeadlessDisplay::new(w, h);
            countdown(&mut d, None, 3).unwrap();
            let short = w.min(h);
            let centre = Rectangle::with_center(
                Point::new(w as i32 / 2, h as i32 / 2),
                Size::new(short / 3, short / 3),
            );
            let lit = count(&d, centre, YELLOW);
            // A digit covers a good part of its box, and nothing is drawn in the corners.
            assert!(lit > (short / 3 * short / 3) as usize / 20, "{w}x{h}: {lit} yellow pixels");
            assert_eq!(count(&d, Rectangle::new(Point::zero(), Size::new(w / 8, h / 8)), YELLOW), 0);
        }
    }

    #[test]
    fn making_progress_bar_fills_in_proportion() {
        let mut d = HeadlessDisplay::new(320, 240);
        making(&mut d, 1, 4).unwrap();
        let bar_row = Rectangle::new(Point::new(0, 240 * 2 / 3 + 7), Size::new(320, 1));
        let quarter = count(&d, bar_row, YELLOW);
        making(&mut d, 3, 4).unwrap();
        let three_quarters = count(&d, bar_row, YELLOW);
        assert!(three_quarters > quarter * 2, "{quarter} -> {three_quarters}");
    }

    #[test]
    fn camera_lost_is_red_with_white_text() {
        let mut d = HeadlessDisplay::new(240, 240);
        camera_lost(&mut d, 5).unwrap();
        assert_eq!(d.pixels().get_pixel(2, 2).0, [ALARM.r(), ALARM.g(), ALARM.b()]);
        assert!(count(&d, Rectangle::new(Point::new(0, 80), Size::new(240, 80)), Rgb888::WHITE) > 200);
    }

    #[test]
    fn result_shows_the_picture_and_a_caption_band() {
        let mut d = HeadlessDisplay::new(480, 320);
        let frame = RgbImage::from_pixel(256, 256, image::Rgb([0, 0, 255]));
        result(&mut d, &frame, "saved", None, std::time::Duration::ZERO).unwrap();
        assert_eq!(d.pixels().get_pixel(240, 100).0, [0, 0, 255]);
        assert_eq!(d.pixels().get_pixel(2, 319 - 10).0, [YELLOW.r(), YELLOW.g(), YELLOW.b()]);
        assert_eq!(d.pixels().get_pixel(2, 100).0, [0, 0, 0]);
    }

    #[test]
    fn a_ninth_diagnostics_line_still_fits_a_small_panel() {
        let items: Vec<(String, bool)> = (0..9).map(|i| (format!("line {i}"), true)).collect();
        let mut d = HeadlessDisplay::new(240, 240);
        diagnostics(&mut d, &items).unwrap();
        // Lines 22 px apart: the last one's middle at 226, all of it above the bottom edge.
        let last = Rectangle::new(Point::new(0, 216), Size::new(240, 24));
        assert!(count(&d, last, Rgb888::WHITE) > 0, "the ninth line is not on the screen");
        let gap = Rectangle::new(Point::new(0, 214), Size::new(240, 2));
        assert_eq!(count(&d, gap, Rgb888::WHITE), 0, "the last two lines touch");
    }
}
