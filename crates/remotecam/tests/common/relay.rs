//! A TCP relay on 127.0.0.1 between the hub and a server, the test's hand on the wire:
//! it forwards both ways until a number of bytes went towards the server, then holds
//! every connection still, so that a test can stop the server at a known point of a
//! transfer (mid-upload) instead of racing it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::WAIT;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Forwarding, counting the bytes towards the server.
    Counting,
    /// The count was reached: every connection stands still.
    Held,
    /// The held connections were closed; new ones are forwarded without a count.
    Open,
}

/// Stops its task when dropped.
pub struct Relay {
    addr: SocketAddr,
    state: watch::Sender<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Relays to `server`, holding once `hold_after` bytes went towards it.
    pub async fn start(server: SocketAddr, hold_after: u64) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (state, _) = watch::channel(State::Counting);
        let sent = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let counted = (*state.borrow() != State::Open).then(|| Arc::clone(&sent));
                    tokio::spawn(relay(client, server, counted, hold_after, state.clone()));
                }
            }
        });
        Relay { addr, state, task }
    }

    /// The address to give the hub, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the count was reached and the connections stand still.
    pub async fn held(&self) {
        let mut state = self.state.subscribe();
        tokio::time::timeout(WAIT, state.wait_for(|s| *s == State::Held))
            .await
            .expect("the relay's count was not reached")
            .unwrap();
    }

    /// Closes the held connections; forwards every new one as it comes.
    pub fn open(&self) {
        self.state.send_replace(State::Open);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection: `counted` (the relay's count, while it counts) limits the bytes
/// towards the server; a connection made before the relay opened ends when it opens.
async fn relay(
    mut client: TcpStream,
    server: SocketAddr,
    counted: Option<Arc<AtomicU64>>,
    hold_after: u64,
    state: watch::Sender<State>,
) {
    let Ok(Ok(mut upstream)) =
        tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(server)).await
    else {
        return;
    };
    let Some(sent) = counted else {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return;
    };
    let mut opened = state.subscribe();
    let (mut from_client, mut to_client) = client.split();
    let (mut from_server, mut to_server) = upstream.split();
    let towards_server = async {
        let mut buf = vec![0; 64 << 10];
        loop {
            let n = match from_client.read(&mut buf).await {
                Ok(0) => {
                    // The client is done sending; its answer still comes.
                    let _ = to_server.shutdown().await;
                    std::future::pending::<()>().await;
                    return;
                }
                Err(_) => return,
                Ok(n) => n,
            };
            let before = sent.fetch_add(n as u64, Ordering::SeqCst);
            let allowed = hold_after.saturating_sub(before).min(n as u64) as usize;
            if to_server.write_all(&buf[..allowed]).await.is_err() {
                return;
            }
            if allowed < n {
                state.send_if_modified(|s| {
                    let counting = *s == State::Counting;
                    if counting {
                        *s = State::Held;
                    }
                    counting
                });
                std::future::pending::<()>().await;
            }
        }
    };
    let towards_client = tokio::io::copy(&mut from_server, &mut to_client);
    tokio::select! {
        () = towards_server => {}
        _ = towards_client => {}
        _ = opened.wait_for(|s| *s == State::Open) => {}
    }
}
