//! `GET /api/tokens`, `POST /api/tokens` and `DELETE /api/tokens/{id}`: the scoped tokens
//! (`crate::auth::tokens`), for a grant that may manage the hub.

use axum::Extension;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::guard::{Tls, authority};
use crate::auth::Role;
use crate::auth::tokens::{NewToken, TokenError, TokenRecord, parse_expiry};
use crate::error::{AppError, ErrorKind};

/// A token as the API shows it: its record, without the hash.
#[derive(Serialize)]
pub(super) struct TokenView {
    id: String,
    name: String,
    role: Role,
    /// Empty: every camera.
    cameras: Vec<String>,
    created: jiff::Timestamp,
    expires: Option<jiff::Timestamp>,
    expired: bool,
}

impl TokenView {
    fn of(record: TokenRecord) -> TokenView {
        TokenView {
            expired: record.expired(jiff::Timestamp::now()),
            id: record.id,
            name: record.name,
            role: record.role,
            cameras: record.cameras,
            created: record.created,
            expires: record.expires,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AddBody {
    role: Role,
    #[serde(default)]
    cameras: Vec<String>,
    /// A duration from now (`7d`) or an RFC 3339 time; none: it never expires.
    expires: Option<String>,
    #[serde(default)]
    name: String,
}

/// The new token, shown this once, with the link to give its receiver.
#[derive(Serialize)]
pub(super) struct Added {
    token: String,
    /// The page for its receiver, at the address this request came to.
    link: String,
    #[serde(flatten)]
    view: TokenView,
}

pub(super) async fn list(State(state): State<AppState>) -> Json<Vec<TokenView>> {
    Json(
        state
            .auth
            .tokens()
            .list()
            .into_iter()
            .map(TokenView::of)
            .collect(),
    )
}

pub(super) async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    tls: Option<Extension<Tls>>,
    body: Result<Json<AddBody>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(body) = body.map_err(|e| AppError::new(ErrorKind::BadRequest, e.body_text()))?;
    let expires = body
        .expires
        .as_deref()
        .map(|text| parse_expiry(text, jiff::Timestamp::now()))
        .transpose()
        .map_err(|e| AppError::new(ErrorKind::BadRequest, e))?;
    let new = NewToken {
        name: body.name,
        role: body.role,
        cameras: body.cameras,
        expires,
    };
    let auth = std::sync::Arc::clone(&state.auth);
    let (token, record) = tokio::task::spawn_blocking(move || auth.tokens().add(new))
        .await
        .map_err(|e| AppError::new(ErrorKind::Unavailable, e.to_string()))?
        .map_err(token_error)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let host = authority(&headers, &uri).unwrap_or("localhost");
    let added = Added {
        link: format!("{scheme}://{host}{}", record.share_path(&token)),
        token,
        view: TokenView::of(record),
    };
    Ok((StatusCode::CREATED, Json(added)).into_response())
}

/// Revokes at once: requests with the token get 401 and its open streams close.
pub(super) async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let auth = std::sync::Arc::clone(&state.auth);
    let known = id.clone();
    let revoked = tokio::task::spawn_blocking(move || auth.tokens().revoke(&known))
        .await
        .map_err(|e| AppError::new(ErrorKind::Unavailable, e.to_string()))?
        .map_err(token_error)?;
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found(format!("no token '{id}'")))
    }
}

fn token_error(e: TokenError) -> AppError {
    match e {
        TokenError::Invalid(message) => AppError::new(ErrorKind::BadRequest, message),
        TokenError::Full => AppError::new(ErrorKind::Conflict, e.to_string()),
        TokenError::NoRandomness(_) | TokenError::File { .. } => {
            tracing::error!(error = %e, "cannot change the tokens");
            AppError::new(
                ErrorKind::Unavailable,
                "cannot change the tokens in the data directory",
            )
        }
    }
}
