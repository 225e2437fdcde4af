//! `comicbooth share`: the take-home server over the export folder ([`crate::share`]), run by
//! its own unit, `comicbooth-share.service`, with the network the booth's unit does not have.

use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;
use crate::share::Share;

/// Listens on `share.listen` (or `listen`, when given) and serves until the process is
/// stopped. A missing export folder is served as empty (the booth creates it).
pub fn run(config: &Config, listen: Option<&str>) -> anyhow::Result<()> {
    let address = listen.unwrap_or(&config.share.listen);
    let server = tiny_http::Server::http(address).map_err(|e| anyhow::anyhow!("{e}")).with_context(|| {
        format!(
            "cannot listen on {address}; fix: choose a free port in share.listen, or stop what \
             uses it (ss -ltnp)"
        )
    })?;
    if config.share.base_url.is_empty() {
        tracing::warn!("share.base_url is empty: the booth shows no QR code until it is set");
    }
    tracing::info!(
        listen = %server.server_addr(),
        dir = %config.export.dir.display(),
        gallery = !config.share.gallery_pin.is_empty(),
        "sharing comics"
    );
    Share::new(&config.export.dir, &config.share).serve(Arc::new(server));
    Ok(())
}
