//! A phone's health, as its publisher page reports it: what the browser lets a page
//! know that decides whether the camera goes on (a hidden page is throttled or stopped
//! by the browser; a flat battery stops everything). Kept beside the camera in the hub
//! (`hub::Entry`), shown in `/api/cameras`, and forgotten when the publisher leaves.

use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// What a publisher page says of itself (`{"kind":"health", ...}` on the publish
/// WebSocket); every key optional, as browsers allow.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reported {
    /// Always `"health"`: what made the message this.
    #[serde(default)]
    kind: String,
    /// The page is hidden (another app or tab in front, the screen off).
    #[serde(default)]
    pub hidden: bool,
    /// The page holds a screen wake lock.
    #[serde(default)]
    pub wake_lock: bool,
    /// Battery level, 0 to 1 (where the Battery API exists).
    pub battery: Option<f64>,
    pub charging: Option<bool>,
}

/// Health as `/api/cameras` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub page_hidden: bool,
    pub wake_lock: bool,
    pub battery: Option<f64>,
    pub charging: Option<bool>,
    /// How long ago the page said so.
    pub age_ms: u64,
}

/// The last report of a camera's publisher page.
#[derive(Debug, Default)]
pub struct HealthReport(Mutex<Option<(Reported, Instant)>>);

impl HealthReport {
    /// Keeps a report; a battery level outside 0 to 1 is refused.
    pub fn report(&self, reported: Reported) -> Result<(), String> {
        if reported
            .battery
            .is_some_and(|b| !(b.is_finite() && (0.0..=1.0).contains(&b)))
        {
            return Err("a battery level is from 0 to 1".into());
        }
        *self.0.lock().expect("health lock") = Some((reported, Instant::now()));
        Ok(())
    }

    /// The publisher left: nothing is known any more.
    pub fn clear(&self) {
        *self.0.lock().expect("health lock") = None;
    }

    pub fn now(&self) -> Option<Health> {
        let held = self.0.lock().expect("health lock").clone();
        held.map(|(r, at)| Health {
            page_hidden: r.hidden,
            wake_lock: r.wake_lock,
            battery: r.battery,
            charging: r.charging,
            age_ms: at.elapsed().as_millis() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_kept_until_cleared() {
        let report = HealthReport::default();
        let r: Reported = serde_json::from_str(
            r#"{"kind":"health","hidden":true,"wake_lock":false,"battery":0.15,"charging":false}"#,
        )
        .unwrap();
        report.report(r).unwrap();
        let now = report.now().unwrap();
        assert!(now.page_hidden && !now.wake_lock);
        assert_eq!((now.battery, now.charging), (Some(0.15), Some(false)));
        report.clear();
        assert!(report.now().is_none());
        let bad = Reported {
            battery: Some(7.0),
            ..Reported::default()
        };
        assert!(report.report(bad).is_err());
        assert!(serde_json::from_str::<Reported>(r#"{"kind":"health","x":1}"#).is_err());
    }
}
