//! USB and CSI cameras through V4L2 (the `v4l` crate), behind the `v4l2` cargo feature.
//!
//! Discovery lists capture devices with their formats, sizes and frame rates; negotiation picks
//! a format and size from the config or automatically; capture streams through mmap buffers
//! with a timeout on every wait. A camera that vanishes (ENODEV, EIO, several timeouts in a
//! row) is an event, not a crash: [`V4l2Source`] reports [`CameraError::Lost`] and reopens the
//! device by itself, with backoff, when it returns. Broken frames (error-flagged, short,
//! truncated MJPEG) are dropped and counted in [`CaptureStats`].

mod discover;
pub mod listing;

use std::borrow::Cow;
use std::path::Path;
use std::time::{Duration, Instant};

use v4l::buffer::{Flags as BufferFlags, Type};
use v4l::capability::Flags as CapFlags;
use v4l::io::mmap::Stream;
use v4l::io::traits::{CaptureStream, Stream as _};
use v4l::video::Capture;
use v4l::video::capture::Parameters;
use v4l::{Device, FourCC};

use super::{CameraError, CaptureStats, DropReason, Frame, FrameSource, FreezeWatch, PixelFormat};
use crate::retry::Retry;

pub use discover::{CameraInfo, Choice, FormatInfo, Request, SizeInfo, choose, discover};
use discover::{fps_of, list_formats};

/// Timeouts in a row after which a camera counts as lost.
const TIMEOUTS_BEFORE_LOST: u32 = 3;
/// Longest wait between two attempts to reopen a lost camera.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// First wait before reopening a lost camera.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// What the driver granted.
#[derive(Debug, Clone, PartialEq)]
pub struct Granted {
    /// Format.
    pub format: PixelFormat,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Bytes per line.
    pub stride: usize,
    /// Frames per second, if the driver reports it.
    pub fps: Option<f32>,
}

struct Live {
    // Field order matters: the stream (and its mmap buffers) must go before the device.
    stream: Stream<'static>,
    _dev: Device,
    granted: Granted,
    timeouts_in_row: u32,
    /// Whether the stream has handed out a buffer since it (re)started. Then that buffer is
    /// ours and the v4l crate's `next` gives it back to the driver before it waits, so the
    /// wait must happen first, in [`wait_readable`] (see `next_frame`).
    delivered: bool,
}

enum State {
    Live(Box<Live>),
    Lost { reason: String, retry: Retry, since: Instant },
}

/// A V4L2 camera as a [`FrameSource`].
pub struct V4l2Source {
    request: Request,
    state: State,
    stats: CaptureStats,
    /// Identical frames in a row (a frozen picture).
    freeze: FreezeWatch,
    opened: Instant,
    sequence: u64,
}

impl V4l2Source {
    /// Opens and starts the camera; fails with a clear error when it is missing, busy, not a
    /// camera or offers nothing comicbooth can convert.
    pub fn open(request: Request) -> Result<V4l2Source, CameraError> {
        let live = start(&request)?;
        log_start(&request, &live.granted);
        Ok(V4l2Source {
            request,
            state: State::Live(Box::new(live)),
            stats: CaptureStats::default(),
            freeze: FreezeWatch::default(),
            opened: Instant::now(),
            sequence: 0,
        })
    }

    /// As [`V4l2Source::open`], but a camera that cannot be started now (unplugged, busy, not
    /// yet enumerated at boot) gives a source that starts lost and keeps trying with backoff,
    /// so the booth comes up and says "camera lost" on its screen instead of exiting.
    pub fn open_or_wait(request: Request) -> V4l2Source {
        match V4l2Source::open(request.clone()) {
            Ok(source) => source,
            Err(e) => {
                tracing::error!("{e}");
                let mut source = V4l2Source {
                    request,
                    state: State::Lost {
                        reason: String::new(),
                        retry: Retry::after(Instant::now(), FIRST_BACKOFF, MAX_BACKOFF),
                        since: Instant::now(),
                    },
                    stats: CaptureStats::default(),
                    freeze: FreezeWatch::default(),
                    opened: Instant::now(),
                    sequence: 0,
                };
                source.lose(e.to_string());
                source
            }
        }
    }

