//! `roster serve` over a real socket, driven with a real HTTP client as a Rocket.Chat import
//! client would: tokens from `roster token create`, the 2k sample in four addUsers calls, a
//! run polled to its end; and an import stopped by Ctrl-C that the next start resumes.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::util::{repo_file, repo_json};

/// A `roster serve` child process on a free loopback port.
struct Served {
    child: Child,
    api: String,
    client: Client,
    /// Kept open, so that a later line on the server's stdout does not meet a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Served {
    fn start(db: &Path, bcrypt_cost: u32) -> Served {
        Served::start_with(db, bcrypt_cost, &[])
    }

    fn start_with(db: &Path, bcrypt_cost: u32, extra: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["serve", "--listen", "127.0.0.1:0", "--bcrypt-cost", &bcrypt_cost.to_string()])
            .args(extra)
            .arg("--db")
            .arg(db)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("roster serve starts");

        // The first line names the address, which the OS chose.
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        stdout.read_line(&mut line).expect("roster serve prints its address");
        let start = line.find("http://").unwrap_or_else(|| panic!("no address in {line:?}"));
        let api = line[start..].split_whitespace().next().unwrap_or_default().to_owned();
        assert!(api.starts_with("http://127.0.0.1:") && api.ends_with("/api/v1/"), "{api}");
        Served { child, api, client: Client::new(), _stdout: stdout }
    }

    /// Calls `route` with the credentials of `(user, token)`; answers the status and body.
    fn call(
        &self,
        method: &str,
        route: &str,
        who: (&str, &str),
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let url = format!("{}{route}", self.api);
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self
            .client
            .request(method, url)
            .header("X-User-Id", who.0)
            .header("X-Auth-Token", who.1)
            .timeout(Duration::from_secs(60));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().expect("the server answers");
        let status = response.status();
        (status, response.json().expect("a JSON body"))
    }

    /// Polls `import.status` until the state is final; answers the last status body.
    fn wait_for_end(&self, who: (&str, &str)) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        while Instant::now() < deadline {
            let (status, body) = self.call("GET", "import.status", who, None);
            assert_eq!(status, StatusCode::OK, "{body}");
            if ["done", "error", "canceled"].contains(&body["state"].as_str().unwrap_or_default()) {
                return body;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the import did not end within 5 minutes");
    }

    /// Sends Ctrl-C's signal and waits for a clean exit.
    fn interrupt(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().expect("kill runs");
        assert!(sent.success(), "SIGINT could not be sent");
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                assert!(status.success(), "roster serve exited with {status} on SIGINT");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("roster serve did not stop within 2 minutes of SIGINT");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // Only reached with the child still running when a test failed half-way.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `roster token create`, answering the printed token.
fn token(db: &Path, user: &str, permissions: &[&str]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    command.args(["token", "create", "--user", user]).arg("--db").arg(db);
    for permission in permissions {
        command.args(["--permission", permission]);
    }
    let out = command.env_remove("RUST_LOG").output().expect("roster token runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).expect("UTF-8").trim().to_owned();
    assert_eq!(token.len(), 64, "{token}");
    token
}

/// The 2k sample's users, in order.
fn sample_users() -> Vec<Value> {
    let text = std::fs::read_to_string(repo_file("examples/users-2k.json")).expect("the sample");
    let body: Value = serde_json::from_str(&text).expect("JSON");
    body["users"].as_array().expect("a users array").clone()
}

/// Stages the sample in four addUsers calls of 500 after `import.new`.
fn stage_sample(served: &Served, who: (&str, &str)) {
    let (status, body) = served.call("POST", "import.new", who, None);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["operation"]["user"], who.0);

    let users = sample_users();
    assert_eq!(users.len(), 2000);
    for chunk in users.chunks(500) {
        let answer = served.call("POST", "import.addUsers", who, Some(&json!({"users": chunk})));
        assert_eq!(answer, (StatusCode::OK, json!({"success": true})));
    }
    let (_, status) = served.call("GET", "import.status", who, None);
    assert_eq!(status["state"], "ready");
    assert_eq!(status["operation"]["count"]["total"], 2000);
}

/// Checks the final status and every flagged record (read in pages of 50) against the
/// sample's expected outcome.
fn check_outcome(served: &Served, who: (&str, &str), end: &Value) {
    let expected = &repo_json("examples/users-2k.expected.json")["json"];
    let want = &expected["summary"];
    assert_eq!(end["state"], "done", "{end}");
    let count = &end["operation"]["count"];
    assert_eq!(count["total"], want["total"]);
    assert_eq!(count["completed"], want["imported"]);
    assert_eq!(count["skipped"], want["skipped"]);
    assert_eq!(count["error"], want["failed"]);

    let mut flagged = Vec::new();
    loop {
        let route = format!("import.flagged?offset={}", flagged.len());
        let (status, page) = served.call("GET", &route, who, None);
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["flagged"].as_array().expect("a flagged array").clone();
        assert_eq!(page["total"].as_u64(), expected["flagged"].as_array().map(|f| f.len() as u64));
        if items.is_empty() {
            break;
        }
        assert!(items.len() <= 50, "a page without count holds at most 50");
        flagged.extend(items);
    }
    let triple = |f: &Value| (f["importId"].clone(), f["outcome"].clone(), f["reason"].clone());
    let got: Vec<_> = flagged.iter().map(triple).collect();
    let want: Vec<_> =
        expected["flagged"].as_array().expect("flagged").iter().map(triple).collect();
    assert_eq!(got, want);
}

#[test]
fn the_2k_sample_over_http_matches_the_expected_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("served.db");
    let importer = token(&db, "importer", &["run-import"]);
    let viewer = token(&db, "viewer", &[]);
    let served = Served::start(&db, 4);
    let who = ("importer", importer.as_str());

    let (status, _) = served.call("POST", "import.new", ("viewer", &viewer), None);
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = served.call("POST", "import.new", ("importer", &viewer), None);
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    stage_sample(&served, who);
    assert_eq!(
        served.call("POST", "import.run", who, None),
        (StatusCode::OK, json!({"success": true}))
    );
    let end = served.wait_for_end(who);
    check_outcome(&served, who, &end);
    served.interrupt();
}

#[test]
fn an_import_stopped_by_ctrl_c_resumes_on_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("served.db");
    let importer = token(&db, "importer", &["run-import"]);
    let who = ("importer", importer.as_str());

    // Slow hashing, so the run is still going when the signal comes.
    let served = Served::start(&db, 9);
    stage_sample(&served, who);
    assert_eq!(served.call("POST", "import.run", who, None).0, StatusCode::OK);
    served.interrupt();

    let status = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["status", "--json", "--db"])
        .arg(&db)
        .output()
        .expect("roster status runs");
    let status: Value = serde_json::from_slice(&status.stdout).expect("status as JSON");
    assert_eq!(status["state"], "importing", "the stopped run was not left to resume: {status}");
    let decided =
        ["completed", "skipped", "error"].map(|k| status["operation"]["count"][k].as_u64());
    assert!(decided.iter().flatten().sum::<u64>() < 2000, "the run was not stopped: {status}");

    let served = Served::start(&db, 4);
    let end = served.wait_for_end(who);
    check_outcome(&served, who, &end);
    served.interrupt();
}

#[test]
fn a_stalled_client_does_not_keep_the_server_from_stopping() {
    use std::io::Write;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let admin = token(&db, "admin", &["run-import"]);
    let served = Served::start_with(&db, 4, &["--shutdown-grace", "1"]);
    let address = served.api.trim_start_matches("http://").split('/').next().unwrap().to_owned();

    // A request that promises a body of 1000 bytes, sends one, and goes quiet.
    let mut stalled = std::net::TcpStream::connect(&address).unwrap();
    let head = format!(
        "POST /api/v1/import.addUsers HTTP/1.1\r\nHost: {address}\r\nX-User-Id: admin\r\n\
         X-Auth-Token: {admin}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
    );
    stalled.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // The client stays connected and silent for as long as the server takes.
    served.interrupt();
    drop(stalled);
}
