//! The take-home: `comicbooth share`, a small read-only HTTP server over the export folder, so
//! a guest who scans the comic's QR code gets it on their phone with no internet. It runs as
//! its own unit (`comicbooth-share.service`); the booth itself stays off the network.
//!
//! What it serves, and nothing else:
//! - `/c/<id>`: a page per comic: the animation playing (MP4, else WebP, else GIF), a download
//!   button per file, no asset from elsewhere ([`page`]).
//! - `/f/<id>.<gif|webp|mp4>`: the files, with HEAD and byte ranges (phones ask for ranges
//!   before they play a video).
//! - `/gallery`: every comic, for the operator, behind `share.gallery_pin`.
//! - `/font.otf`: the comic font the pages are lettered in.
//!
//! An id is a comic's file stem (`comic-<unix seconds>-<16 hex digits>`, 64 random bits from
//! [`new_id`]): a request names no path, only an id that must match that pattern and a
//! format from a fixed list, and the file must be a regular file in the folder itself, not a
//! link. Files being written have other names (`export::atomic_write`), so a comic is never
//! served half-done.

pub mod page;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

use crate::config::ShareConfig;
use crate::display::screens::ShareCodes;

/// Request-handling threads: enough that a slow phone on a range request does not hold up the
/// others (the listener queues the rest).
const WORKERS: usize = 8;
/// The formats served, in the order a page prefers them for playing.
pub const FORMATS: [(&str, &str); 3] = [("mp4", "video/mp4"), ("webp", "image/webp"), ("gif", "image/gif")];

/// A fresh comic id: the time (so a folder listing sorts) and 64 random bits from the kernel
/// (so nobody can walk from one guest's comic to the next).
pub fn new_id(unix_seconds: u64) -> std::io::Result<String> {
    let mut bytes = [0u8; 8];
    File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(format!("comic-{unix_seconds}-{:016x}", u64::from_le_bytes(bytes)))
}

/// Seconds since 1970 now (0 if the clock is before it): the time part of [`new_id`]'s ids.
pub fn unix_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Whether `s` is a comic id as [`new_id`] makes them (and nothing a path could hide in).
pub fn is_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("comic-") else { return false };
    let Some((secs, random)) = rest.split_once('-') else { return false };
    (1..=12).contains(&secs.len())
        && secs.bytes().all(|b| b.is_ascii_digit())
        && random.len() == 16
        && random.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The comic's page address under `base_url` (what its QR code holds).
pub fn page_url(base_url: &str, id: &str) -> String {
    format!("{}/c/{id}", base_url.trim_end_matches('/'))
}

/// The QR codes the result screen shows for comic `id` when sharing is on and has an address:
/// the comic's page, and joining the hotspot when `wifi_ssid` is set.
pub fn codes(config: &ShareConfig, id: &str) -> Option<ShareCodes> {
    if !config.enabled || config.base_url.is_empty() {
        return None;
    }
    let page = qrcode::QrCode::new(page_url(&config.base_url, id).as_bytes()).ok()?;
    let wifi = (!config.wifi_ssid.is_empty())
        .then(|| qrcode::QrCode::new(wifi_join(&config.wifi_ssid, &config.wifi_password).as_bytes()).ok())
        .flatten();
    Some(ShareCodes { page, wifi })
}

/// The text of a QR code that joins a WPA network (`WIFI:T:WPA;S:...;P:...;;`), with the
/// format's special characters escaped.
pub fn wifi_join(ssid: &str, password: &str) -> String {
    let esc = |s: &str| {
        s.chars().fold(String::new(), |mut o, c| {
            if matches!(c, '\\' | ';' | ',' | ':' | '"') {
                o.push('\\');
            }
            o.push(c);
            o
        })
    };
    if password.is_empty() {
        format!("WIFI:T:nopass;S:{};;", esc(ssid))
    } else {
        format!("WIFI:T:WPA;S:{};P:{};;", esc(ssid), esc(password))
    }
}

/// The server: the folder it serves and the operator's PIN.
pub struct Share {
    dir: PathBuf,
    pin: String,
}

/// A comic on disk: its id and the formats present, in [`FORMATS`] order, with their sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct Comic {
    /// Its id (the files' stem).
    pub id: String,
    /// (extension, bytes) of each file present.
    pub files: Vec<(&'static str, u64)>,
    /// When its newest file was written.
    pub modified: std::time::SystemTime,
}

