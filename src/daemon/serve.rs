//! The HTTP server loop, bounded under abuse (SPEC §6): nobody on the host can make the daemon
//! unreachable by opening connections and saying nothing.
//!
//! - At most `[http] max_connections` sockets are open (below the unit's `LimitNOFILE`): each
//!   connection holds a semaphore permit until its socket is closed, and the loop takes a
//!   permit *before* it accepts. When none is free, the **oldest idle** connection (one with
//!   no request in progress) is closed to make room, and the loop waits for its socket to be
//!   gone: a flood of idle sockets only churns itself, while a client that sends its request
//!   at once is served. When every connection is busy, new ones wait in the kernel's queue.
//! - Request headers must arrive within `HEADER_TIMEOUT`; a whole request (body included)
//!   within `REQUEST_TIMEOUT` (the middleware in `http.rs`); a keep-alive connection idle for
//!   `IDLE_TIMEOUT` is closed.
//! - `accept` errors (EMFILE when the limit is reached anyway) back off instead of spinning.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// A client must send its request head within this.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// An idle keep-alive connection is closed after this.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// One open connection, as the accept loop sees it.
struct Conn {
    /// Requests in progress.
    busy: AtomicUsize,
    /// Milliseconds since `epoch` of the last request's end (or the accept).
    last: AtomicU64,
    close: Notify,
}

struct Table {
    epoch: Instant,
    conns: Mutex<VecDeque<Arc<Conn>>>,
}

impl Table {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn remove(&self, conn: &Arc<Conn>) {
        let mut c = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        c.retain(|x| !Arc::ptr_eq(x, conn));
    }

    /// Close the oldest idle connection, if there is one. It leaves the table at once, so the
    /// next eviction picks another.
    fn evict_idle(&self) -> bool {
        let mut c = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let victim = c
            .iter()
            .enumerate()
            .filter(|(_, x)| x.busy.load(Ordering::Relaxed) == 0)
            .min_by_key(|(_, x)| x.last.load(Ordering::Relaxed))
            .map(|(i, _)| i);
        match victim.and_then(|i| c.remove(i)) {
            Some(v) => {
                // notify_one stores a permit, so a task not yet waiting still sees it.
                v.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The accept loop: serves `app` until `stop`, within the connection bound.
pub(crate) async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    max_connections: usize,
    mut stop: watch::Receiver<bool>,
) {
    let table = Arc::new(Table {
        epoch: Instant::now(),
        conns: Mutex::new(VecDeque::new()),
    });
    let permits = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let mut evicted = 0u64;
    loop {
        // A socket may only be accepted with a permit in hand.
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if table.evict_idle() {
                    evicted += 1;
                    if evicted.is_power_of_two() {
                        tracing::warn!(
                            max_connections,
                            evicted,
                            "HTTP connection bound reached; closing the oldest idle connections"
                        );
                    }
                }
                // Wait for a socket to be gone (the evicted one, or any that ends).
                let got = tokio::select! {
                    p = Arc::clone(&permits).acquire_owned() => p.ok(),
                    _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
                };
                match got {
                    Some(p) => p,
                    None => break,
                }
            }
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
        };
        let (sock, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; backing off");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let conn = Arc::new(Conn {
            busy: AtomicUsize::new(0),
            last: AtomicU64::new(table.now_ms()),
            close: Notify::new(),
        });
        table
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(Arc::clone(&conn));
        let app = app.clone();
        let table2 = Arc::clone(&table);
        let mut stop2 = stop.clone();
        tokio::spawn(async move {
            // Held until the socket is closed: the bound counts sockets, not table entries.
            let _permit = permit;
            let c2 = Arc::clone(&conn);
            let t2 = Arc::clone(&table2);
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    // Who connected: the console believes an SSO proxy's header only from its
                    // addresses.
                    req.extensions_mut().insert(super::console::Peer(peer));
                    let c = Arc::clone(&c2);
                    let t = Arc::clone(&t2);
                    c.busy.fetch_add(1, Ordering::Relaxed);
                    let fut = tower::ServiceExt::oneshot(app.clone(), req);
                    async move {
                        let r = fut.await;
                        c.last.store(t.now_ms(), Ordering::Relaxed);
                        c.busy.fetch_sub(1, Ordering::Relaxed);
                        r
                    }
                },
            );
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                // Above the router's own bounds (`http::MAX_HEADERS`, `MAX_URI`, `MAX_HEAD`),
                // so an over-long request gets the router's JSON 414/431, not hyper's empty one.
                .max_headers(super::http::MAX_HEADERS * 4)
                .keep_alive(true);
            let served = builder.serve_connection(TokioIo::new(sock), svc);
            tokio::pin!(served);
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = served.as_mut() => break,
                    _ = conn.close.notified() => break,
                    _ = async { let _ = stop2.wait_for(|s| *s).await; } => {
                        served.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(Duration::from_secs(10), served.as_mut()).await;
                        break;
                    }
                    _ = tick.tick() => {
                        let idle_ms = table2.now_ms().saturating_sub(conn.last.load(Ordering::Relaxed));
                        if conn.busy.load(Ordering::Relaxed) == 0 && idle_ms > IDLE_TIMEOUT.as_millis() as u64 {
                            break;
                        }
                    }
                }
            }
            table2.remove(&conn);
        });
    }
}
