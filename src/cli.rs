//! The commands and their options, and what each one does.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use roster_core::input::{self, InputError};
use roster_core::{Config, Counts, Engine, Observer, OnInterrupted, Password, RunHandle, State};

use crate::{report, serve};

/// Bulk user import: stage a file of users, run the import, see who was created and why the
/// others were not.
#[derive(Debug, Parser)]
#[command(name = "roster", version, about)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import a file of users (.json add-users body, .jsonl or .csv) into a new operation.
    Import {
        /// The file to import.
        file: PathBuf,
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        workers: WorkersArg,
        /// bcrypt cost for imported passwords.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(4..=31))]
        bcrypt_cost: u32,
        /// Abandon an interrupted import in this store and start over (without this, an
        /// interrupted import must be finished with `roster resume` first).
        #[arg(long)]
        restart: bool,
        /// Print one JSON object with the state, the counts and every flagged record.
        #[arg(long)]
        json: bool,
    },
    /// Finish an import that was interrupted (killed, or stopped with Ctrl-C), with the
    /// bcrypt cost it started with.
    Resume {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        workers: WorkersArg,
        /// Print one JSON object with the state, the counts and every flagged record.
        #[arg(long)]
        json: bool,
    },
    /// Show the state and counts of the latest operation.
    Status {
        #[command(flatten)]
        db: DbArg,
        /// Print `{"state", "operation"}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the records of the current operation that were not imported, and why.
    Flagged {
        #[command(flatten)]
        db: DbArg,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// List the users in the store.
    Users {
        #[command(flatten)]
        db: DbArg,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Read a password on stdin; exit 0 if it is USERNAME's imported password, 1 if not.
    CheckPassword {
        /// The user to check.
        username: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Serve the Rocket.Chat import API over HTTP on the store.
    Serve(serve::ServeArgs),
    /// Make API tokens for `roster serve`.
    Token {
        #[command(subcommand)]
        command: serve::TokenCommand,
    },
}

#[derive(Debug, clap::Args)]
pub struct DbArg {
    /// The SQLite file holding staging and users.
    #[arg(long = "db", default_value = "roster.db")]
    pub path: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct WorkersArg {
    /// Threads that hash passwords [default: the machine's cores].
    #[arg(long = "workers", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    count: Option<usize>,
}

impl WorkersArg {
    fn apply(&self, config: &mut Config) {
        if let Some(count) = self.count {
            config.workers = count;
        }
    }
}

/// A command that failed, with the exit code it calls for.
#[derive(Debug)]
pub enum Failure {
    /// The input could not be staged; nothing was staged.
    Stage(InputError),
    /// The input holds no users.
    Empty(PathBuf),
    /// Anything else.
    Other(String),
}

impl Failure {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Stage(_) | Failure::Empty(_) => ExitCode::from(2),
            Failure::Other(_) => ExitCode::FAILURE,
        }
    }

    /// Whether this is only the reader of our output going away (`roster users | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Failure::Other(m) if m == BROKEN_PIPE)
    }
}

const BROKEN_PIPE: &str = "broken pipe";

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // These two display Rocket.Chat's fixed sentence; say where the fault is first.
            Failure::Stage(InputError::Record(
                e @ (roster_core::Error::MissingRequiredData { .. }
                | roster_core::Error::InvalidRoles { .. }),
            )) => match e.location() {
                Some(at) => write!(f, "cannot stage the file: {at}: {e}"),
                None => write!(f, "cannot stage the file: {e}"),
            },
            Failure::Stage(e) => write!(f, "cannot stage the file: {e}"),
            Failure::Empty(path) => write!(f, "{}: the file holds no users", path.display()),
            Failure::Other(message) => f.write_str(message),
        }
    }
}

impl From<roster_core::Error> for Failure {
    fn from(e: roster_core::Error) -> Self {
        Failure::Other(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::BrokenPipe => Failure::Other(BROKEN_PIPE.to_owned()),
            _ => Failure::Other(e.to_string()),
        }
    }
}

