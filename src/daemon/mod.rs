//! `meldingsvakt run`: the imperative shell around the pure engine (SPEC §5.4–§6).
//!
//! Tasks:
//! - **engine task** (`engine_task.rs`): owns the `Engine`; applies events from the HTTP API,
//!   sleeps until the engine's next deadline, and commits every decision to the outbox in the
//!   same transaction as the events that caused it. Pings the systemd watchdog from its loop.
//! - **dispatcher** (`dispatch.rs`): sends due outbox rows, marks them done, retries failures
//!   with exponential backoff. Same key → same Message-ID on every attempt.
//! - **HTTP** (`http.rs`): Alertmanager webhook, operator API, health and metrics.
//!
//! Invariant: nothing is sent that is not committed first; a crash at any point loses nothing.
//! Start-up replays the stored events through the engine (`replay`), which recomputes every
//! deadline from facts; overdue actions run at once.

pub mod dispatch;
pub mod engine_task;
pub mod http;
pub mod mailbox;
pub mod serve;

use crate::config::Config;
use crate::engine::model::{Event, Time};
use crate::engine::Engine;
use crate::render::Renderer;
use crate::store::Store;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

/// Counters and gauges for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub sent: Mutex<BTreeMap<String, u64>>,
    pub failed: Mutex<BTreeMap<String, u64>>,
    pub events: AtomicU64,
    pub refused: AtomicU64,
    /// Milliseconds between a deadline and the moment the engine handled it (last one).
    pub deadline_lag_ms: AtomicI64,
    pub open_incidents: AtomicI64,
}

/// The tasks that write the store; `/healthz` is 503 while any of them cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Writer {
    Engine,
    Dispatcher,
}

/// What `/healthz` and `/metrics` report without touching the store (a locked store must not
/// make them hang).
#[derive(Default)]
pub struct Health {
    /// Writers that failed their last write: since when, and why.
    pub store_failing: BTreeMap<Writer, (Time, String)>,
    pub stats: crate::store::OutboxStats,
}

impl Metrics {
    pub fn count(map: &Mutex<BTreeMap<String, u64>>, kind: &str) {
        let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(kind.to_string()).or_default() += 1;
    }
}

/// What the tasks share. Config and renderer are swapped whole on a successful reload.
pub struct Shared {
    pub cfg: RwLock<Arc<Config>>,
    pub renderer: RwLock<Arc<Renderer>>,
    pub store: Mutex<Store>,
    pub metrics: Metrics,
    pub wake_dispatcher: tokio::sync::Notify,
    pub alert_token: String,
    pub operator_token: String,
    /// The built-in status pages, kept in memory.
    pub pages: crate::status::StatusPages,
    /// Atlassian Statuspage, when configured.
    pub statuspage: Option<crate::sinks::statuspage::Client>,
    /// Alertmanager silences, when configured.
    pub silencer: Option<crate::sinks::silence::Silencer>,
    pub health: Mutex<Health>,
    pub db_path: PathBuf,
}

impl crate::sinks::silence::SilenceMap for Shared {
    fn get(&self, incident: &str) -> Option<crate::sinks::silence::Stored> {
        self.store().silence_get(incident)
    }
    fn put(&self, s: &crate::sinks::silence::Stored) {
        self.store().silence_put(s)
    }
    fn active(&self) -> Vec<crate::sinks::silence::Stored> {
        self.store().silences(None)
    }
}

impl crate::sinks::statuspage::Mapping for Shared {
    fn get(&self, our: &str, env: &str) -> Option<String> {
        self.store().sp_get(our, env)
    }
    fn put(&self, our: &str, env: &str, sp: &str) {
        self.store().sp_put(our, env, sp)
    }
}

fn statuspage_client(
    cfg: &Config,
) -> Result<Option<crate::sinks::statuspage::Client>, DaemonError> {
    let Some(sp) = &cfg.daemon.statuspage else {
        return Ok(None);
    };
    let key = match (&sp.api_key_file, &sp.api_key_env) {
        (Some(f), _) => std::fs::read_to_string(f)
            .map_err(|e| DaemonError::Token(f.clone(), e.to_string()))?
            .trim()
            .to_string(),
        (None, Some(v)) => std::env::var(v).map_err(|_| {
            DaemonError::Config(format!(
                "Statuspage API key: environment variable {v} is not set"
            ))
        })?,
        (None, None) => return Err(DaemonError::Config("Statuspage API key missing".into())),
    };
    crate::sinks::statuspage::Client::new(
        sp.base_url.clone(),
        key,
        sp.page_id.clone(),
        sp.test_page_id.clone(),
        sp.min_interval
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(1)),
    )
    .map(Some)
    .map_err(DaemonError::Config)
}

