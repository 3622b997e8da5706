//! What a request let in may do: its [`Grant`], checked against what the request
//! [`Need`]s.

use std::sync::Arc;

use jiff::Timestamp;

use super::tokens::{Held, Role};

/// Who a request is, once let in: the hub's own token or a trusted address (everything),
/// or a scoped token.
#[derive(Debug, Clone)]
pub struct Grant {
    held: Option<Arc<Held>>,
    /// The token the client sent, to be given back to the same client only (the pages'
    /// addresses in `/api/info`, the cookie).
    token: Option<Arc<str>>,
}

/// What a request does, in the order of the roles that may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Watch, list, read.
    View,
    /// Publish a camera.
    Publish,
    /// Change a camera's settings, delete a camera or a recording.
    Change,
    /// The hub itself: tokens, metrics, anything not named.
    Manage,
}

/// Which cameras a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cameras<'a> {
    /// This one.
    One(&'a str),
    /// The ones the grant sees (a list, filtered by its handler).
    Seen,
    /// All of them: only a grant limited to no camera.
    Every,
}

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need<'a> {
    pub action: Action,
    pub cameras: Cameras<'a>,
}

/// Why a grant does not cover a request (HTTP 403).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Denied {
    #[error("this access token ({0}) may not {1}")]
    Role(&'static str, &'static str),
    #[error("this access token does not open camera '{0}'")]
    Camera(String),
    #[error("this access token opens only some cameras; this needs one that opens all")]
    NotEvery,
}

/// Why a granted request ended while it was open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Revoked,
    Expired,
}

impl Ended {
    pub fn message(self) -> &'static str {
        match self {
            Ended::Revoked => "the access token was revoked",
            Ended::Expired => "the access token expired",
        }
    }
}

impl Grant {
    /// The hub's own token (sent as `token`) or a trusted address (`None`).
    pub fn everything(token: Option<&str>) -> Grant {
        Grant {
            held: None,
            token: token.map(Arc::from),
        }
    }

    pub(super) fn scoped(held: Arc<Held>, token: &str) -> Grant {
        Grant {
            held: Some(held),
            token: Some(Arc::from(token)),
        }
    }

    pub fn role(&self) -> Role {
        self.held.as_ref().map_or(Role::Admin, |h| h.record.role)
    }

    /// The token the client sent, if it sent one that let it in.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The scoped token's id (not secret); `None` for the hub's own token and trusted
    /// addresses.
    pub fn scoped_id(&self) -> Option<&str> {
        self.held.as_ref().map(|h| h.record.id.as_str())
    }

    /// The cameras it is limited to; `None`: every camera.
    pub fn cameras(&self) -> Option<&[String]> {
        self.held
            .as_ref()
            .map(|h| h.record.cameras.as_slice())
            .filter(|c| !c.is_empty())
    }

    pub fn sees(&self, camera: &str) -> bool {
        self.cameras().is_none_or(|c| c.iter().any(|n| n == camera))
    }

    /// Whether this grant covers `need`, and if not, why.
    pub fn allows(&self, need: Need<'_>) -> Result<(), Denied> {
        let role = self.role();
        let permitted = match need.action {
            Action::View => Role::Viewer,
            Action::Publish => Role::Publisher,
            Action::Change | Action::Manage => Role::Admin,
        };
        if role < permitted {
            let what = match need.action {
                Action::View => "watch",
                Action::Publish => "publish a camera (that needs the publisher role)",
                Action::Change => "change anything (that needs the admin role)",
                Action::Manage => "manage the hub (that needs the admin role)",
            };
            return Err(Denied::Role(role.name(), what));
        }
        match need.cameras {
            Cameras::One(name) if !self.sees(name) => Err(Denied::Camera(name.to_owned())),
            Cameras::Every if self.cameras().is_some() => Err(Denied::NotEvery),
            _ => Ok(()),
        }
    }

    /// Whether the grant can end while a request is open (a scoped token can).
    pub fn can_end(&self) -> bool {
        self.held.is_some()
    }

    /// Whether the grant has ended already (revoked, expired).
    pub fn is_over(&self) -> bool {
        self.held
            .as_ref()
            .is_some_and(|h| *h.revoked().borrow() || h.record.expired(Timestamp::now()))
    }

    /// Completes when the grant ends: its token revoked or expired. Never, for the hub's
    /// own token and trusted addresses.
    pub async fn ended(&self) -> Ended {
        let Some(held) = &self.held else {
            return std::future::pending().await;
        };
        let mut revoked = held.revoked();
        let expiry = async {
            match held.record.expires {
                Some(at) => {
                    let left = Timestamp::now().duration_until(at);
                    let left = left.try_into().unwrap_or_default();
                    tokio::time::sleep(left).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            // A closed channel (never while the token is held) ends the grant as well.
            _ = revoked.wait_for(|r| *r) => Ended::Revoked,
            () = expiry => Ended::Expired,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tokens::{NewToken, TokenStore};
    use super::*;

    fn grant(role: Role, cameras: &[&str]) -> (tempfile::TempDir, TokenStore, Grant) {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path());
        let (secret, _) = store
            .add(NewToken {
                name: String::new(),
                role,
                cameras: cameras.iter().map(|c| c.to_string()).collect(),
                expires: None,
            })
            .unwrap();
        let held = store.find(&secret).unwrap();
        (dir, store, Grant::scoped(held, &secret))
    }

    fn need(action: Action, cameras: Cameras<'_>) -> Need<'_> {
        Need { action, cameras }
    }

    #[test]
    fn roles_and_cameras_limit_what_a_token_may_do() {
        let (_d, _s, door_viewer) = grant(Role::Viewer, &["door"]);
        assert!(
            door_viewer
                .allows(need(Action::View, Cameras::One("door")))
                .is_ok()
        );
        assert!(
            door_viewer
                .allows(need(Action::View, Cameras::Seen))
                .is_ok()
        );
        assert_eq!(
            door_viewer.allows(need(Action::View, Cameras::One("yard"))),
            Err(Denied::Camera("yard".into()))
        );
        assert_eq!(
            door_viewer.allows(need(Action::View, Cameras::Every)),
            Err(Denied::NotEvery)
        );
        for action in [Action::Publish, Action::Change, Action::Manage] {
            assert!(matches!(
                door_viewer.allows(need(action, Cameras::One("door"))),
                Err(Denied::Role("viewer", _))
            ));
        }
        let (_d, _s, publisher) = grant(Role::Publisher, &[]);
        assert!(
            publisher
                .allows(need(Action::Publish, Cameras::One("phone")))
                .is_ok()
        );
        assert!(
            publisher
                .allows(need(Action::Change, Cameras::One("phone")))
                .is_err()
        );
        let (_d, _s, door_admin) = grant(Role::Admin, &["door"]);
        assert!(
            door_admin
                .allows(need(Action::Change, Cameras::One("door")))
                .is_ok()
        );
        assert!(
            door_admin
                .allows(need(Action::Manage, Cameras::Every))
                .is_err()
        );
        let hub = Grant::everything(None);
        assert!(hub.allows(need(Action::Manage, Cameras::Every)).is_ok());
        assert!(!hub.can_end());
    }

    #[tokio::test]
    async fn a_grant_ends_when_its_token_is_revoked() {
        let (_d, store, grant) = grant(Role::Viewer, &[]);
        let id = store.list()[0].id.clone();
        let ended = tokio::spawn(async move { grant.ended().await });
        store.revoke(&id).unwrap();
        assert_eq!(ended.await.unwrap(), Ended::Revoked);
    }
}
