//! The web UI, embedded in the binary: no Node and no build step for the person running Confab.
//!
//! One HTML shell serves every page of the single-page app (`/`, `/chat-room/<name>`, `/invite/<code>`
//! and `/register?invite=<code>`, the link `POST /api/admin/invites` answers; the client routes by path). The client is plain ES modules, each embedded here with `include_str!` and served from
//! `/static/<file>`; an unknown file is a 404, never a fall-through to the shell.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// The pages load only their own scripts and styles and talk only to this server: a script that slipped
/// into a message could not run (no inline scripts, no `eval`), nor send anything elsewhere.
const PAGE_HEADERS: [(header::HeaderName, &str); 3] = [
    (header::CONTENT_SECURITY_POLICY, "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
];

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file under `/static/`, by name. A module added to `ui/` must be listed here to be served.
const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", CSS, include_str!("../../ui/style.css")),
    ("theme.js", JS, include_str!("../../ui/theme.js")),
    ("app.js", JS, include_str!("../../ui/app.js")),
    ("api.js", JS, include_str!("../../ui/api.js")),
    ("dom.js", JS, include_str!("../../ui/dom.js")),
    ("format.js", JS, include_str!("../../ui/format.js")),
    ("protocol.js", JS, include_str!("../../ui/protocol.js")),
    ("state.js", JS, include_str!("../../ui/state.js")),
    ("outbox.js", JS, include_str!("../../ui/outbox.js")),
    ("storage.js", JS, include_str!("../../ui/storage.js")),
    ("window.js", JS, include_str!("../../ui/window.js")),
    ("timeline.js", JS, include_str!("../../ui/timeline.js")),
    ("message.js", JS, include_str!("../../ui/message.js")),
    ("composer.js", JS, include_str!("../../ui/composer.js")),
    ("sidebar.js", JS, include_str!("../../ui/sidebar.js")),
    ("settings.js", JS, include_str!("../../ui/settings.js")),
    ("auth.js", JS, include_str!("../../ui/auth.js")),
    ("account.js", JS, include_str!("../../ui/account.js")),
    ("roomsettings.js", JS, include_str!("../../ui/roomsettings.js")),
    ("chat.js", JS, include_str!("../../ui/chat.js")),
];

const SHELL: &str = include_str!("../../ui/index.html");

/// The lobby (`/`): the app shell.
pub async fn lobby() -> impl IntoResponse {
    (PAGE_HEADERS, Html(SHELL))
}

/// Every room name gets the app shell; the client offers to create a room that does not exist.
pub async fn room() -> impl IntoResponse {
    (PAGE_HEADERS, Html(SHELL))
}

/// One embedded script or style sheet. The modules must change together (a new `app.js` with an old
/// cached `chat.js` would break), so the browser revalidates every time (`no-cache`) and gets a 304 for
/// an unchanged file: its ETag is a hash of the content, computed once.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|(name, _, _)| *name == file) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let (_, mime, body) = ASSETS[index];
    let etag = &etags()[index];
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let common = [
        (header::CACHE_CONTROL, "no-cache".to_owned()),
        (header::ETAG, etag.clone()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
    ];
    if cached {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (common, [(header::CONTENT_TYPE, mime)], body).into_response()
}

/// `"<FNV-1a 64 of the file>"` for each entry of ASSETS, in order.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(_, _, body)| {
                let hash = body.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                });
                format!("\"{hash:016x}\"")
            })
            .collect()
    })
}
