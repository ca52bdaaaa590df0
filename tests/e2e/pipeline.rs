//! The run pipeline's promises: the same outcome for any number of workers, cancel within a
//! batch, resume after a kill with nobody created twice or lost, staging all or nothing,
//! illegal calls that change nothing, and passwords that never leak.

use std::sync::mpsc;

use proptest::prelude::*;
use roster_core::input::Format;
use roster_core::{Config, Engine, Error, NewUser, OnInterrupted, Password, State, Status};

use crate::util::{config, engine, interrupt_after_first_batch, outcomes, repo_file, run, stage};

fn sample() -> Vec<u8> {
    std::fs::read(repo_file("examples/users-2k.json")).expect("sample")
}

/// Everything observable about a finished import: each record's outcome, each flag's
/// message, and each user as created.
fn snapshot(engine: &Engine) -> (Vec<(String, String)>, Vec<String>, Vec<String>) {
    let outcomes = outcomes(engine).into_iter().collect();
    let flags = engine.flagged(0, 10_000).unwrap().flagged;
    let messages = flags.into_iter().map(|f| f.message).collect();
    let users = engine.users(0, 10_000).unwrap();
    let users = users.iter().map(|u| serde_json::to_string(u).unwrap()).collect();
    (outcomes, messages, users)
}

