//! What the benches share: the generator, stores staged once and copied for every run, the
//! plain insert loop that is the floor for the no-password path, and a tally that prints each
//! figure beside its baseline from the same run.
//!
//! Every bench times one whole run per iteration (`iter_custom`) and leaves setup (making the
//! input, staging, copying a file) out of the clock. Criterion reports `elem/s`; an element
//! is one staged user.

#![allow(dead_code)] // Each bench binary uses a different part of this module.

pub mod generate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use roster_core::{Config, Engine, OnInterrupted, State};
use rusqlite::{params, Connection};
use tempfile::TempDir;

use generate::{Generator, Kind, Record};

/// The seed every bench uses (and `gen-users`, so files match the benches).
pub const SEED: u64 = 2026;

/// Users per `add_users` call when a bench stages.
pub const STAGE_CHUNK: u64 = 10_000;

/// Criterion as the benches use it: ten samples of one run each, no warm-up beyond one run,
/// so that the whole suite finishes in minutes on a small machine.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_millis(1))
        .without_plots()
}

/// The sampling a group of long routines needs: the same count (one) in every sample.
pub const SAMPLING: SamplingMode = SamplingMode::Flat;

/// The engine configuration of a bench: bcrypt at Rocket.Chat's cost unless told otherwise.
pub fn config(workers: usize) -> Config {
    Config { workers, on_interrupted: OnInterrupted::Leave, ..Config::default() }
}

/// The machine's cores, as the engine counts them by default.
pub fn cores() -> usize {
    Config::default().workers
}

/// A store with `n` generated users staged, kept as a file that each run copies, so that a
/// run always starts from the same staged state and staging is paid once.
pub struct StagedStore {
    dir: TempDir,
    template: PathBuf,
    copies: u64,
}

impl StagedStore {
    pub fn new(generator: Generator, n: u64) -> StagedStore {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let template = dir.path().join("staged.db");
        let engine = Engine::open(&template, config(1)).expect("a new store");
        engine.new_operation("bench").expect("an operation");
        stage(&engine, generator, n);
        // Dropping the last connection checkpoints the WAL into the file, so one copy is whole.
        drop(engine);
        StagedStore { dir, template, copies: 0 }
    }

    /// Runs the import on a fresh copy of the staged store, opened with `config`, and
    /// returns how long the run took; the copy is removed afterwards.
    pub fn time_copy_run(&mut self, config: Config) -> Duration {
        self.copies += 1;
        let path = self.dir.path().join(format!("run-{}.db", self.copies));
        std::fs::copy(&self.template, &path).expect("a copy of the staged store");
        let engine = Engine::open(&path, config).expect("the copied store");
        let took = time_run(&engine);
        drop(engine);
        remove_store(&path);
        took
    }
}

/// Stages records `0..n` of `generator` in calls of [`STAGE_CHUNK`].
pub fn stage(engine: &Engine, generator: Generator, n: u64) {
    for start in (0..n).step_by(STAGE_CHUNK as usize) {
        let end = (start + STAGE_CHUNK).min(n);
        let users = (start..end).map(|i| generator.record(i).to_new_user()).collect();
        engine.add_users(users).expect("staging generated users");
    }
}

/// Runs the staged operation of `engine` to its end and returns how long it took.
pub fn time_run(engine: &Engine) -> Duration {
    let started = Instant::now();
    let summary = engine.run().expect("a run").wait();
    let took = started.elapsed();
    assert_eq!(summary.state, State::Done, "the run ended {:?}", summary.reason);
    took
}

/// Removes a store file, its WAL companions and its lock file.
pub fn remove_store(path: &Path) {
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
}

/// The floor for the no-password path: a plain loop that writes the users the run would
/// create (the valid records of `0..n`) into a fresh file, a user row and an email row per
/// user, 1000 users per transaction, in WAL mode, with a unique case-insensitive index on
/// usernames and on addresses. It checks nothing and reads nothing back.
pub fn baseline_insert_loop(dir: &Path, generator: Generator, n: u64) -> Duration {
    let path = dir.join("baseline.db");
    remove_store(&path);
    let mut conn = Connection::open(&path).expect("a baseline file");
    conn.pragma_update(None, "journal_mode", "WAL").expect("WAL");
    conn.pragma_update(None, "synchronous", "NORMAL").expect("synchronous");
    conn.execute_batch(BASELINE_SCHEMA).expect("the baseline schema");
    let records: Vec<Record> =
        generator.records(n).filter(|r| matches!(r.kind, Kind::Valid)).collect();

    let started = Instant::now();
    for chunk in records.chunks(1000) {
        let tx = conn.transaction().expect("a transaction");
        for record in chunk {
            baseline_insert(&tx, record);
        }
        tx.commit().expect("a commit");
    }
    let took = started.elapsed();
    drop(conn);
    remove_store(&path);
    took
}

