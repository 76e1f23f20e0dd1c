//! `GET /healthz`: `200 ok` as soon as the server accepts connections (for load balancers and scripts).

/// Liveness: answers `ok` while the server runs.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The server is up", content_type = "text/plain", body = String, example = "ok")))]
pub async fn healthz() -> &'static str {
    "ok"
}
