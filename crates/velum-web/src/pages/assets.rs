//! The stylesheet, compiled into the binary: no CDN, works offline.

use axum::http::header;
use axum::response::IntoResponse;

pub async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../static/velum.css"),
    )
}