    /// What the driver granted, while the camera is there.
    pub fn granted(&self) -> Option<&Granted> {
        match &self.state {
            State::Live(l) => Some(&l.granted),
            State::Lost { .. } => None,
        }
    }

    fn lose(&mut self, reason: String) -> CameraError {
        let device = self.request.device.clone();
        tracing::warn!(device = %device.display(), "camera lost: {reason}");
        self.stats.lost += 1;
        let old = std::mem::replace(
            &mut self.state,
            State::Lost {
                reason: reason.clone(),
                retry: Retry::after(Instant::now(), FIRST_BACKOFF, MAX_BACKOFF),
                since: Instant::now(),
            },
        );
        // The v4l crate panics if STREAMOFF fails with anything but ENODEV while dropping; a
        // camera that vanished may answer EIO, so contain that here.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(old)));
        CameraError::Lost { device, reason }
    }

    fn try_reconnect(&mut self, timeout: Duration) -> Result<(), CameraError> {
        let State::Lost { reason, retry, since } = &mut self.state else { return Ok(()) };
        let now = Instant::now();
        if !retry.is_due(now) {
            std::thread::sleep((retry.due() - now).min(timeout));
            if !retry.is_due(Instant::now()) {
                return Err(CameraError::Lost {
                    device: self.request.device.clone(),
                    reason: reason.clone(),
                });
            }
        }
        match start(&self.request) {
            Ok(live) => {
                tracing::info!(
                    device = %self.request.device.display(),
                    after_ms = since.elapsed().as_millis() as u64,
                    "camera back"
                );
                log_start(&self.request, &live.granted);
                self.stats.reconnects += 1;
                self.state = State::Live(Box::new(live));
                Ok(())
            }
            Err(e) => {
                retry.failed(Instant::now());
                *reason = e.to_string();
                Err(CameraError::Lost { device: self.request.device.clone(), reason: reason.clone() })
            }
        }
    }
}

fn log_start(request: &Request, g: &Granted) {
    tracing::info!(
        device = %request.device.display(),
        format = %g.format,
        width = g.width,
        height = g.height,
        stride = g.stride,
        fps = g.fps.unwrap_or(0.0),
        buffers = request.buffers,
        "camera streaming"
    );
}

fn open_error(device: &Path, e: std::io::Error) -> CameraError {
    CameraError::Open { device: device.to_owned(), cause: e }
}

