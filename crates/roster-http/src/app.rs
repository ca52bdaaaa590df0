//! The router: which handler answers which route, behind which layers, with what limits.
//!
//! The layers, from the outside in: the request log, the body limit, then the credential
//! check (on matched routes only), then the handler.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{middleware, Router};
use roster_core::Engine;

use crate::auth::{self, Authenticator};
use crate::routes;

/// The limits the adapter puts on requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest request body accepted, in bytes; a larger one is answered with 413.
    /// Default: 64 MiB.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body_bytes: 64 << 20 }
    }
}

impl Limits {
    /// These limits with a different largest request body.
    pub fn with_max_body_bytes(self, max_body_bytes: usize) -> Self {
        Limits { max_body_bytes, ..self }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) engine: Engine,
    pub(crate) auth: Arc<dyn Authenticator>,
    pub(crate) limits: Limits,
}

/// The import API under `/api/v1/`, answering for `engine` to the callers `auth` lets in.
///
/// The router has no fallback, so it can be merged into a host's router; paths it does not
/// know are the host's to answer.
pub fn router(engine: Engine, auth: Arc<dyn Authenticator>, limits: Limits) -> Router {
    let app = App { engine, auth, limits };
    Router::new()
        .route("/api/v1/import.new", post(routes::new_operation))
        .route("/api/v1/import.addUsers", post(routes::add_users))
        .route("/api/v1/import.status", get(routes::status))
        .route("/api/v1/import.run", post(routes::run))
        .route("/api/v1/import.clear", post(routes::clear))
        .route("/api/v1/import.flagged", get(routes::flagged))
        // Credentials are checked before any body is read, so a stranger cannot make the
        // server buffer 64 MiB.
        .route_layer(middleware::from_fn_with_state(app.clone(), auth::authorize))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn(routes::log_request))
        .with_state(app)
}
