//! The cases in `tests/cases/`, each drawn from a public bug report against another import
//! tool, run as written; then, for each, more inputs of the same kind.

use roster_core::input::{Format, InputError};
use roster_core::{Engine, State};
use serde_json::{json, Value};

use crate::util::{engine, outcomes, repo_file, run, stage};

/// Runs every step of one case file against one fresh store and checks its expectations.
fn run_case(name: &str) {
    let case: Value = {
        let text = std::fs::read_to_string(repo_file(&format!("tests/cases/{name}.json")))
            .expect("case file");
        serde_json::from_str(&text).expect("case JSON")
    };
    let engine = engine();
    for (i, step) in case["steps"].as_array().expect("steps").iter().enumerate() {
        let at = format!("{name} step {i}");
        let staged = match (&step["users"], &step["csv"]) {
            (Value::Null, Value::String(csv)) => stage(&engine, csv.as_bytes(), Format::Csv),
            (users, _) => {
                let body = serde_json::to_vec(&json!({ "users": users })).unwrap();
                stage(&engine, &body, Format::Json)
            }
        };
        let expect = &step["expect"];
        if let Some(message) = expect["staged_error"].as_str() {
            check_refused(&engine, staged, message, &at);
            continue;
        }
        staged.unwrap_or_else(|e| panic!("{at}: staging failed: {e}"));
        assert_eq!(run(&engine).state, State::Done, "{at}");
        check_outcomes(&engine, expect, &at);
        check_users(&engine, expect, &at);
        check_mentions(&engine, expect, &at);
    }
}

fn check_refused(engine: &Engine, staged: Result<u64, InputError>, message: &str, at: &str) {
    match staged {
        Err(InputError::Record(e)) => assert_eq!(e.to_string(), message, "{at}"),
        other => panic!("{at}: expected {message:?}, got {other:?}"),
    }
    let status = engine.status().unwrap();
    assert_eq!(status.state, State::New, "{at}: nothing staged");
    assert_eq!(status.operation.unwrap().count.total, 0, "{at}");
}

fn check_outcomes(engine: &Engine, expect: &Value, at: &str) {
    let got = outcomes(engine);
    for (import_id, want) in expect["outcomes"].as_object().into_iter().flatten() {
        assert_eq!(got.get(import_id).map(String::as_str), want.as_str(), "{at}: {import_id}");
    }
}

fn check_users(engine: &Engine, expect: &Value, at: &str) {
    let users = engine.users(0, 1000).unwrap();
    for (username, facts) in expect["users"].as_object().into_iter().flatten() {
        let user = users.iter().find(|u| u.username == *username);
        let user = user.unwrap_or_else(|| panic!("{at}: no user {username}"));
        let user = serde_json::to_value(user).unwrap();
        for (field, want) in facts.as_object().unwrap() {
            assert_eq!(&user[field], want, "{at}: {username}.{field}");
        }
    }
}

fn check_mentions(engine: &Engine, expect: &Value, at: &str) {
    let flags = engine.flagged(0, 1000).unwrap().flagged;
    for (import_id, mentions) in expect["flag_mentions"].as_object().into_iter().flatten() {
        let flag = flags.iter().find(|f| f.import_id == *import_id);
        let flag = flag.unwrap_or_else(|| panic!("{at}: {import_id} is not flagged"));
        for mention in mentions.as_array().unwrap() {
            let mention = mention.as_str().unwrap();
            assert!(flag.message.contains(mention), "{at}: {:?} lacks {mention:?}", flag.message);
        }
    }
}

/// Imports `users` (an add-users `users` array) into a new operation and runs it.
fn import(engine: &Engine, users: Value) {
    let body = serde_json::to_vec(&json!({ "users": users })).unwrap();
    stage(engine, &body, Format::Json).expect("stages");
    assert_eq!(run(engine).state, State::Done);
}

fn user(username: Option<&str>, emails: &[&str], id: &str) -> Value {
    let mut u = json!({ "emails": emails, "importIds": [id] });
    if let Some(name) = username {
        u["username"] = json!(name);
    }
    u
}

#[test]
fn case_01_username_case_vs_existing() {
    run_case("01-username-case-vs-existing");
}

