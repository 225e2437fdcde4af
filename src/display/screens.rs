//! The screens a guest sees, drawn with embedded-graphics on any [`Screen`]: attract (the live
//! preview), countdown, taking the pictures, the making-of (the picture being drawn: a pencil
//! sketch of the photo, the ink, then the colour), the result loop with its QR codes, camera
//! lost, and the operator's diagnostics.
//!
//! Guest text is comic lettering: the bundled Comic Neue Bold through [`crate::lettering`],
//! sized from the screen's short side, mostly in yellow caption boxes with an ink border as a
//! comic's narration is. Each piece of lettering is rendered once and cached, so a tick only
//! copies pixels. The diagnostics screen, for the operator, keeps the 10x20 bitmap font: its
//! fixed pitch suits figures.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_10X20;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{
    Circle, PrimitiveStyle, PrimitiveStyleBuilder, Rectangle, StrokeAlignment,
};
use embedded_graphics::text::{Alignment, Baseline, Text, TextStyleBuilder};
use image::RgbImage;

use super::{Screen, draw_picture, letterbox};
use crate::lettering::Lettering;

/// Comic yellow: caption boxes, the countdown digit.
pub const YELLOW: Rgb888 = Rgb888::new(255, 214, 0);
/// Ink.
pub const INK: Rgb888 = Rgb888::new(16, 16, 16);
/// Alarm red for problems.
pub const ALARM: Rgb888 = Rgb888::new(200, 30, 30);
/// A failing line on the diagnostics screen (light red: legible on the dark background).
pub const FAULT: Rgb888 = Rgb888::new(255, 90, 90);

/// How long the making-of spends inking the picture, once the first picture is drawn, and then
/// colouring it (each a wipe from the top down).
pub const INKING: Duration = Duration::from_millis(1200);
/// See [`INKING`].
pub const COLOURING: Duration = Duration::from_millis(1200);

fn rgb(c: Rgb888) -> [u8; 3] {
    [c.r(), c.g(), c.b()]
}

/// The size of guest lettering on a screen: a ninth of its short side (26 px a line on a
/// 240 px panel, 120 px on a 1080p monitor), readable from a few steps away.
fn text_px(size: Size) -> u32 {
    (size.width.min(size.height) / 9).max(14)
}

/// The clear edge kept around boxes.
fn margin(size: Size) -> i32 {
    (size.width.min(size.height) / 40).max(4) as i32
}

/// The ink border of a caption box for lettering `px` high.
fn border(px: u32) -> u32 {
    (px / 14).max(2)
}

/// A caption box's height for lettering `px` high: the letters' cap height and descenders, a
/// little air and the border, the same for every text so boxes line up.
fn box_height(px: u32) -> u32 {
    px * 3 / 4 + 2 * (border(px) + px / 5)
}

#[derive(Hash, PartialEq, Eq)]
struct LabelKey {
    text: String,
    px: u32,
    fg: [u8; 3],
    bg: [u8; 3],
    outline: u32,
}

thread_local! {
    static LETTERING: Lettering = Lettering::comic();
    static LABELS: RefCell<HashMap<LabelKey, Rc<RgbImage>>> = RefCell::new(HashMap::new());
}

/// `text` lettered `px` high in `fg` on `bg`, with an ink outline `outline` px wide when it is
/// not 0, cropped to the letters (and their outline). Rendered once and cached: a screen draws
/// the same few labels every tick.
fn label(text: &str, px: u32, fg: Rgb888, bg: Rgb888, outline: u32) -> Rc<RgbImage> {
    let key = LabelKey { text: text.to_owned(), px, fg: rgb(fg), bg: rgb(bg), outline };
    if let Some(hit) = LABELS.with(|c| c.borrow().get(&key).cloned()) {
        return hit;
    }
    let img = Rc::new(LETTERING.with(|l| render_label(l, &key)));
    LABELS.with(|c| {
        let mut c = c.borrow_mut();
        // Seconds counters make new labels; a small cache is enough.
        if c.len() >= 64 {
            c.clear();
        }
        c.insert(key, Rc::clone(&img));
    });
    img
}

