//! The take-home server for real, on 127.0.0.1: a comic's page and files, HEAD and byte
//! ranges, nothing outside the export folder whatever the request says, 200 clients at once,
//! the operator's gallery behind its PIN, and a folder that empties under it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use comicbooth::animate::Animation;
use comicbooth::config::{Format, ShareConfig};
use comicbooth::share::{Share, new_id};

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on its own connection (closed after), the raw path as given.
fn ask(addr: SocketAddr, method: &str, path: &str, extra: &str) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: booth\r\nConnection: close\r\n{extra}\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block") + 4;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    Reply { status, head, body: raw[split..].to_vec() }
}

/// A small real comic (GIF and WebP) in `dir`, named by a fresh id.
fn comic(dir: &Path) -> String {
    let id = new_id(1_764_700_000).unwrap();
    let frames = (0..3)
        .map(|t| {
            image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([(x * 4) as u8, (y * 4) as u8, 60 * t as u8]))
        })
        .collect();
    let anim = Animation { frames, frame_time: std::time::Duration::from_millis(100), label: id.clone() };
    comicbooth::export::write_animation(dir, &anim, &[Format::Gif, Format::Webp]).unwrap();
    id
}

fn server(dir: &Path, pin: &str) -> SocketAddr {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let addr = server.server_addr().to_ip().unwrap();
    let share = Share::new(dir, &ShareConfig { gallery_pin: pin.into(), ..ShareConfig::default() });
    std::thread::spawn(move || share.serve(server));
    addr
}

#[test]
fn a_comic_page_plays_it_and_offers_every_file_with_nothing_from_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let id = comic(dir.path());
    let addr = server(dir.path(), "");
    let page = ask(addr, "GET", &format!("/c/{id}"), "");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(&format!("/f/{id}.webp")) && html.contains(&format!("/f/{id}.gif")), "{html}");
    assert!(html.contains("name=\"viewport\""), "not sized for phones");
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"), "{html}");
    assert!(!html.contains("<script"), "{html}");

    let gif = ask(addr, "GET", &format!("/f/{id}.gif"), "");
    assert_eq!(gif.status, 200);
    assert_eq!(gif.header("Content-Type").as_deref(), Some("image/gif"));
    assert_eq!(gif.body, std::fs::read(dir.path().join(format!("{id}.gif"))).unwrap());
    let font = ask(addr, "GET", "/font.otf", "");
    assert_eq!((font.status, font.body.len()), (200, comicbooth::assets::COMIC_FONT.bytes.len()));
}

#[test]
fn head_and_byte_ranges_as_phones_ask_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let id = comic(dir.path());
    let addr = server(dir.path(), "");
    let file = std::fs::read(dir.path().join(format!("{id}.webp"))).unwrap();
    let path = format!("/f/{id}.webp");

    let head = ask(addr, "HEAD", &path, "");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), Some(file.len().to_string()));
    assert_eq!(head.header("Accept-Ranges").as_deref(), Some("bytes"));
    assert!(head.body.is_empty());

    let part = ask(addr, "GET", &path, "Range: bytes=10-19\r\n");
    assert_eq!(part.status, 206);
    assert_eq!(part.body, file[10..20]);
    assert_eq!(part.header("Content-Range"), Some(format!("bytes 10-19/{}", file.len())));
    let tail = ask(addr, "GET", &path, "Range: bytes=-5\r\n");
    assert_eq!((tail.status, tail.body.as_slice()), (206, &file[file.len() - 5..]));
    let past = ask(addr, "GET", &path, &format!("Range: bytes={}-\r\n", file.len()));
    assert_eq!(past.status, 416);
    assert_eq!(ask(addr, "POST", &path, "").status, 405);
}

#[test]
fn nothing_outside_the_folder_or_half_written_is_served() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("comics");
    std::fs::create_dir(&dir).unwrap();
    let id = comic(&dir);
    std::fs::write(root.path().join("secret.gif"), b"not for guests").unwrap();
    // A link that looks like a comic, pointing out of the folder.
    let fake = "comic-1764700000-00000000deadbeef";
    std::os::unix::fs::symlink(root.path().join("secret.gif"), dir.join(format!("{fake}.gif"))).unwrap();
    // A comic being written: only its temporary file exists.
    let writing = "comic-1764700001-0123456789abcdef";
    std::fs::write(dir.join(format!(".{writing}.gif.tmp-1")), b"GIF89a half").unwrap();
    let addr = server(&dir, "");
    for path in [
        "/f/../secret.gif".to_owned(),
        "/f/%2e%2e/secret.gif".to_owned(),
        "/f/..%2fsecret.gif".to_owned(),
        "/f//etc/passwd".to_owned(),
        "/f/secret.gif".to_owned(),
        "/c/../../etc/passwd".to_owned(),
        format!("/f/{id}.toml"),
        format!("/f/{id}"),
        format!("/f/{id}.gif/"),
        format!("/f/{fake}.gif"),
        format!("/c/{fake}"),
        format!("/c/{writing}"),
        format!("/f/{writing}.gif"),
        format!("/f/.{writing}.gif.tmp-1"),
        "/gallery".to_owned(),
        "/c/".to_owned(),
        "/etc/passwd".to_owned(),
    ] {
        let r = ask(addr, "GET", &path, "");
        assert_eq!(r.status, 404, "{path} answered {}", r.status);
        assert!(!r.text().contains("not for guests") && !r.text().contains("root:"), "{path}");
    }
    // The real comic is still there, and the folder emptied under the server is just empty.
    assert_eq!(ask(addr, "GET", &format!("/c/{id}"), "").status, 200);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(ask(addr, "GET", &format!("/c/{id}"), "").status, 404);
    assert_eq!(ask(addr, "GET", "/", "").status, 200);
}

