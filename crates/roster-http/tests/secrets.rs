//! What reaches the log and the answers: a password sent in addUsers never does; the cause of
//! a 500 reaches the log once, at error, and never the answer.
//!
//! This binary installs a global subscriber at `trace`, so that the engine's threads and the
//! blocking pool are captured too; it holds one test, since the subscriber is per process.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::StatusCode;
use common::{call, config, server, user, Creds};
use roster_core::Engine;
use roster_http::{router, AuthError, Authenticator, Caller, Limits};
use serde_json::{json, Value};

/// Every line the subscriber writes, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// An authenticator whose directory is down.
struct Down;

impl Authenticator for Down {
    fn authenticate(&self, _: &str, _: &str) -> Result<Option<Caller>, AuthError> {
        Err("directory at ldap.internal.example unreachable".into())
    }
}

#[tokio::test]
async fn a_password_never_appears_in_an_answer_or_a_log_line() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    const SECRET: &str = "Tr0ub4dor&3-unique-secret";
    let with_password = |mut u: Value| {
        u["password"] = json!(SECRET);
        u
    };
    let server = server();
    let mut answers = Vec::new();

    answers.push(server.admin("POST", "import.new", Body::empty()).await);
    // Refused batches that carry the password: an unknown role, a missing email, a wrong type.
    let mut bad_role = with_password(user(1));
    bad_role["roles"] = json!(["wizard"]);
    answers.push(server.add_users(json!([bad_role])).await);
    answers.push(server.add_users(json!([{"importIds": ["x"], "password": SECRET}])).await);
    let mut bad_type = with_password(user(1));
    bad_type["deleted"] = json!(SECRET);
    answers.push(server.add_users(json!([bad_type])).await);
    let truncated = format!("{{\"users\": [{{\"password\": \"{SECRET}\", \"emails\": [");
    answers.push(server.admin("POST", "import.addUsers", truncated).await);

    // A run in which one record with the password is imported and one is flagged.
    let mut twin = with_password(user(2));
    twin["emails"] = json!(["user1@example.org"]);
    answers.push(server.add_users(json!([with_password(user(1)), twin])).await);
    answers.push(server.admin("POST", "import.run", Body::empty()).await);
    answers.push((StatusCode::OK, server.wait_for_end().await));
    answers.push(server.admin("GET", "import.flagged", Body::empty()).await);

    assert_eq!(answers[6].0, StatusCode::OK, "the run starts");
    assert_eq!(answers[8].1["total"], 1, "one record is flagged");
    for (status, body) in &answers {
        assert!(!body.to_string().contains(SECRET), "{status} answered the password: {body}");
    }
    let lines = log.text();
    assert!(lines.contains("request"), "the log captured nothing: {lines}");
    assert!(lines.contains("import.addUsers"), "addUsers was not logged: {lines}");
    assert!(!lines.contains(SECRET), "the password reached the log:\n{lines}");

    // A server error: logged once at error with its cause, answered without it.
    let engine = Engine::open_in_memory(config()).expect("engine");
    let down = router(engine, Arc::new(Down), Limits::default());
    let creds = Creds { user_id: "u".into(), token: "t".into() };
    let (status, body) = call(&down, "GET", "/api/v1/import.status", Some(&creds), "").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body.to_string().contains("ldap"), "the cause was answered: {body}");
    let lines = log.text();
    let errors: Vec<&str> = lines.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{lines}");
    assert!(errors[0].contains("ldap.internal.example unreachable"), "{}", errors[0]);
}
