//! When motion makes a clip. As the old camera server did: a clip starts when a frame's
//! change passes the threshold, and ends once the last `calm_frames` frames were all
//! below it; a clip with fewer than `min_motion_frames` motion frames is discarded. And
//! more: `pre_roll` of frames before the trigger go into the clip, a clip longer than
//! `max_clip` is split (the event goes on in a new clip), and a new clip does not start
//! within `min_gap` of the end of the last one (the motion extends nothing; it is
//! ignored until the gap has passed).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipRules {
    /// Changed share (percent) from which a frame is a motion frame.
    pub threshold: f32,
    pub calm_frames: u32,
    pub min_motion_frames: u32,
    pub pre_roll: Duration,
    pub max_clip: Duration,
    pub min_gap: Duration,
}

impl Default for ClipRules {
    fn default() -> ClipRules {
        ClipRules {
            threshold: 1.0,
            calm_frames: 20,
            min_motion_frames: 5,
            pre_roll: Duration::from_secs(2),
            max_clip: Duration::from_secs(300),
            min_gap: Duration::ZERO,
        }
    }
}

/// What the tracker decided on a frame. Times are the frames' own timestamps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClipEvent {
    /// A clip starts: its frames are those from `from` (the pre-roll) on; `trigger` is the
    /// first motion frame.
    Start { from: Duration, trigger: Duration },
    /// The clip ends with this frame. `keep` is false when it had too few motion frames.
    End {
        at: Duration,
        motion_frames: u32,
        keep: bool,
    },
}

#[derive(Debug, Clone, Default)]
enum State {
    #[default]
    Idle,
    Recording {
        start: Duration,
        motion_frames: u32,
        calm_run: u32,
    },
}

/// Feeds on (timestamp, score) per frame; says when clips start and end.
#[derive(Debug, Clone, Default)]
pub struct ClipTracker {
    rules: ClipRules,
    state: State,
    last_end: Option<Duration>,
}

impl ClipTracker {
    pub fn new(rules: ClipRules) -> ClipTracker {
        ClipTracker {
            rules,
            state: State::Idle,
            last_end: None,
        }
    }

    /// Changes the rules (a threshold set from the camera page applies at once).
    pub fn set_rules(&mut self, rules: ClipRules) {
        self.rules = rules;
    }

    pub fn recording(&self) -> bool {
        matches!(self.state, State::Recording { .. })
    }

    /// One frame at `t` with its changed share; up to two events (a split ends one clip
    /// and starts the next on the same frame).
    pub fn frame(&mut self, t: Duration, changed_percent: f32) -> Vec<ClipEvent> {
        let motion = changed_percent >= self.rules.threshold;
        let mut events = Vec::new();
        match &mut self.state {
            State::Idle => {
                let gap_ok = self
                    .last_end
                    .is_none_or(|end| t >= end + self.rules.min_gap);
                if motion && gap_ok {
                    self.state = State::Recording {
                        start: t,
                        motion_frames: 1,
                        calm_run: 0,
                    };
                    events.push(ClipEvent::Start {
                        from: t.saturating_sub(self.rules.pre_roll),
                        trigger: t,
                    });
                }
            }
            State::Recording {
                start,
                motion_frames,
                calm_run,
            } => {
                if motion {
                    *motion_frames += 1;
                    *calm_run = 0;
                } else {
                    *calm_run += 1;
                }
                let (start, count, calm) = (*start, *motion_frames, *calm_run);
                if calm >= self.rules.calm_frames {
                    events.push(self.end(t, count));
                } else if t.saturating_sub(start) >= self.rules.max_clip {
                    // Too long: close this clip and go on in a new one at once.
                    events.push(ClipEvent::End {
                        at: t,
                        motion_frames: count,
                        keep: count >= self.rules.min_motion_frames,
                    });
                    self.state = State::Recording {
                        start: t,
                        motion_frames: 0,
                        calm_run: calm,
                    };
                    events.push(ClipEvent::Start {
                        from: t,
                        trigger: t,
                    });
                }
            }
        }
        events
    }

    /// Ends the open clip, if any, at `t` (detection turned off mid-event).
    pub fn stop(&mut self, t: Duration) -> Option<ClipEvent> {
        match self.state {
            State::Recording { motion_frames, .. } => Some(self.end(t, motion_frames)),
            State::Idle => None,
        }
    }

    fn end(&mut self, t: Duration, motion_frames: u32) -> ClipEvent {
        self.state = State::Idle;
        self.last_end = Some(t);
        ClipEvent::End {
            at: t,
            motion_frames,
            keep: motion_frames >= self.rules.min_motion_frames,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Runs scores at 10 fps; returns the kept clips as (from, trigger, end).
    fn clips(rules: ClipRules, scores: &[f32]) -> Vec<(Duration, Duration, Duration)> {
        let mut t = ClipTracker::new(rules);
        let mut open = None;
        let mut out = Vec::new();
        for (i, &s) in scores.iter().enumerate() {
            for e in t.frame(ms(i as u64 * 100), s) {
                match e {
                    ClipEvent::Start { from, trigger } => open = Some((from, trigger)),
                    ClipEvent::End { at, keep, .. } => {
                        let (from, trigger) = open.take().unwrap();
                        if keep {
                            out.push((from, trigger, at));
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn starts_on_motion_ends_after_calm_frames() {
        let mut s = vec![0.0; 50];
        s.extend(vec![5.0; 30]);
        s.extend(vec![0.0; 40]);
        let c = clips(ClipRules::default(), &s);
        assert_eq!(c, vec![(ms(3000), ms(5000), ms(9900))]);
    }

    #[test]
    fn a_blip_is_discarded() {
        let mut s = vec![0.0; 30];
        s.extend(vec![5.0; 4]);
        s.extend(vec![0.0; 40]);
        assert!(clips(ClipRules::default(), &s).is_empty());
        s[35] = 5.0; // the fifth motion frame, within the calm window: kept
        assert_eq!(clips(ClipRules::default(), &s).len(), 1);
    }

    #[test]
    fn long_events_are_split() {
        let rules = ClipRules {
            max_clip: Duration::from_secs(10),
            ..ClipRules::default()
        };
        let mut s = vec![5.0; 250];
        s.extend(vec![0.0; 30]);
        let c = clips(rules, &s);
        assert_eq!(c.len(), 3, "{c:?}");
        assert_eq!(
            c[0].2, c[1].0,
            "the next clip starts where the last one ended"
        );
    }

    #[test]
    fn min_gap_holds_off_a_new_clip() {
        let rules = ClipRules {
            min_gap: Duration::from_secs(5),
            ..ClipRules::default()
        };
        let mut s = vec![5.0; 10];
        s.extend(vec![0.0; 20]); // ends at 2.9 s
        s.extend(vec![5.0; 10]); // 3.0 to 3.9 s: within the gap
        s.extend(vec![0.0; 40]);
        s.extend(vec![5.0; 10]); // 8.0 s: after the gap
        s.extend(vec![0.0; 25]);
        let c = clips(rules, &s);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[1].1, ms(8000));
    }
}
