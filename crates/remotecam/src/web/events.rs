//! `GET /api/events`: the hub's events as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use crate::auth::Grant;

/// Server-sent events: every [`crate::events::What`] (`camera_online` to
/// `recording_resumed`), each with its JSON data; `lagged` when this listener missed
/// events; only of the cameras the client's token opens. The stream ends when
/// the hub has stopped, after the events of the stop (the last clips saved).
pub(super) async fn events(
    State(state): State<AppState>,
    Extension(grant): Extension<Grant>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let listening = (state.hub.events(), state.hub.stopped(), grant);
    let stream =
        futures_util::stream::unfold(listening, |(mut rx, mut stopped, grant)| async move {
            // Events already queued come first (`biased`), then the end.
            let next = loop {
                let next = tokio::select! {
                    biased;
                    next = rx.recv() => next,
                    _ = stopped.wait_for(|s| *s) => return None,
                };
                // Only the cameras the grant sees.
                match next {
                    Ok(e) if !grant.sees(&e.camera) => continue,
                    next => break next,
                }
            };
            let event = match next {
                Ok(e) => Event::default()
                    .event(e.name())
                    .json_data(&e)
                    .unwrap_or_else(|_| Event::default().event("error")),
                Err(RecvError::Lagged(n)) => Event::default().event("lagged").data(n.to_string()),
                Err(RecvError::Closed) => return None,
            };
            Some((Ok(event), (rx, stopped, grant)))
        });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
