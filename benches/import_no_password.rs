//! `import_no_password`: 100,000 staged users without passwords, staged → run → done, beside
//! the plain insert loop that writes the same users into a fresh file.
//!
//! Goal: the run at 70% or more of the insert loop's users per second. The run does more per
//! user than the loop (it reads and parses the staged record, looks both keys up, deletes the
//! staged row, keeps counts), so the loop is the floor a run is measured against.

mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use support::generate::Generator;
use support::{StagedStore, Tally};

const USERS: u64 = 100_000;

static TALLY: Tally = Tally::new();

fn import_no_password(c: &mut Criterion) {
    let generator = Generator::new(support::SEED);
    let mut staged = StagedStore::new(generator, USERS);
    let scratch = tempfile::tempdir().expect("a temporary directory");

    let mut group = c.benchmark_group("import_no_password");
    group.sampling_mode(support::SAMPLING).throughput(Throughput::Elements(USERS));
    group.bench_function("roster", |b| {
        b.iter_custom(|iters| {
            TALLY.time(iters, "roster", USERS, || {
                staged.time_copy_run(support::config(support::cores()))
            })
        })
    });
    group.bench_function("baseline_insert_loop", |b| {
        b.iter_custom(|iters| {
            TALLY.time(iters, "baseline_insert_loop", USERS, || {
                support::baseline_insert_loop(scratch.path(), generator, USERS)
            })
        })
    });
    group.finish();
    TALLY.report("import_no_password", &[("roster", "baseline_insert_loop", 1.0, 0.70)]);
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = import_no_password
}
criterion_main!(benches);