const BASELINE_SCHEMA: &str = "
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL,
        name TEXT NOT NULL,
        emails TEXT NOT NULL,
        password_hash TEXT,
        active INTEGER NOT NULL,
        type TEXT NOT NULL,
        roles TEXT NOT NULL,
        import_ids TEXT NOT NULL,
        profile TEXT NOT NULL,
        operation_id TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX users_username ON users (username COLLATE NOCASE);
    CREATE TABLE user_emails (
        email TEXT PRIMARY KEY COLLATE NOCASE,
        user_id INTEGER NOT NULL
    ) WITHOUT ROWID;
";

/// One user of the baseline, with the values a run would write for it.
fn baseline_insert(tx: &rusqlite::Transaction<'_>, record: &Record) {
    let mut user = tx
        .prepare_cached(
            "INSERT INTO users (username, name, emails, password_hash, active, type, roles,
             import_ids, profile, operation_id, created_at)
             VALUES (?1, ?2, ?3, NULL, 1, 'user', '[\"user\"]', ?4, ?5, ?6, ?7)",
        )
        .expect("the user insert");
    let emails = format!("[{:?}]", record.email);
    let import_ids = format!("[{:?}]", record.import_id);
    let profile = r#"{"avatarUrl":null,"bio":null,"customFields":null,"statusText":null}"#;
    let created_at = "2026-12-03T12:00:00.000Z";
    user.execute(params![
        record.username,
        record.name,
        emails,
        import_ids,
        profile,
        "0123456789abcdef01234567",
        created_at
    ])
    .expect("a user row");
    let user_id = tx.last_insert_rowid();
    let mut email = tx
        .prepare_cached("INSERT INTO user_emails (email, user_id) VALUES (?1, ?2)")
        .expect("the email insert");
    email.execute(params![record.email, user_id]).expect("an email row");
}

/// The durations of every timed run, by label, to print each median beside its baseline once
/// a bench is over: criterion reports each function alone, and a ratio is only fair between
/// figures taken in the same run of the suite.
pub struct Tally {
    runs: Mutex<BTreeMap<String, (u64, Vec<Duration>)>>,
}

impl Tally {
    pub const fn new() -> Tally {
        Tally { runs: Mutex::new(BTreeMap::new()) }
    }

    /// Times `iters` runs of `once` (which answers how long its timed part took), records
    /// each under `label` as a run that handled `users` users, and answers the total: the
    /// body of a criterion `iter_custom`.
    pub fn time(
        &self,
        iters: u64,
        label: &str,
        users: u64,
        mut once: impl FnMut() -> Duration,
    ) -> Duration {
        (0..iters)
            .map(|_| {
                let took = once();
                self.record(label, users, took);
                took
            })
            .sum()
    }

    /// Records one run of `label` that handled `users` users.
    pub fn record(&self, label: &str, users: u64, took: Duration) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let entry = runs.entry(label.to_owned()).or_insert_with(|| (users, Vec::new()));
        entry.1.push(took);
    }

    /// The median rate of `label` in users per second.
    pub fn median_rate(&self, label: &str) -> Option<f64> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let (users, times) = runs.get(label)?;
        Some(*users as f64 / median(times)?.as_secs_f64())
    }

    /// Prints the median rate of every label and the ratios the issue sets as targets.
    pub fn report(&self, title: &str, ratios: &[(&str, &str, f64, f64)]) {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        println!("\n== {title}: medians of the runs above ==");
        for (label, (users, times)) in runs.iter() {
            let Some(median) = median(times) else { continue };
            let rate = *users as f64 / median.as_secs_f64();
            println!(
                "{label:>32}: {rate:>10.1} users/s  (median {:.3} s of {} runs, {users} users)",
                median.as_secs_f64(),
                times.len()
            );
        }
        drop(runs);
        for &(label, baseline, scale, target) in ratios {
            let (Some(rate), Some(base)) = (self.median_rate(label), self.median_rate(baseline))
            else {
                continue;
            };
            let ratio = rate / (base * scale);
            let verdict = if ratio >= target { "met" } else { "NOT met" };
            let of = if scale == 1.0 { String::new() } else { format!("{scale} x ") };
            println!(
                "{label} / ({of}{baseline}) = {:.1}%  (target >= {:.0}%: {verdict})",
                ratio * 100.0,
                target * 100.0
            );
        }
    }
}

/// The median of `times`, if there are any.
fn median(times: &[Duration]) -> Option<Duration> {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied()
}
