//! The manual and shell completions, generated from the code (issue #27): `meldingsvakt(1)`
//! and one page per subcommand from the clap definitions (clap_mangen), `meldingsvakt.toml(5)`
//! from `config::keys`, and bash, zsh and fish completions (clap_complete). The package build
//! runs `meldingsvakt generate DIR`; nothing here is edited by hand.

use crate::config::keys::{Key, KEYS, TABLES};
use roff::{bold, italic, roman, Roff};
use std::io::Write;
use std::path::Path;

/// Write `man1/*.1`, `man5/meldingsvakt.toml.5` and `completions/{meldingsvakt.bash,
/// _meldingsvakt, meldingsvakt.fish}` under `out`.
pub fn generate(cmd: clap::Command, out: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    let man1 = out.join("man1");
    std::fs::create_dir_all(&man1)?;
    let cmd = cmd.disable_help_subcommand(true);
    // meldingsvakt(1): the whole command with every subcommand's synopsis and options.
    let path = man1.join("meldingsvakt.1");
    let mut buf = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone()).date(crate::manual::DATE);
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    man.render_options_section(&mut buf)?;
    buf.extend(commands_section(&cmd).render().as_bytes());
    man.render_extra_section(&mut buf)?;
    buf.extend(see_also(&cmd).render().as_bytes());
    man.render_version_section(&mut buf)?;
    std::fs::write(&path, buf)?;
    written.push(path);
    // One page per subcommand, as git does: meldingsvakt-incident-open(1).
    for (name, sub) in walk(&cmd, "meldingsvakt") {
        let path = man1.join(format!("{name}.1"));
        let mut f = std::fs::File::create(&path)?;
        clap_mangen::Man::new(sub.clone().name(name.clone()))
            .date(DATE)
            .render(&mut f)?;
        written.push(path);
    }
    // meldingsvakt.toml(5).
    let man5 = out.join("man5");
    std::fs::create_dir_all(&man5)?;
    let path = man5.join("meldingsvakt.toml.5");
    std::fs::write(&path, config_page().render())?;
    written.push(path);
    // Completions.
    let comp = out.join("completions");
    std::fs::create_dir_all(&comp)?;
    for (shell, file) in [
        (clap_complete::Shell::Bash, "meldingsvakt.bash"),
        (clap_complete::Shell::Zsh, "_meldingsvakt"),
        (clap_complete::Shell::Fish, "meldingsvakt.fish"),
    ] {
        let path = comp.join(file);
        let mut f = std::fs::File::create(&path)?;
        let mut c = cmd.clone();
        clap_complete::generate(shell, &mut c, "meldingsvakt", &mut f);
        f.flush()?;
        written.push(path);
    }
    Ok(written)
}

/// The date the pages carry: fixed, so a rebuild of the same source gives the same package.
pub(crate) const DATE: &str = "2026-12";

/// Every subcommand, depth first, with its page name (`meldingsvakt-incident-open`).
fn walk(cmd: &clap::Command, prefix: &str) -> Vec<(String, clap::Command)> {
    let mut v = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{prefix}-{}", sub.get_name());
        v.push((name.clone(), sub.clone()));
        v.extend(walk(sub, &name));
    }
    v
}

/// COMMANDS: every subcommand at every depth, its usage and what it does, with its options.
fn commands_section(cmd: &clap::Command) -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["COMMANDS"]);
    fn add(r: &mut Roff, cmd: &clap::Command, path: &str) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let full = format!("{path} {}", sub.get_name());
            let mut usage = vec![bold(full.clone())];
            for a in sub
                .get_arguments()
                .filter(|a| !a.is_hide_set() && !a.is_global_set())
            {
                let name = a.get_id().as_str();
                if name == "help" || name == "version" {
                    continue;
                }
                usage.push(roman(" "));
                match (a.get_long(), a.is_positional()) {
                    (_, true) => usage.push(italic(name.to_uppercase())),
                    (Some(l), false) => usage.push(roman(format!("[--{l}]"))),
                    (None, false) => usage.push(roman(format!("[{name}]"))),
                }
            }
            if sub.has_subcommands() {
                usage.push(roman(" "));
                usage.push(italic("COMMAND"));
            }
            r.control("TP", []);
            r.text(usage);
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            r.text([roman(about)]);
            for a in sub
                .get_arguments()
                .filter(|a| !a.is_hide_set() && !a.is_positional())
            {
                let Some(l) = a.get_long() else { continue };
                if l == "help" || l == "version" {
                    continue;
                }
                let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                r.control("RS", []);
                r.control("TP", []);
                r.text([bold(format!("--{l}"))]);
                r.text([roman(help)]);
                r.control("RE", []);
            }
            add(r, sub, &full);
        }
    }
    add(&mut r, cmd, "meldingsvakt");
    r
}

fn see_also(cmd: &clap::Command) -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["SEE ALSO"]);
    let mut refs: Vec<String> = vec!["meldingsvakt.toml(5)".into()];
    refs.extend(
        walk(cmd, "meldingsvakt")
            .into_iter()
            .map(|(n, _)| format!("{n}(1)")),
    );
    r.text([roman(refs.join(", "))]);
    r
}

/// meldingsvakt.toml(5): every table and key, with its default.
fn config_page() -> Roff {
    let mut r = Roff::new();
    r.control(
        "TH",
        [
            "MELDINGSVAKT.TOML",
            "5",
            DATE,
            "meldingsvakt",
            "File Formats",
        ],
    );
    r.control("SH", ["NAME"]);
    r.text([roman("meldingsvakt.toml - configuration of meldingsvakt")]);
    r.control("SH", ["SYNOPSIS"]);
    r.text([roman(
        "/etc/meldingsvakt/meldingsvakt.toml (the Debian package), or config/meldingsvakt.toml in a source tree, or the file given with --config.",
    )]);
    r.control("SH", ["DESCRIPTION"]);
    r.text([roman(
        "A TOML file. [self], [[organization]], [[service]] and [[ks_ekomp]] describe who is notified; \
every other table has working defaults. Organizations may live in included files. Secrets \
(passwords, API keys, tokens) never live in this file: give a file (a systemd credential under \
/run/credentials/meldingsvakt.service/, or a file under /etc/meldingsvakt/ with mode 0640) or \
an environment variable. Durations are written \"15m\", \"2h\", \"7d\". \
meldingsvakt check validates the file and reports every problem as FILE:LINE:COL: message.",
    )]);
    // The core's tables and keys, then those the rooms above read themselves (sinks, store).
    let sections = crate::daemon::sections();
    let tables = TABLES
        .iter()
        .chain(sections.iter().filter_map(|s| s.table.as_ref()));
    let keys: Vec<&Key> = KEYS
        .iter()
        .chain(sections.iter().flat_map(|s| s.keys.iter()))
        .collect();
    for t in tables {
        r.control("SH", [t.header]);
        r.text([roman(t.doc)]);
        for key in keys.iter().filter(|k| k.table == t.table) {
            r.control("TP", []);
            r.text([bold(key.key)]);
            let default = match key.default {
                Some(d) => format!(" Default: {d}."),
                None => String::new(),
            };
            r.text([roman(format!("{}{default}", key.doc))]);
        }
    }
    r.control("SH", ["FILES"]);
    r.text([roman(
        "/etc/meldingsvakt/meldingsvakt.toml, /etc/meldingsvakt/organizations.d/, \
/etc/meldingsvakt/templates/, /etc/meldingsvakt/maintenance.d/, and the state in \
/var/lib/meldingsvakt.",
    )]);
    r.control("SH", ["SEE ALSO"]);
    r.text([roman("meldingsvakt(1)")]);
    r
}
