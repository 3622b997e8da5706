//! A device at the camera's address that asks for Basic authentication gets no password
//! unless the URL allows it (`#auth=basic`): Basic sends the password as it is. Against
//! GStreamer's RTSP server asking for Basic.

mod common;

use common::*;

fn hub_for(url: &str) -> Hub {
    Hub::with_config(
        &format!("[cameras.door]\nsource = \"{url}\"\nread_timeout_s = 2\n"),
        &[],
    )
}

#[tokio::test]
async fn a_camera_asking_for_basic_gets_no_password_unless_the_url_allows_it() {
    let camera = RtspCamera::with(RtspOptions {
        auth: "basic",
        ..RtspOptions::default()
    });
    let hub = hub_for(&camera.url_with_user());
    hub.wait_camera("door", |c| {
        c["state"] == "retrying"
            && c["error"]
                .as_str()
                .is_some_and(|e| e.contains("Basic authentication") && e.contains("#auth=basic"))
    })
    .await;

    let hub = hub_for(&format!("{}#auth=basic", camera.url_with_user()));
    hub.wait_camera("door", |c| c["state"] == "live").await;
}
