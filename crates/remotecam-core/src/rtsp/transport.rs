//! The `Transport` header of a SETUP (RFC 2326 12.39): the ways a client offers to
//! receive the packets, in its order of preference.

/// How a client offers to receive the packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// RTP and RTCP inside the RTSP connection, on these channels (`None`: the server
    /// picks).
    Interleaved(Option<(u8, u8)>),
    /// RTP over UDP to the client's ports (or multicast).
    Udp,
    /// Anything else (another profile, `RTP/SAVP`, a made-up one).
    Other,
}

/// The offers in a `Transport` header value, at most 16 of them.
pub fn offers(value: &str) -> Vec<Offer> {
    value.split(',').take(16).map(offer).collect()
}

fn offer(spec: &str) -> Offer {
    let mut params = spec.split(';').map(str::trim);
    let protocol = params.next().unwrap_or("");
    let lower = match protocol.to_ascii_uppercase().as_str() {
        "RTP/AVP" | "RTP/AVP/UDP" => "UDP",
        "RTP/AVP/TCP" => "TCP",
        _ => return Offer::Other,
    };
    if lower == "UDP" {
        return Offer::Udp;
    }
    let channels = params.find_map(|p| {
        let (key, value) = p.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("interleaved") {
            return None;
        }
        Some(match value.trim().split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let a: u8 = value.trim().parse().ok()?;
                (a, a.checked_add(1)?)
            }
        })
    });
    Offer::Interleaved(channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_as_ffmpeg_gstreamer_vlc_and_retina_send_them() {
        assert_eq!(
            offers("RTP/AVP/TCP;unicast;interleaved=0-1"),
            [Offer::Interleaved(Some((0, 1)))]
        );
        assert_eq!(
            offers("RTP/AVP;unicast;client_port=5000-5001"),
            [Offer::Udp],
            "ffmpeg's and VLC's first try"
        );
        // GStreamer's rtspsrc offers everything at once.
        assert_eq!(
            offers(
                "RTP/AVP;unicast;client_port=40000-40001,RTP/AVP/TCP;unicast;interleaved=2-3,\
                 RTP/AVP;multicast"
            ),
            [Offer::Udp, Offer::Interleaved(Some((2, 3))), Offer::Udp]
        );
        assert_eq!(offers("RTP/AVP/TCP;unicast"), [Offer::Interleaved(None)]);
        assert_eq!(
            offers("RTP/AVP/TCP;interleaved=4"),
            [Offer::Interleaved(Some((4, 5)))]
        );
        assert_eq!(
            offers("RTP/AVP/TCP;interleaved=255"),
            [Offer::Interleaved(None)],
            "no channel after 255"
        );
        assert_eq!(offers("RTP/SAVP;unicast"), [Offer::Other]);
        assert_eq!(offers(&"x,".repeat(1000)).len(), 16);
    }
}