impl Shared {
    pub fn cfg(&self) -> Arc<Config> {
        self.cfg.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub fn renderer(&self) -> Arc<Renderer> {
        self.renderer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A write by `who` failed: log what to do (once per outage) and make `/healthz` 503.
    pub fn store_failed(&self, who: Writer, e: &crate::store::StoreError) {
        let mut h = self.health();
        let first = !h.store_failing.contains_key(&who);
        h.store_failing
            .entry(who)
            .or_insert_with(|| (crate::clock::now(), String::new()))
            .1 = e.to_string();
        drop(h);
        if first {
            tracing::error!(
                writer = ?who,
                error = %e,
                db = %self.db_path.display(),
                "cannot write the state database; sending is paused so that nothing is sent twice. Check free space on its filesystem and whether another process holds a lock on it (e.g. an open sqlite3 shell); meldingsvakt retries by itself and resumes when it can write"
            );
        }
    }

    pub fn store_ok(&self, who: Writer) {
        let mut h = self.health();
        if let Some((since, _)) = h.store_failing.remove(&who) {
            drop(h);
            tracing::info!(writer = ?who, since = %since, "the state database can be written again; sending resumes");
        }
    }

    /// Refresh the outbox gauges that `/healthz` and `/metrics` serve.
    pub fn refresh_stats(&self) {
        let now = crate::clock::now();
        let warn_after = self.cfg().daemon.delivery_warn_after;
        let stats = self.store().stats(now, warn_after);
        if let Ok(st) = stats {
            self.health().stats = st;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Config(String),
    #[error("state directory {0}: {1}")]
    StateDir(PathBuf, std::io::Error),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot listen on {0}: {1}")]
    Listen(std::net::SocketAddr, std::io::Error),
    #[error("token file {0}: {1}")]
    Token(PathBuf, String),
}

fn same_secret(a: &str, b: &str) -> bool {
    a == b
}

/// Read a token from a file (trimmed); or, when none is configured, from
/// `$CREDENTIALS_DIRECTORY/{name}`; or create a random one in the state directory (0600).
fn token(configured: Option<&Path>, state_dir: &Path, name: &str) -> Result<String, DaemonError> {
    let cred = std::env::var_os("CREDENTIALS_DIRECTORY").map(|d| PathBuf::from(d).join(name));
    let path = match (configured, cred) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(c)) if c.is_file() => c,
        _ => state_dir.join(name),
    };
    if path.is_file() {
        let t = std::fs::read_to_string(&path)
            .map_err(|e| DaemonError::Token(path.clone(), e.to_string()))?;
        let t = t.trim().to_string();
        if t.len() < 16 {
            return Err(DaemonError::Token(
                path,
                "token is shorter than 16 characters".into(),
            ));
        }
        return Ok(t);
    }
    if configured.is_some() {
        return Err(DaemonError::Token(path, "file does not exist".into()));
    }
    let mut bytes = [0u8; 24];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| DaemonError::Token(path.clone(), format!("no randomness: {e}")))?;
    let t: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| DaemonError::Token(path.clone(), e.to_string()))?;
        writeln!(f, "{t}").map_err(|e| DaemonError::Token(path.clone(), e.to_string()))?;
    }
    tracing::info!(path = %path.display(), "created a new {name}");
    Ok(t)
}

/// Rebuild the engine from the stored events, running deadlines up to `now`. Returns the
/// engine and every action it decided (the caller inserts them; known keys are ignored).
pub fn replay(
    cfg: Arc<Config>,
    store: &Store,
    now: Time,
) -> Result<(Engine, Vec<crate::engine::model::Action>, Option<Time>), DaemonError> {
    let mut engine = Engine::new(cfg);
    let mut actions = Vec::new();
    let mut last = None;
    for ev in store.events()? {
        while let Some(t) = engine.poll_timeout().filter(|t| *t < ev.at) {
            engine.handle_timeout(t);
            actions.extend(std::iter::from_fn(|| engine.poll_action()));
        }
        let value: serde_json::Value = match serde_json::from_str(&ev.body) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(seq = ev.seq, error = %e, "stored event is not JSON; skipped");
                continue;
            }
        };
        match Event::from_parts(&ev.ty, value)
            .map_err(|e| e.to_string())
            .and_then(|e| engine.handle(ev.at, e).map_err(|e| e.to_string()))
        {
            Ok(()) => {}
            // Possible after a configuration change (e.g. an organization removed).
            Err(e) => {
                tracing::warn!(seq = ev.seq, r#type = %ev.ty, error = %e, "stored event refused on replay under the current configuration")
            }
        }
        actions.extend(std::iter::from_fn(|| engine.poll_action()));
        last = Some(ev.at);
    }
    engine.handle_timeout(now);
    actions.extend(std::iter::from_fn(|| engine.poll_action()));
    Ok((engine, actions, last))
}

