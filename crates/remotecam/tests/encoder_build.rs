//! The hub's H.264 encoder (OpenH264, built from source) was built with its assembly.
//! Without `nasm` it builds as plain C, and recording then costs about 1.7 times the
//! CPU with nothing but the speed to tell; `scripts/run.sh` and `scripts/test.sh` install
//! nasm. The encoder's SIMD functions (`*_sse2` and later kinds) are in the hub's binary
//! only when it has them.

#[cfg(target_arch = "x86_64")]
#[test]
fn the_hub_is_built_with_the_encoders_assembly() {
    let hub = std::fs::read(env!("CARGO_BIN_EXE_remotecam")).expect("read the hub's binary");
    let name: &[u8] = b"WelsSampleSad16x16_sse2";
    let found = hub.split(|&b| b == 0).any(|symbol| symbol.ends_with(name));
    assert!(
        found,
        "the hub's H.264 encoder was built without its assembly: install nasm, then \
         `cargo clean -p openh264-sys2` and build again (scripts/run.sh does both)"
    );
}