#[test]
fn usernames_collide_with_existing_users_in_any_case_or_normal_form() {
    let engine = engine();
    import(
        &engine,
        json!([user(Some("ÉLODIE"), &["e1@x.org"], "a"), user(Some("Ana"), &["a@x.org"], "b")]),
    );
    import(
        &engine,
        json!([
            user(Some("e\u{301}lodie"), &["e2@x.org"], "c"),
            user(Some("ANA"), &["a2@x.org"], "d"),
            user(None, &["Ana@y.org"], "e"),
        ]),
    );
    let got = outcomes(&engine);
    assert_eq!(got["c"], "skipped:username-in-use");
    assert_eq!(got["d"], "skipped:username-in-use");
    // A generated username steps around the existing one instead of colliding.
    assert_eq!(got["e"], "imported");
    let users = engine.users(0, 10).unwrap();
    assert!(users.iter().any(|u| u.username == "Ana1" && u.import_ids == ["e"]), "{users:?}");
}

#[test]
fn generated_usernames_take_the_smallest_free_suffix_around_existing_and_claimed_ones() {
    let engine = engine();
    import(
        &engine,
        json!([user(Some("info"), &["x@a.org"], "e1"), user(Some("INFO2"), &["y@a.org"], "e2")]),
    );
    let mut users: Vec<Value> =
        (0..5).map(|i| user(None, &[&format!("Info+tag{i}@d{i}.org")], &format!("g{i}"))).collect();
    // An explicit username taken by an earlier record of the run is not free either.
    users.insert(2, user(Some("info4"), &["z@a.org"], "x"));
    import(&engine, Value::Array(users));
    let names: Vec<(String, String)> = engine
        .users(0, 100)
        .unwrap()
        .into_iter()
        .map(|u| (u.import_ids[0].clone(), u.username))
        .collect();
    let expect = [
        ("g0", "Info1"),
        ("g1", "Info3"),
        ("x", "info4"),
        ("g2", "Info5"),
        ("g3", "Info6"),
        ("g4", "Info7"),
    ];
    for (id, name) in expect {
        assert!(names.contains(&(id.to_owned(), name.to_owned())), "{id} → {name}: {names:?}");
    }
}

#[test]
fn case_02_email_case_within_one_import() {
    run_case("02-email-case-within-one-import");
}

#[test]
fn any_email_of_a_record_collides_in_any_case_within_and_across_imports() {
    let engine = engine();
    import(&engine, json!([user(Some("old"), &["Old@Example.org"], "o")]));
    import(
        &engine,
        json!([
            user(Some("p1"), &["p1@example.org", "SHARED@example.org"], "p1"),
            user(Some("p2"), &["p2@example.org", "shared@EXAMPLE.org"], "p2"),
            user(Some("p3"), &["p3@example.org", "old@example.ORG"], "p3"),
            // Two spellings of one address in one record are one address, not a conflict.
            user(Some("p4"), &["p4@example.org", "P4@example.org"], "p4"),
        ]),
    );
    let got = outcomes(&engine);
    assert_eq!(got["p1"], "imported");
    assert_eq!(got["p2"], "skipped:email-in-use");
    assert_eq!(got["p3"], "skipped:email-in-use");
    assert_eq!(got["p4"], "imported");
    let flags = engine.flagged(0, 10).unwrap().flagged;
    assert!(flags[0].message.contains("shared@EXAMPLE.org") && flags[0].message.contains("p1"));
    assert!(flags[1].message.contains("\"old\""), "{}", flags[1].message);
}

#[test]
fn case_03_user_without_email_rejects_the_batch() {
    run_case("03-user-without-email-rejects-the-batch");
}

#[test]
fn any_missing_required_field_rejects_the_whole_batch_and_names_it() {
    let cases = [
        (
            json!([user(Some("a"), &["a@x.org"], "1"), {"emails": ["b@x.org"]}]),
            "users[1].importIds",
        ),
        (
            json!([user(Some("a"), &["a@x.org"], "1"), {"emails": [], "importIds": ["2"]}]),
            "users[1].emails",
        ),
        (json!([{"emails": ["  "], "importIds": ["2"]}]), "users[0].emails"),
        (json!([{"emails": ["c@x.org"], "importIds": [" "]}]), "users[0].importIds"),
        (json!([{"emails": null, "importIds": ["2"]}]), "users[0].emails"),
    ];
    for (users, location) in cases {
        let engine = engine();
        let body = serde_json::to_vec(&json!({ "users": users })).unwrap();
        match stage(&engine, &body, Format::Json) {
            Err(InputError::Record(e)) => {
                assert_eq!(e.to_string(), "Users are missing required data.");
                assert_eq!(e.location().as_deref(), Some(location));
            }
            other => panic!("{location}: {other:?}"),
        }
        assert_eq!(engine.status().unwrap().operation.unwrap().count.total, 0);
    }
}

#[test]
fn case_04_csv_quoted_comma() {
    run_case("04-csv-quoted-comma");
}

