//! The client for programs without an async runtime. One small runtime per process (a
//! single worker thread) runs every receiver's background task; waiting for a frame
//! blocks only the calling thread, on a condition variable.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;

use crate::{Error, Frame, Target};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("remotecam-client")
            .enable_all()
            .build()
            .expect("start the client's runtime")
    })
}

/// [`crate::Receiver`] without async.
#[derive(Debug)]
pub struct Receiver {
    inner: crate::Receiver,
}

impl Receiver {
    pub fn connect(target: Target) -> Result<Receiver, Error> {
        let inner = runtime().block_on(crate::Receiver::connect(target))?;
        Ok(Receiver { inner })
    }

    pub fn next_frame(&self, timeout: Duration) -> Result<Frame, Error> {
        self.inner.next_frame_blocking(timeout)
    }

    pub fn camera(&self) -> &str {
        self.inner.camera()
    }

    pub fn close(&self) {
        self.inner.close();
    }
}

/// [`crate::Publisher`] without async.
#[derive(Debug)]
pub struct Publisher {
    inner: Option<crate::Publisher>,
}

impl Publisher {
    pub fn connect(target: Target) -> Result<Publisher, Error> {
        let inner = runtime().block_on(crate::Publisher::connect(target))?;
        Ok(Publisher { inner: Some(inner) })
    }

    fn inner(&mut self) -> Result<&mut crate::Publisher, Error> {
        self.inner
            .as_mut()
            .ok_or_else(|| Error::Closed("the publisher was closed".into()))
    }

    pub fn send_jpeg(&mut self, jpeg: Bytes) -> Result<(), Error> {
        let inner = self.inner()?;
        runtime().block_on(inner.send_jpeg(jpeg))
    }

    /// Encodes a BGR picture (on the calling thread) and publishes it.
    pub fn send_bgr(
        &mut self,
        bgr: &[u8],
        width: usize,
        height: usize,
        quality: u8,
    ) -> Result<(), Error> {
        let inner = self.inner()?;
        runtime().block_on(inner.send_bgr(bgr, width, height, quality))
    }

    pub fn flush(&mut self) -> Result<(), Error> {
        let inner = self.inner()?;
        runtime().block_on(inner.flush())
    }

    pub fn last_seq(&self) -> u64 {
        self.inner.as_ref().map_or(0, |p| p.last_seq)
    }

    pub fn close(&mut self) -> Result<(), Error> {
        match self.inner.take() {
            Some(p) => runtime().block_on(p.close()),
            None => Ok(()),
        }
    }
}
