//! `comicbooth check`: a self-test of what the booth needs (config, model, gate, camera,
//! display, disk). Each failure sets one bit of the exit code, so a script or an installer can
//! tell what to fix.

use std::fmt;
use std::path::Path;

use anyhow::Context;

use crate::camera::{FRAME_TIMEOUT, capture_with};
use crate::config::Config;
use crate::{export, wiring};

/// The result of one check.
#[derive(Debug)]
pub struct CheckItem {
    /// What was checked.
    pub name: &'static str,
    /// Bit set in the exit code when it failed.
    pub bit: u8,
    /// What was found, or why it failed (with the fix).
    pub outcome: Result<String, String>,
}

/// Every check's result; its `Display` is what the command prints.
#[derive(Debug)]
pub struct CheckReport(pub Vec<CheckItem>);

impl CheckReport {
    /// The exit code: the bits of the checks that failed (0: all passed).
    pub fn exit_bits(&self) -> u8 {
        self.0.iter().filter(|i| i.outcome.is_err()).fold(0, |acc, i| acc | i.bit)
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in &self.0 {
            match &i.outcome {
                Ok(what) => writeln!(f, "ok    {:<8} {what}", i.name)?,
                Err(why) => writeln!(f, "FAIL  {:<8} {why}", i.name)?,
            }
        }
        Ok(())
    }
}

/// The checks in the order they are printed, each with its exit-code bit.
const CHECKS: [(&str, u8); 6] =
    [("config", 1), ("model", 2), ("gate", 32), ("camera", 4), ("display", 8), ("disk", 16)];

/// Checks the configuration's parts, each once. Nothing is drawn on the display.
pub fn run(config: &Config) -> CheckReport {
    let side = config.model.size;
    let model = wiring::load_generator(config).map(|g| {
        format!(
            "{} ({}) runs {side}x{side} on {} threads, warm-up {} ms",
            g.origin(),
            g.manifest().name,
            g.threads(),
            g.warmup_time.as_millis()
        )
    });
    let gate = wiring::load_gate(config).map(|g| match g {
        Some(g) => format!(
            "{} ({}) passes pictures through from a comic probability of {}, warm-up {} ms",
            g.origin(),
            g.manifest().name,
            config.model.gate_threshold,
            g.warmup_time.as_millis()
        ),
        None => "off (model.gate = false)".into(),
    });
    let camera = wiring::open_source(config).and_then(|mut s| {
        let (w, h, format) = capture_with(s.as_mut(), FRAME_TIMEOUT * 2, |f| (f.width, f.height, f.format))?;
        Ok(format!("{}: first frame {w}x{h} {format}", s.describe()))
    });
    let outcomes: [anyhow::Result<String>; 6] = [
        Ok("valid".into()),
        model.map_err(Into::into),
        gate.map_err(Into::into),
        camera.map_err(Into::into),
        wiring::probe_display(&config.display),
        check_disk(&config.export.dir),
    ];
    let items = CHECKS.iter().zip(outcomes);
    CheckReport(
        items
            .map(|(&(name, bit), o)| CheckItem { name, bit, outcome: o.map_err(|e| format!("{e:#}")) })
            .collect(),
    )
}

/// Whether the export folder takes a file: one written atomically, then removed.
fn check_disk(dir: &Path) -> anyhow::Result<String> {
    export::create_dir(dir)?;
    let probe = dir.join(".comicbooth-check");
    export::atomic_write(&probe, |w| std::io::Write::write_all(w, b"ok"))?;
    std::fs::remove_file(&probe)
        .with_context(|| format!("{}: cannot remove the probe file", probe.display()))?;
    Ok(format!("{} is writable", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bit_is_named_in_the_help_text_and_the_readme() {
        // `check`'s `--help` is the doc comment of its subcommand in main.rs.
        let help = include_str!("../main.rs");
        let readme = include_str!("../../README.md");
        for (name, bit) in CHECKS {
            assert!(help.contains(&format!("{bit} {name}")), "{bit} {name} missing from `check --help`");
            assert!(readme.contains(&format!("{bit} {name}")), "{bit} {name} missing from the README");
        }
        let all = CHECKS.iter().fold(0, |acc, c| acc | c.1);
        assert_eq!(all.count_ones() as usize, CHECKS.len(), "two checks share a bit");
    }
}
