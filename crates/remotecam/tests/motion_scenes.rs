//! The motion detector and clip rules on scenes made here with known truth, at 10 fps
//! on the detector's 160x120 grayscale pictures: clips start within 0.5 s of the true
//! start and end within the calm window plus 0.5 s of the true end; noise, a slow light
//! change, a light switched on and a blip of fewer than 5 frames make no clip.

mod scenes;

use remotecam::motion::{DetectorSettings, Gray};
use scenes::assert_clip_matches;

const W: usize = 160;
const H: usize = 120;
const FPS: f64 = 10.0;

struct Noise(u32);

impl Noise {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    /// Roughly normal, sigma about 4 (sum of four uniforms).
    fn sample(&mut self) -> f32 {
        let s: f32 = (0..4).map(|_| (self.next() % 1000) as f32 / 1000.0).sum();
        (s - 2.0) * 7.0
    }
}

/// A still scene: gradients and texture, with sensor noise on every frame.
fn background(x: usize, y: usize) -> f32 {
    60.0 + x as f32 * 0.6
        + y as f32 * 0.3
        + if (x / 8 + y / 8).is_multiple_of(2) {
            12.0
        } else {
            0.0
        }
}

/// Per frame: a bright square (x, y, size) when one is in the picture.
type ObjectPath = Box<dyn Fn(usize) -> Option<(usize, usize, usize)>>;
/// Per frame: brightness gain and offset applied to the whole picture.
type LightPath = Box<dyn Fn(usize) -> (f32, f32)>;

struct Scene {
    frames: usize,
    /// Per frame: brightness gain and offset applied to the whole picture.
    light: LightPath,
    /// Per frame: a bright box (x, y, size) if one is in the picture.
    object: ObjectPath,
}

impl Scene {
    fn render(&self, i: usize, noise: &mut Noise) -> Gray {
        let (gain, offset) = (self.light)(i);
        let object = (self.object)(i);
        let mut pixels = Vec::with_capacity(W * H);
        for y in 0..H {
            for x in 0..W {
                let mut v = background(x, y);
                if let Some((ox, oy, size)) = object
                    && (ox..ox + size).contains(&x)
                    && (oy..oy + size).contains(&y)
                {
                    v = 230.0;
                }
                v = v * gain + offset + noise.sample();
                pixels.push(v.clamp(0.0, 255.0) as u8);
            }
        }
        Gray {
            width: W,
            height: H,
            pixels,
        }
    }

    /// Kept clips as (trigger, end) in seconds.
    fn clips(&self) -> Vec<(f64, f64)> {
        self.clips_with(DetectorSettings::default())
    }

    fn clips_with(&self, settings: DetectorSettings) -> Vec<(f64, f64)> {
        let mut noise = Noise(0x1234_5678);
        let pictures: Vec<Gray> = (0..self.frames)
            .map(|i| self.render(i, &mut noise))
            .collect();
        scenes::clips(pictures, FPS, settings)
    }
}

fn still() -> LightPath {
    Box::new(|_| (1.0, 0.0))
}

fn none() -> ObjectPath {
    Box::new(|_| None)
}

/// True motion from frame `from` to frame `to` (exclusive): a 24-pixel box crossing.
fn crossing(from: usize, to: usize) -> ObjectPath {
    Box::new(move |i| {
        (from..to)
            .contains(&i)
            .then(|| (((i - from) * 4) % (W - 24), 40, 24))
    })
}

#[test]
fn an_object_moving_through_makes_one_clip_at_the_right_times() {
    let scene = Scene {
        frames: 150,
        light: still(),
        object: crossing(30, 60),
    };
    assert_clip_matches(&scene.clips(), (3.0, 6.0), FPS);
}

#[test]
fn noise_alone_makes_no_clip() {
    let scene = Scene {
        frames: 300,
        light: still(),
        object: none(),
    };
    assert_eq!(scene.clips(), vec![]);
}

#[test]
fn a_slow_light_change_makes_no_clip() {
    // Dusk to dark over 30 s, unevenly: brightness down by 40% and 30 levels.
    let scene = Scene {
        frames: 300,
        light: Box::new(|i| (1.0 - 0.4 * i as f32 / 300.0, -30.0 * i as f32 / 300.0)),
        object: none(),
    };
    assert_eq!(scene.clips(), vec![]);
}

#[test]
fn a_light_switched_on_does_not_start_a_clip() {
    let scene = Scene {
        frames: 200,
        light: Box::new(|i| if i < 80 { (0.5, 0.0) } else { (1.3, 20.0) }),
        object: none(),
    };
    assert_eq!(scene.clips(), vec![]);
}

#[test]
fn a_blip_of_fewer_than_five_frames_makes_no_clip() {
    let scene = Scene {
        frames: 150,
        light: still(),
        object: Box::new(|i| (50..53).contains(&i).then_some((70, 50, 30))),
    };
    assert_eq!(scene.clips(), vec![]);
}

#[test]
fn motion_after_a_light_switch_is_still_seen() {
    let scene = Scene {
        frames: 200,
        light: Box::new(|i| if i < 50 { (0.6, 0.0) } else { (1.2, 10.0) }),
        object: crossing(100, 130),
    };
    let clips = scene.clips();
    assert_eq!(clips.len(), 1, "{clips:?}");
    assert!((clips[0].0 - 10.0).abs() <= 0.5, "{clips:?}");
}

#[test]
fn motion_inside_a_mask_zone_is_ignored() {
    // The crossing square moves along y = 40..64 (of 120): mask that band.
    let band = vec![(0.0, 0.25), (1.0, 0.25), (1.0, 0.6), (0.0, 0.6)];
    let masked = DetectorSettings {
        mask: vec![band],
        ..DetectorSettings::default()
    };
    let scene = Scene {
        frames: 150,
        light: still(),
        object: crossing(30, 60),
    };
    assert_eq!(scene.clips_with(masked.clone()), vec![]);
    // Motion elsewhere is still seen with the same mask.
    let below = Scene {
        frames: 150,
        light: still(),
        object: Box::new(|i| {
            (30..60)
                .contains(&i)
                .then(|| (((i - 30) * 4) % (W - 24), 90, 24))
        }),
    };
    assert_eq!(below.clips_with(masked).len(), 1);
}

#[test]
fn an_object_in_the_first_picture_leaves_no_lasting_ghost() {
    // Detection starts while a box stands in the picture; it leaves after 0.5 s. Where
    // it stood, the background is wrong at first: that ghost must fade, not keep a clip
    // open for minutes.
    let scene = Scene {
        frames: 600,
        light: still(),
        object: Box::new(|i| (i < 5).then_some((60, 40, 40))),
    };
    for (start, end) in scene.clips() {
        assert!(end - start < 6.0, "a clip from {start} s to {end} s");
    }
}