fn render_label(l: &Lettering, k: &LabelKey) -> RgbImage {
    let px = k.px as f32;
    let (w, h) = l.measure(&k.text, px);
    let pad = k.outline as i32 + 2;
    let mut canvas = RgbImage::from_pixel(w + 2 * pad as u32, h + 2 * pad as u32, image::Rgb(k.bg));
    if k.outline > 0 {
        // Copies in ink on two rings around the letters, then the letters on top.
        for ring in [k.outline as f32, k.outline as f32 / 2.0] {
            for i in 0..16 {
                let a = i as f32 * std::f32::consts::TAU / 16.0;
                let at = (pad + (a.cos() * ring).round() as i32, pad + (a.sin() * ring).round() as i32);
                l.draw(&mut canvas, &k.text, at, px, rgb(INK));
            }
        }
    }
    l.draw(&mut canvas, &k.text, (pad, pad), px, k.fg);
    // Cropped to what was drawn.
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in canvas.enumerate_pixels() {
        if p.0 != k.bg {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
        }
    }
    if x0 >= x1 {
        return RgbImage::new(0, 0);
    }
    image::imageops::crop_imm(&canvas, x0, y0, x1 - x0, y1 - y0).to_image()
}

/// The largest size up to `px` at which `text` fits in `width` pixels.
fn fit(text: &str, px: u32, width: u32) -> u32 {
    let w = LETTERING.with(|l| l.measure(text, px as f32).0);
    if w <= width { px } else { (px as u64 * width as u64 / w.max(1) as u64).max(8) as u32 }
}

/// Copies `img` onto the screen with its top-left at `at` (clipped by the screen).
fn blit<S: Screen>(screen: &mut S, img: &RgbImage, at: Point) -> Result<(), S::Error> {
    let area = Rectangle::new(at, Size::new(img.width(), img.height()));
    screen.fill_contiguous(&area, img.pixels().map(|p| Rgb888::new(p[0], p[1], p[2])))
}

/// Copies `img` onto the screen centred on `centre`.
fn blit_centred<S: Screen>(screen: &mut S, img: &RgbImage, centre: Point) -> Result<(), S::Error> {
    let at = centre - Point::new(img.width() as i32 / 2, img.height() as i32 / 2);
    blit(screen, img, at)
}

/// A comic caption box: `text` in ink on yellow inside an ink border, `px` high (smaller when
/// it would be wider than `max_w`), placed where `place` puts a box of its size (the top-left).
fn caption_box<S: Screen>(
    screen: &mut S,
    text: &str,
    px: u32,
    max_w: u32,
    place: impl Fn(Size) -> Point,
) -> Result<Rectangle, S::Error> {
    let (b, pad) = (border(px), px / 3);
    let fitted = fit(text, px, max_w.saturating_sub(2 * (b + pad)));
    let lab = label(text, fitted, INK, YELLOW, 0);
    let size = Size::new(lab.width() + 2 * (b + pad), box_height(px));
    let area = Rectangle::new(place(size), size);
    area.into_styled(
        PrimitiveStyleBuilder::new()
            .fill_color(YELLOW)
            .stroke_color(INK)
            .stroke_width(b)
            .stroke_alignment(StrokeAlignment::Inside)
            .build(),
    )
    .draw(screen)?;
    blit_centred(screen, &lab, area.center())?;
    Ok(area)
}

/// A caption box centred across the screen with its bottom `margin` above the screen's.
fn bottom_box<S: Screen>(screen: &mut S, text: &str, px: u32) -> Result<Rectangle, S::Error> {
    let size = screen.size();
    let m = margin(size);
    caption_box(screen, text, px, size.width - 2 * m as u32, |b| {
        Point::new((size.width as i32 - b.width as i32) / 2, size.height as i32 - m - b.height as i32)
    })
}

/// Lettering without a box: `text` in `fg` on the flat `bg` behind it, centred on `centre`,
/// shrunk to fit the screen's width.
fn words<S: Screen>(
    screen: &mut S,
    text: &str,
    px: u32,
    centre: Point,
    (fg, bg): (Rgb888, Rgb888),
) -> Result<(), S::Error> {
    let room = screen.size().width - 2 * margin(screen.size()) as u32;
    let lab = label(text, fit(text, px, room), fg, bg, 0);
    blit_centred(screen, &lab, centre)
}

