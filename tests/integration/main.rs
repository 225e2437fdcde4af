//! comicbooth's integration tests: one binary (faster to link than one per file), a module per
//! area. They run the real `comicbooth` executable or the library against real files.

mod bad_input;
mod booth;
mod burst;
mod demo;
mod files;
mod fuzz_finds;
mod gate;
mod golden;
#[cfg(feature = "v4l2")]
mod guest_booth;
#[cfg(feature = "v4l2")]
mod guest_faults;
#[cfg(feature = "v4l2")]
mod packaging;
mod save_kill;
mod screens;
mod service;
mod share;
mod soak;
mod util;
#[cfg(feature = "v4l2")]
mod vivid;
