//! `meldingsvakt run`: the imperative shell around the pure engine (SPEC §5.4–§6).
//!
//! Tasks:
//! - **engine task** (`engine_task.rs`): owns the `Engine`; applies events from the HTTP API,
//!   sleeps until the engine's next deadline, and commits every decision to the outbox in the
//!   same transaction as the events that caused it. Pings the systemd watchdog from its loop.
//! - **dispatcher** (`dispatch/`): sends due outbox rows, marks them done, retries failures
//!   with exponential backoff. Same key → same Message-ID on every attempt.
//! - **HTTP** (`http.rs`): Alertmanager webhook, operator API, health and metrics.
//!
//! Invariant: nothing is sent that is not committed first; a crash at any point loses nothing.
//! Start-up replays the stored events through the engine (`replay`), which recomputes every
//! deadline from facts; overdue actions run at once.

pub mod access;
mod app;
pub mod audit;
mod calendar;
pub(crate) mod console;
pub(crate) mod dispatch;
pub(crate) mod engine_task;
mod forward;
mod health;
mod history;
pub(crate) mod http;
mod limit;
pub(crate) mod mailbox;
mod replay;
pub(crate) mod role;
pub(crate) mod serve;
mod shared;
pub(crate) mod subscribers;
mod tokens;

pub use replay::{replay, retained, StateHistory};
pub(crate) use shared::{Health, Metrics, Shared, Writer};
use tokens::{same_secret, token};

