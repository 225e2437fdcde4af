//! One file per command a user runs: each owns its flow and what it prints. `main.rs` parses
//! the arguments and calls these; the parts come from [`crate::wiring`].

pub mod bench;
pub mod check;
pub mod config;
pub mod demo;
pub mod devices;
pub mod run;
pub mod share;
pub mod stylize;
