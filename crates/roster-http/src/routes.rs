//! The handlers, one per endpoint, and the request log that wraps them.
//!
//! Each handler turns the request into one engine call, runs it on the blocking pool (the
//! engine does disk IO and may wait for a run to reach a batch boundary), and answers in
//! Rocket.Chat's success shape: the payload's fields plus `"success": true`.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{MatchedPath, Query, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::{Extension, Json};
use roster_core::input::{read_users, Format};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::{debug, debug_span, Instrument, Span};

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;

/// How many flagged records `import.flagged` answers when the caller does not say.
const DEFAULT_PAGE: u64 = 50;

/// The most flagged records one `import.flagged` call answers; larger counts are cut to it,
/// as Rocket.Chat's list endpoints do.
const MAX_PAGE: u64 = 500;

type Answer = Result<Json<Value>, ApiError>;

/// `POST import.new`: starts a fresh operation made by the caller.
pub(crate) async fn new_operation(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
) -> Answer {
    let operation = blocking(move || Ok(app.engine.new_operation(&caller.user_id)?)).await?;
    Ok(Json(json!({"operation": operation, "success": true})))
}

/// `POST import.addUsers`: stages the body's users, all or nothing.
pub(crate) async fn add_users(
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let body = body.map_err(|e| ApiError::from_body(e, app.limits.max_body_bytes))?;

    // The body is read whole before staging starts, so a slow client never holds the
    // engine's staging transaction open.
    blocking(move || {
        let staged = app.engine.stage_with(|stager| {
            read_users(&body[..], Format::Json, &mut |user, at| stager.push(user, at))
        });
        staged.map(drop).map_err(ApiError::from)
    })
    .await?;
    Ok(Json(json!({"success": true})))
}

/// `GET import.status`: the state, and the latest operation if there ever was one.
pub(crate) async fn status(State(app): State<App>) -> Answer {
    let report = blocking(move || Ok(app.engine.status()?)).await?;
    let mut body = json!({"state": report.state, "success": true});
    if let Some(operation) = report.operation {
        body["operation"] = json!(operation);
    }
    Ok(Json(body))
}

/// `POST import.run`: starts the run in the background; the state is `importing` when this
/// answers.
pub(crate) async fn run(State(app): State<App>) -> Answer {
    blocking(move || Ok(app.engine.run().map(drop)?)).await?;
    Ok(Json(json!({"success": true})))
}

/// `POST import.clear`: invalidates the current operation; a running import stops at its
/// next batch boundary before this answers.
pub(crate) async fn clear(State(app): State<App>) -> Answer {
    blocking(move || Ok(app.engine.clear()?)).await?;
    Ok(Json(json!({"success": true})))
}

/// The query of `import.flagged`, read as text so that a bad number gets our message.
#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    offset: Option<String>,
    count: Option<String>,
}

/// `GET import.flagged?offset=&count=`: a page of the records that were not imported.
pub(crate) async fn flagged(
    State(app): State<App>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Answer {
    let Query(query) = query.map_err(|e| ApiError::InvalidParams(e.body_text()))?;
    let offset = number(query.offset.as_deref(), "offset")?.unwrap_or(0);
    let count = number(query.count.as_deref(), "count")?.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);

    let page = blocking(move || Ok(app.engine.flagged(offset, count)?)).await?;
    Ok(Json(json!({
        "flagged": page.flagged,
        "offset": offset,
        "count": page.flagged.len(),
        "total": page.total,
        "success": true,
    })))
}

/// A query parameter that must be a non-negative integer when given.
fn number(value: Option<&str>, name: &str) -> Result<Option<u64>, ApiError> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let parsed = text
        .parse::<u64>()
        .map_err(|_| ApiError::InvalidParams(format!("{name} must be a non-negative integer")))?;
    Ok(Some(parsed))
}

/// Runs `work` on tokio's blocking pool, inside the request's span.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let span = Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?
}

/// Logs every request at debug, with its route, status and time, in a span that the
/// handler's own events (and the engine's, on the blocking pool) are nested in.
pub(crate) async fn log_request(request: Request, next: Next) -> Response {
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) => path.as_str().to_owned(),
        None => request.uri().path().to_owned(),
    };
    let span = debug_span!("request", method = %request.method(), route);
    async move {
        let started = Instant::now();
        let response = next.run(request).await;
        let elapsed = started.elapsed();
        debug!(status = response.status().as_u16(), ?elapsed, "answered");
        response
    }
    .instrument(span)
    .await
}
