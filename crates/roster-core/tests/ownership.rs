//! One engine owns a store at a time; others may look.

use roster_core::{Config, Engine, Error, NewUser, Password, State};

fn config() -> Config {
    Config { bcrypt_cost: 4, ..Config::default() }
}

#[test]
fn a_second_owner_is_refused_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let first = Engine::open(&path, config()).unwrap();
    match Engine::open(&path, config()) {
        Err(Error::StoreBusy { path: busy }) => assert_eq!(busy, path),
        other => panic!("expected StoreBusy, got {other:?}"),
    }
    drop(first);
    Engine::open(&path, config()).expect("the lock goes with its engine");
}

#[test]
fn a_shared_engine_looks_and_makes_tokens_but_changes_no_operation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let owner = Engine::open(&path, config()).unwrap();
    owner.new_operation("t").unwrap();
    let user = NewUser {
        emails: vec!["ann@x.org".into()],
        import_ids: vec!["1".into()],
        password: Some(Password::new("pw")),
        ..NewUser::default()
    };
    owner.add_users(vec![user]).unwrap();
    assert_eq!(owner.run().unwrap().wait().state, State::Done);

    let looker = Engine::open_shared(&path, config()).unwrap();
    assert_eq!(looker.status().unwrap().state, State::Done);
    assert_eq!(looker.users(0, 10).unwrap().len(), 1);
    assert!(looker.verify_password("ann", &Password::new("pw")).unwrap());
    let token = looker.create_token("admin", &["run-import".to_owned()]).unwrap();
    assert!(owner.authenticate("admin", &token).unwrap().is_some());

    assert!(matches!(looker.new_operation("t"), Err(Error::NotOwner)));
    assert!(matches!(looker.clear(), Err(Error::NotOwner)));
    assert!(matches!(looker.add_users(Vec::new()), Err(Error::NotOwner)));
    assert!(matches!(looker.run(), Err(Error::NotOwner)));
    assert_eq!(owner.status().unwrap().state, State::Done, "nothing changed");
}
