//! A comic page made of the still: the picture cut into three panels by white gutters and
//! ink borders (a narrow one on the left, a large one with the guests' faces, a strip below
//! it, read in that order; the cuts stay off the middle, where a booth's guests are),
//! revealed one after the other over the loop and then held as a whole page; and a caption from the
//! config, in a yellow caption box or a white speech bubble, lettered in the comic font.
//! Both add only a few exact colours, so a loop still fits one GIF colour table.

use image::RgbImage;

use crate::config::CaptionStyle;
use crate::lettering::Lettering;
use crate::look::INK;

/// Paper: the gutters and the panels not yet revealed.
const PAPER: [u8; 3] = [255, 255, 255];
/// The caption box's colour.
const CAPTION_YELLOW: [u8; 3] = [255, 222, 89];
/// Where the left panel ends, as a share of the width, and where the right ones split.
const SPLIT_X: f32 = 0.24;
const SPLIT_Y: f32 = 0.74;

/// The three panels of a `w` x `h` picture, in reading order: (x0, y0, x1, y1), exclusive.
fn panels(w: u32, h: u32) -> [(u32, u32, u32, u32); 3] {
    let (sx, sy) = ((w as f32 * SPLIT_X) as u32, (h as f32 * SPLIT_Y) as u32);
    [(0, 0, sx, h), (sx, 0, w, sy), (sx, sy, w, h)]
}

/// Gutter and border widths at this picture size (at 720 px: 10 px of paper, 3 px of ink).
fn widths(w: u32, h: u32) -> (u32, u32) {
    let short = w.min(h) as f32;
    (((short / 72.0).round() as u32).max(3), ((short / 240.0).round() as u32).max(1))
}

/// How many panels show at time point `t` of `n`: one, two, then all three for the second
/// half of the loop.
pub fn shown(t: usize, n: usize) -> usize {
    (1 + 4 * t / n.max(1)).min(3)
}

/// Frame `t` of `n` as a page: gutters, ink borders, the first [`shown`] panels showing the
/// picture, the rest paper.
pub fn page(frame: &mut RgbImage, t: usize, n: usize) {
    let (w, h) = frame.dimensions();
    let (gutter, border) = widths(w, h);
    let half = gutter / 2;
    let show = shown(t, n);
    let boxes = panels(w, h);
    for y in 0..h {
        for x in 0..w {
            // The panel this pixel is in, and how far it is from that panel's inner edge.
            let (i, &(x0, y0, x1, y1)) = boxes
                .iter()
                .enumerate()
                .find(|(_, b)| x >= b.0 && x < b.2 && y >= b.1 && y < b.3)
                .expect("the panels tile the picture");
            // Outer edges get a full gutter, shared edges half each.
            let inset = |lo: u32, hi: u32, v: u32, size: u32| {
                let a = if lo == 0 { gutter } else { half };
                let b = if hi == size { gutter } else { gutter - half };
                (v - lo).min(hi - 1 - v) as i64 - if v - lo < hi - 1 - v { a as i64 } else { b as i64 }
            };
            let d = inset(x0, x1, x, w).min(inset(y0, y1, y, h));
            let p = frame.get_pixel_mut(x, y);
            if d < 0 {
                p.0 = PAPER;
            } else if d < border as i64 {
                p.0 = INK;
            } else if i >= show {
                p.0 = PAPER;
            }
        }
    }
}

/// Letters `text` onto the picture: a caption box in the top-left corner (inside the page's
/// border when `paged`), or a speech bubble in the top right with its tail towards the
/// middle. Long text wraps to at most three lines, the rest is cut.
pub fn caption(frame: &mut RgbImage, text: &str, style: CaptionStyle, paged: bool) {
    if text.trim().is_empty() {
        return;
    }
    let (w, h) = frame.dimensions();
    let (gutter, border) = widths(w, h);
    let lettering = Lettering::comic();
    let px = (h.min(w) as f32 / 16.0).max(10.0);
    let pad = (px / 3.0) as u32;
    let room = w / 2;
    let mut lines = lettering.wrap(text, px, room.max(px as u32));
    lines.truncate(3);
    let line_h = lettering.measure("Ag", px).1;
    let text_w = lines.iter().map(|l| lettering.measure(l, px).0).max().unwrap_or(0);
    let text_h = line_h * lines.len() as u32;
    let origin = match style {
        CaptionStyle::Box => {
            let inset = if paged { gutter + border } else { border * 2 };
            let (bx0, by0) = (inset, inset);
            let (bx1, by1) = (bx0 + text_w + 2 * pad + 2 * border, by0 + text_h + 2 * pad + 2 * border);
            for y in by0..by1.min(h) {
                for x in bx0..bx1.min(w) {
                    let edge = x < bx0 + border || x >= bx1 - border || y < by0 + border || y >= by1 - border;
                    frame.put_pixel(x, y, image::Rgb(if edge { INK } else { CAPTION_YELLOW }));
                }
            }
            (bx0 + border + pad, by0 + border + pad)
        }
        CaptionStyle::Bubble => {
            // An ellipse around the text block, a tail from its lower left towards the middle.
            let (rx, ry) =
                ((text_w as f32 / 2.0 + 1.6 * pad as f32) * 1.2, (text_h as f32 / 2.0 + pad as f32) * 1.35);
            let margin = gutter as f32 + border as f32 + 2.0;
            let (cx, cy) = (w as f32 - margin - rx, margin + ry);
            let tail = [
                (cx - rx * 0.35, cy + ry * 0.6),
                (cx - rx * 0.05, cy + ry * 0.7),
                (cx - rx * 0.75, cy + ry * 1.9),
            ];
            let b = border as f32 + 1.0;
            let inside_ellipse = |x: f32, y: f32, grow: f32| {
                let (dx, dy) = ((x - cx) / (rx + grow), (y - cy) / (ry + grow));
                dx * dx + dy * dy <= 1.0
            };
            let (x0, x1) = ((cx - rx * 1.1 - b).max(0.0) as u32, ((cx + rx + b) as u32).min(w));
            let (y0, y1) = ((cy - ry - b).max(0.0) as u32, ((tail[2].1 + b) as u32).min(h));
            for y in y0..y1 {
                for x in x0..x1 {
                    let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                    let body = inside_ellipse(fx, fy, 0.0) || in_triangle((fx, fy), tail);
                    let outline = inside_ellipse(fx, fy, b) || in_triangle_grown((fx, fy), tail, b);
                    if body {
                        frame.put_pixel(x, y, image::Rgb(PAPER));
                    } else if outline {
                        frame.put_pixel(x, y, image::Rgb(INK));
                    }
                }
            }
            ((cx - text_w as f32 / 2.0) as u32, (cy - text_h as f32 / 2.0) as u32)
        }
    };
    for (i, line) in lines.iter().enumerate() {
        let lw = lettering.measure(line, px).0;
        let x = origin.0 + (text_w - lw) / 2;
        lettering.draw(frame, line, (x as i32, (origin.1 + i as u32 * line_h) as i32), px, INK);
    }
}