/// Attract: the live preview (stylized or plain), the booth's name in a small box at the top
/// left and the call to action in a big one at the bottom.
pub fn attract<S: Screen>(screen: &mut S, preview: Option<&RgbImage>, hint: &str) -> Result<(), S::Error> {
    match preview {
        Some(p) => draw_picture(screen, p)?,
        None => screen.clear(INK)?,
    }
    let (size, px) = (screen.size(), text_px(screen.size()));
    let m = margin(size);
    caption_box(screen, "comicbooth", px * 3 / 5, size.width / 2, |_| Point::new(m, m))?;
    bottom_box(screen, hint, px)?;
    screen.present()
}

/// Countdown: the preview behind a big digit (its ink over half the screen's short side) on
/// a dark disc, legible over any picture (a yellow digit straight on a yellow shirt would
/// vanish).
pub fn countdown<S: Screen>(screen: &mut S, preview: Option<&RgbImage>, n: u32) -> Result<(), S::Error> {
    match preview {
        Some(p) => draw_picture(screen, p)?,
        None => screen.clear(INK)?,
    }
    let size = screen.size();
    let short = size.width.min(size.height);
    let centre = Point::new(size.width as i32 / 2, size.height as i32 / 2);
    Circle::with_center(centre, short * 4 / 5).into_styled(PrimitiveStyle::with_fill(INK)).draw(screen)?;
    // Comic Neue's digits stand about 0.58 of the lettering's size.
    let digit = label(&n.to_string(), short * 19 / 20, YELLOW, INK, 0);
    blit_centred(screen, &digit, centre)?;
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
    let (size, px) = (screen.size(), text_px(screen.size()));
    let edge = (size.width.min(size.height) / 40).max(3);
    Rectangle::new(Point::zero(), size)
        .into_styled(PrimitiveStyleBuilder::new().stroke_color(Rgb888::WHITE).stroke_width(edge).build())
        .draw(screen)?;
    if total > 1 {
        let m = margin(size) + edge as i32;
        caption_box(screen, "Move!", px, size.width / 2, |b| {
            Point::new((size.width as i32 - b.width as i32) / 2, m)
        })?;
        // A dot per picture on a dark strip (legible over any picture): yellow once taken.
        let d = (size.width / (2 * total as u32 + 2)).min(px / 2);
        let y = size.height as i32 - m - 2 * d as i32;
        let x0 = (size.width as i32 - (2 * total as i32 - 1) * d as i32) / 2;
        let strip = Rectangle::new(
            Point::new(x0 - d as i32 / 2, y - d as i32 / 2),
            Size::new((2 * total as u32) * d, 2 * d),
        );
        strip.into_styled(PrimitiveStyle::with_fill(INK)).draw(screen)?;
        for i in 0..total {
            let style = if i < taken {
                PrimitiveStyle::with_fill(YELLOW)
            } else {
                PrimitiveStyleBuilder::new().stroke_color(YELLOW).stroke_width(2).fill_color(INK).build()
            };
            Circle::new(Point::new(x0 + 2 * i as i32 * d as i32, y), d).into_styled(style).draw(screen)?;
        }
    }
    screen.present()
}

/// The making-of's pictures, fitted to the screen once when they arrive: the guests' photo as
/// a faint pencil sketch, then the comic's ink and its finished colours once the first picture
/// is drawn ([`crate::look::Layers::ink_only`], [`crate::look::Layers::compose`]).
pub struct Sketch {
    area: Rectangle,
    pencil: RgbImage,
    drawn: Option<(RgbImage, RgbImage)>,
}

impl Sketch {
    /// The pencil stage, from the photo the comic is made of, for a screen of `screen` pixels.
    pub fn new(photo: &RgbImage, screen: Size) -> Sketch {
        let area = letterbox(photo.width(), photo.height(), screen.width, screen.height);
        let mut pencil = crate::convert::resize(photo, area.size.width, area.size.height);
        for p in pencil.pixels_mut() {
            // Luminance, lightened to a faint grey on warm paper.
            let l = (p[0] as u32 * 77 + p[1] as u32 * 150 + p[2] as u32 * 29) >> 8;
            let v = 255 - (255 - l) * 3 / 10;
            p.0 = [(v * 250 / 255) as u8, (v * 246 / 255) as u8, (v * 236 / 255) as u8];
        }
        Sketch { area, pencil, drawn: None }
    }

