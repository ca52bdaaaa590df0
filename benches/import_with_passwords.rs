//! `import_with_passwords`: 64 staged users with passwords at bcrypt cost 10, run with one
//! hashing worker and with one per core, beside one thread that hashes the same passwords
//! back to back (bcrypt over the lowercase hex SHA-256 digest, Rocket.Chat's scheme, as the
//! run does).
//!
//! Goals: one worker at 95% or more of the single thread; all cores at 95% or more of
//! (cores × the single thread). Hashing is the whole cost here, so anything below that is
//! the pipeline leaving a core idle.

mod support;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sha2::{Digest, Sha256};

use support::generate::{Generator, Kind};
use support::{StagedStore, Tally};

const USERS: u64 = 64;
const COST: u32 = 10;

static TALLY: Tally = Tally::new();

fn import_with_passwords(c: &mut Criterion) {
    let generator = Generator::new(support::SEED).with_passwords();
    let mut staged = StagedStore::new(generator, USERS);
    let cores = support::cores();
    // The run hashes the passwords of the users it creates, and so does the baseline.
    let passwords: Vec<String> = generator
        .records(USERS)
        .filter(|r| matches!(r.kind, Kind::Valid))
        .filter_map(|r| r.password)
        .collect();

    let mut group = c.benchmark_group("import_with_passwords");
    group.sampling_mode(support::SAMPLING).throughput(Throughput::Elements(USERS));
    let mut workers = vec![1];
    if cores > 1 {
        workers.push(cores);
    }
    for workers in workers {
        let label = format!("roster_{workers}_workers");
        group.bench_function(label.as_str(), |b| {
            b.iter_custom(|iters| {
                let config = roster_core::Config { bcrypt_cost: COST, ..support::config(workers) };
                TALLY.time(iters, &label, USERS, || staged.time_copy_run(config.clone()))
            })
        });
    }
    group.bench_function("baseline_one_thread", |b| {
        b.iter_custom(|iters| {
            TALLY.time(iters, "baseline_one_thread", USERS, || hash_back_to_back(&passwords))
        })
    });
    group.finish();

    let all = format!("roster_{cores}_workers");
    TALLY.report(
        "import_with_passwords",
        &[
            ("roster_1_workers", "baseline_one_thread", 1.0, 0.95),
            (&all, "baseline_one_thread", cores as f64, 0.95),
        ],
    );
}

/// One thread hashing every password in turn, as the run hashes each.
fn hash_back_to_back(passwords: &[String]) -> Duration {
    let started = Instant::now();
    for password in passwords {
        let digest = hex::encode(Sha256::digest(password.as_bytes()));
        let hash = bcrypt::hash(digest, COST).expect("a bcrypt hash");
        std::hint::black_box(hash);
    }
    started.elapsed()
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = import_with_passwords
}
criterion_main!(benches);
