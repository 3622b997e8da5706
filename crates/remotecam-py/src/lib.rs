//! The `remotecam` Python package's native part (`remotecam._remotecam`), built on
//! `remotecam-client`'s blocking API. Waiting for and decoding a frame happen with the
//! GIL released; the decoded picture becomes a NumPy array without a copy.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use numpy::ndarray::Array3;
use numpy::{IntoPyArray, PyArray3, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{
    PyConnectionError, PyLookupError, PyPermissionError, PyRuntimeError, PyTimeoutError,
    PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use remotecam_client::{Error, Image, Target, blocking, timeout_image};

create_exception!(
    remotecam,
    RemoteCamError,
    PyRuntimeError,
    "A remotecam error that fits no other kind."
);
create_exception!(
    remotecam,
    CameraNotFoundError,
    PyLookupError,
    "The hub has no camera of that name."
);
create_exception!(
    remotecam,
    AuthError,
    PyPermissionError,
    "The hub refused the access token (missing or wrong)."
);
create_exception!(
    remotecam,
    HubUnreachableError,
    PyConnectionError,
    "The hub could not be reached at its URL."
);

fn to_py(e: Error) -> PyErr {
    let text = e.to_string();
    match e {
        Error::CameraNotFound { .. } => CameraNotFoundError::new_err(text),
        Error::Unauthorized { .. } => AuthError::new_err(text),
        Error::Unreachable { .. } => HubUnreachableError::new_err(text),
        Error::Timeout { .. } => PyTimeoutError::new_err(text),
        Error::BadUrl(_) => PyValueError::new_err(text),
        _ => RemoteCamError::new_err(text),
    }
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn parse_timeout(timeout: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(timeout).map_err(|_| {
        PyValueError::new_err(format!(
            "timeout must be a number of seconds >= 0, not {timeout}"
        ))
    })
}

/// What is known about the frame a call returned.
#[pyclass(module = "remotecam", frozen, get_all)]
#[derive(Debug, Clone)]
struct FrameInfo {
    /// The hub's sequence number of the frame (per camera, +1 per frame).
    seq: u64,
    width: u16,
    height: u16,
    /// Unix time (seconds) the source took the picture, by its clock; None if unknown.
    captured_at: Option<f64>,
    /// Unix time (seconds) the hub received it, by the hub's clock.
    hub_received_at: f64,
    /// Unix time (seconds) this program received it.
    received_at: f64,
    /// Frames that arrived after the previous call's frame and were never returned.
    skipped: u64,
    /// The call returned the timeout image, not a frame: the other fields then describe
    /// the last frame there was (seq 0 and times 0 when there was none).
    placeholder: bool,
}

#[pymethods]
impl FrameInfo {
    fn __repr__(&self) -> String {
        format!(
            "FrameInfo(seq={}, width={}, height={}, skipped={}, placeholder={})",
            self.seq,
            self.width,
            self.height,
            self.skipped,
            if self.placeholder { "True" } else { "False" }
        )
    }
}

struct Last {
    info: Option<FrameInfo>,
    size: (usize, usize),
}

/// The newest frames of one camera of a remotecam hub, as NumPy BGR arrays.
#[pyclass(module = "remotecam", frozen)]
struct RemoteCam {
    camera: String,
    url: String,
    receiver: blocking::Receiver,
    timeout: Duration,
    raise_on_timeout: bool,
    last: Mutex<Last>,
}

enum Got {
    Frame(Image, FrameInfo),
    Jpeg(Bytes, FrameInfo),
}

impl RemoteCam {
    /// Waits (GIL released) for a frame not returned before; decodes it if asked.
    fn take(&self, py: Python<'_>, decode: bool) -> Result<Got, Error> {
        py.detach(|| {
            let frame = self.receiver.next_frame(self.timeout)?;
            let received_at = SystemTime::now()
                .checked_sub(frame.received.elapsed())
                .unwrap_or_else(SystemTime::now);
            let info = FrameInfo {
                seq: frame.meta.seq,
                width: frame.meta.width,
                height: frame.meta.height,
                captured_at: frame.meta.captured_ms.map(|ms| ms as f64 / 1000.0),
                hub_received_at: frame.meta.received_ms as f64 / 1000.0,
                received_at: unix_seconds(received_at),
                skipped: frame.skipped,
                placeholder: false,
            };
            if decode {
                Ok(Got::Frame(frame.decode()?, info))
            } else {
                Ok(Got::Jpeg(frame.jpeg, info))
            }
        })
    }

    fn remember(&self, info: &FrameInfo) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.size = (usize::from(info.width), usize::from(info.height));
        last.info = Some(info.clone());
    }

    fn array<'py>(py: Python<'py>, image: Image) -> PyResult<Bound<'py, PyArray3<u8>>> {
        let array = Array3::from_shape_vec((image.height, image.width, 3), image.bgr)
            .map_err(|e| RemoteCamError::new_err(e.to_string()))?;
        Ok(array.into_pyarray(py))
    }

    fn frame_or_timeout<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray3<u8>>> {
        match self.take(py, true) {
            Ok(Got::Frame(image, info)) => {
                self.remember(&info);
                Self::array(py, image)
            }
            Ok(Got::Jpeg(..)) => unreachable!("asked to decode"),
            Err(e @ Error::Timeout { .. }) if !self.raise_on_timeout => {
                let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
                let (w, h) = last.size;
                let image = timeout_image(&self.camera, &e, w, h);
                // A program can tell the picture from a frame by `last_info`.
                let before = last.info.take();
                last.info = Some(FrameInfo {
                    width: image.width as u16,
                    height: image.height as u16,
                    skipped: 0,
                    placeholder: true,
                    ..before.unwrap_or(FrameInfo {
                        seq: 0,
                        width: 0,
                        height: 0,
                        captured_at: None,
                        hub_received_at: 0.0,
                        received_at: 0.0,
                        skipped: 0,
                        placeholder: true,
                    })
                });
                drop(last);
                Self::array(py, image)
            }
            Err(e) => Err(to_py(e)),
        }
    }
}

