//! The share server's pages: small, readable on a phone, lettered in the bundled comic font
//! (served by the same server), with no script and nothing fetched from elsewhere.

use super::Comic;

const STYLE: &str = "@font-face{font-family:comic;src:url(/font.otf)}\
body{margin:0;background:#ffde59;color:#101010;font-family:comic,sans-serif;text-align:center}\
main{max-width:40rem;margin:0 auto;padding:1rem}\
h1{font-size:2.2rem;margin:.5rem 0 1rem}\
.comic{width:100%;height:auto;border:.3rem solid #101010;background:#fff;box-sizing:border-box}\
a.button{display:inline-block;margin:.4rem;padding:.8rem 1.2rem;border:.2rem solid #101010;\
border-radius:.6rem;background:#fff;color:#101010;font-size:1.3rem;text-decoration:none}\
p{font-size:1.2rem}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.6rem}\
.grid img{width:100%;border:.2rem solid #101010;background:#fff}\
input{font-size:1.4rem;padding:.5rem;width:8rem;font-family:inherit}";

fn doc(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>"
    )
}

/// What a download button says for a format.
fn label(ext: &str) -> &'static str {
    match ext {
        "mp4" => "Video (MP4)",
        "webp" => "Animation (WebP)",
        _ => "Animation (GIF)",
    }
}

/// A comic's page: the animation playing, then a download button per file.
pub fn comic(c: &Comic) -> String {
    let id = &c.id;
    let has = |ext: &str| c.files.iter().any(|(e, _)| *e == ext);
    let fallback = if has("gif") { "gif" } else { c.files[0].0 };
    let player = if has("mp4") {
        format!(
            "<video class=\"comic\" src=\"/f/{id}.mp4\" autoplay muted loop playsinline \
             poster=\"/f/{id}.{fallback}\"></video>"
        )
    } else if has("webp") && has("gif") {
        format!(
            "<picture><source srcset=\"/f/{id}.webp\" type=\"image/webp\">\
             <img class=\"comic\" src=\"/f/{id}.gif\" alt=\"Your comic\"></picture>"
        )
    } else {
        format!("<img class=\"comic\" src=\"/f/{id}.{fallback}\" alt=\"Your comic\">")
    };
    let buttons: String = c
        .files
        .iter()
        .map(|(ext, bytes)| {
            format!(
                "<a class=\"button\" href=\"/f/{id}.{ext}\" download=\"{id}.{ext}\">{} \
                 <small>{:.1} MB</small></a>",
                label(ext),
                *bytes as f64 / 1e6
            )
        })
        .collect();
    doc(
        "Your comic",
        &format!(
            "<h1>Here you are, drawn as a comic!</h1>{player}\
             <p>Keep it: tap a button (on an iPhone, then share and save it).</p>{buttons}"
        ),
    )
}

/// The root: nothing is listed there.
pub fn welcome() -> String {
    doc("comicbooth", "<h1>comicbooth</h1><p>Scan the code on the booth's screen to get your comic.</p>")
}

/// No such comic (a mistyped address, or it was deleted to make room).
pub fn missing() -> String {
    doc(
        "Not here",
        "<h1>This comic is not here</h1><p>Check the address, or scan the code on the booth's \
         screen again. Old comics are deleted after a while.</p>",
    )
}

/// The operator's PIN prompt.
pub fn pin_form(wrong: bool) -> String {
    let note = if wrong { "<p>That PIN is not right.</p>" } else { "" };
    doc(
        "Gallery",
        &format!(
            "<h1>Gallery</h1>{note}<form method=\"get\" action=\"/gallery\">\
             <p><label>Operator PIN <input name=\"pin\" type=\"password\" inputmode=\"numeric\" \
             autocomplete=\"off\"></label></p><p><button class=\"button\">Open</button></p></form>"
        ),
    )
}

/// Every comic, newest first, each linking to its page.
pub fn gallery(comics: &[Comic]) -> String {
    let tiles: String = comics
        .iter()
        .map(|c| {
            let ext = if c.files.iter().any(|(e, _)| *e == "gif") { "gif" } else { c.files[0].0 };
            format!("<a href=\"/c/{0}\"><img src=\"/f/{0}.{ext}\" alt=\"{0}\" loading=\"lazy\"></a>", c.id)
        })
        .collect();
    doc("Gallery", &format!("<h1>Gallery: {} comics</h1><div class=\"grid\">{tiles}</div>", comics.len()))
}