    /// The first picture is drawn: its ink on white and its finished colours.
    pub fn drawn(&mut self, ink: &RgbImage, full: &RgbImage) {
        let (w, h) = (self.area.size.width, self.area.size.height);
        self.drawn = Some((crate::convert::resize(ink, w, h), crate::convert::resize(full, w, h)));
    }

    /// Whether the ink and colour have arrived.
    pub fn is_drawn(&self) -> bool {
        self.drawn.is_some()
    }
}

/// The making-of: the picture being drawn where the guests can watch it. First their photo
/// as a pencil sketch ("Sketching..."); once the first picture is drawn (`since_drawn` ago),
/// its ink wipes down over the sketch for [`INKING`], then its colour for [`COLOURING`]; then,
/// while the rest of a burst is drawn, the finished first picture with a count. Without a
/// photo (tests, a photo source that gave none) a dark page with the same lettering.
pub fn making<S: Screen>(
    screen: &mut S,
    sketch: Option<&Sketch>,
    since_drawn: Option<Duration>,
    done: usize,
    total: usize,
) -> Result<(), S::Error> {
    let (size, px) = (screen.size(), text_px(screen.size()));
    let stage = match since_drawn {
        None => "Sketching...".to_owned(),
        Some(t) if t < INKING => "Inking...".to_owned(),
        Some(t) if t < INKING + COLOURING => "Colouring...".to_owned(),
        Some(_) if total > 1 && done < total => format!("Drawing {} of {total}", (done + 1).min(total)),
        Some(_) => "Almost done!".to_owned(),
    };
    match sketch {
        Some(s) => {
            screen.fill_solid(&Rectangle::new(Point::zero(), size), INK)?;
            let picture = s.picture(since_drawn);
            blit(screen, &picture, s.area.top_left)?;
        }
        None => screen.clear(INK)?,
    }
    bottom_box(screen, &stage, px)?;
    screen.present()
}

