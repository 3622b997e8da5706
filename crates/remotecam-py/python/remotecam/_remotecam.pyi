from types import TracebackType
from typing import Iterator, Literal, Optional, Tuple, Type

import numpy as np
import numpy.typing as npt

__version__: str

class RemoteCamError(RuntimeError):
    """A remotecam error that fits no other kind."""

class CameraNotFoundError(LookupError):
    """The hub has no camera of that name."""

class AuthError(PermissionError):
    """The hub refused the access token (missing or wrong)."""

class HubUnreachableError(ConnectionError):
    """The hub could not be reached at its URL."""

class FrameInfo:
    """What is known about the frame a call returned."""

    seq: int
    """The hub's sequence number of the frame (per camera, +1 per frame)."""
    width: int
    height: int
    captured_at: Optional[float]
    """Unix time the source took the picture, by its clock; None if unknown."""
    hub_received_at: float
    """Unix time the hub received the frame, by the hub's clock."""
    received_at: float
    """Unix time this program received the frame."""
    skipped: int
    """Frames that arrived after the previous call's frame and were never returned."""
    placeholder: bool
    """The call returned the timeout image, not a frame; the other fields then describe
    the last frame there was (seq 0 and times 0 when there was none)."""

class RemoteCam:
    """The newest frames of one camera of a remotecam hub, as NumPy BGR arrays.

    Raises CameraNotFoundError, AuthError or HubUnreachableError when it cannot start.
    After that it reconnects by itself (e.g. when the hub restarts).
    """

    def __init__(
        self,
        camera: str,
        url: str = "http://127.0.0.1:8100",
        token: Optional[str] = None,
        timeout: float = 1.0,
        on_timeout: Literal["image", "raise"] = "image",
    ) -> None: ...
    def get_frame(self) -> npt.NDArray[np.uint8]:
        """The newest frame not returned before, (height, width, 3) uint8 BGR.

        Waits up to `timeout` seconds; then returns an image with a message naming the
        camera and the wait (size of the last frame, or 640x480), or raises TimeoutError
        if made with on_timeout="raise".
        """
    def getFrame(self) -> npt.NDArray[np.uint8]:
        """The old tool's name for get_frame()."""
    def read(self) -> Tuple[bool, Optional[npt.NDArray[np.uint8]]]:
        """Like cv2.VideoCapture.read(): (True, frame), or (False, None) on timeout."""
    def get_jpeg(self) -> bytes:
        """The newest frame not returned before, as the JPEG the source sent."""
    @property
    def last_info(self) -> Optional[FrameInfo]:
        """Metadata of the frame the last call returned."""
    @property
    def camera(self) -> str: ...
    @property
    def url(self) -> str: ...
    def close(self) -> None:
        """Stops receiving."""
    def __iter__(self) -> Iterator[npt.NDArray[np.uint8]]: ...
    def __next__(self) -> npt.NDArray[np.uint8]: ...
    def __enter__(self) -> "RemoteCam": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

class Publisher:
    """Publishes NumPy BGR frames (JPEG-encoded in Rust) into a camera of the hub."""

    def __init__(
        self,
        camera: str,
        url: str = "http://127.0.0.1:8100",
        token: Optional[str] = None,
        quality: int = 80,
    ) -> None: ...
    def send(self, frame: npt.NDArray[np.uint8]) -> None:
        """Sends a (height, width, 3) uint8 BGR array as a JPEG frame."""
    def send_jpeg(self, jpeg: bytes) -> None:
        """Sends a JPEG as it is."""
    def flush(self) -> None:
        """Waits until the hub has acknowledged every frame sent."""
    @property
    def last_seq(self) -> int:
        """Sequence number the hub gave the last acknowledged frame."""
    @property
    def camera(self) -> str: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Publisher": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
