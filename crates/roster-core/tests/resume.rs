//! A resumed run goes on as the interrupted one started: same bcrypt cost for every password,
//! nobody created twice.

use std::sync::mpsc;

use roster_core::{Config, Engine, NewUser, Password, State};

#[test]
fn a_resumed_run_hashes_with_the_cost_its_run_started_with() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let started =
        Config { bcrypt_cost: 5, batch_size: 4, passwords_per_worker: 1, ..Config::default() };
    let engine = Engine::open(&path, started).unwrap();
    engine.new_operation("t").unwrap();
    let users: Vec<NewUser> = (0..40)
        .map(|i| NewUser {
            emails: vec![format!("u{i}@x.org")],
            import_ids: vec![i.to_string()],
            password: Some(Password::new(format!("pw-{i}"))),
            ..NewUser::default()
        })
        .collect();
    engine.add_users(users).unwrap();
    let (tx, rx) = mpsc::channel();
    engine
        .run_with_progress(Box::new(move |_| {
            let _ = tx.send(());
        }))
        .unwrap();
    rx.recv().unwrap();
    drop(engine);

    // Reopened with another default cost, the resumed run keeps the one it started with.
    let reopened = Engine::open(&path, Config { bcrypt_cost: 4, ..Config::default() }).unwrap();
    let summary = reopened.current_run().expect("resumed").wait();
    assert_eq!(summary.state, State::Done);
    assert_eq!(summary.count.completed, 40);
    drop(reopened);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut stmt = conn.prepare("SELECT password_hash FROM users").unwrap();
    let hashes: Vec<String> =
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(hashes.len(), 40);
    assert!(hashes.iter().all(|h| h.starts_with("$2b$05$")), "{hashes:?}");
}