impl Sketch {
    /// The picture at `since_drawn`: rows above the ink's wipe front inked, above the
    /// colour's coloured, a yellow pencil line along the front that is moving.
    fn picture(&self, since_drawn: Option<Duration>) -> RgbImage {
        let Some((ink, full)) = &self.drawn else { return self.pencil.clone() };
        let t = since_drawn.unwrap_or_default();
        let h = self.pencil.height();
        let front = |start: Duration, span: Duration| {
            let f = t.saturating_sub(start).as_secs_f32() / span.as_secs_f32();
            (f.clamp(0.0, 1.0) * h as f32).round() as u32
        };
        let (inked, coloured) = (front(Duration::ZERO, INKING), front(INKING, COLOURING));
        let mut out = self.pencil.clone();
        let w = out.width() as usize * 3;
        let rows = out
            .as_mut()
            .chunks_exact_mut(w)
            .zip(ink.as_raw().chunks_exact(w))
            .zip(full.as_raw().chunks_exact(w));
        for (y, ((o, i), f)) in rows.enumerate() {
            let y = y as u32;
            if y < coloured {
                o.copy_from_slice(f);
            } else if y < inked {
                // Ink on the sketch: the darker of the two (white paper keeps the pencil).
                o.iter_mut().zip(i).for_each(|(o, &i)| *o = (*o).min(i));
            }
        }
        let pen = (h / 120).max(2);
        let moving = if coloured > 0 && coloured < h {
            Some(coloured)
        } else if inked < h {
            Some(inked)
        } else {
            None
        };
        if let Some(y) = moving {
            for y in y..(y + pen).min(h) {
                for x in 0..out.width() {
                    out.put_pixel(x, y, image::Rgb(rgb(YELLOW)));
                }
            }
        }
        out
    }
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
const TURN: Duration = Duration::from_secs(4);

/// One frame of the result loop. Without `codes`: the comic as large as the screen allows and
/// the caption in a yellow band along the bottom. With them, `shown` (how long the result has
/// been up) picks what else shows: on a wide screen the comic on the left and a code on the
/// right, the Wi-Fi one and the page's taking turns; on a square or small one the comic, then
/// each code full screen, in turns of [`TURN`].
pub fn result<S: Screen>(
    screen: &mut S,
    frame: &RgbImage,
    caption: &str,
    codes: Option<&ShareCodes>,
    shown: Duration,
) -> Result<(), S::Error> {
    let (size, px) = (screen.size(), text_px(screen.size()));
    let Some(codes) = codes else {
        draw_picture(screen, frame)?;
        caption_band(screen, caption, px)?;
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
    let m = margin(size);
    if wide(size) {
        // Wide: the comic in a square on the left, the code on the right under its title.
        let side = size.height.min(size.width * 3 / 5);
        screen.clear(INK)?;
        super::draw_picture_in(screen, frame, Rectangle::new(Point::zero(), Size::new(side, size.height)))?;
        let (code, title) = turns[turn % turns.len()];
        let column = size.width - side;
        let tpx = fit(title, px * 4 / 5, column - 2 * m as u32);
        let band = box_height(tpx) as i32 + 2 * m;
        let centre_x = (side + column / 2) as i32;
        words(screen, title, tpx, Point::new(centre_x, band / 2), (YELLOW, INK))?;
        let room = Rectangle::new(
            Point::new(side as i32 + m, band),
            Size::new(column - 2 * m as u32, size.height - band as u32 - m as u32),
        );
        draw_code(screen, code, room)?;
    } else {
        // Square or small: the comic, then each code full screen.
        let slots = 1 + turns.len();
        match turn % slots {
            0 => {
                draw_picture(screen, frame)?;
                caption_band(screen, "Scan me next!", px)?;
            }
            k => {
                let (code, title) = turns[k - 1];
                screen.clear(INK)?;
                let band = box_height(px) as i32 + m;
                words(screen, title, px, Point::new(size.width as i32 / 2, band / 2 + m / 2), (YELLOW, INK))?;
                let room =
                    Rectangle::new(Point::new(0, band), Size::new(size.width, size.height - band as u32));
                draw_code(screen, code, room)?;
            }
        }
    }
    screen.present()
}

/// How many different pictures the result screen takes turns between on a screen of `size`
/// (1 without codes: the comic with its caption).
pub fn result_turns(size: Size, codes: Option<&ShareCodes>) -> u32 {
    let Some(codes) = codes else { return 1 };
    let comic_alone = !wide(size) as u32;
    comic_alone + 1 + codes.wifi.is_some() as u32
}

/// Whether the comic and a code fit side by side.
fn wide(size: Size) -> bool {
    size.width * 4 >= size.height * 5
}

/// A yellow caption band across the bottom of the screen with an ink rule on top.
fn caption_band<S: Screen>(screen: &mut S, text: &str, px: u32) -> Result<(), S::Error> {
    let size = screen.size();
    let (b, h) = (border(px), box_height(px));
    let band = Rectangle::new(Point::new(0, (size.height - h) as i32), Size::new(size.width, h));
    band.into_styled(PrimitiveStyle::with_fill(YELLOW)).draw(screen)?;
    Rectangle::new(band.top_left, Size::new(size.width, b))
        .into_styled(PrimitiveStyle::with_fill(INK))
        .draw(screen)?;
    let room = size.width - 2 * margin(size) as u32;
    let lab = label(text, fit(text, px, room), INK, YELLOW, 0);
    blit_centred(screen, &lab, band.center() + Point::new(0, b as i32 / 2))
}

/// A QR code on white with its quiet zone (4 modules), as large as whole-pixel modules allow,
/// centred in `room`.
fn draw_code<S: Screen>(screen: &mut S, code: &qrcode::QrCode, room: Rectangle) -> Result<(), S::Error> {
    let n = code.width() as u32;
    let module = (room.size.width.min(room.size.height) / (n + 8)).max(1);
    let side = module * (n + 8);
    let top_left = room.center() - Point::new(side as i32 / 2, side as i32 / 2);
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
    let (size, px) = (screen.size(), text_px(screen.size()));
    let (x, y) = (size.width as i32 / 2, size.height as i32 / 2);
    let line = px as i32;
    let colours = (Rgb888::WHITE, ALARM);
    words(screen, "Camera lost", px * 5 / 4, Point::new(x, y - line), colours)?;
    words(screen, &format!("Reconnecting... {seconds} s"), px * 3 / 4, Point::new(x, y + line / 3), colours)?;
    words(screen, "Check the cable", px * 3 / 4, Point::new(x, y + line * 3 / 2), colours)?;
    screen.present()
}

/// Draws `s` x `s` blocks for the pixels of a font drawn into it: the bitmap font scaled by
/// whole pixels.
struct Scaled<'a, D> {
    inner: &'a mut D,
    s: u32,
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
            let top_left = Point::new(p.x * s as i32, p.y * s as i32);
            self.inner.fill_solid(&Rectangle::new(top_left, Size::new(s, s)), c)?;
        }
        Ok(())
    }
}