#[test]
fn two_hundred_clients_at_once_all_get_their_comic() {
    let dir = tempfile::tempdir().unwrap();
    let id = comic(dir.path());
    let addr = server(dir.path(), "");
    let expected = std::fs::read(dir.path().join(format!("{id}.gif"))).unwrap();
    let clients: Vec<_> = (0..200)
        .map(|i| {
            let path = if i % 2 == 0 { format!("/c/{id}") } else { format!("/f/{id}.gif") };
            std::thread::spawn(move || ask(addr, "GET", &path, ""))
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        let r = c.join().expect("a client thread");
        assert_eq!(r.status, 200, "client {i}");
        if i % 2 == 1 {
            assert_eq!(r.body, expected, "client {i}");
        }
    }
}

#[test]
fn the_gallery_needs_the_operators_pin() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (comic(dir.path()), comic(dir.path()));
    let addr = server(dir.path(), "2468");
    let form = ask(addr, "GET", "/gallery", "");
    assert_eq!(form.status, 200);
    assert!(form.text().contains("name=\"pin\"") && !form.text().contains(&a));
    assert_eq!(ask(addr, "GET", "/gallery?pin=1357", "").status, 403);
    let all = ask(addr, "GET", "/gallery?pin=2468", "");
    assert_eq!(all.status, 200);
    assert!(all.text().contains(&format!("/c/{a}")) && all.text().contains(&format!("/c/{b}")));
}

/// The comic page as a phone's browser shows it: headless Chromium at 390x844 opens
/// `/c/<id>` from the real server and the animation plays. A page around it (served by the
/// test, with the comic page in a frame) holds its load event back by N ms with a picture
/// the test server delays, so four screenshots catch the comic at four moments; each shows
/// one of its frames, and not all the same one.
#[test]
fn chromium_opens_a_comic_page_and_the_comic_plays() {
    let Some(chromium) = crate::files::tool("chromium", "Debian package chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let id = new_id(1_764_700_000).unwrap();
    // Three flat frames, red, green and blue, 300 ms each: easy to tell apart on a screenshot.
    let colours = [[230, 30, 30], [30, 200, 60], [40, 60, 230]];
    let frames = colours.iter().map(|&c| image::RgbImage::from_pixel(96, 96, image::Rgb(c))).collect();
    let anim = Animation { frames, frame_time: std::time::Duration::from_millis(300), label: id.clone() };
    comicbooth::export::write_animation(dir.path(), &anim, &[Format::Gif, Format::Webp]).unwrap();
    let addr = server(dir.path(), "");
    let around = tempfile::tempdir().unwrap();
    let pages = crate::files::Server::start(around.path());
    let mut seen = Vec::new();
    for ms in [300, 650, 1000, 1400] {
        let name = format!("around{ms}.html");
        let html = format!(
            "<!doctype html><body style=\"margin:0\"><iframe src=\"http://{addr}/c/{id}\" width=\"390\" \
             height=\"844\" style=\"border:0;display:block\"></iframe>\
             <img src=\"/slow?ms={ms}\" style=\"display:none\"></body>"
        );
        std::fs::write(around.path().join(&name), html).unwrap();
        let shot = around.path().join(format!("shot{ms}.png"));
        let (mut cmd, _profile) = crate::files::chromium_command(&chromium);
        cmd.arg("--window-size=390,844")
            .arg(format!("--screenshot={}", shot.display()))
            .arg(pages.url(&name));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let (ok, log) = crate::files::finish(cmd.spawn().unwrap(), deadline);
        assert!(ok && shot.exists(), "chromium --screenshot failed:\n{log}");
        let screen = image::open(&shot).unwrap().into_rgb8();
        // The page itself: its yellow background.
        let page = screen.pixels().filter(|p| p.0 == [0xff, 0xde, 0x59]).count();
        assert!(page > 20_000, "the comic page is not on the screen ({page} page pixels)");
        // Which frame shows: the colour covering the most pixels (the comic is over 300 px wide).
        let counts: Vec<usize> = colours
            .iter()
            .map(|c| screen.pixels().filter(|p| p.0.iter().zip(c).all(|(a, b)| a.abs_diff(*b) <= 6)).count())
            .collect();
        let (frame, &most) = counts.iter().enumerate().max_by_key(|(_, n)| **n).unwrap();
        assert!(most > 60_000, "no comic frame on the screen at {ms} ms: {counts:?}");
        seen.push(frame);
    }
    eprintln!("Chromium, the comic page's frame at 300, 650, 1000 and 1400 ms: {seen:?}");
    assert!(seen.iter().any(|&f| f != seen[0]), "the comic did not play: frames {seen:?}");
}