/// The retired organizations that live cases still name (the rest can be forgotten).
pub fn retained<'a>(cfg: &'a Config, engine: &Engine) -> Vec<&'a crate::config::Organization> {
    let named = engine.referenced_orgs();
    cfg.orgs
        .iter()
        .filter(|o| o.retired_at.is_some() && named.contains(&o.id))
        .collect()
}

fn notify(states: &[sd_notify::NotifyState]) {
    // Not under systemd: NOTIFY_SOCKET is unset and this does nothing.
    let _ = sd_notify::notify(false, states);
}

/// Run the daemon until SIGTERM/SIGINT.
pub async fn run(config_path: &Path) -> Result<(), DaemonError> {
    let joined = |es: Vec<crate::config::locate::ConfigError>| {
        DaemonError::Config(
            es.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    };
    let cfg = Config::load(config_path).map_err(joined)?;
    let renderer = Renderer::checked(&cfg).map_err(joined)?;
    let cfg = Arc::new(cfg);
    let d = cfg.daemon.clone();
    std::fs::create_dir_all(&d.state_dir)
        .map_err(|e| DaemonError::StateDir(d.state_dir.clone(), e))?;
    // The state (names, addresses, tokens, mail) is for the daemon's user only, also outside
    // systemd's StateDirectory= (which sets 0700 itself).
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&d.state_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| DaemonError::StateDir(d.state_dir.clone(), e))?;
    }
    let db = d.state_dir.join("meldingsvakt.db");
    let mut store = Store::open(&db)?;
    let alert_token = token(d.alert_token_file.as_deref(), &d.state_dir, "alert-token")?;
    let operator_token = token(
        d.operator_token_file.as_deref(),
        &d.state_dir,
        "operator-token",
    )?;
    if same_secret(&alert_token, &operator_token) {
        return Err(DaemonError::Config(
            "the alert token and the operator token are the same; give each its own file (an alert source must not be able to act as an operator)".into(),
        ));
    }

    // Organizations removed from the configuration while open cases still named them keep
    // their addresses for those cases, across restarts too (SPEC §6).
    let mut cfg = cfg;
    {
        let kept = store.retained_orgs()?;
        if !kept.is_empty() {
            Arc::make_mut(&mut cfg).retain_orgs(&kept);
        }
    }
    let now = crate::clock::now();
    let t0 = std::time::Instant::now();
    let (engine, actions, last) = replay(Arc::clone(&cfg), &store, now)?;
    store.set_retained_orgs(&retained(&cfg, &engine))?;
    let new = store.commit(&[], &actions)?;
    tracing::info!(
        events = store.events()?.len(),
        new_actions = new,
        ms = t0.elapsed().as_millis() as u64,
        "state restored"
    );

    let shared = Arc::new(Shared {
        cfg: RwLock::new(Arc::clone(&cfg)),
        renderer: RwLock::new(Arc::new(renderer)),
        store: Mutex::new(store),
        metrics: Metrics::default(),
        wake_dispatcher: tokio::sync::Notify::new(),
        alert_token,
        operator_token,
        pages: crate::status::StatusPages::default(),
        statuspage: statuspage_client(&cfg)?,
        silencer: match &cfg.daemon.alertmanager {
            Some((url, d)) => Some(
                crate::sinks::silence::Silencer::new(url.clone(), *d)
                    .map_err(DaemonError::Config)?,
            ),
            None => None,
        },
        health: Mutex::new(Health::default()),
        db_path: db.clone(),
    });
    shared.refresh_stats();
    // The built-in status page is a function of the status-page actions decided so far.
    {
        let decided = shared.store().statuspage_actions()?;
        shared
            .pages
            .apply(&shared.cfg(), &shared.renderer(), &decided);
    }

    let listener = tokio::net::TcpListener::bind(d.listen)
        .await
        .map_err(|e| DaemonError::Listen(d.listen, e))?;
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

    let engine_handle = tokio::spawn(engine_task::run(
        engine,
        rx,
        Arc::clone(&shared),
        last,
        stop_rx.clone(),
    ));
    let dispatch_handle = tokio::spawn(dispatch::run(Arc::clone(&shared), stop_rx.clone()));
    let mailbox_handle = tokio::spawn(mailbox::run(
        Arc::clone(&shared),
        tx.clone(),
        stop_rx.clone(),
    ));
    let app = http::router(Arc::clone(&shared), tx.clone());
    let server = tokio::spawn(serve::run(
        listener,
        app,
        d.max_connections,
        stop_rx.clone(),
    ));
    tracing::info!(listen = %d.listen, state = %d.state_dir.display(), mail = ?d.mail, "meldingsvakt running");
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("running"),
    ]);

    // Signals: SIGHUP reloads, SIGTERM/SIGINT stop.
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| DaemonError::Config(e.to_string()))?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| DaemonError::Config(e.to_string()))?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let mut st = vec![sd_notify::NotifyState::Reloading];
                if let Ok(m) = sd_notify::NotifyState::monotonic_usec_now() { st.push(m); }
                notify(&st);
                reload(config_path, &shared, &tx).await;
                notify(&[sd_notify::NotifyState::Ready]);
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tracing::info!("stopping: finishing in-flight sends");
    notify(&[sd_notify::NotifyState::Stopping]);
    let _ = stop_tx.send(true);
    let _ = server.await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), mailbox_handle).await;
    drop(tx);
    let _ = engine_handle.await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), dispatch_handle).await;
    tracing::info!("stopped");
    Ok(())
}