#[pymethods]
impl RemoteCam {
    #[new]
    #[pyo3(signature = (camera, url = "http://127.0.0.1:8100".to_owned(), token = None, timeout = 1.0, on_timeout = "image"))]
    fn new(
        py: Python<'_>,
        camera: String,
        url: String,
        token: Option<String>,
        timeout: f64,
        on_timeout: &str,
    ) -> PyResult<Self> {
        let raise_on_timeout = match on_timeout {
            "image" => false,
            "raise" => true,
            other => {
                return Err(PyValueError::new_err(format!(
                    "on_timeout must be \"image\" or \"raise\", not {other:?}"
                )));
            }
        };
        let timeout = parse_timeout(timeout)?;
        let target = Target::new(url.clone(), camera.clone()).token(token);
        let receiver = py
            .detach(|| blocking::Receiver::connect(target))
            .map_err(to_py)?;
        Ok(RemoteCam {
            camera,
            url,
            receiver,
            timeout,
            raise_on_timeout,
            last: Mutex::new(Last {
                info: None,
                size: (640, 480),
            }),
        })
    }

    /// The newest frame not returned before, as a (height, width, 3) uint8 BGR array.
    /// Waits up to `timeout` seconds; then returns an image with a message (or raises
    /// TimeoutError if made with on_timeout="raise").
    fn get_frame<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray3<u8>>> {
        self.frame_or_timeout(py)
    }

    /// The old tool's name for get_frame().
    #[pyo3(name = "getFrame")]
    fn get_frame_alias<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray3<u8>>> {
        self.frame_or_timeout(py)
    }

