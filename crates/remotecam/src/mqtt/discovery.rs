//! Home Assistant's MQTT discovery: each camera announced as one device with five
//! entities (retained configs at `<discovery prefix>/<component>/<node>/<object>/config`),
//! so that it appears in Home Assistant without an integration to install, and
//! disappears when the hub forgets it (an empty retained config).

use serde_json::{Value, json};

use super::bridge::Topics;

/// The announcements of one hub: its discovery prefix, its node (the client id, in the
/// characters Home Assistant takes) and its topics.
#[derive(Debug, Clone)]
pub(super) struct Discovery {
    prefix: String,
    node: String,
    topics: Topics,
}

impl Discovery {
    pub(super) fn new(prefix: &str, client_id: &str, topics: Topics) -> Discovery {
        let node = client_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Discovery {
            prefix: prefix.to_owned(),
            node,
            topics,
        }
    }

    /// Every config topic of `camera`, with its payload.
    pub(super) fn configs(&self, camera: &str) -> Vec<(String, Value)> {
        let t = &self.topics;
        let device = json!({
            "identifiers": [format!("{}_{camera}", self.node)],
            "name": camera,
            "manufacturer": "remotecam",
            "model": "camera",
            "sw_version": env!("CARGO_PKG_VERSION"),
        });
        // Pictures and motion only while the camera is online; its switches while the
        // hub is there (settings change whether the camera is online or not).
        let hub_only = json!([{ "topic": t.available() }]);
        let with_camera =
            json!([{ "topic": t.available() }, { "topic": t.camera(camera, "online") }]);
        let entities = [
            (
                "binary_sensor",
                "motion",
                json!({
                    "name": "Motion",
                    "device_class": "motion",
                    "state_topic": t.camera(camera, "motion"),
                    "availability": with_camera,
                    "availability_mode": "all",
                }),
            ),
            (
                "camera",
                "snapshot",
                json!({
                    "name": "Snapshot",
                    "topic": t.camera(camera, "snapshot"),
                    "availability": with_camera,
                    "availability_mode": "all",
                }),
            ),
            (
                "switch",
                "detection",
                json!({
                    "name": "Motion detection",
                    "icon": "mdi:motion-sensor",
                    "command_topic": t.camera(camera, "motion/set"),
                    "state_topic": t.camera(camera, "motion/state"),
                    "availability": hub_only,
                }),
            ),
            (
                "switch",
                "recording",
                json!({
                    "name": "Recording",
                    "icon": "mdi:record-rec",
                    "command_topic": t.camera(camera, "record/set"),
                    "state_topic": t.camera(camera, "record/state"),
                    "availability": hub_only,
                }),
            ),
            (
                "sensor",
                "level",
                json!({
                    "name": "Motion level",
                    "icon": "mdi:chart-bell-curve",
                    "unit_of_measurement": "%",
                    "state_class": "measurement",
                    "state_topic": t.camera(camera, "level"),
                    "availability": with_camera,
                    "availability_mode": "all",
                }),
            ),
        ];
        entities
            .into_iter()
            .map(|(component, object, mut config)| {
                let id = format!("{}_{camera}_{object}", self.node);
                config["unique_id"] = json!(id);
                config["object_id"] = json!(format!("{camera}_{object}"));
                config["device"] = device.clone();
                let topic = format!(
                    "{}/{component}/{}/{camera}_{object}/config",
                    self.prefix, self.node
                );
                (topic, config)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One device per camera, five entities with ids unique across hubs, each state and
    /// command topic one the bridge uses.
    #[test]
    fn a_camera_is_one_device_of_five_entities() {
        let d = Discovery::new("homeassistant", "remotecam-box.1", Topics::new("home/cams"));
        let configs = d.configs("door");
        let topics: Vec<&str> = configs.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            topics,
            [
                "homeassistant/binary_sensor/remotecam-box_1/door_motion/config",
                "homeassistant/camera/remotecam-box_1/door_snapshot/config",
                "homeassistant/switch/remotecam-box_1/door_detection/config",
                "homeassistant/switch/remotecam-box_1/door_recording/config",
                "homeassistant/sensor/remotecam-box_1/door_level/config",
            ]
        );
        for (_, config) in &configs {
            assert_eq!(config["device"]["identifiers"][0], "remotecam-box_1_door");
            assert!(
                config["unique_id"]
                    .as_str()
                    .unwrap()
                    .starts_with("remotecam-box_1_door_")
            );
        }
        assert_eq!(configs[0].1["state_topic"], "home/cams/door/motion");
        assert_eq!(configs[2].1["command_topic"], "home/cams/door/motion/set");
        assert_eq!(configs[3].1["state_topic"], "home/cams/door/record/state");
        assert_eq!(
            configs[0].1["availability"][1]["topic"],
            "home/cams/door/online"
        );
    }
}
