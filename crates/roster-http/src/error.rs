//! The one mapping from failures to HTTP answers, in Rocket.Chat 6.3's shapes.
//!
//! Every handler and middleware answers a failure by returning an [`ApiError`]; nothing else
//! in the crate builds an error body. Client errors (4xx) are logged at debug only. Server
//! errors (5xx) are logged once, here, at error, and the client is told nothing about them.

use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roster_core::input::InputError;
use roster_core::Error;
use serde_json::{json, Value};
use tracing::{debug, error};

/// Why a request was not answered with success.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// The credentials are missing or prove nothing.
    Unauthorized,
    /// The caller lacks the `run-import` permission.
    Forbidden,
    /// The request is malformed; the text says what and where.
    InvalidParams(String),
    /// The engine refused the call; its message is Rocket.Chat's wire string.
    Engine(Error),
    /// The body is longer than the configured limit, in bytes.
    PayloadTooLarge(usize),
    /// Something failed on our side.
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

/// Rocket.Chat's own body for an unexpected server error, spelling included, since clients
/// may match on it.
const INTERNAL_ERROR: &str = "Internal error occured";

impl ApiError {
    /// The failure to read a request body, given the configured limit.
    pub(crate) fn from_body(rejection: BytesRejection, limit: usize) -> ApiError {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::PayloadTooLarge(limit);
        }
        ApiError::InvalidParams(format!("the request body could not be read: {rejection}"))
    }

    fn status_and_body(self) -> (StatusCode, Value) {
        match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"status": "error", "message": "You must be logged in to do this."}),
            ),
            ApiError::Forbidden => failure(
                StatusCode::FORBIDDEN,
                "User does not have the permissions required for this action [error-unauthorized]",
            ),
            ApiError::InvalidParams(what) => typed(StatusCode::BAD_REQUEST, what, "invalid-params"),
            ApiError::Engine(e) => engine_error(e),
            ApiError::PayloadTooLarge(limit) => typed(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body is larger than the limit of {limit} bytes"),
                "error-payload-too-large",
            ),
            ApiError::Internal(e) => {
                error!(error = %e, "request failed");
                failure(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_ERROR)
            }
        }
    }
}

/// The engine's refusals are the caller's fault and keep their exact message; anything else
/// the engine reports (a store failure) is ours, and hidden.
fn engine_error(e: Error) -> (StatusCode, Value) {
    match e {
        Error::InvalidParams(p) => typed(StatusCode::BAD_REQUEST, p.to_string(), "invalid-params"),
        Error::NotInitialized
        | Error::CannotReceiveData
        | Error::AlreadyFinished
        | Error::MissingRequiredData { .. }
        | Error::InvalidRoles { .. }
        | Error::OperationNotFound
        | Error::InvalidOperationStatus => {
            // The body keeps Rocket.Chat's fixed sentence; the record at fault goes to the log.
            debug!(at = e.location(), "engine refused the call");
            failure(StatusCode::BAD_REQUEST, &e.to_string())
        }
        other => ApiError::Internal(Box::new(other)).status_and_body(),
    }
}

fn failure(status: StatusCode, message: &str) -> (StatusCode, Value) {
    (status, json!({"success": false, "error": message}))
}

/// Rocket.Chat's shape for an error with a type: the type closes the message in brackets
/// and is repeated as `errorType`.
fn typed(status: StatusCode, what: String, kind: &str) -> (StatusCode, Value) {
    let message = format!("{what} [{kind}]");
    (status, json!({"success": false, "error": message, "errorType": kind}))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.status_and_body();
        if status.is_client_error() {
            debug!(status = status.as_u16(), %body, "request refused");
        }
        (status, Json(body)).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Engine(e)
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> Self {
        match e {
            InputError::Record(e) => ApiError::Engine(e),
            InputError::Malformed { message } => ApiError::InvalidParams(message),
            InputError::NotUtf8 { line } => {
                ApiError::InvalidParams(format!("the body is not valid UTF-8 (line {line})"))
            }
            other => ApiError::Internal(Box::new(other)),
        }
    }
}