#[test]
fn outcomes_do_not_depend_on_workers_or_batch_size() {
    let input = sample();
    let mut seen = Vec::new();
    for (workers, batch_size) in [(1, 1000), (4, 1000), (4, 7), (2, 64)] {
        let config = Config { workers, batch_size, passwords_per_worker: 2, ..config() };
        let engine = Engine::open_in_memory(config).unwrap();
        stage(&engine, &input, Format::Json).unwrap();
        assert_eq!(run(&engine).state, State::Done);
        seen.push(((workers, batch_size), snapshot(&engine)));
    }
    for (setting, snap) in &seen[1..] {
        assert!(snap == &seen[0].1, "{setting:?} differs from {:?}", seen[0].0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Small pools of emails and usernames make many conflicts; whatever the batch size and
    /// worker count, the first staged record wins each one.
    #[test]
    fn first_staged_record_wins_whatever_the_pipeline_shape(
        records in prop::collection::vec((0u8..6, 0u8..6, any::<bool>(), any::<bool>()), 1..40),
        batch_size in 1usize..9,
        workers in 1usize..4,
    ) {
        let users: Vec<NewUser> = records
            .iter()
            .enumerate()
            .map(|(i, (email, name, upper, has_name))| NewUser {
                emails: vec![if *upper { format!("E{email}@X.ORG") } else { format!("e{email}@x.org") }],
                import_ids: vec![format!("r{i}")],
                username: has_name.then(|| format!("name{name}")),
                password: (i % 3 == 0).then(|| Password::new(format!("pw-{i}"))),
                ..NewUser::default()
            })
            .collect();
        let mut snaps = Vec::new();
        for (w, b) in [(1, 1), (workers, batch_size)] {
            let config = Config { workers: w, batch_size: b, passwords_per_worker: 1, ..config() };
            let engine = Engine::open_in_memory(config).unwrap();
            engine.new_operation("t").unwrap();
            engine.add_users(users.clone()).unwrap();
            prop_assert_eq!(run(&engine).state, State::Done);
            snaps.push(snapshot(&engine));
        }
        prop_assert_eq!(&snaps[0], &snaps[1]);
    }
}

/// A store on disk, staged with the 2k sample and small batches, so a run has many batch
/// boundaries to stop at.
fn staged_file_store(dir: &tempfile::TempDir, config: Config) -> Engine {
    let engine = Engine::open(dir.path().join("roster.db"), config).unwrap();
    stage(&engine, &sample(), Format::Json).unwrap();
    engine
}

fn small_batches() -> Config {
    Config { batch_size: 25, passwords_per_worker: 1, ..config() }
}

#[test]
fn a_run_killed_between_batches_resumes_without_creating_anyone_twice() {
    let dir = tempfile::tempdir().unwrap();
    let engine = staged_file_store(&dir, small_batches());
    // Dropping the engine stops the run at the next batch boundary, as a kill would.
    let first = interrupt_after_first_batch(engine);
    assert!(first.decided() < 2000, "stopped before the end");

    let config = Config { on_interrupted: OnInterrupted::Leave, ..small_batches() };
    let paused = Engine::open(dir.path().join("roster.db"), config).unwrap();
    let status = paused.status().unwrap();
    assert_eq!(status.state, State::Importing);
    let decided = status.operation.unwrap().count.decided();
    assert!(decided > 0 && decided < 2000, "{decided} decided before the kill");
    drop(paused);

    let resumed = Engine::open(dir.path().join("roster.db"), small_batches()).unwrap();
    let summary = resumed.current_run().expect("the run resumes on open").wait();
    assert_eq!(summary.state, State::Done);
    assert_eq!(
        (summary.count.completed, summary.count.skipped, summary.count.error),
        (1879, 77, 44)
    );
    assert_eq!(resumed.users(0, 10_000).unwrap().len(), 1879);

    // The outcome is the one an uninterrupted run gives.
    let whole = Engine::open_in_memory(small_batches()).unwrap();
    stage(&whole, &sample(), Format::Json).unwrap();
    run(&whole);
    assert!(snapshot(&resumed) == snapshot(&whole), "the resumed run differs from a whole one");
}

#[test]
fn an_interrupted_run_can_be_marked_error_instead() {
    let dir = tempfile::tempdir().unwrap();
    interrupt_after_first_batch(staged_file_store(&dir, small_batches()));

    let config = Config { on_interrupted: OnInterrupted::MarkError, ..small_batches() };
    let reopened = Engine::open(dir.path().join("roster.db"), config).unwrap();
    assert!(reopened.current_run().is_none());
    let op = reopened.status().unwrap().operation.unwrap();
    assert_eq!(op.status, Status::Failed);
    assert_eq!(op.reason.as_deref(), Some("interrupted"));
}

#[test]
fn clear_during_a_run_cancels_it_and_keeps_what_was_committed() {
    let engine = Engine::open_in_memory(small_batches()).unwrap();
    stage(&engine, &sample(), Format::Json).unwrap();
    let handle = engine.run().unwrap();
    assert_eq!(engine.status().unwrap().state, State::Importing);
    engine.clear().unwrap();

    let summary = handle.wait();
    assert_eq!(summary.state, State::Canceled);
    assert!(summary.count.decided() < 2000);
    assert_eq!(engine.users(0, 10_000).unwrap().len() as u64, summary.count.completed);
    let status = engine.status().unwrap();
    assert_eq!(status.state, State::Canceled);
    assert!(!status.operation.unwrap().valid);
    assert_eq!(engine.flagged(0, 10).unwrap().total, 0, "staging is emptied");
    assert!(matches!(engine.run(), Err(Error::OperationNotFound)));
}

#[test]
fn new_during_a_run_cancels_it_and_starts_fresh() {
    let engine = Engine::open_in_memory(small_batches()).unwrap();
    stage(&engine, &sample(), Format::Json).unwrap();
    let handle = engine.run().unwrap();
    let fresh = engine.new_operation("someone").unwrap();
    assert_eq!(handle.wait().state, State::Canceled);
    let status = engine.status().unwrap();
    assert_eq!(status.state, State::New);
    assert_eq!(status.operation.unwrap().id, fresh.id);
}

#[test]
fn illegal_calls_answer_the_rocket_chat_strings_and_change_nothing() {
    let engine = engine();
    assert_eq!(engine.status().unwrap().state, State::None);
    let one = || {
        vec![NewUser {
            emails: vec!["a@x.org".into()],
            import_ids: vec!["1".into()],
            ..NewUser::default()
        }]
    };
    assert_eq!(
        engine.add_users(one()).unwrap_err().to_string(),
        "Import operation not initialized."
    );
    assert_eq!(engine.run().unwrap_err().to_string(), "error-operation-not-found");

    engine.new_operation("t").unwrap();
    assert_eq!(engine.run().unwrap_err().to_string(), "error-invalid-operation-status");
    let op = engine.add_users(Vec::new()).unwrap();
    assert_eq!((op.state(), op.count.total), (State::New, 0), "an empty list changes nothing");

    engine.add_users(one()).unwrap();
    assert_eq!(run(&engine).state, State::Done);
    let before = engine.status().unwrap();
    assert_eq!(
        engine.run().unwrap_err().to_string(),
        "The current import operation is already finished."
    );
    assert_eq!(
        engine.add_users(one()).unwrap_err().to_string(),
        "The current import operation can not receive new data."
    );
    assert_eq!(engine.status().unwrap(), before);

    engine.clear().unwrap();
    assert_eq!(engine.status().unwrap().state, State::Done, "a done operation stays done");
    assert_eq!(
        engine.add_users(one()).unwrap_err().to_string(),
        "Import operation not initialized."
    );
}

#[test]
fn a_bad_record_anywhere_stages_nothing_of_its_batch() {
    let engine = engine();
    engine.new_operation("t").unwrap();
    let good = |i: usize| NewUser {
        emails: vec![format!("u{i}@x.org")],
        import_ids: vec![i.to_string()],
        ..NewUser::default()
    };
    engine.add_users(vec![good(0)]).unwrap();
    let mut batch: Vec<NewUser> = (1..100).map(good).collect();
    batch[98].roles = vec!["root".into()];
    let err = engine.add_users(batch).unwrap_err();
    assert_eq!(err.to_string(), "One or more of the users have been assigned invalid roles.");
    assert_eq!(err.location().unwrap(), "users[98].roles (role \"root\")");
    let op = engine.status().unwrap().operation.unwrap();
    assert_eq!((op.state(), op.count.total), (State::Ready, 1), "the earlier batch stays staged");

    let err = stage(&engine, b"{\"users\": [{\"emails\": [\"a@x.org\"], \"importIds\": [\"1\"], \"utcOffset\": \"+2\"}]}", Format::Json)
        .unwrap_err();
    assert_eq!(err.to_string(), "users[0].utcOffset must be a number");
    let err = stage(&engine, b"{\"users\": [], \"extra\": 1}", Format::Json).unwrap_err();
    assert!(err.to_string().starts_with("extra is not accepted"), "{err}");
    let err = stage(
        &engine,
        b"{\"emails\":[\"a@x.org\"],\"importIds\":[\"1\"]}\n{\"emails\":[\"b@x.org\"]}\n",
        Format::Jsonl,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "Users are missing required data.");
    let err =
        stage(&engine, b"{\"emails\":[\"a@x.org\"],\"importIds\":[\"1\"]}\n\xff\n", Format::Jsonl)
            .unwrap_err();
    assert_eq!(err.to_string(), "line 2: not valid UTF-8");
    let err =
        stage(&engine, b"{\"users\": [{\"emails\": [\"a@x.org\"],", Format::Json).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn passwords_verify_and_never_leak_into_flags_errors_or_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.db");
    let engine = Engine::open(&path, config()).unwrap();
    engine.new_operation("t").unwrap();
    let secret = |i: usize| format!("Sekrit-{i}-zebra");
    let users: Vec<NewUser> = (0..6)
        .map(|i| NewUser {
            // Records 3 and 4 are flagged: a bad email and a duplicate of record 0.
            emails: vec![match i {
                3 => "not-an-email".to_owned(),
                4 => "U0@X.ORG".to_owned(),
                _ => format!("u{i}@x.org"),
            }],
            import_ids: vec![format!("p{i}")],
            username: Some(format!("user{i}")),
            password: Some(Password::new(secret(i))),
            ..NewUser::default()
        })
        .collect();
    assert!(!format!("{users:?}").contains("zebra"), "Debug shows no password");
    engine.add_users(users).unwrap();
    assert_eq!(run(&engine).state, State::Done);

    assert!(engine.verify_password("user0", &Password::new(secret(0))).unwrap());
    assert!(engine.verify_password("USER1", &Password::new(secret(1))).unwrap());
    assert!(!engine.verify_password("user1", &Password::new(secret(0))).unwrap());
    assert!(engine.verify_password("nobody", &Password::new("x")).is_err());

    let flagged = engine.flagged(0, 10).unwrap();
    assert_eq!(flagged.total, 2);
    assert!(!serde_json::to_string(&flagged).unwrap().contains("zebra"));
    let users = serde_json::to_string(&engine.users(0, 10).unwrap()).unwrap();
    assert!(!users.contains("zebra") && !users.contains("$2"), "no password nor hash is listed");

    // While the engine is still open (a server) and after it is closed (the CLI).
    assert_no_plaintext(dir.path(), "zebra");
    drop(engine);
    assert_no_plaintext(dir.path(), "zebra");
}

fn assert_no_plaintext(dir: &std::path::Path, needle: &str) {
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.join(format!("roster.db{suffix}"));
        let Ok(bytes) = std::fs::read(&file) else { continue };
        let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(!found, "a plaintext password lingers in {}", file.display());
    }
}

#[test]
fn progress_is_reported_per_batch_and_at_the_end() {
    let engine = Engine::open_in_memory(Config { batch_size: 100, ..config() }).unwrap();
    stage(&engine, &sample(), Format::Json).unwrap();
    let (tx, rx) = mpsc::channel();
    let summary = engine
        .run_with_progress(Box::new(move |p| {
            let _ = tx.send(*p);
        }))
        .unwrap()
        .wait();
    let seen: Vec<_> = rx.try_iter().collect();
    assert!(seen.len() > 20, "{} reports", seen.len());
    assert!(seen.windows(2).all(|w| w[0].count.decided() <= w[1].count.decided()));
    let last = seen.last().unwrap();
    assert_eq!(last.state, State::Done);
    assert_eq!(last.count, summary.count);
    assert_eq!(summary.count.decided(), summary.count.total);
}