use crate::config::Config;
use crate::render::Renderer;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// Why the daemon could not start or reload.
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
    #[error("{0}")]
    Sink(#[from] crate::sinks::BuildError),
    #[error("cannot handle signals: {0}")]
    Signals(std::io::Error),
    #[error("cannot start the leadership thread: {0}")]
    Thread(std::io::Error),
    #[error("console templates: {0}")]
    Console(#[from] Box<handlebars::TemplateError>),
}

fn notify(states: &[sd_notify::NotifyState]) {
    // Not under systemd: NOTIFY_SOCKET is unset and this does nothing.
    let _ = sd_notify::notify(false, states);
}

/// Run the daemon until SIGTERM/SIGINT.
pub async fn run(config_path: &Path) -> Result<(), DaemonError> {
    // The SIGHUP handler goes in first: SIGHUP's default action ends the process, and one
    // sent while the daemon starts (its port already open, or READY=1 just sent, before the
    // loop below runs) must be a reload once the loop runs, never a death. SIGTERM keeps its
    // default until then: a stop asked for during start-up stops at once.
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(DaemonError::Signals)?;
    let joined = |es: Vec<crate::config::locate::ConfigError>| {
        DaemonError::Config(
            es.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    };
    let cfg = load_config(config_path).map_err(joined)?;
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
    // One host: the embedded SQLite file, always leading. Several: PostgreSQL, and the
    // leadership session decides who leads (SPEC §5.7).
    let role = Arc::new(
        match cfg.sections.get::<crate::store::postgres::Settings>() {
            Some(pg) => role::Role::cluster(pg.lease.to_std().unwrap_or_default()),
            None => role::Role::single(),
        },
    );
    let (mut store, db): (Box<dyn crate::store::Store>, String) =
        match cfg.sections.get::<crate::store::postgres::Settings>() {
            Some(pg) => (
                Box::new(crate::store::postgres::PgStore::open(
                    pg,
                    role.epoch_cell(),
                )?),
                pg.display(),
            ),
            None => {
                let path = d.state_dir.join("meldingsvakt.db");
                (crate::store::open(&path)?, path.display().to_string())
            }
        };
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
    log_audit_head(store.as_ref());
    let now = crate::clock::now();
    let t0 = std::time::Instant::now();
    let sinks = crate::sinks::Registry::build(&cfg)?;
    // A standby (and every host of several before it is elected) follows the log; the
    // engine task rebuilds and commits when this host leads.
    let (engine, seq) = if role.is_cluster() {
        let (engine, seq) = replay::standby(Arc::clone(&cfg), store.as_ref(), now)?;
        tracing::info!(db = %db, seq, ms = t0.elapsed().as_millis() as u64, "state read; standing by until this host leads");
        (engine, seq)
    } else {
        let r = replay::rebuild(Arc::clone(&cfg), store.as_ref(), now)?;
        store.set_retained_orgs(&retained(&cfg, &r.engine))?;
        let new = store.commit(&[], &sinks.rows(&r.actions))?;
        tracing::info!(
            events = store.events()?.len(),
            new_actions = new,
            ms = t0.elapsed().as_millis() as u64,
            "state restored"
        );
        (r.engine, r.seq)
    };

    let shared = Arc::new(Shared {
        cfg: RwLock::new(Arc::clone(&cfg)),
        contacts: RwLock::new(None),
        renderer: RwLock::new(Arc::new(renderer)),
        store: Mutex::new(store),
        metrics: Metrics::default(),
        wake_dispatcher: tokio::sync::Notify::new(),
        tokens: std::sync::RwLock::new(Arc::new(shared::Tokens {
            alert: alert_token,
            operator: operator_token,
        })),
        pages: crate::status::StatusPages::default(),
        sinks: std::sync::RwLock::new(Arc::new(sinks)),
        health: Mutex::new(Health::default()),
        db,
        handoff: Mutex::new(Vec::new()),
        break_glass_mailed: Mutex::new(None),
        subscribers: subscribers::Lane::default(),
        role: Arc::clone(&role),
    });
    shared.refresh_stats();
    // The built-in status page is a function of the status-page actions decided so far (a
    // standby's engine task keeps it so).
    if !role.is_cluster() {
        let decided = shared.store().statuspage_actions()?;
        shared
            .pages
            .apply(&shared.cfg(), &shared.renderer(), &decided);
    }
    shared.pages.set_history(engine.history(), now);
    let leadership_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Some(pg) = cfg.sections.get::<crate::store::postgres::Settings>() {
        role::start(pg.clone(), Arc::clone(&role), Arc::clone(&leadership_stop))
            .map_err(DaemonError::Thread)?;
    }

    let listener = tokio::net::TcpListener::bind(d.listen)
        .await
        .map_err(|e| DaemonError::Listen(d.listen, e))?;
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

    let engine_handle = tokio::spawn(engine_task::run(
        engine,
        seq,
        rx,
        Arc::clone(&shared),
        stop_rx.clone(),
    ));
    let dispatch_handle = tokio::spawn(dispatch::run(Arc::clone(&shared), stop_rx.clone()));
    let lane_handle = tokio::spawn(subscribers::run(Arc::clone(&shared), stop_rx.clone()));
    let mailbox_handle = tokio::spawn(mailbox::run(
        Arc::clone(&shared),
        tx.clone(),
        stop_rx.clone(),
    ));
    let pages = Arc::new(crate::console::pages::Pages::new()?);
    let app = http::router(Arc::clone(&shared), tx.clone(), pages);
    let server = tokio::spawn(serve::run(
        listener,
        app,
        d.max_connections,
        stop_rx.clone(),
    ));
    let sinks = shared.sinks();
    let sink_names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
    tracing::info!(listen = %d.listen, state = %d.state_dir.display(), sinks = ?sink_names, "meldingsvakt running");
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("running"),
    ]);

    // Signals: SIGHUP reloads (its handler was installed at the start of `run`), SIGTERM/SIGINT
    // stop.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(DaemonError::Signals)?;
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
    // A leader keeps leading while it drains its sends; the lock goes with the process.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), mailbox_handle).await;
    drop(tx);
    let _ = engine_handle.await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), dispatch_handle).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), lane_handle).await;
    leadership_stop.store(true, std::sync::atomic::Ordering::SeqCst);
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
    let cfg = match load_config(path) {
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
    // Sinks are built before anything changes: one that cannot be built (a secret file
    // missing) refuses the whole reload.
    let sinks = match crate::sinks::Registry::build(&cfg) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "reload refused (sinks); the previous configuration stays in force");
            return;
        }
    };
    if cfg.daemon.listen != shared.cfg().daemon.listen
        || cfg.daemon.state_dir != shared.cfg().daemon.state_dir
    {
        tracing::warn!("listen address and state directory changes take effect at restart");
    }
    // The tokens are read again (from the state directory in force): a rotated token takes
    // effect now, and the old one — with every console session signed with it — stops working.
    let state_dir = shared.cfg().daemon.state_dir.clone();
    let d = &cfg.daemon;
    let read = token(d.alert_token_file.as_deref(), &state_dir, "alert-token").and_then(|a| {
        token(
            d.operator_token_file.as_deref(),
            &state_dir,
            "operator-token",
        )
        .map(|o| (a, o))
    });
    let (alert, operator) = match read {
        Ok((a, o)) if !same_secret(&a, &o) => (a, o),
        Ok(_) => {
            tracing::error!("reload refused: the alert token and the operator token are the same");
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "reload refused (tokens); the previous configuration stays in force");
            return;
        }
    };
    {
        let old = shared.tokens();
        if old.alert != alert || old.operator != operator {
            tracing::info!(
                alert = old.alert != alert,
                operator = old.operator != operator,
                "tokens rotated; the old ones, and console sessions signed with the old operator token, no longer work"
            );
        }
        *shared.tokens.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(shared::Tokens { alert, operator });
    }
    // The engine task swaps the configuration in, keeping organizations that open cases
    // still name; the renderer follows it.
    let _ = tx
        .send(engine_task::Cmd::Reload(
            Box::new(cfg),
            Box::new(renderer),
            sinks,
        ))
        .await;
}

/// Every table a room above the configuration reads: the sinks', then the store's.
pub(crate) fn sections() -> Vec<&'static crate::config::section::Section> {
    crate::sinks::sections()
        .chain(crate::store::sections())
        .collect()
}

/// The configuration with every room's table: what the daemon and `check` load.
pub fn load_config(
    path: &std::path::Path,
) -> Result<Config, Vec<crate::config::locate::ConfigError>> {
    Config::load_with(path, &sections())
}

/// Log the audit chain's head (its newest entry's number and digest): a witness outside the
/// database that `meldingsvakt audit verify --head` checks the chain against (SPEC §5.10).
pub(crate) fn log_audit_head(store: &dyn crate::store::Store) {
    let newest = store.audit_find(&crate::store::AuditQuery {
        limit: 1,
        ..Default::default()
    });
    match newest {
        Ok(v) => match v.first() {
            Some(e) => tracing::info!(seq = e.seq, head = %e.hash, "audit head"),
            None => tracing::info!("audit head: the audit log is empty"),
        },
        Err(e) => tracing::error!(error = %e, "cannot read the audit log's head"),
    }
}
