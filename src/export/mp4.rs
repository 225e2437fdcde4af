//! MP4 (cargo feature `mp4`): a comic loop as H.264 video in an MP4 file that phones and
//! browsers play as `<video autoplay muted loop playsinline>` and apps take as a video.
//!
//! - H.264 by OpenH264 (the `openh264` crate, built from the C++ source it bundles), constrained
//!   baseline, 4:2:0, BT.601 limited range (`convert::encode_i420`, the colour the VUI
//!   declares), one IDR frame then P frames, at a fixed quantiser ([`QP`]) rather than a
//!   bitrate: a file is not a stream, and flat comic colours need their edges kept clean.
//! - The loop is encoded once and its samples repeated in the file until it lasts
//!   [`MIN_SECONDS`]: each repeat starts with the same IDR frame, so it decodes to exactly the
//!   same pictures, costs no encoding time, and the file loops seamlessly where players loop it.
//!   A 0.8 to 1.4 s file is over before a viewer looks in players and apps that play a video
//!   once (a phone's photo gallery, messengers), and some apps refuse videos under 3 s.
//! - The container by `muxide` (pure Rust): `ftyp`, `moov`, then `mdat` ("fast start"), so a
//!   phone starts playing before the whole file has arrived.
//! - Odd widths or heights (a `stylize` of an odd-sized photo) lose their last column or row:
//!   4:2:0 needs even sides.

use std::io::{self, Write};

use image::RgbImage;
use muxide::api::{MuxerBuilder, VideoCodec};
use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, ColorPrimaries, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod,
    QpRange, RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::YUVSlices;

use crate::animate::Animation;
use crate::convert::encode_i420;

/// H.264 quantiser of every frame (0 best to 51 smallest). At 24 a comic's flat fills and ink
/// edges show no blocking or ringing, and halftone dots stay dots (28 starts to blur them).
/// The first sample photo's comic at 720x720, 14 frames: Y PSNR 43.2 / 39.7 / 36.6 dB
/// against the encoder's input at QP 20 / 24 / 28, for 1.32 / 0.94 / 0.65 MB a loop
/// (docs/architecture.md).
pub const QP: u8 = 24;

/// The shortest file: the loop is repeated until it lasts this long.
pub const MIN_SECONDS: f64 = 3.0;

/// How many times a loop of `frames` frames of `frame_ms` each is repeated in the file.
pub fn repeats(frames: usize, frame_ms: u64) -> usize {
    let loop_ms = (frames as u64 * frame_ms).max(1);
    ((MIN_SECONDS * 1000.0) / loop_ms as f64).ceil().max(1.0) as usize
}

fn h264_err(e: openh264::Error) -> io::Error {
    io::Error::other(format!("H.264 encoder (OpenH264): {e}"))
}

fn mux_err(e: muxide::api::MuxerError) -> io::Error {
    io::Error::other(format!("MP4 muxer: {e}"))
}

/// `f` cut to even sides.
fn even(f: &RgbImage) -> std::borrow::Cow<'_, RgbImage> {
    let (w, h) = (f.width() & !1, f.height() & !1);
    if (w, h) == f.dimensions() {
        std::borrow::Cow::Borrowed(f)
    } else {
        std::borrow::Cow::Owned(image::imageops::crop_imm(f, 0, 0, w, h).to_image())
    }
}

/// The loop's frames as H.264 access units (Annex B), the first one an IDR frame with the
/// parameter sets.
fn encode_loop(anim: &Animation, fps: f32) -> io::Result<Vec<Vec<u8>>> {
    let config = EncoderConfig::new()
        .usage_type(UsageType::CameraVideoRealTime)
        .rate_control_mode(RateControlMode::Quality)
        // A bitrate far above what QP needs, so the quantiser range below decides alone.
        .bitrate(BitRate::from_bps(50_000_000))
        .qp(QpRange::new(QP, QP))
        .max_frame_rate(FrameRate::from_hz(fps))
        // Never skip a frame (a skipped frame would leave a hole in the loop). OpenH264 warns
        // once per file on stderr that this leaves the bitrate uncontrolled: that is the point.
        .skip_frames(false)
        .complexity(Complexity::High)
        .scene_change_detect(false)
        .intra_frame_period(IntraFramePeriod::from_num_frames(0))
        // One thread: the booth's worker runs beside the screen loop, and a fixed slice layout
        // keeps files identical from run to run.
        .num_threads(1)
        // BT.601's matrix and range (what encode_i420 wrote), sRGB's (BT.709's) primaries.
        .vui(VuiConfig::bt601().color_primaries(ColorPrimaries::Bt709));
    let mut enc = Encoder::with_api_config(OpenH264API::from_source(), config).map_err(h264_err)?;
    let mut units = Vec::with_capacity(anim.frames.len());
    for (i, frame) in anim.frames.iter().enumerate() {
        let frame = even(frame);
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        let [y, u, v] =
            encode_i420(&frame).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty frame"))?;
        let yuv = YUVSlices::new((&y, &u, &v), (w, h), (w, w / 2, w / 2));
        let ms = (i as u64).saturating_mul(anim.frame_time.as_millis() as u64);
        let bits = enc.encode_at(&yuv, openh264::Timestamp::from_millis(ms)).map_err(h264_err)?;
        let want_idr = i == 0;
        match bits.frame_type() {
            FrameType::IDR if want_idr => {}
            FrameType::P | FrameType::I if !want_idr => {}
            other => {
                return Err(io::Error::other(format!("H.264 encoder made a {other:?} frame for frame {i}")));
            }
        }
        units.push(bits.to_vec());
    }
    Ok(units)
}

/// Writes `anim` as an MP4 to `w`: the loop encoded once, its samples repeated to
/// [`MIN_SECONDS`] or more, each frame lasting the animation's frame time.
pub fn write(w: &mut dyn Write, anim: &Animation) -> io::Result<()> {
    let first = anim
        .frames
        .first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "an animation without frames"))?;
    let (width, height) = (first.width() & !1, first.height() & !1);
    if width == 0 || height == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "frames under 2x2 pixels"));
    }
    if anim.frames.iter().any(|f| f.dimensions() != first.dimensions()) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "frames of different sizes"));
    }
    let frame_ms = (anim.frame_time.as_millis() as u64).max(1);
    let fps = 1000.0 / frame_ms as f64;
    let units = encode_loop(anim, fps as f32)?;
    let mut mux = MuxerBuilder::new(w)
        .video(VideoCodec::H264, width, height, fps)
        .with_fast_start(true)
        .build()
        .map_err(mux_err)?;
    let repeats = repeats(units.len(), frame_ms);
    for (n, unit) in std::iter::repeat_n(&units, repeats).flatten().enumerate() {
        let pts = (n as u64 * frame_ms) as f64 / 1000.0;
        mux.write_video(pts, unit, n % units.len() == 0).map_err(mux_err)?;
    }
    mux.finish().map_err(mux_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_is_repeated_to_three_seconds_or_more() {
        assert_eq!(repeats(14, 100), 3);
        assert_eq!(repeats(8, 100), 4);
        assert_eq!(repeats(10, 300), 1);
    }
}