impl Share {
    /// A server over `dir` (`export.dir`).
    pub fn new(dir: &Path, config: &ShareConfig) -> Share {
        Share { dir: dir.to_owned(), pin: config.gallery_pin.clone() }
    }

    /// Serves `server`'s requests on [`WORKERS`] threads until the server is unblocked (tests)
    /// or the process ends.
    pub fn serve(self, server: Arc<Server>) {
        let me = Arc::new(self);
        let workers: Vec<_> = (0..WORKERS)
            .map(|i| {
                let (me, server) = (Arc::clone(&me), Arc::clone(&server));
                std::thread::Builder::new()
                    .name(format!("share-{i}"))
                    .spawn(move || {
                        for request in server.incoming_requests() {
                            me.handle(request);
                        }
                    })
                    .expect("spawning a share thread")
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
    }

    /// The regular file `<id>.<ext>` in the folder, if it is one (links are refused).
    fn file(&self, id: &str, ext: &str) -> Option<(PathBuf, u64)> {
        if !is_id(id) || !FORMATS.iter().any(|(e, _)| *e == ext) {
            return None;
        }
        let path = self.dir.join(format!("{id}.{ext}"));
        let meta = std::fs::symlink_metadata(&path).ok()?;
        meta.file_type().is_file().then_some((path, meta.len()))
    }

    /// The comic `id`, if any of its files is there.
    pub fn comic(&self, id: &str) -> Option<Comic> {
        if !is_id(id) {
            return None;
        }
        let mut files = Vec::new();
        let mut modified = std::time::UNIX_EPOCH;
        for (ext, _) in FORMATS {
            if let Some((path, len)) = self.file(id, ext) {
                files.push((ext, len));
                if let Ok(t) = std::fs::metadata(path).and_then(|m| m.modified()) {
                    modified = modified.max(t);
                }
            }
        }
        (!files.is_empty()).then(|| Comic { id: id.to_owned(), files, modified })
    }

    /// Every comic in the folder, newest first (an unreadable or missing folder has none).
    pub fn comics(&self) -> Vec<Comic> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.path().file_stem().and_then(|s| s.to_str()).map(str::to_owned))
            .filter(|s| is_id(s))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut comics: Vec<Comic> = ids.iter().filter_map(|id| self.comic(id)).collect();
        comics.sort_by_key(|c| std::cmp::Reverse(c.modified));
        comics
    }

    fn handle(&self, request: Request) {
        let head = *request.method() == Method::Head;
        if !(head || *request.method() == Method::Get) {
            let _ = request.respond(text(405, "only GET and HEAD are served"));
            return;
        }
        let url = request.url().to_owned();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let range = request.headers().iter().find(|h| h.field.equiv("Range")).map(|h| h.value.to_string());
        let result = match path.split('/').collect::<Vec<_>>().as_slice() {
            ["", ""] => request.respond(html(200, page::welcome())),
            ["", "font.otf"] => request.respond(
                Response::from_data(crate::assets::COMIC_FONT.bytes)
                    .with_header(header("Content-Type", "font/otf"))
                    .with_header(header("Cache-Control", "max-age=86400")),
            ),
            ["", "c", id] => match self.comic(id) {
                Some(c) => request.respond(html(200, page::comic(&c))),
                None => request.respond(html(404, page::missing())),
            },
            ["", "f", name] => {
                match name.rsplit_once('.').and_then(|(id, ext)| self.file(id, ext).map(|f| (f, ext))) {
                    Some(((path, len), ext)) => self.send_file(request, &path, len, ext, range.as_deref()),
                    None => request.respond(html(404, page::missing())),
                }
            }
            ["", "gallery"] => {
                let pin = query.split('&').find_map(|kv| kv.strip_prefix("pin=")).unwrap_or("");
                if self.pin.is_empty() {
                    request.respond(html(404, page::missing()))
                } else if pin.is_empty() {
                    request.respond(html(200, page::pin_form(false)))
                } else if same(pin.as_bytes(), self.pin.as_bytes()) {
                    request.respond(html(200, page::gallery(&self.comics())))
                } else {
                    request.respond(html(403, page::pin_form(true)))
                }
            }
            _ => request.respond(html(404, page::missing())),
        };
        if let Err(e) = result {
            tracing::debug!("a client went away: {e}");
        }
    }