fn start(request: &Request) -> Result<Live, CameraError> {
    let device = &request.device;
    let dev = Device::with_path(device).map_err(|e| open_error(device, e))?;
    let caps = dev.query_caps().map_err(|e| open_error(device, e))?;
    if !caps.capabilities.contains(CapFlags::VIDEO_CAPTURE)
        || !caps.capabilities.contains(CapFlags::STREAMING)
    {
        return Err(CameraError::NotCapture { device: device.clone(), card: caps.card });
    }
    let formats = list_formats(&dev).map_err(|e| open_error(device, e))?;
    let choice = choose(&formats, request).ok_or_else(|| CameraError::NoUsableFormat {
        device: device.clone(),
        offered: formats
            .iter()
            .map(|f| String::from_utf8_lossy(&f.fourcc).into_owned())
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    let mut fmt = dev.format().map_err(|e| open_error(device, e))?;
    fmt.width = choice.width;
    fmt.height = choice.height;
    fmt.fourcc = FourCC::new(&choice.format.fourcc());
    let got = dev.set_format(&fmt).map_err(|e| open_error(device, e))?;
    let format = PixelFormat::from_fourcc(got.fourcc.repr).ok_or_else(|| CameraError::NoUsableFormat {
        device: device.clone(),
        offered: String::from_utf8_lossy(&got.fourcc.repr).into_owned(),
    })?;
    // Not every driver supports setting the rate; the granted one is reported either way.
    let fps = dev.set_params(&Parameters::with_fps(request.fps)).ok().map(|p| fps_of(&p.interval));
    let stride = if format == PixelFormat::Mjpeg {
        0
    } else {
        (got.stride as usize).max(format.min_stride(got.width))
    };
    let granted = Granted { format, width: got.width, height: got.height, stride, fps };
    let stream = Stream::with_buffers(&dev, Type::VideoCapture, request.buffers.max(2))
        .map_err(|e| open_error(device, e))?;
    Ok(Live { stream, _dev: dev, granted, timeouts_in_row: 0, delivered: false })
}

/// Waits until `poll(ms)` (a `poll(2)` on the device with a timeout in milliseconds) reports
/// the device ready (Ok(true)) or `deadline` passes (Ok(false)). A wait interrupted by a signal
/// (EINTR: SIGHUP reload, SIGUSR1 trigger, SIGCHLD) is resumed with the time that is left,
/// instead of ending the wait early.
fn wait_readable(
    deadline: Instant,
    mut poll: impl FnMut(i32) -> std::io::Result<i32>,
) -> std::io::Result<bool> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // Whole milliseconds, rounded up, so the last wait does not end just short of the
        // deadline and spin; poll(0) still gives a frame that is already there.
        let ms = i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        match poll(ms) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                if Instant::now() >= deadline {
                    return Ok(false);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Errors that mean the device has gone (unplugged, driver unbound, hardware fault).
fn is_gone(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENODEV) | Some(libc::EIO) | Some(libc::ENXIO) | Some(libc::EPIPE) | Some(libc::EBADF)
    )
}

impl V4l2Source {
    /// Turns a failed dequeue into the error the caller sees, marking the camera lost when it
    /// has gone or stopped delivering.
    fn capture_failed(&mut self, err: std::io::Error, timeout: Duration) -> CameraError {
        let device = self.request.device.clone();
        if err.kind() == std::io::ErrorKind::TimedOut {
            self.stats.timeouts += 1;
            let State::Live(live) = &mut self.state else {
                return CameraError::Timeout { device, waited: timeout };
            };
            live.timeouts_in_row += 1;
            if live.timeouts_in_row >= TIMEOUTS_BEFORE_LOST {
                let reason =
                    format!("no frame in {} waits of {} ms", live.timeouts_in_row, timeout.as_millis());
                return self.lose(reason);
            }
            return CameraError::Timeout { device, waited: timeout };
        }
        if is_gone(&err) {
            return self.lose(err.to_string());
        }
        self.lose(format!("unexpected capture error: {err}"))
    }
}

impl FrameSource for V4l2Source {
    fn next_frame(&mut self, timeout: Duration) -> Result<Frame<'_>, CameraError> {
        self.try_reconnect(timeout)?;
        let deadline = Instant::now() + timeout;
        let State::Live(live) = &mut self.state else { unreachable!("reconnected above") };
        // The v4l crate's `next` queues the previous buffer and then dequeues; when that wait
        // fails (timeout, EINTR), the buffer it queued stays queued and the next `next` queues
        // it again, which the driver refuses (EINVAL). So once streaming, wait here for a
        // filled buffer first (resuming after signals): `next` then finds one at once. The
        // first wait after (re)starting is `next`'s own; when it fails, the stream is stopped
        // (STREAMOFF takes every buffer back) so that `next` starts it afresh, at once when
        // the wait was interrupted and time is left, else on the next call.
        let dequeued = loop {
            if live.delivered {
                let handle = live.stream.handle();
                match wait_readable(deadline, |ms| handle.poll(libc::POLLIN, ms)) {
                    Ok(true) => {}
                    Ok(false) => {
                        let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "VIDIOC_DQBUF");
                        return Err(self.capture_failed(timed_out, timeout));
                    }
                    Err(err) => return Err(self.capture_failed(err, timeout)),
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            live.stream.set_timeout(Duration::from_millis(left.as_micros().div_ceil(1000) as u64));
            // Take what we need from the dequeued buffer as plain values, so the error paths
            // below may use `self` again; the frame's bytes are re-borrowed at the end.
            let next = live.stream.next().map(|(buf, meta)| {
                let used = (meta.bytesused as usize).min(buf.len());
                (buf.as_ptr(), used, meta.flags, meta.sequence as u64)
            });
            match next {
                Ok(d) => break d,
                Err(err) => {
                    let interrupted = err.kind() == std::io::ErrorKind::Interrupted;
                    if interrupted || err.kind() == std::io::ErrorKind::TimedOut {
                        // The buffer `next` queued is still queued: restart the stream. A stop
                        // that fails means the device has gone, which the next call reports.
                        let stopped = live.stream.stop().is_ok();
                        live.delivered = false;
                        if interrupted && stopped && Instant::now() < deadline {
                            continue;
                        }
                    }
                    let err = if interrupted {
                        std::io::Error::new(std::io::ErrorKind::TimedOut, "VIDIOC_DQBUF")
                    } else {
                        err
                    };
                    return Err(self.capture_failed(err, timeout));
                }
            }
        };
        let (ptr, used, flags, sequence) = dequeued;
        live.delivered = true;
        live.timeouts_in_row = 0;
        let g = live.granted.clone();
        // SAFETY: `ptr` points into an mmap buffer owned by `live.stream`, which lives in
        // `self.state`. The buffer stays mapped and is not re-queued to the driver until the
        // next call of `next_frame`, and the returned frame borrows `self` mutably, so no such
        // call (nor any other change of `self.state`) can happen while the slice is alive.
        let data: &[u8] = unsafe { std::slice::from_raw_parts(ptr, used) };
        let needed = g.format.frame_len(g.height, g.stride);
        let reason = if flags.contains(BufferFlags::ERROR) {
            self.stats.dropped_error_flag += 1;
            Some(DropReason::ErrorFlag)
        } else if g.format == PixelFormat::Mjpeg && !crate::photo::jpeg_is_complete(data) {
            self.stats.dropped_corrupt += 1;
            Some(DropReason::CorruptJpeg)
        } else if used < needed {
            self.stats.dropped_short += 1;
            Some(DropReason::Short { got: used, needed })
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(CameraError::Dropped { sequence, reason });
        }
        self.stats.frames += 1;
        self.freeze.frame(data, &mut self.stats, &self.request.device);
        self.sequence += 1;
        Ok(Frame {
            format: g.format,
            width: g.width,
            height: g.height,
            stride: g.stride,
            data: Cow::Borrowed(data),
            sequence,
            timestamp: self.opened.elapsed(),
            label: format!("frame{sequence:06}"),
        })
    }

    fn stats(&self) -> CaptureStats {
        self.stats
    }

    fn connected(&self) -> bool {
        matches!(self.state, State::Live(_))
    }

    fn describe(&self) -> String {
        match &self.state {
            State::Live(l) => format!(
                "V4L2 camera {} ({} {}x{}{})",
                self.request.device.display(),
                l.granted.format,
                l.granted.width,
                l.granted.height,
                l.granted.fps.map(|f| format!(" at {f:.0} fps")).unwrap_or_default()
            ),
            State::Lost { reason, .. } => {
                format!("V4L2 camera {} (lost: {reason})", self.request.device.display())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_wait_resumes_with_the_time_left() {
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut asked = Vec::new();
        let mut answers = [Err(libc::EINTR), Err(libc::EINTR), Ok(1)].into_iter();
        let ready = wait_readable(deadline, |ms| {
            asked.push(ms);
            std::thread::sleep(Duration::from_millis(20));
            answers.next().unwrap().map_err(std::io::Error::from_raw_os_error)
        });
        assert!(ready.unwrap(), "ready after two interruptions");
        assert_eq!(asked.len(), 3);
        assert!(asked[0] <= 500 && asked[0] > 450, "{asked:?}");
        // Each resumed wait asks for what is left: less each time, by about the time spent.
        assert!(asked.windows(2).all(|w| w[1] <= w[0] - 15), "{asked:?}");
    }

    #[test]
    fn interruptions_until_the_deadline_are_a_timeout_not_an_error() {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(60);
        let mut calls = 0;
        let ready = wait_readable(deadline, |ms| {
            calls += 1;
            std::thread::sleep(Duration::from_millis(ms.clamp(0, 10) as u64));
            Err(std::io::Error::from_raw_os_error(libc::EINTR))
        });
        assert!(!ready.unwrap());
        assert!(start.elapsed() >= Duration::from_millis(60), "waited the whole time");
        assert!(calls >= 6, "{calls} waits");
        // A plain timeout and a real error pass through.
        assert!(!wait_readable(Instant::now() + Duration::from_millis(5), |_| Ok(0)).unwrap());
        let gone = wait_readable(deadline, |_| Err(std::io::Error::from_raw_os_error(libc::ENODEV)));
        assert_eq!(gone.unwrap_err().raw_os_error(), Some(libc::ENODEV));
    }

    #[test]
    fn a_real_signal_during_a_real_poll_does_not_end_the_wait() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        extern "C" fn nothing(_: libc::c_int) {}
        // SIGURG is ignored by default; a handler without SA_RESTART makes poll(2) fail with
        // EINTR, as signal-hook's handlers for SIGHUP/SIGUSR1 do in the booth.
        // SAFETY: sigaction with a zeroed struct, an empty mask and a handler that does nothing.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = nothing as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGURG, &action, std::ptr::null_mut()), 0);
        }
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let (read_end, write_end) = (fds[0], fds[1]);
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        let done = Arc::new(AtomicBool::new(false));
        let pester = {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let start = Instant::now();
                while !done.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                    // SAFETY: `me` is the test's thread, alive until `done` is set.
                    unsafe { libc::pthread_kill(me, libc::SIGURG) };
                    if start.elapsed() >= Duration::from_millis(150) {
                        // SAFETY: writes one byte from a live buffer to the pipe we own.
                        unsafe { libc::write(write_end, b"x".as_ptr().cast(), 1) };
                    }
                }
            })
        };
        let start = Instant::now();
        let mut interrupted = 0;
        let ready = wait_readable(start + Duration::from_secs(5), |ms| {
            let mut fd = libc::pollfd { fd: read_end, events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd.
            match unsafe { libc::poll(&mut fd, 1, ms) } {
                -1 => {
                    let e = std::io::Error::last_os_error();
                    interrupted += (e.kind() == std::io::ErrorKind::Interrupted) as u32;
                    Err(e)
                }
                n => Ok(n),
            }
        });
        done.store(true, Ordering::SeqCst);
        pester.join().unwrap();
        // SAFETY: closing the two descriptors pipe(2) gave us, once.
        unsafe {
            libc::close(read_end);
            libc::close(write_end);
        }
        assert!(ready.unwrap(), "the byte arrived, so the wait must end ready");
        assert!(interrupted >= 1, "no EINTR seen: the test did not test anything");
        assert!(start.elapsed() >= Duration::from_millis(140), "ended at the first signal");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_camera_missing_at_start_is_lost_not_fatal() {
        let request = Request {
            device: "/dev/video-comicbooth-test-missing".into(),
            format: None,
            width: 640,
            height: 480,
            fps: 30,
            buffers: 4,
        };
        assert!(V4l2Source::open(request.clone()).is_err());
        let mut source = V4l2Source::open_or_wait(request);
        assert!(!source.connected());
        assert_eq!(source.stats().lost, 1);
        assert!(source.describe().contains("lost:"), "{}", source.describe());
        // It keeps trying (with backoff) and keeps saying why, never panicking.
        for _ in 0..3 {
            match source.next_frame(Duration::from_millis(300)) {
                Err(CameraError::Lost { device, reason }) => {
                    assert!(device.ends_with("video-comicbooth-test-missing"));
                    assert!(!reason.is_empty());
                }
                other => panic!("expected Lost, got {:?}", other.map(|f| f.label)),
            }
        }
    }
}
