//! The `meldingsvakt` command line (SPEC §5.1). Parses flags, sets up logging to stderr and
//! calls into the library; no rule lives here.

use clap::{Parser, Subcommand};
use meldingsvakt::config::Config;
use meldingsvakt::render::Renderer;
use meldingsvakt::{calendar, sim};
use meldingsvakt::{out, outln};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// glibc malloc spent 40 % of `simulate` on a year of operations in free-list work
/// (`_int_malloc`, `unlink_chunk`); mimalloc does not degrade with that heap (measured in
/// scripts/bench-simulate.py).
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "main/render.rs"]
mod render_cmd;
use render_cmd::render;

/// Where the configuration is looked for when `--config` is not given: the example in a
/// checkout (relative to the working directory, SPEC §5.1), then the packaged one.
const DEFAULT_CONFIGS: [&str; 2] = [
    "config/meldingsvakt.toml",
    "/etc/meldingsvakt/meldingsvakt.toml",
];
const CONFIG_HELP: &str = "Configuration file [default: config/meldingsvakt.toml in the working directory, else /etc/meldingsvakt/meldingsvakt.toml]";

/// The configuration given, else the first default that exists.
fn find_config(given: Option<PathBuf>) -> Option<PathBuf> {
    given.or_else(|| {
        DEFAULT_CONFIGS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    })
}

/// The configuration of a command that may run a scenario instead (a scenario names its
/// own): without a scenario it must be found.
fn config_unless_scenario(given: Option<PathBuf>, scenario: bool) -> Result<PathBuf, ExitCode> {
    match find_config(given) {
        Some(p) => Ok(p),
        None if scenario => Ok(PathBuf::from(DEFAULT_CONFIGS[0])),
        None => resolve_config(None),
    }
}

/// The configuration to use: the one given, else the first default that exists. With none,
/// a message that names every place looked at and what to do (exit 2).
fn resolve_config(given: Option<PathBuf>) -> Result<PathBuf, ExitCode> {
    if let Some(p) = find_config(given) {
        return Ok(p);
    }
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| ".".into());
    eprintln!(
        "no configuration found: looked for {} (in {cwd}) and {}.\n\
         Run from the root of a meldingsvakt checkout (its example configuration is \
         config/meldingsvakt.toml there), or give one with --config FILE.",
        DEFAULT_CONFIGS[0], DEFAULT_CONFIGS[1]
    );
    Err(ExitCode::from(2))
}

#[derive(Parser)]
#[command(
    name = "meldingsvakt",
    version,
    about = "Outage notifications for Norwegian health IT: the meldingsansvarlig routine, on time.",
    long_about = "meldingsvakt watches monitoring inputs and planned maintenance and sends the standard \
outage e-mails to municipalities' and health trusts' meldingsansvarlig addresses, keeps a status page \
current, chases missing replies by the first working day and escalates to KS e-Komp.\n\n\
Exit codes: 0 success, 1 runtime failure, 2 invalid configuration, template or scenario.",
    after_help = "Examples:\n  meldingsvakt check\n  meldingsvakt simulate tests/scenarios/friday-kvittering.toml\n  \
meldingsvakt render followup\n  meldingsvakt calendar 2027"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Walk the audit chain and name the first entry changed, removed or inserted.
    #[command(
        after_help = "Exit status: 0 the chain holds, 1 it is broken (every break is named, the \
first on the first line), 2 the state could not be read.

Each entry carries the SHA-256 of the one before. An edit that also recomputes every later
digest is caught by --head: give a head the daemon logged earlier (journal lines \"audit head\",
at every start and snapshot), and the chain must still pass through it.

