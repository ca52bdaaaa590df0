//! `stage_users`: `add_users` of 1,000,000 generated users in calls of 10,000 into a fresh
//! operation, in users staged per second. Each call is one transaction, as a host posting
//! pages of an export would make them.

mod support;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use roster_core::{Engine, NewUser};

use support::generate::Generator;
use support::Tally;

const USERS: u64 = 1_000_000;

static TALLY: Tally = Tally::new();

fn stage_users(c: &mut Criterion) {
    let generator = Generator::new(support::SEED);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut group = c.benchmark_group("stage_users");
    group.sampling_mode(support::SAMPLING).throughput(Throughput::Elements(USERS));
    group.bench_function("add_users_10000_per_call", |b| {
        b.iter_custom(|iters| {
            TALLY.time(iters, "add_users_10000_per_call", USERS, || {
                stage_once(dir.path(), generator)
            })
        })
    });
    group.finish();
    TALLY.report("stage_users", &[]);
}

/// Stages every user into a fresh store; only the `add_users` calls are timed.
fn stage_once(dir: &std::path::Path, generator: Generator) -> Duration {
    let path = dir.join("stage.db");
    support::remove_store(&path);
    let engine = Engine::open(&path, support::config(1)).expect("a new store");
    engine.new_operation("bench").expect("an operation");
    let chunks: Vec<Vec<NewUser>> = (0..USERS)
        .step_by(support::STAGE_CHUNK as usize)
        .map(|start| {
            let end = (start + support::STAGE_CHUNK).min(USERS);
            (start..end).map(|i| generator.record(i).to_new_user()).collect()
        })
        .collect();

    let started = Instant::now();
    for users in chunks {
        engine.add_users(users).expect("staging generated users");
    }
    let took = started.elapsed();
    drop(engine);
    support::remove_store(&path);
    took
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = stage_users
}
criterion_main!(benches);
