//! SMTP delivery: our own TCP sockets with TCP_NODELAY, handed to lettre's protocol client
//! (`AsyncSmtpConnection::connect_with_transport`), and a small pool of open sessions.
//!
//! Why not lettre's `AsyncSmtpTransport`: lettre 0.11.23 never sets TCP_NODELAY, so every
//! command of an exchange waits on the peer's delayed ACK (~40 ms a message on loopback;
//! measured 1.2 ms with it, see ENGINEERING.md and lettre PR #1159, merged, not released).
//! Its connector is sealed, so the socket is opened here. The protocol — EHLO, STARTTLS,
//! AUTH, MAIL/RCPT/DATA — stays lettre's.
//!
//! Security is as before: `starttls` connects in plain text and must upgrade (STARTTLS is
//! required, not opportunistic: a server that does not offer it is an error); `tls` wraps the
//! socket in TLS (rustls, the system's roots) before the greeting; `none` is allowed by the
//! configuration only to a loopback host. Credentials are sent after TLS, with PLAIN or LOGIN.

use super::staged::{non_ascii, Reserved, Staged, HELD_FOR};
use super::{SendError, SmtpSecurity, SmtpSettings};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sessions kept open between deliveries: the dispatcher sends at most this many at once.
pub(crate) const POOL_MAX: usize = 16;
/// An idle session older than this is closed rather than reused (servers drop idle clients
/// after a few minutes; RFC 5321 §4.5.3.2.7 asks servers to wait at least 5).
const IDLE_MAX: Duration = Duration::from_secs(60);
/// An idle session older than this is checked with NOOP before it carries a message, so a
/// session the server closed costs a reconnect, not a failed delivery and its backoff.
const CHECK_AFTER: Duration = Duration::from_secs(2);

/// Pooled SMTP sessions to one relay.
pub(crate) struct SmtpPool {
    s: SmtpSettings,
    credentials: Option<Credentials>,
    hello: ClientId,
    tls: Option<tokio_rustls::TlsConnector>,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    /// Envelopes begun while their commit is written (staged.rs).
    staged: Staged,
}

/// A socket lettre can speak SMTP over: plain TCP (upgraded by lettre on STARTTLS) or TLS
/// from the first byte.
#[derive(Debug)]
struct Socket<S>(S);

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Socket<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Socket<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Socket<tokio::net::TcpStream> {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.peer_addr()
    }
}

impl AsyncTokioStream for Socket<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

fn err(step: &str, e: impl std::fmt::Display) -> SendError {
    SendError::Transport(format!("{step}: {e}"))
}

impl SmtpPool {
    /// A pool for `s`, logging in with `password` when a user is set.
    pub(crate) fn new(s: &SmtpSettings, password: Option<String>) -> Result<SmtpPool, SendError> {
        let tls = (s.security == SmtpSecurity::Tls).then(crate::tls::connector);
        Ok(SmtpPool {
            s: s.clone(),
            credentials: match (&s.username, password) {
                (Some(u), Some(p)) => Some(Credentials::new(u.clone(), p)),
                _ => None,
            },
            hello: ClientId::default(),
            tls,
            idle: Mutex::new(Vec::new()),
            staged: Staged::default(),
        })
    }

    fn timeout(&self) -> Duration {
        self.s.timeout.to_std().unwrap_or(Duration::from_secs(30))
    }

    /// The error of an exchange that outlived `timeout`.
    fn no_answer(&self) -> SendError {
        SendError::Transport(format!(
            "no answer from {}:{} within {:?}",
            self.s.host,
            self.s.port,
            self.timeout()
        ))
    }

