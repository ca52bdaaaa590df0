//! The import API in process, without a socket: every row of the SPEC's HTTP table and every
//! engine error string, route by route.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use common::{call, config, server, server_with, user, Creds, Server};
use roster_core::{Config, Engine};
use roster_http::{router, AuthError, Authenticator, Caller, Limits};
use serde_json::{json, Value};

/// Every route, with a body that would succeed once the caller is let in.
const ROUTES: [(&str, &str); 6] = [
    ("POST", "import.new"),
    ("POST", "import.addUsers"),
    ("GET", "import.status"),
    ("POST", "import.run"),
    ("POST", "import.clear"),
    ("GET", "import.flagged"),
];

fn body_for(route: &str) -> String {
    match route {
        "import.addUsers" => json!({"users": [user(1)]}).to_string(),
        _ => String::new(),
    }
}

fn unauthorized() -> Value {
    json!({"status": "error", "message": "You must be logged in to do this."})
}

fn forbidden() -> Value {
    json!({
        "success": false,
        "error": "User does not have the permissions required for this action [error-unauthorized]",
    })
}

fn engine_error(message: &str) -> Value {
    json!({"success": false, "error": message})
}

fn invalid_params(what: &str) -> Value {
    let error = format!("{what} [invalid-params]");
    json!({"success": false, "error": error, "errorType": "invalid-params"})
}

async fn state(server: &Server) -> Value {
    server.admin("GET", "import.status", Body::empty()).await.1
}

// ---- Auth -----------------------------------------------------------------------------------

#[tokio::test]
async fn every_route_without_credentials_is_401() {
    let server = server();
    for (method, route) in ROUTES {
        let uri = format!("/api/v1/{route}");
        let answer = call(&server.router, method, &uri, None, body_for(route)).await;
        assert_eq!(answer, (StatusCode::UNAUTHORIZED, unauthorized()), "{method} {route}");
    }
}

#[tokio::test]
async fn every_route_with_a_wrong_token_is_401() {
    let server = server();
    let wrong = Creds { user_id: server.admin.user_id.clone(), token: "0".repeat(64) };
    // A real token presented under another user's id proves nothing either.
    let borrowed = Creds { user_id: "someone-else".into(), token: server.admin.token.clone() };
    let blank = Creds { user_id: server.admin.user_id.clone(), token: " ".into() };
    for creds in [wrong, borrowed, blank] {
        for (method, route) in ROUTES {
            let uri = format!("/api/v1/{route}");
            let answer = call(&server.router, method, &uri, Some(&creds), body_for(route)).await;
            assert_eq!(answer, (StatusCode::UNAUTHORIZED, unauthorized()), "{method} {route}");
        }
    }
    assert_eq!(state(&server).await["state"], "none");
}

#[tokio::test]
async fn every_route_for_a_user_without_the_permission_is_403_and_changes_nothing() {
    let server = server();
    for (method, route) in ROUTES {
        let uri = format!("/api/v1/{route}");
        let answer =
            call(&server.router, method, &uri, Some(&server.viewer), body_for(route)).await;
        assert_eq!(answer, (StatusCode::FORBIDDEN, forbidden()), "{method} {route}");
    }
    assert_eq!(state(&server).await, json!({"state": "none", "success": true}));
}

