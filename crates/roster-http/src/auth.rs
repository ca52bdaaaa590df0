//! Who is calling: the [`Authenticator`] a host implements, the default one on the engine's
//! token store, and the middleware that puts every route behind them.
//!
//! Rocket.Chat clients send `X-User-Id` and `X-Auth-Token` on every request. A pair that does
//! not authenticate is answered 401; an authenticated caller without the `run-import`
//! permission is answered 403. Both are decided before the handler reads the body.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use roster_core::Engine;

use crate::app::App;
use crate::error::ApiError;
use crate::routes::blocking;

/// The permission every import route needs, as Rocket.Chat names it.
pub const RUN_IMPORT: &str = "run-import";

/// A failure of the authenticator itself (its store is unreachable, say). The caller gets a
/// bare 500; the error is logged once.
pub type AuthError = Box<dyn std::error::Error + Send + Sync>;

/// Who is calling, as an [`Authenticator`] found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller's user id; it becomes the `user` of the operations they make.
    pub user_id: String,
    /// Whether they hold the `run-import` permission.
    pub may_run_imports: bool,
}

/// Decides who presents a pair of credentials and whether they may run imports. A host with
/// its own user directory implements this; [`TokenAuthenticator`] is the default.
///
/// It is called on tokio's blocking pool, once per request, so it may do IO.
pub trait Authenticator: Send + Sync + 'static {
    /// The caller that `user_id` and `token` prove to be, or `None` when they prove nothing
    /// (an unknown user, a wrong or revoked token).
    fn authenticate(&self, user_id: &str, token: &str) -> Result<Option<Caller>, AuthError>;
}

/// The default [`Authenticator`]: the API tokens kept in the engine's SQLite file (made with
/// [`Engine::create_token`] or `roster token create`), stored only as SHA-256 digests and
/// compared in constant time.
#[derive(Clone)]
pub struct TokenAuthenticator {
    engine: Engine,
}

impl TokenAuthenticator {
    /// Authenticates against the tokens in `engine`'s store.
    pub fn new(engine: Engine) -> Self {
        TokenAuthenticator { engine }
    }
}

impl Authenticator for TokenAuthenticator {
    fn authenticate(&self, user_id: &str, token: &str) -> Result<Option<Caller>, AuthError> {
        let permissions = self.engine.authenticate(user_id, token)?;
        Ok(permissions.map(|held| Caller {
            user_id: user_id.to_owned(),
            may_run_imports: held.iter().any(|p| p == RUN_IMPORT),
        }))
    }
}

/// The middleware in front of every route: 401 without a caller, 403 without the
/// permission, else the [`Caller`] goes into the request's extensions for the handler.
pub(crate) async fn authorize(
    State(app): State<App>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (user_id, token) = credentials(request.headers()).ok_or(ApiError::Unauthorized)?;

    let auth = app.auth.clone();
    let caller = blocking(move || auth.authenticate(&user_id, &token).map_err(ApiError::Internal))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if !caller.may_run_imports {
        return Err(ApiError::Forbidden);
    }

    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// The user id and token headers, when both are present, UTF-8 and not blank.
fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let header = |name: &str| {
        let value = headers.get(name)?.to_str().ok()?.trim();
        (!value.is_empty()).then(|| value.to_owned())
    };
    Some((header("x-user-id")?, header("x-auth-token")?))
}
