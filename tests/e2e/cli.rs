//! The `roster` binary as an operator uses it: output, exit codes, and the commands that
//! look at a store.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::util::{repo_file, repo_json};

fn roster(args: &[&str], db: &Path) -> Output {
    roster_with_input(args, db, "")
}

fn roster_with_input(args: &[&str], db: &Path, stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .arg("--db")
        .arg(db)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("roster starts");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().expect("roster ends")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn import_json_prints_the_whole_outcome_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let file = repo_file("examples/users-2k.json");
    let out = roster(&["import", file.to_str().unwrap(), "--json", "--bcrypt-cost", "4"], &db);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "nothing is logged below warn by default");

    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let expected = &repo_json("examples/users-2k.expected.json")["json"];
    assert_eq!(doc["state"], "done");
    assert_eq!(doc["count"]["total"], 2000);
    assert_eq!(doc["count"]["completed"], expected["summary"]["imported"]);
    assert_eq!(doc["count"]["skipped"], expected["summary"]["skipped"]);
    assert_eq!(doc["count"]["error"], expected["summary"]["failed"]);
    let flagged = doc["flagged"].as_array().unwrap();
    let want = expected["flagged"].as_array().unwrap();
    assert_eq!(flagged.len(), want.len());
    for (got, want) in flagged.iter().zip(want) {
        for field in ["importId", "outcome", "reason"] {
            assert_eq!(got[field], want[field]);
        }
        assert!(got["message"].as_str().unwrap().contains(want["importId"].as_str().unwrap()));
    }

    let status = roster(&["status", "--json"], &db);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["state"], "done");
    assert_eq!(status["operation"]["status"], "importer_done");
    assert_eq!(status["operation"]["count"]["completed"], 1879);

    let users = roster(&["users", "--json"], &db);
    let lines: Vec<Value> =
        text(&users.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1879);
    let keys = ["username", "emails", "name", "active", "roles", "importIds", "hasPassword"];
    assert!(keys.iter().all(|k| !lines[0][k].is_null()), "{}", lines[0]);

    let flagged = roster(&["flagged", "--json"], &db);
    assert_eq!(text(&flagged.stdout).lines().count(), 121);
}

#[test]
fn the_text_summary_counts_reasons_and_lists_the_first_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let file = repo_file("examples/users-2k.csv");
    let out = roster(&["import", file.to_str().unwrap(), "--bcrypt-cost", "4"], &db);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1879 imported, 77 skipped, 44 failed of 2000 users"), "{stdout}");
    for reason in ["email-in-use", "username-in-use", "invalid-email", "invalid-username"] {
        assert!(stdout.contains(reason), "{stdout}");
    }
    assert!(stdout.contains("csv:6"), "the first flagged record is listed: {stdout}");
}

#[test]
fn a_file_that_cannot_be_staged_exits_two_naming_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let file = dir.path().join("bad.jsonl");
    std::fs::write(&file, "{\"emails\":[\"a@x.org\"],\"importIds\":[\"1\"]}\n\n{\"emails\":[\"b@x.org\"],\"importIds\":[\"2\"],\"deleted\":\"no\"}\n").unwrap();
    let out = roster(&["import", file.to_str().unwrap()], &db);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("line 3: deleted must be a boolean"),
        "{}",
        text(&out.stderr)
    );

    let status: Value = serde_json::from_slice(&roster(&["status", "--json"], &db).stdout).unwrap();
    assert_eq!(status["state"], "new", "nothing was staged");
    assert_eq!(status["operation"]["count"]["total"], 0);

    let unknown = dir.path().join("users.xml");
    std::fs::write(&unknown, "<users/>").unwrap();
    let out = roster(&["import", unknown.to_str().unwrap()], &db);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown file type"));
}

#[test]
fn check_password_exits_zero_on_a_match_and_one_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let file = dir.path().join("u.csv");
    std::fs::write(&file, "username,email,name,password\nann,ann@x.org,Ann,Open Sesame 1\n")
        .unwrap();
    let out = roster(&["import", file.to_str().unwrap(), "--bcrypt-cost", "4"], &db);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let good = roster_with_input(&["check-password", "ann"], &db, "Open Sesame 1\n");
    assert_eq!(good.status.code(), Some(0));
    let bad = roster_with_input(&["check-password", "ann"], &db, "open sesame 1\n");
    assert_eq!(bad.status.code(), Some(1));
    let nobody = roster_with_input(&["check-password", "bob"], &db, "x\n");
    assert_eq!(nobody.status.code(), Some(1));
    assert!(!text(&bad.stdout).contains("sesame") && !text(&bad.stderr).contains("sesame"));
}

#[test]
fn looking_at_a_missing_store_is_an_error_not_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("absent.db");
    let out = roster(&["status"], &db);
    assert_eq!(out.status.code(), Some(1));
    assert!(!db.exists());
}