pub fn execute(args: Args) -> Result<ExitCode, Failure> {
    match args.command {
        Command::Import { file, db, workers, bcrypt_cost, restart, json } => {
            let mut config =
                Config { bcrypt_cost, on_interrupted: OnInterrupted::Leave, ..Config::default() };
            workers.apply(&mut config);
            import(&file, &db.path, config, restart, json)
        }
        Command::Resume { db, workers, json } => {
            let mut config = Config { on_interrupted: OnInterrupted::Leave, ..Config::default() };
            workers.apply(&mut config);
            resume(&open(&db.path, config)?, json)
        }
        Command::Status { db, json } => report::status(&open_to_look(&db.path)?, json),
        Command::Flagged { db, json } => report::flagged(&open_to_look(&db.path)?, json),
        Command::Users { db, json } => report::users(&open_to_look(&db.path)?, json),
        Command::CheckPassword { username, db } => {
            check_password(&open_to_look(&db.path)?, &username)
        }
        Command::Serve(args) => serve::serve(args),
        Command::Token { command } => serve::token(command),
    }
}

pub fn open(path: &Path, config: Config) -> Result<Engine, Failure> {
    Engine::open(path, config)
        .map_err(|e| Failure::Other(format!("cannot open {}: {e}", path.display())))
}

/// Opens a store to look at it, beside any engine that runs imports in it: a missing file is
/// an error rather than a new empty store.
pub fn open_to_look(path: &Path) -> Result<Engine, Failure> {
    if !path.exists() {
        return Err(Failure::Other(format!(
            "{} does not exist; run `roster import` first",
            path.display()
        )));
    }
    Engine::open_shared(path, Config::default())
        .map_err(|e| Failure::Other(format!("cannot open {}: {e}", path.display())))
}

/// Checks the whole file first, before the store is even opened, so that a file that cannot
/// be staged changes nothing (the last operation and its flagged records stay as they were).
fn import(
    file: &Path,
    db: &Path,
    config: Config,
    restart: bool,
    json: bool,
) -> Result<ExitCode, Failure> {
    let started = Instant::now();
    let empty = std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.len() == 0);
    if empty || input::check_file(&config, file).map_err(Failure::Stage)? == 0 {
        return Err(Failure::Empty(file.to_owned()));
    }
    let engine = open(db, config)?;
    let previous = engine.status()?.operation.filter(|op| op.valid);
    if let Some(op) = previous.filter(|op| op.state() == State::Importing) {
        if !restart {
            return Err(Failure::Other(format!(
                "this store holds an interrupted import ({} of {} users decided): \
                 `roster resume` finishes it, `roster import --restart FILE` abandons it",
                op.count.decided(),
                op.count.total
            )));
        }
        eprintln!("roster: the interrupted import {} is abandoned", op.id);
    }
    engine.new_operation("roster-cli")?;
    let op = input::stage_file(&engine, file).map_err(Failure::Stage)?;
    watch(&engine, &op.count, json, started, |observer| engine.run_with_progress(observer))
}

fn resume(engine: &Engine, json: bool) -> Result<ExitCode, Failure> {
    let op = engine.status()?.operation.filter(|op| op.valid && op.state() == State::Importing);
    let Some(op) = op else {
        return Err(Failure::Other("there is no interrupted import to resume".to_owned()));
    };
    watch(engine, &op.count, json, Instant::now(), |observer| engine.resume_with_progress(observer))
}

/// Runs the current operation with a progress bar on a terminal, then reports.
fn watch(
    engine: &Engine,
    before: &Counts,
    json: bool,
    started: Instant,
    start: impl FnOnce(Observer) -> Result<RunHandle, roster_core::Error>,
) -> Result<ExitCode, Failure> {
    let bar = if json { ProgressBar::hidden() } else { ProgressBar::new(before.total) };
    bar.set_position(before.decided());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} decided, {eta} left, {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = bar.clone();
    let handle = start(Box::new(move |p| {
        progress.set_position(p.count.decided());
        progress.set_message(format!("{} imported", p.count.completed));
    }))?;
    let summary = handle.wait();
    bar.finish_and_clear();
    let decided_now = summary.count.decided().saturating_sub(before.decided());
    report::summary(engine, &summary, json, (decided_now, started.elapsed()))?;
    Ok(match summary.state {
        State::Done => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

fn check_password(engine: &Engine, username: &str) -> Result<ExitCode, Failure> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let plaintext = line.strip_suffix('\n').unwrap_or(&line);
    let plaintext = plaintext.strip_suffix('\r').unwrap_or(plaintext);
    let matches = engine.verify_password(username, &Password::new(plaintext))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", if matches { "match" } else { "no match" })?;
    Ok(if matches { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
