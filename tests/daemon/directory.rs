//! The directory (SPEC §4.16, issue #30 first part): the configuration seeds each
//! organization's contacts into the store once; a reload that changes them is a change in the
//! directory, audited with before and after; a restart with the same configuration changes
//! nothing; an admin reads it all on the console's «Kontaktregister».

use crate::harness::*;
use crate::support::*;
use std::process::Command;

fn audit_rows(env: &Env, what: &str) -> Vec<String> {
    audit_of(
        env,
        "object || '|' || coalesce(before, '') || '|' || coalesce(after, '')",
        what,
    )
}

#[test]
fn the_directory_is_seeded_once_and_follows_a_changed_configuration() {
    let env = Env::new("directory");
    // The organizations in a file of this test's own, so that it can change them.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let orgs = env.dir.join("orgs.toml");
    std::fs::copy(repo.join("config/organizations.d/midt-norge.toml"), &orgs).unwrap();
    let cfg_path = env.dir.join("meldingsvakt.toml");
    let cfg: String = std::fs::read_to_string(&cfg_path)
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("include = [") {
                format!("include = [{:?}]", orgs.to_string_lossy())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&cfg_path, cfg).unwrap();
    env.append_config(
        "\n[console]\ntrusted_user_header = \"X-Remote-User\"\ntrusted_groups_header = \"X-Remote-Groups\"\ntrusted_proxies = [\"127.0.0.2\"]\n\n[console.roles]\nviewer = [\"les\"]\nadmin = [\"admin\"]\n",
    );
    let d = env.daemon();
    wait_for(&env, "the directory seeded", &|| {
        !audit_rows(&env, "directory.seed").is_empty()
    });
    let seeded = audit_rows(&env, "directory.seed");
    assert_eq!(seeded.len(), 1, "{seeded:?}");
    assert!(seeded[0].contains("\"malvik\""), "{seeded:?}");
    let ada = proxy_session(&env, "Ada Admin", "admin");
    let page = ada.get("/ops/directory");
    assert!(
        page.contains("Malvik kommune")
            && page.contains("meldingsansvarlig@malvik.kommune.example"),
        "{page}"
    );
    assert!(page.contains("av konfigurasjonen"), "{page}");
    // Admins only.
    let vera = proxy_session(&env, "Vera Visning", "les");
    assert_eq!(vera.request("/ops/directory", &[]).0, 403);
    assert_eq!(vera.request("/ops/directory?format=csv", &[]).0, 403);
    // The export: one line per organization, audited.
    let (code, csv) = ada.request("/ops/directory?format=csv", &[]);
    assert_eq!(code, 200);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "org,meldingsansvarlig,extra,phone,services,hf,changed_at,origin,changed_by,confirmed_at"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("malvik,meldingsansvarlig@malvik.kommune.example,")),
        "{csv}"
    );
    assert_eq!(audit_rows(&env, "directory.export").len(), 1);

    // The configuration gives Malvik a new address; a reload takes it, audited.
    let text = std::fs::read_to_string(&orgs).unwrap().replace(
        "meldingsansvarlig = \"meldingsansvarlig@malvik.kommune.example\"",
        "meldingsansvarlig = \"post@malvik.kommune.example\"",
    );
    std::fs::write(&orgs, text).unwrap();
    Command::new("kill")
        .args(["-HUP", &d.0.id().to_string()])
        .status()
        .unwrap();
    wait_for(&env, "the change in the directory", &|| {
        ada.get("/ops/directory")
            .contains("post@malvik.kommune.example")
    });
    let changes = audit_rows(&env, "directory.change");
    assert_eq!(changes.len(), 1, "only Malvik changed: {changes:?}");
    let c = &changes[0];
    assert!(c.starts_with("directory/malvik|"), "{c}");
    let (before, after) = c["directory/malvik|".len()..].split_once('|').unwrap();
    assert!(
        before.contains("meldingsansvarlig@malvik.kommune.example"),
        "{c}"
    );
    assert!(after.contains("post@malvik.kommune.example"), "{c}");

    // An admin undoes it on the console: back to the old address, audited as Ada's.
    let csrf = ada.csrf();
    let page = ada.get("/ops/directory");
    assert!(page.contains("Angre siste endring"), "{page}");
    let n = {
        let at = page.find("name=\"n\" value=\"").unwrap() + 16;
        page[at..].split('"').next().unwrap().to_string()
    };
    let undo = |who: &Browser, csrf: &str| {
        who.post(
            "/ops/directory",
            &[
                ("csrf", csrf),
                ("org", "malvik"),
                ("step", "undo"),
                ("n", &n),
            ],
        )
        .0
    };
    // A viewer cannot; a form without the session's CSRF token changes nothing.
    assert_eq!(undo(&vera, "x"), 403);
    assert_ne!(undo(&ada, "x"), 303);
    assert_eq!(undo(&ada, &csrf), 303);
    let page = ada.get("/ops/directory");
    assert!(!page.contains("post@malvik.kommune.example"), "{page}");
    // The same undo again is refused: the directory moved on.
    assert_eq!(undo(&ada, &csrf), 409);
    let changes = audit_rows(&env, "directory.change");
    assert_eq!(changes.len(), 2, "{changes:?}");

    // A CSV import: a bad line refuses the whole file; a good one shows its changes, and
    // nothing is stored until the admin confirms.
    let bad = "org,phone\nmalvik,+47 11 22 33 44\nnowhere,+47 12 34 56 78\n";
    let (code, page) = ada.post(
        "/ops/directory/import",
        &[("csrf", &csrf), ("step", "apply"), ("csv", bad)],
    );
    assert_eq!(code, 422, "{page}");
    assert!(page.contains("ukjent organisasjon «nowhere»"), "{page}");
    let good = "org,phone,services\nmalvik,'+47 11 22 33 44,PLO helsestasjon\n";
    let (code, page) = ada.post(
        "/ops/directory/import",
        &[("csrf", &csrf), ("step", "preview"), ("csv", good)],
    );
    assert_eq!(code, 200, "{page}");
    assert!(
        page.contains("Pasienttelefon") && page.contains("+47 11 22 33 44"),
        "{page}"
    );
    assert!(page.contains("Bruk endringene"), "{page}");
    assert!(
        !ada.get("/ops/directory").contains("+47 11 22 33 44"),
        "applied before confirm"
    );
    let (code, page) = ada.post(
        "/ops/directory/import",
        &[("csrf", &csrf), ("step", "apply"), ("csv", good)],
    );
    assert_eq!(code, 200, "{page}");
    assert!(
        page.contains("Endringene er lagret for 1 organisasjon"),
        "{page}"
    );
    assert!(ada.get("/ops/directory").contains("+47 11 22 33 44"));
    let changes = audit_rows(&env, "directory.change");
    assert_eq!(changes.len(), 3, "{changes:?}");

    // A restart with the same configuration changes nothing, seeds nothing: the console's
    // changes came later than the configuration's, so they stay.
    drop(d);
    let _d = env.daemon();
    // The overview is answered by the engine task, which reads the configuration into the
    // directory before it takes any command: once it answers, the reading is done.
    wait_for(&env, "the engine task after the restart", &|| {
        ada.get("/ops/").contains("Innlogget: Ada Admin")
    });
    assert_eq!(audit_rows(&env, "directory.change").len(), 3);
    assert_eq!(audit_rows(&env, "directory.seed").len(), 1);
    let page = ada.get("/ops/directory");
    assert!(
        page.contains("+47 11 22 33 44") && !page.contains("post@malvik.kommune.example"),
        "{page}"
    );
    let (code, out) = audit_verify(&env, &[]);
    assert_eq!(code, 0, "{out}");
}
