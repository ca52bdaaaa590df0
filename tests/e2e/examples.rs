//! The 2k sample in its three forms must give exactly the outcome in its expected file:
//! the counts, every flagged record in order, and every generated username.

use roster_core::input::Format;
use roster_core::State;
use serde_json::Value;

use crate::util::{engine, flag_triples, repo_file, repo_json, run, stage};

fn check_form(file: &str, format: Format, key: &str) {
    let expected = &repo_json("examples/users-2k.expected.json")[key];
    let engine = engine();
    let input = std::fs::read(repo_file(file)).expect("sample file");
    assert_eq!(stage(&engine, &input, format).expect("stages"), 2000);

    let summary = run(&engine);
    assert_eq!(summary.state, State::Done);
    let want = &expected["summary"];
    assert_eq!(summary.count.total, want["total"].as_u64().unwrap());
    assert_eq!(summary.count.completed, want["imported"].as_u64().unwrap());
    assert_eq!(summary.count.skipped, want["skipped"].as_u64().unwrap());
    assert_eq!(summary.count.error, want["failed"].as_u64().unwrap());

    let want_flags: Vec<(String, String, String)> = expected["flagged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (text(&f["importId"]), text(&f["outcome"]), text(&f["reason"])))
        .collect();
    assert_eq!(flag_triples(&engine), want_flags);

    let users = engine.users(0, 10_000).unwrap();
    for (import_id, username) in expected["generated_usernames"].as_object().unwrap() {
        let user = users.iter().find(|u| u.import_ids[0] == *import_id);
        let user = user.unwrap_or_else(|| panic!("{import_id} was not imported"));
        assert_eq!(user.username, username.as_str().unwrap(), "username of {import_id}");
    }
}

fn text(v: &Value) -> String {
    v.as_str().expect("string").to_owned()
}

#[test]
fn json_body_matches_the_expected_outcome() {
    check_form("examples/users-2k.json", Format::Json, "json");
}

#[test]
fn json_lines_match_the_expected_outcome() {
    check_form("examples/users-2k.jsonl", Format::Jsonl, "json");
}

#[test]
fn csv_matches_the_expected_outcome() {
    check_form("examples/users-2k.csv", Format::Csv, "csv");
}
