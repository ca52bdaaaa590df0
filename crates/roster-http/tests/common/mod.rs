//! What the adapter's test binaries share: a router on an in-memory engine with two callers,
//! and one way to send it a request and read the answer.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use roster_core::{Config, Engine};
use roster_http::{router, Limits, TokenAuthenticator, RUN_IMPORT};
use serde_json::{json, Value};
use tower::ServiceExt;

/// A user id and its API token.
#[derive(Debug, Clone)]
pub struct Creds {
    pub user_id: String,
    pub token: String,
}

/// The adapter on an in-memory engine, with a caller who may run imports (`admin`) and one
/// who may not (`viewer`).
pub struct Server {
    pub engine: Engine,
    pub router: Router,
    pub admin: Creds,
    pub viewer: Creds,
}

/// Cheap hashing, so runs with passwords stay fast.
pub fn config() -> Config {
    Config { bcrypt_cost: 4, ..Config::default() }
}

pub fn server() -> Server {
    server_with(config(), Limits::default())
}

pub fn server_with(config: Config, limits: Limits) -> Server {
    let engine = Engine::open_in_memory(config).expect("in-memory engine");
    let admin = creds(&engine, "admin-1", &[RUN_IMPORT]);
    let viewer = creds(&engine, "viewer-1", &[]);
    let auth = Arc::new(TokenAuthenticator::new(engine.clone()));
    let router = router(engine.clone(), auth, limits);
    Server { engine, router, admin, viewer }
}

fn creds(engine: &Engine, user_id: &str, permissions: &[&str]) -> Creds {
    let permissions: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
    let token = engine.create_token(user_id, &permissions).expect("token");
    Creds { user_id: user_id.to_owned(), token }
}

/// Sends one request to `router` and returns the status and the body as JSON (`Null` for an
/// empty body).
pub async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    creds: Option<&Creds>,
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(creds) = creds {
        request = request.header("X-User-Id", &creds.user_id).header("X-Auth-Token", &creds.token);
    }
    let request = request
        .header("Content-Type", "application/json")
        .body(body.into())
        .expect("a well-formed request");
    let response = router.clone().oneshot(request).await.expect("the router answers");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!("the body of {method} {uri} is not JSON: {}", String::from_utf8_lossy(&bytes))
        })
    };
    (status, body)
}

impl Server {
    /// Calls `route` (under `/api/v1/`) as `admin`.
    pub async fn admin(
        &self,
        method: &str,
        route: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        call(&self.router, method, &format!("/api/v1/{route}"), Some(&self.admin), body).await
    }

    /// Calls `import.addUsers` as `admin` with `users`.
    pub async fn add_users(&self, users: Value) -> (StatusCode, Value) {
        self.admin("POST", "import.addUsers", json!({"users": users}).to_string()).await
    }

    /// Polls `import.status` until the state is final, and returns the last answer.
    pub async fn wait_for_end(&self) -> Value {
        for _ in 0..600 {
            let (status, body) = self.admin("GET", "import.status", Body::empty()).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if ["done", "error", "canceled"].contains(&body["state"].as_str().unwrap_or("")) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the run did not end within 30 s");
    }
}

/// A user that stages and imports cleanly.
pub fn user(n: u32) -> Value {
    json!({"emails": [format!("user{n}@example.org")], "importIds": [format!("id-{n}")]})
}
