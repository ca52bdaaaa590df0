//! Helpers shared by the end-to-end tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use roster_core::input::{read_users, Format, InputError};
use roster_core::{Config, Counts, Engine, Summary};
use serde_json::Value;

/// A configuration with cheap hashing, so tests with passwords stay fast.
pub fn config() -> Config {
    Config { bcrypt_cost: 4, ..Config::default() }
}

/// An in-memory engine with [`config`].
pub fn engine() -> Engine {
    Engine::open_in_memory(config()).expect("in-memory engine")
}

/// A file in the repository.
pub fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Reads and parses a JSON file of the repository.
pub fn repo_json(relative: &str) -> Value {
    let text = std::fs::read_to_string(repo_file(relative)).expect("readable test data");
    serde_json::from_str(&text).expect("valid JSON test data")
}

/// Stages `input` in `format` into a new operation, all or nothing.
pub fn stage(engine: &Engine, input: &[u8], format: Format) -> Result<u64, InputError> {
    engine.new_operation("tester").expect("new operation");
    let op = engine
        .stage_with(|stager| read_users(input, format, &mut |user, at| stager.push(user, at)))?;
    Ok(op.count.total)
}

/// Runs the current operation to its end.
pub fn run(engine: &Engine) -> Summary {
    engine.run().expect("run starts").wait()
}

/// Every record's outcome by its first importId: `imported`, or `skipped:<reason>` /
/// `failed:<reason>` for the flagged ones. Users created by earlier operations are listed
/// too.
pub fn outcomes(engine: &Engine) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for user in engine.users(0, u64::MAX >> 1).expect("users") {
        out.insert(user.import_ids[0].clone(), "imported".to_owned());
    }
    for flag in engine.flagged(0, u64::MAX >> 1).expect("flagged").flagged {
        let outcome = serde_json::to_value(flag.outcome).expect("outcome");
        let outcome = outcome.as_str().expect("outcome string").to_owned();
        out.insert(flag.import_id, format!("{outcome}:{}", flag.reason.as_str()));
    }
    out
}

/// The flagged records as `(importId, outcome, reason)`, in staging order.
pub fn flag_triples(engine: &Engine) -> Vec<(String, String, String)> {
    let page = engine.flagged(0, u64::MAX >> 1).expect("flagged");
    page.flagged
        .into_iter()
        .map(|f| {
            let outcome = serde_json::to_value(f.outcome).expect("outcome");
            (
                f.import_id,
                outcome.as_str().unwrap_or_default().to_owned(),
                f.reason.as_str().to_owned(),
            )
        })
        .collect()
}

/// Starts the run of `engine` and drops the engine once a first batch has committed, as a
/// kill between batches would leave the store; answers the counts of that first batch.
pub fn interrupt_after_first_batch(engine: Engine) -> Counts {
    let (tx, rx) = std::sync::mpsc::channel();
    engine
        .run_with_progress(Box::new(move |p| {
            let _ = tx.send(p.count);
        }))
        .expect("run starts");
    let first = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("a batch commits");
    drop(engine);
    first
}
