//! Roster's HTTP adapter: Rocket.Chat 6.3's user-import API over a Roster
//! [`Engine`](roster_core::Engine).
//!
//! [`router`] builds an axum [`Router`](axum::Router) from an engine handle and an
//! [`Authenticator`], so a host server can merge it next to its own routes and tests can drive
//! it without a socket.
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
//! - `app` builds the [`router`] under its [`Limits`];
//! - [`Authenticator`] says who a caller is and whether they may run imports;
//!   [`TokenAuthenticator`] is the default, on the engine's own token store (`auth`);
//! - `routes` holds one handler per endpoint, and the request log;
//! - `error` is the one place where a failure becomes a status code and a body.
//!
//! Invariants: every engine call runs on tokio's blocking pool, never on an async thread;
//! no handler builds an error body itself; a password is never logged or answered.

#![warn(missing_docs)]

mod app;
mod auth;
mod error;
mod routes;

pub use app::{router, Limits};
pub use auth::{AuthError, Authenticator, Caller, TokenAuthenticator, RUN_IMPORT};
