//! Request metrics by route template, and the gauges read from the state
//! at scrape time.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

pub const HTTP_REQUESTS_TOTAL: &str = "hrsync_http_requests_total";
pub const ESCROW_WORKERS: &str = "hrsync_escrow_workers";
pub const ESCROW_FLAGGED_WORKERS: &str = "hrsync_escrow_flagged_workers";
pub const WATERMARK: &str = "hrsync_watermark_timestamp_seconds";
pub const LAST_SUCCESS: &str = "hrsync_last_successful_cycle_timestamp_seconds";

pub fn describe() {
    metrics::describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests answered by the API, by route template, method and status."
    );
    metrics::describe_gauge!(
        ESCROW_WORKERS,
        "Workers in escrow (failed, awaiting retry), by flow."
    );
    metrics::describe_gauge!(
        ESCROW_FLAGGED_WORKERS,
        "Workers in escrow flagged for a human (failed too often), by flow."
    );
    metrics::describe_gauge!(
        WATERMARK,
        "The flow's watermark: source changes up to this instant are provisioned (Unix seconds)."
    );
    metrics::describe_gauge!(
        LAST_SUCCESS,
        "When the flow's last completed cycle ended (Unix seconds; with errors counts)."
    );
}

/// Count every answered request under its route template; a path no route
/// matched is `unmatched`, a method outside HTTP's usual ones `_OTHER`.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "_OTHER",
    };
    let response = next.run(request).await;
    metrics::counter!(
        HTTP_REQUESTS_TOTAL,
        "route" => route,
        "method" => method,
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    response
}