fn in_triangle(p: (f32, f32), t: [(f32, f32); 3]) -> bool {
    let side = |a: (f32, f32), b: (f32, f32)| (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
    let (d1, d2, d3) = (side(t[0], t[1]), side(t[1], t[2]), side(t[2], t[0]));
    !((d1 < 0.0 || d2 < 0.0 || d3 < 0.0) && (d1 > 0.0 || d2 > 0.0 || d3 > 0.0))
}

/// Within `grow` pixels of the triangle (its outline).
fn in_triangle_grown(p: (f32, f32), t: [(f32, f32); 3], grow: f32) -> bool {
    in_triangle(p, t)
        || (0..3).any(|i| {
            let (a, b) = (t[i], t[(i + 1) % 3]);
            let (vx, vy) = (b.0 - a.0, b.1 - a.1);
            let along = (((p.0 - a.0) * vx + (p.1 - a.1) * vy) / (vx * vx + vy * vy)).clamp(0.0, 1.0);
            let (qx, qy) = (a.0 + along * vx - p.0, a.1 + along * vy - p.1);
            qx * qx + qy * qy <= grow * grow
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture() -> RgbImage {
        RgbImage::from_pixel(360, 360, image::Rgb([40, 120, 200]))
    }

    #[test]
    fn panels_are_revealed_in_reading_order_then_held() {
        let n = 8;
        let shows: Vec<usize> = (0..n).map(|t| shown(t, n)).collect();
        assert_eq!(shows, [1, 1, 2, 2, 3, 3, 3, 3]);
        let blue = [40, 120, 200];
        let at = |t: usize, x: u32, y: u32| {
            let mut f = picture();
            page(&mut f, t, n);
            f.get_pixel(x, y).0
        };
        // Middles of the left, top-right and bottom-right panels.
        let (left, top, bottom) = ((40, 180), (220, 90), (220, 320));
        assert_eq!(
            [at(0, left.0, left.1), at(0, top.0, top.1), at(0, bottom.0, bottom.1)],
            [blue, PAPER, PAPER]
        );
        assert_eq!(
            [at(2, left.0, left.1), at(2, top.0, top.1), at(2, bottom.0, bottom.1)],
            [blue, blue, PAPER]
        );
        assert_eq!(
            [at(7, left.0, left.1), at(7, top.0, top.1), at(7, bottom.0, bottom.1)],
            [blue, blue, blue]
        );
        // A gutter between the left and right panels, with ink borders either side.
        let row: Vec<[u8; 3]> = (76..96).map(|x| at(7, x, 180)).collect();
        assert!(row.contains(&PAPER) && row.contains(&INK), "{row:?}");
    }

    #[test]
    fn a_caption_box_is_lettered_in_ink_on_yellow() {
        let mut f = picture();
        caption(&mut f, "The party!", CaptionStyle::Box, true);
        let yellow = f.pixels().filter(|p| p.0 == CAPTION_YELLOW).count();
        let ink_in_box = (0..120)
            .flat_map(|y| (0..160).map(move |x| (x, y)))
            .filter(|&(x, y)| f.get_pixel(x, y).0 == INK)
            .count();
        assert!(yellow > 1000 && ink_in_box > 200, "yellow {yellow}, ink {ink_in_box}");
        // Nothing lettered in the bottom half.
        assert!((180..360).all(|y| (0..360).all(|x| f.get_pixel(x, y).0 == [40, 120, 200])));
    }

    #[test]
    fn a_speech_bubble_sits_top_right_on_paper() {
        let mut f = picture();
        caption(&mut f, "Hi!", CaptionStyle::Bubble, false);
        let paper_right = (0..180)
            .flat_map(|y| (180..360).map(move |x| (x, y)))
            .filter(|&(x, y)| f.get_pixel(x, y).0 == PAPER)
            .count();
        let paper_left = (0..180)
            .flat_map(|y| (0..120).map(move |x| (x, y)))
            .filter(|&(x, y)| f.get_pixel(x, y).0 == PAPER)
            .count();
        assert!(paper_right > 1500 && paper_left == 0, "right {paper_right}, left {paper_left}");
    }
}
