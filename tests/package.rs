//! The Debian package (issue #27, SPEC §5.11), built by `scripts/package.sh` with the
//! `package-test` profile (the release profile without fat LTO): what it installs, that /etc
//! is conffiles, that lintian finds no error, and that the generated manual pages name every
//! subcommand and every configuration key.
//!
//! Needs cargo-deb, lintian and man (scripts/test.sh installs them).

#[path = "support/package.rs"]
mod package_support;

use package_support::{package, run};
use std::path::Path;
use std::process::Command;

#[test]
fn the_package_installs_what_spec_5_11_names_and_lintian_finds_no_error() {
    let deb = package(None);
    let name = deb.file_name().unwrap().to_string_lossy().to_string();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(name, format!("meldingsvakt_{version}-1_amd64.deb"));

    let list = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let files: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    for want in [
        "./usr/bin/meldingsvakt",
        "./usr/lib/systemd/system/meldingsvakt.service",
        "./usr/lib/sysusers.d/meldingsvakt.conf",
        "./etc/meldingsvakt/meldingsvakt.toml",
        "./etc/meldingsvakt/organizations.d/midt-norge.toml",
        "./etc/meldingsvakt/templates/email/unplanned.hbs",
        "./etc/meldingsvakt/templates/report/monthly.hbs",
        "./usr/share/man/man1/meldingsvakt.1.gz",
        "./usr/share/man/man1/meldingsvakt-incident-resolve.1.gz",
        "./usr/share/man/man5/meldingsvakt.toml.5.gz",
        "./usr/share/bash-completion/completions/meldingsvakt",
        "./usr/share/zsh/vendor-completions/_meldingsvakt",
        "./usr/share/fish/vendor_completions.d/meldingsvakt.fish",
        "./usr/share/doc/meldingsvakt/copyright",
    ] {
        assert!(files.contains(&want), "{want} not in the package:\n{list}");
    }
    assert!(
        !files.iter().any(|f| f.contains("templates/console")),
        "the console's templates are compiled in, not conffiles"
    );

    let ctl = std::env::temp_dir().join(format!("mv-debctl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&ctl);
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&ctl));
    let conffiles = std::fs::read_to_string(ctl.join("conffiles")).unwrap();
    let etc: Vec<&&str> = files
        .iter()
        .filter(|f| f.starts_with("./etc/") && !f.ends_with('/'))
        .collect();
    for f in &etc {
        assert!(
            conffiles.lines().any(|c| c == &f[1..]),
            "{f} is not a conffile:\n{conffiles}"
        );
    }
    let postrm = std::fs::read_to_string(ctl.join("postrm")).unwrap();
    assert!(postrm.contains("rm -rf /var/lib/meldingsvakt"), "{postrm}");
    let control = std::fs::read_to_string(ctl.join("control")).unwrap();
    assert!(
        control.contains("Depends:") && control.contains("systemd"),
        "{control}"
    );
    let _ = std::fs::remove_dir_all(&ctl);

    // lintian: no errors (the kept warnings are explained in ARCHITECTURE.md).
    let out = Command::new("lintian")
        .arg("--allow-root")
        .arg(&deb)
        .output()
        .expect("lintian (scripts/test.sh installs it)");
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    eprintln!("lintian:\n{report}");
    assert!(
        !report.lines().any(|l| l.starts_with("E:")),
        "lintian errors:\n{report}"
    );
    for w in report.lines().filter(|l| l.starts_with("W:")) {
        assert!(
            w.contains("initial-upload-closes-no-bugs"),
            "a lintian warning not explained in ARCHITECTURE.md: {w}"
        );
    }
}

#[test]
fn the_manual_names_every_subcommand_and_every_key() {
    let out = std::env::temp_dir().join(format!("mv-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    run(Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
        .arg("generate")
        .arg(&out));
    let man = |page: &Path| {
        let text = run(Command::new("man")
            .arg("-l")
            .arg(page)
            .env("MANWIDTH", "200")
            .env_remove("MAN_KEEP_FORMATTING"));
        // Piped, man prints plain text; at this width it does not hyphenate.
        text.replace('\u{2010}', "-")
    };
    let one = man(&out.join("man1/meldingsvakt.1"));
    // Every subcommand that --help lists, and the operator commands' own subcommands.
    let help = run(Command::new(env!("CARGO_BIN_EXE_meldingsvakt")).arg("--help"));
    let subs: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| *s != "help")
        .collect();
    assert!(subs.len() >= 9, "{help}");
    for s in &subs {
        assert!(
            one.contains(&format!("meldingsvakt {s}")),
            "meldingsvakt(1) lacks {s}:\n{one}"
        );
    }
    for s in [
        "incident open",
        "incident update",
        "incident resolve",
        "inquiry add",
        "maintenance change",
    ] {
        assert!(one.contains(&format!("meldingsvakt {s}")), "{s}");
    }
    let five = man(&out.join("man5/meldingsvakt.toml.5"));
    for t in meldingsvakt::config::keys::TABLES {
        assert!(five.contains(t.header), "{}", t.header);
    }
    for k in meldingsvakt::config::keys::KEYS {
        assert!(
            five.contains(k.key),
            "meldingsvakt.toml(5) lacks [{}] {}",
            k.table,
            k.key
        );
    }
    for f in [
        "completions/meldingsvakt.bash",
        "completions/_meldingsvakt",
        "completions/meldingsvakt.fish",
    ] {
        let c = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(c.contains("incident") && c.contains("maintenance"), "{f}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
