//! The web UI, embedded in the binary: no Node and no build step for the person running Confab.

use axum::http::header;
use axum::response::{Html, IntoResponse};

/// The pages load only their own script and style and talk only to this server: a script that slipped
/// into a message could not run, nor send anything elsewhere.
const PAGE_HEADERS: [(header::HeaderName, &str); 3] = [
    (header::CONTENT_SECURITY_POLICY, "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
];

pub async fn lobby() -> impl IntoResponse {
    (PAGE_HEADERS, Html(include_str!("../../ui/index.html")))
}

/// Every room name gets the room page; the page offers to create a room that does not exist.
pub async fn room() -> impl IntoResponse {
    (PAGE_HEADERS, Html(include_str!("../../ui/room.html")))
}

pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../../ui/app.js"))
}

pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../../ui/style.css"))
}