    /// A new session: connected, greeted, encrypted as configured, authenticated.
    async fn open(&self) -> Result<AsyncSmtpConnection, SendError> {
        let s = &self.s;
        let tcp = tokio::net::TcpStream::connect((s.host.as_str(), s.port))
            .await
            .map_err(|e| err(&format!("connect to {}:{}", s.host, s.port), e))?;
        // The point of this module: no delayed-ACK wait on each command of the exchange.
        tcp.set_nodelay(true).map_err(|e| err("TCP_NODELAY", e))?;
        let mut conn = match (&self.tls, s.security) {
            (Some(connector), SmtpSecurity::Tls) => {
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from(s.host.clone())
                    .map_err(|e| err("TLS server name", e))?;
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| err("TLS", e))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(Socket(tls)), &self.hello)
                    .await
            }
            _ => {
                AsyncSmtpConnection::connect_with_transport(Box::new(Socket(tcp)), &self.hello)
                    .await
            }
        }
        .map_err(|e| err("greeting", e))?;
        if s.security == SmtpSecurity::StartTls {
            // Required, as lettre's `starttls_relay`: no silent fallback to plain text.
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(SendError::Transport(format!(
                    "{} does not offer STARTTLS (security = \"starttls\")",
                    s.host
                )));
            }
            let params = TlsParameters::new(s.host.clone()).map_err(|e| err("TLS", e))?;
            conn.starttls(params, &self.hello)
                .await
                .map_err(|e| err("STARTTLS", e))?;
        }
        if let Some(c) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, c)
                .await
                .map_err(|e| err("AUTH", e))?;
        }
        Ok(conn)
    }

    /// A session to send on: an idle one that still answers, or a new one.
    async fn session(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let next = {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                idle.pop()
            };
            let Some((mut conn, since)) = next else {
                return self.open().await;
            };
            let age = since.elapsed();
            if age > IDLE_MAX || conn.has_broken() {
                let _ = tokio::time::timeout(Duration::from_secs(1), conn.quit()).await;
                continue;
            }
            if age < CHECK_AFTER || conn.test_connected().await {
                return Ok(conn);
            }
        }
    }

    /// Reserve the staged envelope of `key` (staged.rs); [`SmtpPool::begin`] carries it out.
    pub(super) fn reserve(&self, key: &str) -> Option<Reserved> {
        self.staged.reserve(key)
    }

    /// After a commit: *go* for the staged keys it claimed, the others dropped (staged.rs).
    pub(crate) fn release(&self, claimed: &dyn Fn(&str) -> bool) -> usize {
        self.staged.release(claimed)
    }

    /// A staged message: begin its envelope on a session — MAIL, RCPT, DATA as lettre's
    /// `send` would, and not a byte more —, wait for the *go*, then send `body`. Without a
    /// *go* (or if the envelope cannot be begun) the session is dropped and nothing is sent:
    /// the slot stays empty and the dispatcher's send goes the ordinary way.
    pub(super) async fn begin(&self, r: Reserved, envelope: Envelope, body: Vec<u8>) {
        let Reserved { mut slot, go } = r;
        let eight_bit = !body.is_ascii();
        let envelope_begun = async {
            let mut conn = self.session().await.ok()?;
            let info = conn.server_info();
            let mut params = Vec::new();
            if non_ascii(&envelope) {
                if !info.supports_feature(Extension::SmtpUtfEight) {
                    return None;
                }
                params.push(MailParameter::SmtpUtfEight);
            }
            if eight_bit {
                if !info.supports_feature(Extension::EightBitMime) {
                    return None;
                }
                params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
            }
            conn.command(Mail::new(envelope.from().cloned(), params))
                .await
                .ok()?;
            for to in envelope.to() {
                conn.command(Rcpt::new(to.clone(), vec![])).await.ok()?;
            }
            conn.command(Data).await.ok()?;
            Some(conn)
        };
        let Ok(Some(mut conn)) = tokio::time::timeout(self.timeout(), envelope_begun).await else {
            return;
        };
        // No go (the commit failed, or did not claim this row): `conn` is dropped here,
        // closing the session in its data phase, and the server keeps nothing.
        let Ok(Ok(())) = tokio::time::timeout(HELD_FOR, go).await else {
            return;
        };
        let sent = tokio::time::timeout(self.timeout(), conn.message(&body)).await;
        *slot = Some(match sent {
            Ok(Ok(_)) => {
                self.keep(conn);
                Ok(())
            }
            Ok(Err(e)) => {
                conn.abort().await;
                Err(err("send", e))
            }
            Err(_) => Err(self.no_answer()),
        });
    }

    /// A session that just carried a message goes back to the pool, if there is room.
    fn keep(&self, conn: AsyncSmtpConnection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < POOL_MAX {
            idle.push((conn, Instant::now()));
        }
    }

    /// If the message of `key` was staged, what its staged send did, once it is done
    /// (staged.rs); `None`: send it the ordinary way. A staged key still waiting for its *go*
    /// is dropped here, so it can never be sent after this.
    pub(crate) async fn staged(&self, key: &str) -> Option<Result<(), SendError>> {
        let timeout = self.timeout();
        tokio::time::timeout(timeout, self.staged.take(key))
            .await
            .unwrap_or_else(|_| Some(Err(self.no_answer())))
    }

    /// Send one message on a pooled or new session. A session that failed is dropped, never
    /// reused; a good one goes back to the pool.
    pub(crate) async fn send(&self, envelope: &Envelope, body: &[u8]) -> Result<(), SendError> {
        let timeout = self.timeout();
        let work = async {
            let mut conn = self.session().await?;
            match conn.send(envelope, body).await {
                Ok(_) => {
                    self.keep(conn);
                    Ok(())
                }
                Err(e) => {
                    conn.abort().await;
                    Err(err("send", e))
                }
            }
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| self.no_answer())?
    }
}
