//! Roster's HTTP adapter: Rocket.Chat 6.3's user-import API over a Roster [`Engine`].
//!
//! [`router`] builds an axum [`Router`] from an engine handle and an [`Authenticator`], so a
//! host server can merge it next to its own routes and tests can drive it without a socket.
//! The adapter holds no import rules: it checks who is calling, reads the request, hands the
//! call to the engine on a blocking thread, and writes the answer in Rocket.Chat's shapes.
//!
//! ```
//! use std::sync::Arc;
//!
//! use roster_core::{Config, Engine};
//! use roster_http::{router, Limits, TokenAuthenticator, RUN_IMPORT};
//!
//! # fn main() -> Result<(), roster_core::Error> {
//! let engine = Engine::open_in_memory(Config::default())?;
//! let token = engine.create_token("admin", &[RUN_IMPORT.to_owned()])?;
//! let auth = Arc::new(TokenAuthenticator::new(engine.clone()));
//! let app: axum::Router = router(engine, auth, Limits::default());
//! // Serve `app` with `axum::serve`, or merge it into a bigger router; callers send
//! // `X-User-Id: admin` and `X-Auth-Token: <token>`.
//! # let _ = (app, token);
//! # Ok(())
//! # }
//! ```
//!
//! The parts:
//! - [`Authenticator`] says who a caller is and whether they may run imports;
//!   [`TokenAuthenticator`] is the default, on the engine's own token store (`auth`);
//! - `routes` holds one handler per endpoint, and the request log;
//! - `error` is the one place where a failure becomes a status code and a body.
//!
//! Invariants: every engine call runs on tokio's blocking pool, never on an async thread;
//! no handler builds an error body itself; a password is never logged or answered.

mod auth;
mod error;
mod routes;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{middleware, Router};
use roster_core::Engine;

pub use auth::{AuthError, Authenticator, Caller, TokenAuthenticator, RUN_IMPORT};

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
