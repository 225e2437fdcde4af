//! comicbooth: turns a photo booth into a comic booth.
//!
//! Frames come from a [`camera::FrameSource`], are converted to the generator's tensor layout by
//! [`convert`], turned into comic art by the ONNX generator in [`model`] (run by tract), given
//! motion by [`animate`], shown on a [`display`] and saved by [`export`]. [`app`] wires them
//! together; it is the only module that knows all the others. `docs/architecture.md` has the
//! map.
#![deny(missing_docs)]

pub mod animate;
pub mod app;
pub mod assets;
pub mod booth;
pub mod camera;
pub mod config;
pub mod convert;
pub mod display;
pub mod export;
pub mod logging;
pub mod model;
pub mod report;
pub mod service;
pub mod trigger;
