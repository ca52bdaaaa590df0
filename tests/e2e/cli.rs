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

/// Imports a small CSV (two users, the second a duplicate) and returns the store's path.
fn small_import(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("r.db");
    let file = dir.join("small.csv");
    std::fs::write(&file, "username,email\nann,ann@x.org\nann2,ANN@x.org\n").unwrap();
    let out = roster(&["import", file.to_str().unwrap(), "--bcrypt-cost", "4"], &db);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    db
}

fn status_json(db: &Path) -> Value {
    serde_json::from_slice(&roster(&["status", "--json"], db).stdout).unwrap()
}

#[test]
fn a_file_that_cannot_be_staged_exits_two_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = small_import(dir.path());
    let before = status_json(&db);
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let cases = [
        (
            write("bad.jsonl", b"{\"emails\":[\"a@x.org\"],\"importIds\":[\"1\"]}\n\n{\"emails\":[\"b@x.org\"],\"importIds\":[\"2\"],\"deleted\":\"no\"}\n"),
            "roster: cannot stage the file: line 3: deleted must be a boolean\n",
        ),
        (
            write("missing.jsonl", b"{\"emails\":[\"a@x.org\"]}\n"),
            "roster: cannot stage the file: line 1: importIds: Users are missing required data.\n",
        ),
        (
            write("bad.json", b"{\"users\": [{\"emails\": [\"a@x.org\"],\n \"name\": \"\xff\"}]}"),
            "roster: cannot stage the file: line 2: not valid UTF-8\n",
        ),
        (write("users.xml", b"<users/>"), "unknown file type"),
        (write("empty.csv", b"username,email,name\n"), "the file holds no users"),
        (write("empty.jsonl", b""), "the file holds no users"),
        (dir.path().join("typo.json").to_str().unwrap().to_owned(), "typo.json"),
        (dir.path().to_str().unwrap().to_owned() + "/sub.json", "sub.json"),
    ];
    std::fs::create_dir(dir.path().join("sub.json")).unwrap();
    for (file, says) in cases {
        let out = roster(&["import", &file], &db);
        assert_eq!(out.status.code(), Some(2), "{file}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        if says.ends_with('\n') {
            assert_eq!(stderr, says, "{file}");
        } else {
            assert!(stderr.contains(says), "{file}: {stderr}");
        }
        assert_eq!(status_json(&db), before, "{file} changed the store");
    }
    assert_eq!(text(&roster(&["flagged"], &db).stdout).lines().count(), 1);

    // Nor is a store made for a file that cannot be staged.
    let fresh = dir.path().join("fresh.db");
    let out = roster(&["import", &write("empty.json", b"")], &fresh);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("the file holds no users"), "{}", text(&out.stderr));
    assert!(!fresh.exists());
}

#[test]
fn a_store_in_use_by_another_engine_is_refused_but_can_be_looked_at() {
    let dir = tempfile::tempdir().unwrap();
    let db = small_import(dir.path());
    let owner = roster_core::Engine::open(&db, crate::util::config()).unwrap();
    let file = repo_file("examples/users-2k.csv");
    let out = roster(&["import", file.to_str().unwrap()], &db);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("in use by another Roster engine"), "{}", text(&out.stderr));
    assert_eq!(status_json(&db)["state"], "done", "status works beside the owner");
    drop(owner);
    let out = roster(&["import", file.to_str().unwrap(), "--bcrypt-cost", "4"], &db);
    assert_eq!(out.status.code(), Some(0), "the lock is gone with its engine");
}

#[test]
fn an_interrupted_import_waits_for_resume_or_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let config = roster_core::Config {
        batch_size: 20,
        passwords_per_worker: 1,
        bcrypt_cost: 5,
        ..crate::util::config()
    };
    let engine = roster_core::Engine::open(&db, config).unwrap();
    engine.new_operation("t").unwrap();
    roster_core::input::stage_file(&engine, &repo_file("examples/users-2k.json")).unwrap();
    crate::util::interrupt_after_first_batch(engine);
    assert_eq!(status_json(&db)["state"], "importing");

    let other = dir.path().join("other.csv");
    std::fs::write(&other, "zed,zed@x.org,Zed\n").unwrap();
    let out = roster(&["import", other.to_str().unwrap()], &db);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("roster resume"), "{}", text(&out.stderr));
    assert_eq!(status_json(&db)["state"], "importing", "the interrupted import is kept");

    let out = roster(&["resume", "--json"], &db);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["count"]["completed"], 1879);
    assert_eq!(doc["flagged"].as_array().unwrap().len(), 121);

    let out = roster(&["import", other.to_str().unwrap(), "--restart", "--bcrypt-cost", "4"], &db);
    assert_eq!(out.status.code(), Some(0), "nothing to abandon now: a plain new import");
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
