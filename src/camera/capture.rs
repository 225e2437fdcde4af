//! Capture with retry: what every caller of a [`FrameSource`] wants from it, one good frame.

use std::time::{Duration, Instant};

use super::{CameraError, Frame, FrameSource};

/// How long a caller waits for one camera frame before calling the camera lost.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(2);

/// Waits up to `patience` for a good frame, skipping dropped frames and riding out timeouts,
/// and hands it to `use_frame` (which may borrow it, so no copy of a driver buffer is made).
/// A lost camera is returned at once, so the booth can say so on screen while the source
/// reopens it; after `patience` the last timeout is returned.
pub fn capture_with<T>(
    source: &mut dyn FrameSource,
    patience: Duration,
    use_frame: impl FnOnce(&Frame) -> T,
) -> Result<T, CameraError> {
    let deadline = Instant::now() + patience;
    loop {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(10), FRAME_TIMEOUT);
        match source.next_frame(wait) {
            Ok(frame) => return Ok(use_frame(&frame)),
            Err(e @ CameraError::Lost { .. }) => return Err(e),
            Err(e) if e.is_transient() && Instant::now() < deadline => tracing::debug!("{e}"),
            Err(e) => return Err(e),
        }
    }
}