#[test]
fn csv_quoting_line_endings_and_headers_are_read_as_rfc_4180_says() {
    let csv = "\u{feff}Username,Email,Name,Password\r\n\
               \"q.one\",\"q.one@x.org\",\"Quote \"\"Q\"\" One\",\"p,w\"\r\n\
               \r\n\
               q.two,q.two@x.org,\"Two\r\nLines\",\r\n\
               q.three , q.three@x.org ,,\r\n";
    let engine = engine();
    stage(&engine, csv.as_bytes(), Format::Csv).expect("stages");
    assert_eq!(run(&engine).state, State::Done);
    let got = outcomes(&engine);
    assert_eq!(got["csv:2"], "imported");
    assert_eq!(got["csv:4"], "imported");
    assert_eq!(got["csv:6"], "imported");
    let users = engine.users(0, 10).unwrap();
    assert_eq!(users[0].name, "Quote \"Q\" One");
    assert_eq!(users[1].name, "Two\r\nLines");
    assert_eq!(users[2].username, "q.three");
    assert_eq!(users[2].name, "Q Three");
    let password = roster_core::Password::new("p,w");
    assert!(engine.verify_password("q.one", &password).unwrap());
}

#[test]
fn csv_without_a_header_starts_at_line_one_and_bad_rows_name_their_line() {
    let engine = engine();
    stage(&engine, b"a,a@x.org,A\nb,b@x.org,B\n", Format::Csv).unwrap();
    run(&engine);
    assert_eq!(outcomes(&engine)["csv:1"], "imported");

    let engine2 = crate::util::engine();
    let err =
        stage(&engine2, b"username,email,name\nc,c@x.org,C\nd,,D\n", Format::Csv).unwrap_err();
    match err {
        InputError::Record(e) => assert_eq!(e.location().as_deref(), Some("line 3: emails")),
        other => panic!("{other:?}"),
    }
    let err = stage(&engine2, b"c,c@x.org,C,pw,extra\n", Format::Csv).unwrap_err();
    assert_eq!(err.to_string(), "line 1 has 5 fields; expected 2 to 4");
}

#[test]
fn a_csv_header_finds_its_columns_by_name_and_refuses_unknown_ones() {
    let engine = engine();
    let csv = "EMAIL,Password,username\nann@x.org,pw one,ann\nbob@x.org,,bob\n";
    stage(&engine, csv.as_bytes(), Format::Csv).unwrap();
    run(&engine);
    let users = engine.users(0, 10).unwrap();
    assert_eq!(users[0].username, "ann");
    assert_eq!(users[0].name, "Ann", "no name column: the name is guessed");
    assert!(users[0].has_password && !users[1].has_password);
    assert!(engine.verify_password("ann", &roster_core::Password::new("pw one")).unwrap());

    // A column that is not understood must not land in another field.
    let err = stage(&engine, b"username,email,deleted\nz,z@x.org,true\n", Format::Csv).unwrap_err();
    assert!(err.to_string().starts_with("line 1 names an unknown column \"deleted\""), "{err}");
    let err = stage(&engine, b"email,username\na@x.org\n", Format::Csv).unwrap_err();
    assert_eq!(err.to_string(), "line 2 has 1 fields; expected 2");
}

#[test]
fn an_unbalanced_csv_quote_is_refused_instead_of_swallowing_rows() {
    let cases: [(&[u8], &str); 3] = [
        (
            b"username,email,name,password\nann,ann@x.org,\"Ann Lee,Leak-pw-q3\nbob,bob@x.org,Bob,Leak-pw-q4\n",
            "line 2 has an unbalanced double quote",
        ),
        (b"ann,ann@x.org,Ann \"Lee,pw\nbob,bob@x.org,Bob\n", "line 1 has an unbalanced double quote"),
        (b"ann,ann@x.org,Ann\r\nbob,bob@x.org,\"Bob\r\n", "line 2 has an unbalanced double quote"),
    ];
    for (csv, says) in cases {
        let engine = engine();
        let err = stage(&engine, csv, Format::Csv).unwrap_err();
        assert!(err.to_string().starts_with(says), "{err}");
        assert!(!err.to_string().contains("Leak"), "no password in the message");
    }
    let engine = engine();
    let balanced = b"ann,ann@x.org,\"Lee, \"\"Ann\"\"\",pw\nbob,bob@x.org,\"Two\nLines\"\n";
    stage(&engine, balanced, Format::Csv).expect("balanced quotes, even across lines");
    run(&engine);
    let users = engine.users(0, 10).unwrap();
    assert_eq!(users[0].name, "Lee, \"Ann\"");
    assert_eq!(outcomes(&engine)["csv:2"], "imported");
}