    /// Like cv2.VideoCapture.read(): (True, frame), or (False, None) when no frame came
    /// within the timeout.
    fn read<'py>(&self, py: Python<'py>) -> PyResult<(bool, Option<Bound<'py, PyArray3<u8>>>)> {
        match self.take(py, true) {
            Ok(Got::Frame(image, info)) => {
                self.remember(&info);
                Ok((true, Some(Self::array(py, image)?)))
            }
            Ok(Got::Jpeg(..)) => unreachable!("asked to decode"),
            Err(Error::Timeout { .. }) => Ok((false, None)),
            Err(e) => Err(to_py(e)),
        }
    }

    /// The newest frame not returned before as JPEG bytes, exactly as the source sent
    /// it (no decoding). Raises TimeoutError when none comes within the timeout.
    fn get_jpeg<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        match self.take(py, false).map_err(to_py)? {
            Got::Jpeg(jpeg, info) => {
                self.remember(&info);
                Ok(PyBytes::new(py, &jpeg))
            }
            Got::Frame(..) => unreachable!("asked not to decode"),
        }
    }

    /// Metadata of the frame the last call returned (None before the first).
    #[getter]
    fn last_info(&self) -> Option<FrameInfo> {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .info
            .clone()
    }

    #[getter]
    fn camera(&self) -> String {
        self.camera.clone()
    }

    #[getter]
    fn url(&self) -> String {
        self.url.clone()
    }

    /// Stops receiving. Later calls raise RemoteCamError.
    fn close(&self) {
        self.receiver.close();
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray3<u8>>> {
        self.frame_or_timeout(py)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        format!("RemoteCam({:?}, url={:?})", self.camera, self.url)
    }
}

/// Publishes frames (NumPy BGR arrays, JPEG-encoded in Rust) into a camera of the hub,
/// so a program can show what it made of them in the browser.
#[pyclass(module = "remotecam", frozen)]
struct Publisher {
    camera: String,
    quality: u8,
    inner: Mutex<blocking::Publisher>,
}

#[pymethods]
impl Publisher {
    #[new]
    #[pyo3(signature = (camera, url = "http://127.0.0.1:8100".to_owned(), token = None, quality = 80))]
    fn new(
        py: Python<'_>,
        camera: String,
        url: String,
        token: Option<String>,
        quality: u8,
    ) -> PyResult<Self> {
        if !(1..=100).contains(&quality) {
            return Err(PyValueError::new_err(format!(
                "quality must be 1 to 100, not {quality}"
            )));
        }
        let target = Target::new(url, camera.clone()).token(token);
        let inner = py
            .detach(|| blocking::Publisher::connect(target))
            .map_err(to_py)?;
        Ok(Publisher {
            camera,
            quality,
            inner: Mutex::new(inner),
        })
    }

    /// Sends a (height, width, 3) uint8 BGR array (what OpenCV uses) as a JPEG frame.
    fn send(&self, py: Python<'_>, frame: PyReadonlyArray3<'_, u8>) -> PyResult<()> {
        let shape = frame.shape();
        if shape[2] != 3 {
            return Err(PyValueError::new_err(format!(
                "expected a (height, width, 3) BGR array, got shape {shape:?}"
            )));
        }
        let (height, width) = (shape[0], shape[1]);
        // A contiguous copy only if the array is not already one.
        let bytes: Vec<u8> = match frame.as_slice() {
            Ok(slice) => slice.to_vec(),
            Err(_) => frame.as_array().iter().copied().collect(),
        };
        let quality = self.quality;
        py.detach(|| {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.send_bgr(&bytes, width, height, quality)
        })
        .map_err(to_py)
    }

    /// Sends a JPEG as it is.
    fn send_jpeg(&self, py: Python<'_>, jpeg: &[u8]) -> PyResult<()> {
        let jpeg = Bytes::copy_from_slice(jpeg);
        py.detach(|| {
            self.inner
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .send_jpeg(jpeg)
        })
        .map_err(to_py)
    }

    /// Waits until the hub has acknowledged every frame sent.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.lock().unwrap_or_else(|e| e.into_inner()).flush())
            .map_err(to_py)
    }

    /// Sequence number the hub gave the last acknowledged frame.
    #[getter]
    fn last_seq(&self) -> u64 {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last_seq()
    }

    #[getter]
    fn camera(&self) -> String {
        self.camera.clone()
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.lock().unwrap_or_else(|e| e.into_inner()).close())
            .map_err(to_py)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!("Publisher({:?})", self.camera)
    }
}

#[pymodule]
fn _remotecam(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<RemoteCam>()?;
    m.add_class::<Publisher>()?;
    m.add_class::<FrameInfo>()?;
    m.add("RemoteCamError", py.get_type::<RemoteCamError>())?;
    m.add("CameraNotFoundError", py.get_type::<CameraNotFoundError>())?;
    m.add("AuthError", py.get_type::<AuthError>())?;
    m.add("HubUnreachableError", py.get_type::<HubUnreachableError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
