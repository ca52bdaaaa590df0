//! `import_scaling`: staged users without passwords, staged → run → done, at 10,000 and at
//! 1,000,000 users.
//!
//! Goal: users per second at 1M within 15% of the figure at 10k, so that a run's cost per user
//! does not grow with the file. (Peak memory on a 1M-user file is `benches/peak-memory.sh`.)

mod support;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use support::generate::Generator;
use support::{StagedStore, Tally};

const SIZES: [u64; 2] = [10_000, 1_000_000];

static TALLY: Tally = Tally::new();

fn import_scaling(c: &mut Criterion) {
    let generator = Generator::new(support::SEED);
    let mut group = c.benchmark_group("import_scaling");
    group.sampling_mode(support::SAMPLING);
    for users in SIZES {
        let mut staged = StagedStore::new(generator, users);
        let label = format!("roster_{users}");
        group.throughput(Throughput::Elements(users));
        group.bench_function(BenchmarkId::new("roster", users), |b| {
            b.iter_custom(|iters| {
                TALLY.time(iters, &label, users, || {
                    staged.time_copy_run(support::config(support::cores()))
                })
            })
        });
    }
    group.finish();
    TALLY.report("import_scaling", &[("roster_1000000", "roster_10000", 1.0, 0.85)]);
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = import_scaling
}
criterion_main!(benches);