#[test]
fn case_05_deleted_users_created_inactive() {
    run_case("05-deleted-users-created-inactive");
}

#[test]
fn deleted_users_of_every_type_are_created_inactive_with_their_roles() {
    let engine = engine();
    import(
        &engine,
        json!([
            {"username": "gone.bot", "emails": ["gb@x.org"], "importIds": ["1"], "type": "bot",
             "deleted": true, "roles": ["bot"]},
            {"username": "gone.admin", "emails": ["ga@x.org"], "importIds": ["2"],
             "deleted": true, "roles": ["admin"], "password": "secret-1"},
            {"username": "here", "emails": ["h@x.org"], "importIds": ["3"], "deleted": false},
        ]),
    );
    let users = engine.users(0, 10).unwrap();
    let active: Vec<(&str, bool)> = users.iter().map(|u| (u.username.as_str(), u.active)).collect();
    assert_eq!(active, [("gone.bot", false), ("gone.admin", false), ("here", true)]);
    assert_eq!(users[0].roles, ["bot", "user"]);
    assert_eq!(users[1].roles, ["admin", "user"]);
    assert!(users[1].has_password);
}

#[test]
fn case_06_same_email_twice_is_a_skip_not_a_crash() {
    run_case("06-same-email-twice-is-a-skip-not-a-crash");
}

#[test]
fn many_holders_of_one_email_or_username_give_one_import_and_skips() {
    let engine = engine();
    let users: Vec<Value> = (0..30)
        .map(|i| match i % 3 {
            0 => user(Some(&format!("u{i}")), &["same@x.org"], &format!("e{i}")),
            1 => user(Some("same.name"), &[&format!("n{i}@x.org")], &format!("n{i}")),
            _ => user(None, &["gen@x.org"], &format!("g{i}")),
        })
        .collect();
    import(&engine, Value::Array(users));
    let got = outcomes(&engine);
    let imported = got.values().filter(|o| *o == "imported").count();
    assert_eq!(imported, 3, "{got:?}");
    assert_eq!(got["e0"], "imported");
    assert_eq!(got["n1"], "imported");
    assert_eq!(got["g2"], "imported");
    assert!(got.iter().filter(|(_, o)| *o != "imported").all(|(_, o)| o.starts_with("skipped:")));
}

#[test]
fn case_07_one_existing_user_does_not_sink_the_batch() {
    run_case("07-one-existing-user-does-not-sink-the-batch");
}

#[test]
fn existing_users_anywhere_in_a_large_batch_leave_the_rest_imported() {
    let engine = engine();
    let first: Vec<Value> = (0..50)
        .map(|i| user(Some(&format!("u{i}")), &[&format!("u{i}@x.org")], &format!("a{i}")))
        .collect();
    import(&engine, Value::Array(first));
    let second: Vec<Value> = (0..200)
        .map(|i| user(Some(&format!("u{i}")), &[&format!("u{i}@x.org")], &format!("b{i}")))
        .collect();
    import(&engine, Value::Array(second));
    let got = outcomes(&engine);
    assert_eq!((0..50).filter(|i| got[&format!("b{i}")] == "skipped:email-in-use").count(), 50);
    assert_eq!((50..200).filter(|i| got[&format!("b{i}")] == "imported").count(), 150);
}

#[test]
fn case_08_unicode_case_folding() {
    run_case("08-unicode-case-folding");
}

#[test]
fn unicode_folding_applies_to_emails_too() {
    let engine = engine();
    import(
        &engine,
        json!([
            user(Some("a"), &["straße@bücher.example"], "1"),
            user(Some("b"), &["STRASSE@BÜCHER.EXAMPLE"], "2"),
            user(Some("c"), &["zoë@x.org"], "3"),
            user(Some("d"), &["ZOE\u{308}@X.ORG"], "4"),
            user(Some("e"), &["ǅemal@x.org"], "5"),
            user(Some("f"), &["ǆemal@x.org"], "6"),
        ]),
    );
    let got = outcomes(&engine);
    assert_eq!(got["1"], "imported");
    assert_eq!(got["2"], "skipped:email-in-use");
    assert_eq!(got["3"], "imported");
    assert_eq!(got["4"], "skipped:email-in-use");
    assert_eq!(got["5"], "imported");
    assert_eq!(got["6"], "skipped:email-in-use");
    let users = engine.users(0, 10).unwrap();
    assert_eq!(users[0].emails, ["straße@bücher.example"], "stored as given");
}
