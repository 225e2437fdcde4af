//! comicbooth: turns a photo booth into a comic booth.
//!
//! Frames come from a [`camera::FrameSource`], are converted to the generator's tensor layout by
//! [`convert`], turned into comic art by the ONNX generator in [`model`] (run by tract), given
//! motion by [`animate`], shown on a [`display`] and saved by [`export`]. [`wiring`] turns the
//! configuration into these parts; [`commands`] holds one flow per command a user runs, and
//! [`daemon`] the booth's main loop. `docs/architecture.md` has the map.
#![deny(missing_docs)]

pub mod animate;
pub mod assets;
pub mod booth;
pub mod camera;
pub mod commands;
pub mod config;
pub mod convert;
pub mod daemon;
pub mod display;
pub mod export;
pub mod lettering;
pub mod logging;
pub mod look;
pub mod memory;
pub mod model;
pub mod photo;
pub mod retry;
pub mod service;
pub mod share;
pub mod trigger;
pub mod wiring;
