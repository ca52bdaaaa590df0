//! Roster's core: a bulk user import engine on SQLite.
//!
//! A host hands the engine users to stage, runs the import as a background job with a clear
//! state machine, and ends with every staged user either created or flagged with the reason
//! it was not. The engine speaks Rocket.Chat's import vocabulary (operations, `addUsers`,
//! `run`, `status`, `clear`) but knows nothing of HTTP and uses no async runtime.
//!
//! ```
//! use roster_core::{Config, Engine, NewUser, State};
//!
//! # fn main() -> Result<(), roster_core::Error> {
//! let engine = Engine::open_in_memory(Config { bcrypt_cost: 4, ..Config::default() })?;
//! engine.new_operation("admin")?;
//! engine.add_users(vec![NewUser {
//!     emails: vec!["ann@example.org".into()],
//!     import_ids: vec!["42".into()],
//!     ..NewUser::default()
//! }])?;
//! let summary = engine.run()?.wait();
//! assert_eq!(summary.state, State::Done);
//! assert_eq!(engine.users(0, 10)?[0].username, "ann");
//! # Ok(())
//! # }
//! ```
//!
//! The parts, in the order a record meets them:
//! - [`input`] reads files and bodies; `user` checks and tidies each record on its way into
//!   staging ([`NewUser`]);
//! - `state` decides which call is legal when; [`Engine`] is the public face;
//! - `run` is the pipeline (planner, hashing workers, writer) and `plan` the rules it
//!   applies to each record (validation, conflicts, generated names), with `identity` for
//!   emails and usernames and `password` for hashing;
//! - `store` holds all SQL; `token` keeps API tokens for hosts that authenticate callers.

#![warn(missing_docs)]

mod config;
mod engine;
mod error;
mod identity;
pub mod input;
mod operation;
mod password;
mod plan;
mod run;
mod state;
mod store;
mod token;
mod user;

pub use config::{Config, OnInterrupted, UsernamePolicy, BUILT_IN_ROLES};
pub use engine::{Engine, Stager};
pub use error::{Error, InvalidParams, RecordRef, StoreError};
pub use operation::{Counts, Flag, FlaggedPage, Operation, Outcome, Reason, StatusReport, Summary};
pub use password::Password;
pub use run::{Observer, Progress, RunHandle};
pub use state::{State, Status};
pub use user::{NewUser, User, UserType};
