//! What the detector and the clip rules make of a scene: the kept clips, as the hub's
//! motion task would record them with the default settings.

use std::time::Duration;

use remotecam::motion::{ClipEvent, ClipRules, ClipTracker, Detector, DetectorSettings, Gray};

/// Kept clips as (first motion frame, last frame) in seconds, for pictures taken `fps`
/// times a second.
pub(crate) fn clips(
    pictures: impl IntoIterator<Item = Gray>,
    fps: f64,
    settings: DetectorSettings,
) -> Vec<(f64, f64)> {
    let mut detector = Detector::new(settings);
    let mut tracker = ClipTracker::new(ClipRules::default());
    let mut open = None;
    let mut kept = Vec::new();
    for (i, picture) in pictures.into_iter().enumerate() {
        let t = Duration::from_secs_f64(i as f64 / fps);
        let score = detector.score(&picture);
        // SCENE_DEBUG=1 shows the detector's view of each frame, for tuning.
        if std::env::var_os("SCENE_DEBUG").is_some() {
            eprintln!(
                "{i} {:.2}% noise {:.1} global {}",
                score.changed_percent, score.noise_level, score.global_change
            );
        }
        for event in tracker.frame(t, score.changed_percent) {
            match event {
                ClipEvent::Start { trigger, .. } => open = Some(trigger.as_secs_f64()),
                ClipEvent::End { at, keep, .. } => {
                    let start = open.take().expect("a clip was open");
                    if keep {
                        kept.push((start, at.as_secs_f64()));
                    }
                }
            }
        }
    }
    kept
}

/// Whether a clip found in a scene matches the truth: started within 0.5 s of the true
/// start, ended after the true end and within the calm window (20 frames) plus 0.5 s.
pub(crate) fn assert_clip_matches(clips: &[(f64, f64)], truth: (f64, f64), fps: f64) {
    assert_eq!(clips.len(), 1, "one clip expected, got {clips:?}");
    let (start, end) = clips[0];
    let calm_window = f64::from(ClipRules::default().calm_frames) / fps;
    assert!(
        (start - truth.0).abs() <= 0.5,
        "started at {start:.1} s, motion began at {:.1} s",
        truth.0
    );
    assert!(
        end >= truth.1 && end <= truth.1 + calm_window + 0.5,
        "ended at {end:.1} s, motion ended at {:.1} s",
        truth.1
    );
}
