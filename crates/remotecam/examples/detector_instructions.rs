//! A fixed amount of detector work, for counting its instructions (repeatable, unlike
//! times on a shared machine): 400 scores of the motion bench's 160x90 frames (16 frames
//! of noise with a moving block, as `benches/motion.rs` makes them).
//!
//! cargo build --release -p remotecam --example detector_instructions
//! valgrind --tool=callgrind target/release/examples/detector_instructions

use remotecam::motion::{Detector, DetectorSettings, Gray};

fn main() {
    let mut x: u32 = 0x9E37_79B9;
    let frames: Vec<Gray> = (0..16)
        .map(|f| Gray {
            width: 160,
            height: 90,
            pixels: (0..160 * 90)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let moving = (i % 160) / 20 == f % 8 && (i / 160) / 30 == 1;
                    if moving {
                        230
                    } else {
                        ((i % 160) / 2 + (x & 7) as usize) as u8
                    }
                })
                .collect(),
        })
        .collect();
    let mut detector = Detector::new(DetectorSettings::default());
    let total: f32 = (0..400)
        .map(|i| detector.score(&frames[i % 16]).changed_percent)
        .sum();
    println!("sum of the scores: {total}");
}