#[tokio::test]
async fn credentials_are_checked_before_the_body_is_read() {
    let server = server_with(config(), Limits::default().with_max_body_bytes(16));
    let big = json!({"users": [user(1), user(2)]}).to_string();
    let uri = "/api/v1/import.addUsers";
    assert_eq!(
        call(&server.router, "POST", uri, None, big.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let answer = call(&server.router, "POST", uri, Some(&server.viewer), big).await;
    assert_eq!(answer.0, StatusCode::FORBIDDEN);
}

/// A host's own authenticator: one fixed caller, or a failing directory.
struct Directory {
    fails: bool,
}

impl Authenticator for Directory {
    fn authenticate(&self, user_id: &str, token: &str) -> Result<Option<Caller>, AuthError> {
        if self.fails {
            return Err("the directory at /var/secret/dir.sock is down".into());
        }
        let known = user_id == "host-user" && token == "host-token";
        Ok(known.then(|| Caller { user_id: user_id.to_owned(), may_run_imports: true }))
    }
}

fn host_router(fails: bool) -> axum::Router {
    let engine = Engine::open_in_memory(config()).expect("engine");
    router(engine, Arc::new(Directory { fails }), Limits::default())
}

#[tokio::test]
async fn a_host_authenticator_decides_who_calls_and_names_the_operation_user() {
    let router = host_router(false);
    let creds = Creds { user_id: "host-user".into(), token: "host-token".into() };
    let (status, body) = call(&router, "POST", "/api/v1/import.new", Some(&creds), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["operation"]["user"], "host-user");
    let stranger = Creds { user_id: "host-user".into(), token: "guess".into() };
    let answer = call(&router, "POST", "/api/v1/import.new", Some(&stranger), "").await;
    assert_eq!(answer, (StatusCode::UNAUTHORIZED, unauthorized()));
}

#[tokio::test]
async fn a_failing_authenticator_is_a_500_without_detail() {
    let router = host_router(true);
    let creds = Creds { user_id: "host-user".into(), token: "host-token".into() };
    let (status, body) = call(&router, "GET", "/api/v1/import.status", Some(&creds), "").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, json!({"success": false, "error": "Internal error occured"}));
}

#[tokio::test]
async fn unknown_paths_are_left_to_the_host() {
    let server = server();
    let (status, _) = call(&server.router, "GET", "/api/v1/import.bogus", None, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        call(&server.router, "GET", "/api/v1/import.new", Some(&server.admin), "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

// ---- import.new and import.status -------------------------------------------------------------

#[tokio::test]
async fn status_before_any_operation_is_none() {
    let server = server();
    assert_eq!(state(&server).await, json!({"state": "none", "success": true}));
}

#[tokio::test]
async fn new_answers_the_operation_document_made_by_the_caller() {
    let server = server();
    let (status, body) = server.admin("POST", "import.new", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["success"], true);
    let op = &body["operation"];
    let id = op["_id"].as_str().expect("an id");
    assert!(id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(op["type"], "api");
    assert_eq!(op["importerKey"], "api");
    assert_eq!(op["status"], "importer_new");
    assert_eq!(op["valid"], true);
    assert_eq!(op["user"], "admin-1");
    assert_eq!(
        op["count"],
        json!({"total": 0, "users": 0, "completed": 0, "skipped": 0, "error": 0})
    );
    for stamp in [&op["ts"], &op["_updatedAt"]] {
        let stamp = stamp.as_str().expect("a timestamp");
        assert!(
            stamp.len() >= 20 && stamp.as_bytes()[10] == b'T' && stamp.ends_with('Z'),
            "{stamp}"
        );
    }

    let status = state(&server).await;
    assert_eq!(status["state"], "new");
    assert_eq!(status["operation"], *op);
}

// ---- import.addUsers --------------------------------------------------------------------------

#[tokio::test]
async fn add_users_without_an_operation_is_not_initialized() {
    let server = server();
    let answer = server.add_users(json!([user(1)])).await;
    assert_eq!(
        answer,
        (StatusCode::BAD_REQUEST, engine_error("Import operation not initialized."))
    );
}

#[tokio::test]
async fn add_users_stages_and_makes_the_operation_ready() {
    let server = server();
    server.admin("POST", "import.new", Body::empty()).await;
    assert_eq!(
        server.add_users(json!([user(1), user(2)])).await,
        (StatusCode::OK, json!({"success": true}))
    );
    assert_eq!(server.add_users(json!([user(3)])).await.0, StatusCode::OK);
    let status = state(&server).await;
    assert_eq!(status["state"], "ready");
    assert_eq!(status["operation"]["status"], "importer_user_selection");
    assert_eq!(status["operation"]["count"]["total"], 3);
    assert_eq!(status["operation"]["count"]["users"], 3);
}

#[tokio::test]
async fn add_users_reads_json_whatever_the_content_type() {
    let server = server();
    server.admin("POST", "import.new", Body::empty()).await;
    let request = axum::http::Request::post("/api/v1/import.addUsers")
        .header("X-User-Id", &server.admin.user_id)
        .header("X-Auth-Token", &server.admin.token)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(Body::from(json!({"users": [user(1)]}).to_string()))
        .expect("a request");
    let response = tower::ServiceExt::oneshot(server.router.clone(), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(state(&server).await["operation"]["count"]["total"], 1);
}

#[tokio::test]
async fn an_empty_users_list_changes_nothing() {
    let server = server();
    server.admin("POST", "import.new", Body::empty()).await;
    assert_eq!(server.add_users(json!([])).await, (StatusCode::OK, json!({"success": true})));
    let status = state(&server).await;
    assert_eq!(status["state"], "new");
    assert_eq!(status["operation"]["count"]["total"], 0);
}

/// Sends `body` to addUsers after `import.new` and checks that nothing was staged.
async fn refused_body(body: &str) -> (StatusCode, Value) {
    let server = server();
    server.admin("POST", "import.new", Body::empty()).await;
    let answer = server.admin("POST", "import.addUsers", body.to_owned()).await;
    let status = state(&server).await;
    assert_eq!(status["state"], "new", "{body} staged something");
    assert_eq!(status["operation"]["count"]["total"], 0, "{body} staged something");
    answer
}

#[tokio::test]
async fn malformed_json_is_invalid_params() {
    for body in ["{\"users\": [", "not json", "", "{\"users\": []} trailing"] {
        let (status, answer) = refused_body(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["success"], false);
        assert_eq!(answer["errorType"], "invalid-params");
        let error = answer["error"].as_str().expect("an error string");
        assert!(error.starts_with("malformed JSON: "), "{error}");
        assert!(error.ends_with(" [invalid-params]"), "{error}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_invalid_params() {
    let server = server();
    server.admin("POST", "import.new", Body::empty()).await;
    let body = b"{\"users\": [{\"emails\": [\"\xff@x.org\"]}]}".to_vec();
    let (status, answer) = server.admin("POST", "import.addUsers", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["errorType"], "invalid-params");
}

#[tokio::test]
async fn a_wrong_type_names_its_path() {
    let mut users = vec![user(0), user(1), user(2), user(3)];
    users[3]["utcOffset"] = json!("+2");
    let body = json!({"users": users}).to_string();
    let answer = refused_body(&body).await;
    assert_eq!(
        answer,
        (StatusCode::BAD_REQUEST, invalid_params("users[3].utcOffset must be a number"))
    );

    let answer = refused_body(r#"{"users": {"emails": []}}"#).await;
    assert_eq!(answer, (StatusCode::BAD_REQUEST, invalid_params("users must be an array")));
    let answer = refused_body(r#"{"users": [1]}"#).await;
    assert_eq!(answer, (StatusCode::BAD_REQUEST, invalid_params("users[0] must be an object")));
}

#[tokio::test]
async fn an_unknown_top_level_key_is_invalid_params() {
    let body = json!({"users": [user(1)], "operation": "x"}).to_string();
    let (status, answer) = refused_body(&body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let error = answer["error"].as_str().expect("an error string");
    assert!(error.starts_with("operation "), "{error}");
    assert_eq!(answer, invalid_params(error.trim_end_matches(" [invalid-params]")));

    let answer = refused_body("{}").await;
    assert_eq!(answer, (StatusCode::BAD_REQUEST, invalid_params("users is required")));
}

#[tokio::test]
async fn a_user_without_an_email_refuses_the_whole_batch() {
    let body = json!({"users": [user(1), {"importIds": ["x"]}]}).to_string();
    let answer = refused_body(&body).await;
    assert_eq!(answer, (StatusCode::BAD_REQUEST, engine_error("Users are missing required data.")));
    let body = json!({"users": [{"emails": ["a@b.org"]}]}).to_string();
    let answer = refused_body(&body).await;
    assert_eq!(answer, (StatusCode::BAD_REQUEST, engine_error("Users are missing required data.")));
}

#[tokio::test]
async fn a_role_outside_the_catalogue_refuses_the_whole_batch() {
    let mut bad = user(2);
    bad["roles"] = json!(["admin", "wizard"]);
    let body = json!({"users": [user(1), bad]}).to_string();
    let answer = refused_body(&body).await;
    let message = "One or more of the users have been assigned invalid roles.";
    assert_eq!(answer, (StatusCode::BAD_REQUEST, engine_error(message)));
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_stages_nothing() {
    let server = server_with(config(), Limits::default().with_max_body_bytes(200));
    server.admin("POST", "import.new", Body::empty()).await;
    let users: Vec<Value> = (0..10).map(user).collect();
    let (status, body) = server.add_users(json!(users)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["success"], false);
    assert_eq!(body["errorType"], "error-payload-too-large");
    assert_eq!(
        body["error"],
        "The request body is larger than the limit of 200 bytes [error-payload-too-large]"
    );
    assert_eq!(state(&server).await["operation"]["count"]["total"], 0);

    // A body under the limit still goes through.
    assert_eq!(server.add_users(json!([user(1)])).await.0, StatusCode::OK);
}

// ---- import.run and the states ----------------------------------------------------------------

#[tokio::test]
async fn run_without_an_operation_is_operation_not_found() {
    let server = server();
    let answer = server.admin("POST", "import.run", Body::empty()).await;
    assert_eq!(answer, (StatusCode::BAD_REQUEST, engine_error("error-operation-not-found")));
}

#[tokio::test]
async fn run_with_nothing_staged_is_invalid_operation_status() {
    let server = server();
    server.admin("POST", "import.new", Body::empty()).await;
    let answer = server.admin("POST", "import.run", Body::empty()).await;
    assert_eq!(answer, (StatusCode::BAD_REQUEST, engine_error("error-invalid-operation-status")));
    assert_eq!(state(&server).await["state"], "new");
}

#[tokio::test]
async fn a_run_goes_to_done_and_a_second_run_is_already_finished() {
    let server = server();
    server.admin("POST", "import.new", Body::empty()).await;
    let mut twin = user(2);
    twin["emails"] = json!(["USER1@example.org"]);
    server.add_users(json!([user(1), twin, user(3)])).await;
    assert_eq!(
        server.admin("POST", "import.run", Body::empty()).await,
        (StatusCode::OK, json!({"success": true}))
    );

    let end = server.wait_for_end().await;
    assert_eq!(end["state"], "done");
    assert_eq!(end["operation"]["status"], "importer_done");
    let count = json!({"total": 3, "users": 3, "completed": 2, "skipped": 1, "error": 0});
    assert_eq!(end["operation"]["count"], count);

    let again = server.admin("POST", "import.run", Body::empty()).await;
    let finished = "The current import operation is already finished.";
    assert_eq!(again, (StatusCode::BAD_REQUEST, engine_error(finished)));
    let late = server.add_users(json!([user(4)])).await;
    let closed = "The current import operation can not receive new data.";
    assert_eq!(late, (StatusCode::BAD_REQUEST, engine_error(closed)));
}

/// A server whose runs take a few seconds: real bcrypt cost, one worker, small batches.
fn slow_server() -> Server {
    let config =
        Config { bcrypt_cost: 10, workers: 1, passwords_per_worker: 2, batch_size: 2, ..config() };
    server_with(config, Limits::default())
}

async fn start_slow_run(server: &Server) {
    server.admin("POST", "import.new", Body::empty()).await;
    let users: Vec<Value> = (0..60)
        .map(|n| {
            let mut u = user(n);
            u["password"] = json!(format!("pw-{n}"));
            u
        })
        .collect();
    assert_eq!(server.add_users(json!(users)).await.0, StatusCode::OK);
    assert_eq!(server.admin("POST", "import.run", Body::empty()).await.0, StatusCode::OK);
}

#[tokio::test]
async fn run_twice_and_add_users_during_a_run_are_refused() {
    let server = slow_server();
    start_slow_run(&server).await;
    assert_eq!(state(&server).await["state"], "importing");

    let again = server.admin("POST", "import.run", Body::empty()).await;
    assert_eq!(again, (StatusCode::BAD_REQUEST, engine_error("error-invalid-operation-status")));
    let late = server.add_users(json!([user(100)])).await;
    let closed = "The current import operation can not receive new data.";
    assert_eq!(late, (StatusCode::BAD_REQUEST, engine_error(closed)));

    server.admin("POST", "import.clear", Body::empty()).await;
}

#[tokio::test]
async fn clear_during_a_run_stops_it_as_canceled() {
    let server = slow_server();
    start_slow_run(&server).await;

    let answer = server.admin("POST", "import.clear", Body::empty()).await;
    assert_eq!(answer, (StatusCode::OK, json!({"success": true})));
    let status = state(&server).await;
    assert_eq!(status["state"], "canceled");
    assert_eq!(status["operation"]["status"], "importer_import_cancelled");
    assert_eq!(status["operation"]["valid"], false);
    assert!(status["operation"]["count"]["completed"].as_u64().unwrap() < 60);

    // Nothing is current any more: addUsers and run say so.
    let late = server.add_users(json!([user(100)])).await;
    assert_eq!(late, (StatusCode::BAD_REQUEST, engine_error("Import operation not initialized.")));
    let run = server.admin("POST", "import.run", Body::empty()).await;
    assert_eq!(run, (StatusCode::BAD_REQUEST, engine_error("error-operation-not-found")));
}

#[tokio::test]
async fn new_during_a_run_cancels_it_and_starts_afresh() {
    let server = slow_server();
    start_slow_run(&server).await;
    let (status, body) = server.admin("POST", "import.new", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["operation"]["status"], "importer_new");
    assert_eq!(state(&server).await["state"], "new");
}

#[tokio::test]
async fn new_run_and_clear_take_no_parameters_and_ignore_any_body() {
    let server = server();
    let (status, body) = server.admin("POST", "import.new", "{\"users\": [").await;
    assert_eq!((status, body["success"].clone()), (StatusCode::OK, json!(true)));
    server.add_users(json!([user(1)])).await;
    let answer = server.admin("POST", "import.run", "not json").await;
    assert_eq!(answer, (StatusCode::OK, json!({"success": true})));
    assert_eq!(server.wait_for_end().await["state"], "done");
    let answer = server.admin("POST", "import.clear", "[1, 2").await;
    assert_eq!(answer, (StatusCode::OK, json!({"success": true})));
}

#[tokio::test]
async fn clear_without_an_operation_succeeds() {
    let server = server();
    let answer = server.admin("POST", "import.clear", Body::empty()).await;
    assert_eq!(answer, (StatusCode::OK, json!({"success": true})));
}

// ---- import.flagged ---------------------------------------------------------------------------

/// A finished run with `n` records, every one after the first flagged `email-in-use`.
async fn run_with_flags(n: u32) -> Server {
    let server = server();
    server.admin("POST", "import.new", Body::empty()).await;
    let users: Vec<Value> = (0..n)
        .map(|i| json!({"emails": ["same@example.org"], "importIds": [format!("r{i:04}")]}))
        .collect();
    for chunk in users.chunks(500) {
        assert_eq!(server.add_users(json!(chunk)).await.0, StatusCode::OK);
    }
    server.admin("POST", "import.run", Body::empty()).await;
    assert_eq!(server.wait_for_end().await["state"], "done");
    server
}

#[tokio::test]
async fn flagged_pages_default_to_50_and_stop_at_500() {
    let server = run_with_flags(601).await;

    let (status, page) = server.admin("GET", "import.flagged", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((page["offset"].clone(), page["count"].clone()), (json!(0), json!(50)));
    assert_eq!((page["total"].clone(), page["success"].clone()), (json!(600), json!(true)));
    let first = &page["flagged"][0];
    assert_eq!(first["importId"], "r0001");
    assert_eq!(first["outcome"], "skipped");
    assert_eq!(first["reason"], "email-in-use");
    assert!(first["message"].as_str().is_some_and(|m| m.contains("r0001")));

    let (_, page) = server.admin("GET", "import.flagged?offset=10&count=5000", Body::empty()).await;
    assert_eq!(page["count"], 500);
    assert_eq!(page["flagged"].as_array().map(Vec::len), Some(500));
    assert_eq!(page["flagged"][0]["importId"], "r0011");

    let (_, page) = server.admin("GET", "import.flagged?offset=598&count=10", Body::empty()).await;
    assert_eq!(page["count"], 2);
    assert_eq!(page["flagged"][1]["importId"], "r0600");
}

#[tokio::test]
async fn flagged_with_count_zero_answers_only_the_total() {
    let server = run_with_flags(3).await;
    let (status, page) = server.admin("GET", "import.flagged?count=0", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    let empty = json!({"flagged": [], "offset": 0, "count": 0, "total": 2, "success": true});
    assert_eq!(page, empty);
}

#[tokio::test]
async fn flagged_refuses_a_bad_offset_or_count() {
    let server = server();
    for (query, what) in [
        ("offset=-1", "offset must be a non-negative integer"),
        ("count=ten", "count must be a non-negative integer"),
        ("count=1.5", "count must be a non-negative integer"),
    ] {
        let answer = server.admin("GET", &format!("import.flagged?{query}"), Body::empty()).await;
        assert_eq!(answer, (StatusCode::BAD_REQUEST, invalid_params(what)), "{query}");
    }
}

#[tokio::test]
async fn flagged_without_an_operation_is_an_empty_page() {
    let server = server();
    let (status, page) = server.admin("GET", "import.flagged", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    let empty = json!({"flagged": [], "offset": 0, "count": 0, "total": 0, "success": true});
    assert_eq!(page, empty);
}