    /// A file whole, or the byte range asked for (206), or 416 for a range past its end.
    fn send_file(
        &self,
        request: Request,
        path: &Path,
        len: u64,
        ext: &str,
        range: Option<&str>,
    ) -> std::io::Result<()> {
        let mime = FORMATS.iter().find(|(e, _)| *e == ext).map_or("application/octet-stream", |f| f.1);
        let Ok(mut file) = File::open(path) else {
            return request.respond(html(404, page::missing()));
        };
        let headers = [
            header("Content-Type", mime),
            header("Accept-Ranges", "bytes"),
            header("Cache-Control", "max-age=3600"),
        ];
        match range.map(|r| parse_range(r, len)) {
            None => {
                let mut response =
                    Response::new(StatusCode(200), headers.to_vec(), file, Some(len as usize), None);
                response.add_header(header("Content-Disposition", "inline"));
                request.respond(response)
            }
            Some(Some((start, end))) => {
                use std::io::Seek;
                file.seek(std::io::SeekFrom::Start(start))?;
                let mut response = Response::new(
                    StatusCode(206),
                    headers.to_vec(),
                    file.take(end - start + 1),
                    Some((end - start + 1) as usize),
                    None,
                );
                response.add_header(header("Content-Range", &format!("bytes {start}-{end}/{len}")));
                request.respond(response)
            }
            Some(None) => request.respond(
                Response::from_string("")
                    .with_status_code(416)
                    .with_header(header("Content-Range", &format!("bytes */{len}"))),
            ),
        }
    }
}

/// The first range of a `Range: bytes=...` header as inclusive (start, end) within `len`
/// bytes; `None` when it cannot be satisfied (or is not a byte range).
pub fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?.split(',').next()?.trim();
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.checked_sub(n.min(len))?, len.checked_sub(1)?)
        }
        (s, "") => (s.parse().ok()?, len.checked_sub(1)?),
        (s, e) => (s.parse().ok()?, e.parse::<u64>().ok()?.min(len.checked_sub(1)?)),
    };
    (start <= end && start < len).then_some((start, end))
}

/// Compares without stopping at the first difference (the PIN is not found digit by digit).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}

fn html(status: u16, body: String) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(body)
        .with_status_code(status)
        .with_header(header("Content-Type", "text/html; charset=utf-8"))
        .with_header(header("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'"))
}

fn text(status: u16, body: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(body).with_status_code(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_nothing_else_is_one() {
        let (a, b) = (new_id(1_764_700_000).unwrap(), new_id(1_764_700_000).unwrap());
        assert!(is_id(&a) && is_id(&b) && a != b, "{a} {b}");
        for bad in [
            "",
            "comic-1-abc",
            "comic-1-0123456789abcdeF",
            "comic-1-0123456789abcdef0",
            "comic--0123456789abcdef",
            "../comic-1-0123456789abcdef",
            "comic-1-0123456789abcde/",
            "comic-1%2e-0123456789abcdef",
            "comic-1234567890123-0123456789abcdef",
        ] {
            assert!(!is_id(bad), "{bad}");
        }
        assert!(is_id("comic-1-0123456789abcdef"));
    }

    #[test]
    fn wifi_codes_escape_what_the_format_reserves() {
        assert_eq!(wifi_join("Booth", "comics-2026"), "WIFI:T:WPA;S:Booth;P:comics-2026;;");
        assert_eq!(wifi_join("a;b", "p:w\\"), "WIFI:T:WPA;S:a\\;b;P:p\\:w\\\\;;");
        assert_eq!(wifi_join("Open", ""), "WIFI:T:nopass;S:Open;;");
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 99)));
        assert_eq!(parse_range("bytes=900-", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=-100", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=500-5000", 1000), Some((500, 999)));
        assert_eq!(parse_range("bytes=0-1", 1), Some((0, 0)));
        assert_eq!(parse_range("bytes=1000-", 1000), None);
        assert_eq!(parse_range("bytes=5-4", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
        assert_eq!(parse_range("bytes=0-0", 0), None);
    }

    #[test]
    fn the_pin_compares_whole() {
        assert!(same(b"2468", b"2468"));
        assert!(!same(b"2468", b"2469") && !same(b"246", b"2468"));
    }
}
