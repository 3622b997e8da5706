"""NumPy frames from any camera of a remotecam hub.

    from remotecam import RemoteCam

    cam = RemoteCam("phone")          # hub at http://127.0.0.1:8100
    frame = cam.get_frame()           # (height, width, 3) uint8, BGR like OpenCV

Frames are received in the background and only the newest is kept, so get_frame()
never returns an old frame, nor the same frame twice. Decoding happens in Rust, only for
frames actually taken, with the GIL released.
"""

from ._remotecam import (
    AuthError,
    CameraNotFoundError,
    FrameInfo,
    HubUnreachableError,
    Publisher,
    RemoteCam,
    RemoteCamError,
    __version__,
)

__all__ = [
    "AuthError",
    "CameraNotFoundError",
    "FrameInfo",
    "HubUnreachableError",
    "Publisher",
    "RemoteCam",
    "RemoteCamError",
    "__version__",
]