Example:
  meldingsvakt audit verify --config /etc/meldingsvakt/meldingsvakt.toml
  meldingsvakt audit verify --head 3f9c…  # from: journalctl -u meldingsvakt -g 'audit head'"
    )]
    Verify {
        #[arg(long, short, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// A head (64 hex digits) the daemon logged earlier; the chain must still hold it.
        #[arg(long, value_name = "HASH")]
        head: Option<String>,
    },
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the daemon: HTTP API and webhook, durable outbox, e-mail (files by default, or SMTP).
    #[command(
        after_help = "From the root of a checkout, with its example configuration:\n  meldingsvakt run\n\
State (SQLite) and mail files go to ./var (systemd: $STATE_DIRECTORY); tokens are created in\n\
var/alert-token and var/operator-token unless configured. SIGHUP reloads, SIGTERM stops."
    )]
    Run {
        #[arg(long, short, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
    },
    /// Validate the configuration and every template. Exit 0, or 2 with FILE:LINE:COL errors.
    #[command(
        after_help = "With --connect, also connect to the database of `[storage] url` (PostgreSQL) and say\n\
which schema version it has and which host leads; exit 1 when it cannot be reached. With the\n\
embedded SQLite store, --connect checks that the state directory can be written."
    )]
    Check {
        #[arg(long, short, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// Also connect to the state database (PostgreSQL: log in, read the schema and leader).
        #[arg(long)]
        connect: bool,
    },
    /// Run the rules in simulated time and print one JSON object per action on stdout.
    #[command(
        after_help = "The scenario format is described in SPEC §5.2 and README.md; examples in tests/scenarios/.\n\
Example:\n  meldingsvakt simulate tests/scenarios/friday-kvittering.toml | jq ."
    )]
    Simulate {
        /// Scenario file (TOML).
        scenario: PathBuf,
    },
    /// Preview a message: from sample data, a scenario, or a small event file.
    #[command(
        after_help = "KIND is a message kind: planned, planned.reminder, planned.change, planned.cancel, \
unplanned, update, resolved, followup, escalation; or a template name such as ops/freeze or \
statuspage/incident. Without KIND, with --scenario, every message is shown.\n\n\
Examples:\n  meldingsvakt render followup\n  meldingsvakt render --scenario tests/scenarios/friday-kvittering.toml\n  \
meldingsvakt render unplanned --input incident.toml   # one [[event]] table, or type = \"incident.open\" at top level"
    )]
    Render {
        kind: Option<String>,
        #[arg(long, short, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// Render the messages this scenario produces.
        #[arg(long, conflicts_with = "input")]
        scenario: Option<PathBuf>,
        /// Events (TOML) to run from their own time until the message appears (60 days at most).
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// The monthly availability report (SPEC §4.13) from the daemon's state or a scenario.
    #[command(after_help = "From the daemon's state (read only; safe while it runs):
  meldingsvakt report 2027-03
  meldingsvakt report 2027-03 --format csv > mars.csv
From a simulated scenario:
  meldingsvakt report 2026-11 --scenario tests/scenarios/report-month.toml --format json
The daemon serves the same at /reports/YYYY-MM (HTML), .json and .csv, and mails it on the first
working day of the next month.")]
    Report {
        /// The month, YYYY-MM.
        month: String,
        #[arg(long, value_enum, default_value = "html")]
        format: ReportFormat,
        #[arg(long, short, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// Report on this scenario's simulated run instead of the daemon's state.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// The audit log of who did what (SPEC §5.10).
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Print a year's holidays, half days and working-day count.
    Calendar {
        year: i32,
        /// Configuration with extra closed days and freezes (used when the file exists).
        #[arg(long, short, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
    },
    /// Operator commands for incidents, against a running daemon.
    Incident {
        #[command(flatten)]
        conn: meldingsvakt::client::Conn,
        #[command(subcommand)]
        cmd: meldingsvakt::client::IncidentCmd,
    },
    /// Inbound inquiries (SPEC §4.8) that did not come through the mailbox, e.g. by phone.
    Inquiry {
        #[command(flatten)]
        conn: meldingsvakt::client::Conn,
        #[command(subcommand)]
        cmd: meldingsvakt::client::InquiryCmd,
    },
    /// Write the manual pages and shell completions (the package build runs this).
    #[command(hide = true)]
    Generate {
        /// Folder to write man1/, man5/ and completions/ into.
        out: PathBuf,
    },
    /// Operator commands for planned maintenance, against a running daemon.
    Maintenance {
        #[command(flatten)]
        conn: meldingsvakt::client::Conn,
        #[command(subcommand)]
        cmd: meldingsvakt::client::MaintenanceCmd,
    },
}

fn load_or_report(path: &Path) -> Result<Config, ExitCode> {
    meldingsvakt::daemon::load_config(path).map_err(|errors| {
        for e in &errors {
            eprintln!("{e}");
        }
        eprintln!("{}: {} problem(s) found", path.display(), errors.len());
        ExitCode::from(2)
    })
}

fn check(path: &Path, connect: bool) -> ExitCode {
    let cfg = match load_or_report(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Compile every template and render it once with sample data: unknown variables surface
    // here (the daemon runs the same check at start and on every reload).
    if let Err(errors) = Renderer::checked(&cfg) {
        for e in &errors {
            eprintln!("{e}");
        }
        return ExitCode::from(2);
    }
    for w in &cfg.warnings {
        eprintln!("{w}");
    }
    // Maintenance files: syntax, cron expressions, and the same checks the daemon applies.
    let now = chrono::Utc::now();
    let declared = match meldingsvakt::sources::maintenance_files::load(
        &cfg.daemon.maintenance_dir,
        cfg.calendar.tz,
        now,
        cfg.daemon.maintenance_horizon,
    ) {
        Ok(d) => d,
        Err(errors) => {
            errors.iter().for_each(|e| eprintln!("{e}"));
            return ExitCode::from(2);
        }
    };
    let mut scratch = meldingsvakt::engine::Engine::new(Arc::new(cfg.clone()));
    let mut bad_files = 0;
    for d in &declared {
        let r = meldingsvakt::engine::model::Event::from_parts("maintenance.add", d.fields.clone())
            .and_then(|ev| scratch.handle(now, ev));
        if let Err(e) = r {
            eprintln!(
                "{}: maintenance {:?}: {e}",
                cfg.daemon.maintenance_dir.display(),
                d.id
            );
            bad_files += 1;
        }
    }
    if bad_files > 0 {
        return ExitCode::from(2);
    }
    let kommuner = cfg
        .orgs
        .iter()
        .filter(|o| o.kind == meldingsvakt::config::OrgKind::Kommune)
        .count();
    outln!(
        "{}: OK — {} organizations ({} municipalities), {} KS e-Komp areas, {} services, {} templates, {} declared maintenances",
        path.display(),
        cfg.orgs.len(),
        kommuner,
        cfg.areas().len(),
        cfg.services.len(),
        meldingsvakt::render::BUILTIN.len(),
        declared.len()
    );
    if connect {
        let probed = match cfg
            .sections
            .get::<meldingsvakt::store::postgres::Settings>()
        {
            Some(pg) => meldingsvakt::store::postgres::probe(pg),
            None => meldingsvakt::store::sqlite::probe(&cfg.daemon.state_dir),
        };
        match probed {
            Ok(what) => outln!("{what}"),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

fn simulate(path: &Path) -> ExitCode {
    let mut out = sim::Spill::for_stdout();
    match sim::run_into(path, &mut out) {
        Ok(()) => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = out.copy_to(&mut stdout).and_then(|_| stdout.flush()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("cannot write output: {e}");
                    return ExitCode::from(1);
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Nothing of a failed run stays on stdout (written straight to a file, it is cut
            // back; held, it is dropped).
            use sim::Sink;
            if let Err(w) = out.clear() {
                eprintln!("cannot take back the output written to stdout: {w}");
            }
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ReportFormat {
    Json,
    Csv,
    Html,
}

fn report_cmd(
    month: &str,
    format: ReportFormat,
    config: &Path,
    scenario: Option<&Path>,
) -> ExitCode {
    use meldingsvakt::report;
    let month: report::Month = match month.parse() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    use report::HistorySource;
    let loaded = match scenario {
        Some(path) => meldingsvakt::sim::ScenarioHistory(path.to_path_buf()).load(),
        None => {
            let cfg = match load_or_report(config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let now = chrono::Utc::now();
            meldingsvakt::daemon::StateHistory { cfg, now }.load()
        }
    };
    let report::Loaded { cfg, history, now } = match loaded {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let r = match report::monthly_checked(&cfg, &history, month, now) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let out = match format {
        ReportFormat::Json => serde_json::to_string_pretty(&r).unwrap_or_default() + "\n",
        ReportFormat::Csv => report::csv(&r),
        ReportFormat::Html => report::html(&r, &cfg.self_.name, &cfg.self_.meldingsansvarlig),
    };
    out!("{out}");
    ExitCode::SUCCESS
}

fn audit_verify_cmd(config: &Path, head: Option<&str>) -> ExitCode {
    let cfg = match load_or_report(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let r = match meldingsvakt::daemon::audit::verify(&cfg, head) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("audit verify: {e}");
            return ExitCode::from(2);
        }
    };
    if r.problems.is_empty() {
        outln!("audit log holds: {} entries, head {}", r.entries, r.head);
        return ExitCode::SUCCESS;
    }
    outln!("audit log broken: {}", r.problems[0]);
    for p in &r.problems[1..] {
        outln!("also: {p}");
    }
    outln!("({} entries read)", r.entries);
    ExitCode::from(1)
}

fn calendar_cmd(year: i32, config: &Path) -> ExitCode {
    if !(1900..=2999).contains(&year) {
        eprintln!("year {year} is out of range (1900–2999)");
        return ExitCode::from(2);
    }
    let cal = if config.exists() {
        match load_or_report(config) {
            Ok(c) => c.calendar,
            Err(code) => return code,
        }
    } else {
        calendar::Calendar::default()
    };
    out!("{}", calendar::print::year_text(&cal, year));
    ExitCode::SUCCESS
}

fn runtime(f: impl std::future::Future<Output = i32>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => ExitCode::from(rt.block_on(f) as u8),
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            ExitCode::from(1)
        }
    }
}

/// mimalloc's settings, before the first thread starts (issue #13: idle memory). The numbers
/// are `mi_option_e` of mimalloc v3 (`include/mimalloc.h`, vendored by libmimalloc-sys 0.1.49;
/// its Rust constants are v2's). Measured on the idle daemon (VmRSS): 27.8 MiB with the
/// defaults, 21.7 with immediate purging, 16.7 with arenas committed on demand as well — the
/// eager arena is backed by transparent huge pages, so its first touch maps 2 MiB. `simulate`
/// on the heavy year did not get measurably slower (scripts/bench.sh prints both).
#[cfg(not(feature = "system-alloc"))]
fn tune_allocator() {
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // An environment variable (`MIMALLOC_PURGE_DELAY`, …) still wins, for measuring.
    for (option, var, value) in [
        (ARENA_EAGER_COMMIT, "MIMALLOC_ARENA_EAGER_COMMIT", 0),
        (PURGE_DELAY, "MIMALLOC_PURGE_DELAY", 0),
    ] {
        if std::env::var_os(var).is_none() {
            // SAFETY: sets a process-wide integer option; mimalloc reads options atomically.
            unsafe { libmimalloc_sys::mi_option_set(option, value) };
        }
    }
}

fn main() -> ExitCode {
    #[cfg(not(feature = "system-alloc"))]
    tune_allocator();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter({
            let filter = tracing_subscriber::EnvFilter::try_from_env("MELDINGSVAKT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            // The template engine's debug output dumps whole render contexts, which hold what
            // operators typed (a refused console form is rendered again): never below warn,
            // at any level asked for (SPEC §4.12: no refused value in any log line).
            match "handlebars=warn".parse() {
                Ok(d) => filter.add_directive(d),
                Err(_) => filter,
            }
        })
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Check { config, connect } => match resolve_config(config) {
            Ok(config) => check(&config, connect),
            Err(code) => code,
        },
        Cmd::Simulate { scenario } => simulate(&scenario),
        Cmd::Render {
            kind,
            config,
            scenario,
            input,
        } => {
            let config = match config_unless_scenario(config, scenario.is_some()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            render(kind, &config, scenario, input)
        }
        Cmd::Audit {
            cmd: AuditCmd::Verify { config, head },
        } => {
            let config = match resolve_config(config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            audit_verify_cmd(&config, head.as_deref())
        }
        Cmd::Calendar { year, config } => {
            // Without a configuration: the built-in calendar (no extra closed days).
            let config = find_config(config).unwrap_or_default();
            calendar_cmd(year, &config)
        }
        Cmd::Report {
            month,
            format,
            config,
            scenario,
        } => {
            let config = match config_unless_scenario(config, scenario.is_some()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            report_cmd(&month, format, &config, scenario.as_deref())
        }
        Cmd::Generate { out } => {
            use clap::CommandFactory;
            match meldingsvakt::manual::generate(Cli::command(), &out) {
                Ok(files) => {
                    for f in files {
                        outln!("{}", f.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{}: {e}", out.display());
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Run { config } => {
            let config = match resolve_config(config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            runtime(async move {
                match meldingsvakt::daemon::run(&config).await {
                    Ok(()) => 0,
                    Err(meldingsvakt::daemon::DaemonError::Config(e)) => {
                        eprintln!("{e}");
                        2
                    }
                    Err(e) => {
                        tracing::error!("{e}");
                        eprintln!("meldingsvakt: {e}");
                        1
                    }
                }
            })
        }
        Cmd::Incident { conn, cmd } => runtime(async move {
            meldingsvakt::client::call(&conn, meldingsvakt::client::incident_request(cmd)).await
        }),
        Cmd::Inquiry { conn, cmd } => runtime(async move {
            meldingsvakt::client::call(&conn, meldingsvakt::client::inquiry_request(cmd)).await
        }),
        Cmd::Maintenance { conn, cmd } => runtime(async move {
            meldingsvakt::client::call(&conn, meldingsvakt::client::maintenance_request(cmd)).await
        }),
    }
}
