//! Roster's end-to-end tests, compiled as one binary.
//!
//! - `examples`: the 2k sample in all three forms against its expected outcome.
//! - `cases`: every case in `tests/cases/` (drawn from other tools' bug reports), plus the
//!   rest of each case's kind.
//! - `pipeline`: determinism across worker counts, cancel, resume after a kill, staging all
//!   or nothing, passwords.
//! - `cli`: the `roster` binary's output and exit codes.
//! - `http`: `roster serve` over a real socket with a real HTTP client.

mod cases;
mod cli;
mod examples;
mod http;
mod pipeline;
mod util;
