//! Writes a `.jsonl` file of generated users, for `benches/peak-memory.sh` and for trying the
//! `roster` binary on inputs of any size:
//!
//! ```sh
//! cargo run --release --example gen-users -- 1000000 /tmp/users-1m.jsonl [--passwords]
//! ```
//!
//! The records are those the benches use ([`generate`]), so a file made here and a bench
//! with the same count see the same users.

#[path = "generate.rs"]
#[allow(dead_code)] // The benches use the rest.
mod generate;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use generate::Generator;

/// The seed every bench and every generated file uses.
const SEED: u64 = 2026;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let passwords = args.iter().any(|a| a == "--passwords");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (Some(count), Some(path)) = (positional.first(), positional.get(1)) else {
        eprintln!("usage: gen-users COUNT FILE.jsonl [--passwords]");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<u64>() else {
        eprintln!("gen-users: {count:?} is not a count");
        return ExitCode::from(2);
    };
    match write(count, path, passwords) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-users: cannot write {path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write(count: u64, path: &str, passwords: bool) -> std::io::Result<()> {
    let mut generator = Generator::new(SEED);
    if passwords {
        generator = generator.with_passwords();
    }
    let mut out = BufWriter::new(File::create(path)?);
    for record in generator.records(count) {
        record.write_jsonl(&mut out)?;
    }
    out.flush()
}
