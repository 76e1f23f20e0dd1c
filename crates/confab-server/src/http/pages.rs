//! The web UI, embedded in the binary: no Node and no build step for the person running Confab.

use axum::http::header;
use axum::response::{Html, IntoResponse};

pub async fn lobby() -> Html<&'static str> {
    Html(include_str!("../../ui/index.html"))
}

/// Every room name gets the room page; the page offers to create a room that does not exist.
pub async fn room() -> Html<&'static str> {
    Html(include_str!("../../ui/room.html"))
}

pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../../ui/app.js"))
}

pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../../ui/style.css"))
}
