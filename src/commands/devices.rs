//! `comicbooth devices`: what the booth could use on this board: cameras with their formats
//! and the one comicbooth would pick, displays, SPI buses, GPIO chips and keyboards.

use std::path::Path;

use crate::assets::SAMPLE_PHOTOS;
use crate::config::Config;
use crate::wiring;

/// The listing for device nodes under `dev` (normally /dev; a fake root in tests).
pub fn list(config: &Config, dev: &Path) -> String {
    format!(
        "cameras:\n{}  (also: demo, {} built-in photos; files, photos from camera.path)\n{}",
        wiring::list_cameras(config, dev),
        SAMPLE_PHOTOS.len(),
        other_devices(dev)
    )
}

/// Displays, SPI buses, GPIO chips and input devices found under `dev` (what display.device,
/// display.spi_device, trigger.gpio_chip and trigger.keyboard can name).
fn other_devices(dev: &Path) -> String {
    let list = |prefix: &str, dir: &Path| {
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
                    .map(|p| p.display().to_string())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        if found.is_empty() { "none found".to_owned() } else { found.join(" ") }
    };
    format!(
        "displays:\n  headless     PNG files (always)\n  framebuffer  {}\n  spi          {}{}\n\
         gpio chips:    {}{}\nkeyboards:     {}\n",
        list("fb", dev),
        list("spidev", dev),
        if wiring::HAS_SPI { "" } else { " (this build has no SPI panels: --features spi)" },
        list("gpiochip", dev),
        if wiring::HAS_GPIO { "" } else { " (this build has no GPIO button: --features gpio)" },
        list("event", &dev.join("input")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_node_is_listed_from_the_given_root() {
        let root = tempfile::tempdir().unwrap();
        for node in ["fb1", "spidev0.0", "gpiochip4", "input/event7"] {
            let path = root.path().join(node);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"").unwrap();
        }
        let text = list(&Config::default(), root.path());
        let root = root.path().display();
        for node in ["fb1", "spidev0.0", "gpiochip4", "input/event7"] {
            assert!(text.contains(&format!("{root}/{node}")), "{node} missing from:\n{text}");
        }
        assert!(!text.contains("/dev/"), "a node outside the given root:\n{text}");
    }
}
