//! The HTTP server loop, bounded under abuse (SPEC §6): nobody on the host can make the daemon
//! unreachable by opening connections and saying nothing.
//!
//! - At most `[http] max_connections` connections are open (below the unit's `LimitNOFILE`).
//!   When the bound is reached, accepting goes on and the **oldest idle** connection (one with
//!   no request in progress) is closed to make room: a flood of idle sockets only churns
//!   itself, while a client that sends its request at once is served.
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

pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

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

    /// Drop closed connections from the table; return how many are open.
    fn open(&self) -> usize {
        let mut c = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        // A connection's task holds one more reference while it runs.
        c.retain(|x| Arc::strong_count(x) > 1);
        c.len()
    }

    /// Close the oldest idle connection, if there is one.
    fn evict_idle(&self) -> bool {
        let c = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let victim = c
            .iter()
            .filter(|x| x.busy.load(Ordering::Relaxed) == 0)
            .min_by_key(|x| x.last.load(Ordering::Relaxed));
        match victim {
            Some(v) => {
                // notify_one stores a permit, so a task not yet waiting still sees it.
                v.close.notify_one();
                true
            }
            None => false,
        }
    }
}

pub async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    max_connections: usize,
    mut stop: watch::Receiver<bool>,
) {
    let table = Arc::new(Table {
        epoch: Instant::now(),
        conns: Mutex::new(VecDeque::new()),
    });
    let mut evicted = 0u64;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
        };
        let (sock, _) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; backing off");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if table.open() >= max_connections {
            if table.evict_idle() {
                evicted += 1;
                if evicted.is_power_of_two() {
                    tracing::warn!(
                        max_connections,
                        evicted,
                        "HTTP connection bound reached; closing the oldest idle connections"
                    );
                }
            } else {
                // Every connection is busy: refuse this one rather than exceed the bound.
                drop(sock);
                continue;
            }
        }
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
            let c2 = Arc::clone(&conn);
            let t2 = Arc::clone(&table2);
            let svc = hyper::service::service_fn(move |req| {
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
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
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
        });
    }
}