/// The diagnostics screen's text scale: 1 up to 320 pixels on the short side, growing with it.
pub fn text_scale(size: Size) -> u32 {
    (size.width.min(size.height) / 320).max(1)
}

/// A line of bitmap text centred across the screen with its middle at `centre_y`.
fn mono_line<S: Screen>(
    screen: &mut S,
    text: &str,
    centre_y: i32,
    s: u32,
    fg: Rgb888,
) -> Result<(), S::Error> {
    let style = MonoTextStyle::new(&FONT_10X20, fg);
    let layout = TextStyleBuilder::new().alignment(Alignment::Center).baseline(Baseline::Top).build();
    let at = Point::new(screen.size().width as i32 / 2 / s as i32, (centre_y - 11 * s as i32) / s as i32);
    Text::with_text_style(text, at, style, layout).draw(&mut Scaled { inner: screen, s })?;
    Ok(())
}

/// Diagnostics: one line per check, ok in white, failures in red.
pub fn diagnostics<S: Screen>(screen: &mut S, items: &[(String, bool)]) -> Result<(), S::Error> {
    screen.clear(INK)?;
    let (size, s) = (screen.size(), text_scale(screen.size()));
    mono_line(screen, "Diagnostics", 20 * s as i32, s, YELLOW)?;
    // 24 px apart, closer when that would push the last line (10 px below its middle) off the
    // screen: a ninth line (a failing display) still fits a 240x240 panel.
    let room = (size.height / s) as i32 - 60;
    let pitch = 24.min(room / (items.len() as i32 - 1).max(1));
    for (i, (text, ok)) in items.iter().enumerate() {
        let y = (50 + pitch * i as i32) * s as i32;
        let colour = if *ok { Rgb888::WHITE } else { FAULT };
        let clipped: String = text.chars().take((size.width / (10 * s)) as usize).collect();
        mono_line(screen, &clipped, y, s, colour)?;
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
    fn countdown_digit_is_over_half_the_short_side_and_centred() {
        for (w, h) in [(240, 240), (480, 320), (1920, 1080)] {
            let mut d = HeadlessDisplay::new(w, h);
            countdown(&mut d, None, 3).unwrap();
            let short = w.min(h);
            let rows: Vec<u32> = (0..h)
                .filter(|&y| count(&d, Rectangle::new(Point::new(0, y as i32), Size::new(w, 1)), YELLOW) > 0)
                .collect();
            let (top, bottom) = (rows[0], rows[rows.len() - 1]);
            assert!(bottom - top + 1 >= short / 2, "{w}x{h}: the digit is {} px tall", bottom - top + 1);
            let middle = (top + bottom) as i32 / 2 - h as i32 / 2;
            assert!(middle.abs() <= short as i32 / 20, "{w}x{h}: the digit's middle is {middle} px off");
            assert_eq!(count(&d, Rectangle::new(Point::zero(), Size::new(w / 8, h / 8)), YELLOW), 0);
        }
    }

    #[test]
    fn lettering_is_cached_and_fits_the_width() {
        let a = label("Press the button!", 40, INK, YELLOW, 0);
        let b = label("Press the button!", 40, INK, YELLOW, 0);
        assert!(Rc::ptr_eq(&a, &b));
        assert!(fit("Press the button!", 200, 220) < 200);
        let mut d = HeadlessDisplay::new(240, 240);
        let white = RgbImage::from_pixel(240, 240, image::Rgb([255, 255, 255]));
        attract(&mut d, Some(&white), "Press the button to make your comic!").unwrap();
        // The box, shrunk lettering and all, stays inside the screen: ink borders at both
        // ends of a row inside it, yellow between.
        let y = 240 - margin(Size::new(240, 240)) - box_height(text_px(Size::new(240, 240))) as i32 + 4;
        let px = |x: u32| d.pixels().get_pixel(x, y as u32).0;
        let ink = |x: u32| px(x) == rgb(INK);
        let left = (0..120).find(|&x| ink(x)).expect("no left border");
        let right = (120..240).rev().find(|&x| ink(x)).expect("no right border");
        assert!(left >= 4 && right <= 235, "the box runs off the screen: {left}..{right}");
        assert!(right - left > 200, "the lettering did not use the width: {left}..{right}");
        assert_eq!(px(120), rgb(YELLOW));
    }

    fn photo() -> RgbImage {
        RgbImage::from_fn(300, 300, |x, _| image::Rgb([(x % 256) as u8, 90, 200]))
    }

    #[test]
    fn the_making_of_draws_ink_then_colour_over_a_pencil_sketch() {
        let size = Size::new(480, 320);
        let mut sketch = Sketch::new(&photo(), size);
        let mut d = HeadlessDisplay::new(480, 320);
        let at = |d: &HeadlessDisplay, y: u32| d.pixels().get_pixel(240, y).0;
        making(&mut d, Some(&sketch), None, 0, 1).unwrap();
        // Pencil: grey (no colour), and light.
        let p = at(&d, 40);
        assert!(p[0].abs_diff(p[2]) < 20 && p[1] > 180, "pencil {p:?}");
        // A picture whose ink is a dark stripe across the middle and whose colour is green.
        let ink = RgbImage::from_fn(300, 300, |_, y| {
            if (140..160).contains(&y) { image::Rgb([24, 20, 28]) } else { image::Rgb([255, 255, 255]) }
        });
        let full = RgbImage::from_pixel(300, 300, image::Rgb([30, 200, 60]));
        sketch.drawn(&ink, &full);
        // Half-way through inking: the stripe (in the top half) is inked, nothing is coloured.
        making(&mut d, Some(&sketch), Some(INKING.mul_f32(0.55)), 0, 1).unwrap();
        assert!(at(&d, 160)[0] < 60, "no ink at the stripe: {:?}", at(&d, 160));
        assert_eq!(at(&d, 40), p, "the pencil changed where there is no ink");
        // Half-way through colouring: the top is green, the bottom still pencil.
        making(&mut d, Some(&sketch), Some(INKING + COLOURING.mul_f32(0.5)), 0, 1).unwrap();
        assert_eq!(at(&d, 40), [30, 200, 60]);
        assert_eq!(at(&d, 250), p);
        // Done: all of it green, and the box says so.
        making(&mut d, Some(&sketch), Some(INKING + COLOURING), 0, 1).unwrap();
        assert_eq!(at(&d, 250), [30, 200, 60]);
    }

    #[test]
    fn camera_lost_is_red_with_white_lettering() {
        let mut d = HeadlessDisplay::new(240, 240);
        camera_lost(&mut d, 5).unwrap();
        assert_eq!(d.pixels().get_pixel(2, 2).0, [ALARM.r(), ALARM.g(), ALARM.b()]);
        assert!(count(&d, Rectangle::new(Point::new(0, 80), Size::new(240, 80)), Rgb888::WHITE) > 200);
    }

    #[test]
    fn result_shows_the_picture_and_a_caption_band() {
        let mut d = HeadlessDisplay::new(480, 320);
        let frame = RgbImage::from_pixel(256, 256, image::Rgb([0, 0, 255]));
        result(&mut d, &frame, "saved", None, Duration::ZERO).unwrap();
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
