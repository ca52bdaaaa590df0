//! What a run does when the store fails under it: one refused user is flagged `store-error`
//! and the rest of its batch still lands; a store that cannot go on ends the run `error` with
//! the reason, and nothing hangs. Failures are injected with triggers from a second
//! connection to the same file.

use roster_core::{Config, Engine, NewUser, Reason, State, Status};

fn users(names: &[&str]) -> Vec<NewUser> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| NewUser {
            emails: vec![format!("{name}@example.org")],
            import_ids: vec![format!("id{i}")],
            username: Some((*name).to_owned()),
            ..NewUser::default()
        })
        .collect()
}

fn staged(dir: &tempfile::TempDir, names: &[&str]) -> Engine {
    let config = Config { bcrypt_cost: 4, batch_size: 3, ..Config::default() };
    let engine = Engine::open(dir.path().join("r.db"), config).unwrap();
    engine.new_operation("t").unwrap();
    engine.add_users(users(names)).unwrap();
    engine
}

fn inject(dir: &tempfile::TempDir, sql: &str) {
    let conn = rusqlite::Connection::open(dir.path().join("r.db")).unwrap();
    conn.execute_batch(sql).unwrap();
}

#[test]
fn a_user_the_store_refuses_is_flagged_and_its_batch_lands_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let engine = staged(&dir, &["ann", "bob", "poison", "dan", "eve"]);
    inject(
        &dir,
        "CREATE TRIGGER refuse BEFORE INSERT ON users WHEN NEW.username = 'poison'
         BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END;",
    );
    let summary = engine.run().unwrap().wait();
    assert_eq!(summary.state, State::Done);
    assert_eq!((summary.count.completed, summary.count.error), (4, 1));
    let names: Vec<String> = engine.users(0, 10).unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["ann", "bob", "dan", "eve"]);
    let flags = engine.flagged(0, 10).unwrap().flagged;
    assert_eq!(flags.len(), 1);
    assert_eq!((flags[0].import_id.as_str(), flags[0].reason), ("id2", Reason::StoreError));
    assert!(flags[0].message.contains("refused by a test trigger"), "{}", flags[0].message);
}

#[test]
fn a_store_that_cannot_go_on_ends_the_run_as_error_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let engine = staged(&dir, &["ann", "bob", "cat", "dan", "eve"]);
    // abs() of the smallest integer fails at run time with a plain error, not a constraint.
    inject(
        &dir,
        "CREATE TRIGGER broken AFTER INSERT ON users WHEN NEW.username = 'dan'
         BEGIN SELECT abs(-9223372036854775808); END;",
    );
    let summary = engine.run().unwrap().wait();
    assert_eq!(summary.state, State::Error);
    let reason = summary.reason.expect("a reason");
    assert!(reason.contains("integer overflow"), "{reason}");
    // The first batch (ann, bob, cat) committed; the failing one did not.
    assert_eq!(summary.count.completed, 3);
    let op = engine.status().unwrap().operation.unwrap();
    assert_eq!(op.status, Status::Failed);
    assert_eq!(op.reason.as_deref(), Some(reason.as_str()));
    assert_eq!(engine.users(0, 10).unwrap().len(), 3);
}