/// Load and validate the configuration and templates; on success swap them in, else keep the
/// old ones and log every problem (SPEC §6).
async fn reload(
    path: &Path,
    shared: &Arc<Shared>,
    tx: &tokio::sync::mpsc::Sender<engine_task::Cmd>,
) {
    let cfg = match Config::load(path) {
        Ok(c) => c,
        Err(es) => {
            for e in &es {
                tracing::error!("{e}");
            }
            tracing::error!(
                problems = es.len(),
                "reload refused; the previous configuration stays in force"
            );
            return;
        }
    };
    let renderer = match Renderer::checked(&cfg) {
        Ok(r) => r,
        Err(es) => {
            for e in &es {
                tracing::error!("{e}");
            }
            tracing::error!(
                "reload refused (templates); the previous configuration stays in force"
            );
            return;
        }
    };
    if cfg.daemon.listen != shared.cfg().daemon.listen
        || cfg.daemon.state_dir != shared.cfg().daemon.state_dir
    {
        tracing::warn!("listen address and state directory changes take effect at restart");
    }
    // The engine task swaps the configuration in, keeping organizations that open cases
    // still name; the renderer follows it.
    let _ = tx
        .send(engine_task::Cmd::Reload(Box::new(cfg), Box::new(renderer)))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events stored before SPEC §4.14 (e.g. `MAIL-…@…` inquiry ids) still replay: an upgrade
    /// drops no case, while the door refuses such ids for new input.
    #[test]
    fn replay_keeps_cases_whose_ids_predate_the_id_rule() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let cfg = Arc::new(Config::load(&root.join("config/meldingsvakt.toml")).unwrap());
        let dir = std::env::temp_dir().join(format!("mv-replay-ids-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let _ = std::fs::remove_file(&path);
        let mut store = Store::open(&path).unwrap();
        let t = chrono::Utc::now();
        let body =
            r#"{"id":"MAIL-c1@melhus.kommune.example","org":"melhus","subject":"Mangler svar"}"#;
        store
            .commit(&[(t, "inquiry.received", body.to_string())], &[])
            .unwrap();
        let (engine, _, _) = replay(cfg, &store, t).unwrap();
        let ev = Event::from_parts(
            "inquiry.received",
            serde_json::from_str::<serde_json::Value>(body).unwrap(),
        )
        .unwrap();
        assert!(ev.check_id().is_err(), "the door refuses it");
        assert!(
            engine.referenced_orgs().contains("melhus"),
            "the stored inquiry is live after replay"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
