use super::*;

use crate::testutil::example_config as example;

#[test]
fn example_config_is_valid_and_complete() {
    let c = example();
    assert_eq!(
        c.orgs.iter().filter(|o| o.kind == OrgKind::Kommune).count(),
        65
    );
    assert_eq!(c.orgs.iter().filter(|o| o.kind == OrgKind::Hf).count(), 3);
    assert_eq!(c.ks_ekomp.len(), 2);
    let malvik = c.org("malvik").unwrap();
    assert_eq!(malvik.name, "Malvik kommune");
    assert_eq!(malvik.hf.as_deref(), Some("st-olavs"));
    assert!(c
        .orgs
        .iter()
        .all(|o| o.meldingsansvarlig.ends_with(".example")));
    assert_eq!(c.policy.followup_after, Duration::hours(2));
    assert_eq!(c.calendar.freezes.len(), 1);
}

fn errors(text: &str) -> Vec<String> {
    match Config::from_str_at(Path::new("t.toml"), text.to_string()) {
        Ok(_) => vec![],
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

/// The errors `GOOD_HEAD` followed by `tail` gets, as one text.
fn errors_after_head(tail: &str) -> String {
    errors(&format!("{GOOD_HEAD}\n{tail}")).join("\n")
}

/// Asserts that every one of `wanted` is in the errors `all`.
fn assert_says(all: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(all.contains(w), "{w:?} not in:\n{all}");
    }
}

const GOOD_HEAD: &str = r#"[self]
id = "hemit"
name = "Hemit HF"
from = "Hemit <m@helse-midt.example>"
meldingsansvarlig = "m@helse-midt.example"
phone = "+47 00"
ops = ["ops@hemit.example"]

[[service]]
id = "PLO"

[[ks_ekomp]]
area = "trondelag"
email = "ks@ks.example"
"#;

#[test]
fn minimal_config_is_valid() {
    assert_eq!(errors(GOOD_HEAD), Vec::<String>::new());
}

#[test]
fn every_problem_is_reported_with_its_place() {
    let text = format!(
        "{GOOD_HEAD}
[[organization]]
id = \"malvik\"
name = \"Malvik kommune\"
kind = \"kommune\"
meldingsansvarlig = \"not-an-address\"
area = \"nowhere\"
hf = \"ghost\"
services = [\"PLO\", \"XYZ\"]
colour = \"blue\"

[[organization]]
id = \"malvik\"
name = \"Malvik igjen\"
kind = \"kommune\"
meldingsansvarlig = \"m@malvik.example\"
area = \"trondelag\"

[policy]
publish_delay = \"20m\"
"
    );
    let e = errors(&text);
    let expect = [
        "t.toml:20:21: malformed e-mail address \"not-an-address\"",
        "t.toml:23:20: unknown service \"XYZ\"",
        "t.toml:24:1: unknown key `organization[0].colour`",
        "t.toml:27:6: duplicate organization id \"malvik\"",
        "t.toml:21:8: municipality \"malvik\" is in area \"nowhere\", which has no KS e-Komp",
        "t.toml:22:6: hf \"ghost\" is not an organization id",
        "t.toml:34:17: publish_delay may not exceed 15 minutes",
    ];
    for want in expect {
        assert!(
            e.iter().any(|got| got.starts_with(want)),
            "missing {want:?} in {e:#?}"
        );
    }
    assert_eq!(e.len(), expect.len(), "{e:#?}");
}

#[test]
fn missing_keys_and_syntax_errors() {
    let e = errors("[self]\nid = \"x\"\n");
    assert!(
        e.iter()
            .any(|m| m.starts_with("t.toml:1:1: missing required key `name` in [self]")),
        "{e:#?}"
    );
    let e = errors("[self\nid = 1");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("t.toml:1:") && e[0].contains("TOML syntax error"),
        "{e:#?}"
    );
    let e = errors(&format!(
        "{GOOD_HEAD}\n[policy]\nnotice_lead = \"seven days\"\n"
    ));
    assert!(
        e[0].starts_with("t.toml:17:15:") && e[0].contains("invalid duration"),
        "{e:#?}"
    );
}

#[test]
fn hf_must_be_of_kind_hf() {
    let text = format!(
        "{GOOD_HEAD}
[[organization]]
id = \"a\"
name = \"A kommune\"
kind = \"kommune\"
meldingsansvarlig = \"m@a.example\"
area = \"trondelag\"

[[organization]]
id = \"b\"
name = \"B kommune\"
kind = \"kommune\"
meldingsansvarlig = \"m@b.example\"
area = \"trondelag\"
hf = \"a\"
"
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].contains("not \"hf\""));
}

#[test]
fn email_validation() {
    assert!(valid_email("meldingsansvarlig@malvik.kommune.example"));
    assert!(!valid_email("meldingsansvarlig@localhost"));
    assert!(!valid_email("a b@c.example"));
    assert!(!valid_email("@c.example"));
    assert_eq!(mailbox_address("Hemit <m@h.example>"), Some("m@h.example"));
    assert_eq!(mailbox_address("Hemit <m@h>"), None);
}

#[test]
fn municipality_without_area_is_a_warning_and_daemon_sections_are_accepted() {
    let text = format!(
        "{GOOD_HEAD}
[smtp]
host = \"localhost\"

[[organization]]
id = \"a\"
name = \"A kommune\"
kind = \"kommune\"
meldingsansvarlig = \"m@a.example\"

[http]
public_url = \"https://meldingsvakt.hemit.example\"
"
    );
    let c = Config::from_str_at(Path::new("t.toml"), text).expect("valid");
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0]
            .to_string()
            .starts_with("t.toml:19:1: warning: municipality \"a\" has no `area`"),
        "{}",
        c.warnings[0]
    );
}

/// `[report]`: targets are percentages and the report needs someone to read it.
#[test]
fn report_targets_and_recipients_are_checked() {
    let all =
        errors_after_head("[report]\ntarget_month = 101\ntarget_12m = 99.9\nrecipients = []\n");
    assert_says(
        &all,
        &[
            "target_month must be a percentage between 0 and 100, not 101",
            "the monthly report needs at least one recipient",
        ],
    );
    assert!(!all.contains("target_12m"), "{all}");
    let all = errors_after_head("[report]\nrecipients = [\"ikke-en-adresse\"]\n");
    assert_says(&all, &["malformed e-mail address \"ikke-en-adresse\""]);
}

/// `[console.oidc]` and `[console.roles]` (SPEC §5.10): each missing or unsafe piece named at
/// its place; a group may give one role only; a working table maps groups to the highest role.
#[test]
fn oidc_and_roles_are_checked() {
    let all = errors_after_head(
        "[console]\ntrusted_groups_header = \"X-Groups\"\ntoken_lifetime = \"2years\"\n\n[console.oidc]\nissuer = \"http://login.example/realms/x\"\nclient_id = \"\"\n\n[console.roles]\nadmin = [\"a\", \"a\"]\n",
    );
    assert_says(
        &all,
        &[
            "trusted_groups_header needs trusted_user_header",
            "token_lifetime must be between 1 day and 1 year",
            "needs client_secret_file",
            "http:// sends sign-in codes and the client secret unencrypted",
            "needs client_id",
            "group \"a\" already gives the role admin",
        ],
    );
    assert!(!all.contains(":1:1:"), "every error has its place: {all}");
    let all = errors_after_head(
        "[console.oidc]\nissuer = \"https://login.example/realms/x\"\nclient_id = \"mv\"\nclient_secret_env = \"HOME\"\n",
    );
    assert_says(&all, &["[console.oidc] needs [console.roles]"]);
    let ok = Config::from_str_at(
        Path::new("t.toml"),
        format!("{GOOD_HEAD}\n[console.oidc]\nissuer = \"https://login.example/realms/x\"\nclient_id = \"mv\"\nclient_secret_env = \"HOME\"\nscopes = [\"openid\", \"groups\"]\n\n[console.roles]\nviewer = [\"les\"]\noperator = [\"drift\"]\nadmin = [\"admin\"]\n"),
    )
    .unwrap();
    let c = &ok.daemon.console;
    let o = c.oidc.as_ref().unwrap();
    assert_eq!(o.scopes, ["groups"], "openid is always asked for, once");
    assert_eq!(
        (o.groups_claim.as_str(), o.label.as_str()),
        ("groups", "Single sign-on")
    );
    use crate::audit::Role;
    assert_eq!(
        c.roles.of(["les", "drift"]),
        Some(Role::Operator),
        "the highest"
    );
    assert_eq!(c.roles.of(["andre"]), None);
    assert_eq!(c.token_lifetime, chrono::Duration::days(90));
}

/// `[console]`: the SSO header must be a header, the proxies addresses, the lifetime sane.
#[test]
fn console_sign_in_settings_are_checked() {
    let all = errors_after_head(
        "[console]\ntrusted_user_header = \"Cookie\"\ntrusted_proxies = [\"proxy.example\", \"10.0.0.5\"]\nsession_lifetime = \"30d\"\n",
    );
    // Each bad address with its place; the good one passes.
    assert_says(
        &all,
        &[
            "\"cookie\" cannot carry what the proxy vouches for",
            "t.toml:18:",
            "\"proxy.example\" is not an IP address",
            "session_lifetime must be between 5 minutes and 7 days",
        ],
    );
    assert_eq!(all.matches("is not an IP address").count(), 1, "{all}");
    let ok = Config::from_str_at(
        Path::new("t.toml"),
        format!("{GOOD_HEAD}\n[console]\ntrusted_user_header = \"X-Remote-User\"\n"),
    )
    .unwrap();
    let c = &ok.daemon.console;
    assert_eq!(c.trusted_user_header.as_deref(), Some("x-remote-user"));
    assert_eq!(c.trusted_proxies.len(), 2, "loopback by default");
    assert!(c.enabled && !c.secure_cookie);
}

#[test]
fn oncall_numbers_are_checked_and_normalized() {
    let with = |n: &str| GOOD_HEAD.replace("ops = [", &format!("oncall = [{n}]\nops = ["));
    let e = errors(&with(r#""912 34 567""#));
    assert!(
        e.iter()
            .any(|e| e.starts_with("t.toml:7:") && e.contains("country code")),
        "{e:?}"
    );
    let e = errors(&with(r#""+47 912 34 567", "+4791234567""#));
    assert!(e.iter().any(|e| e.contains("listed twice")), "{e:?}");
    let c = Config::from_str_at(Path::new("t.toml"), with(r#""+47 912-34-567""#)).unwrap();
    assert_eq!(c.self_.oncall, ["+4791234567"]);
    assert!(
        example().self_.oncall.is_empty(),
        "nobody is paged by default"
    );
}

/// SPEC §4.16: the confirmation links go to organizations, so a `public_url` only this host
/// can reach is a warning while rounds run — and none when they do not.
#[test]
fn directory_links_to_a_loopback_address_are_a_warning() {
    let c = Config::from_str_at(Path::new("t.toml"), GOOD_HEAD.to_string()).expect("valid");
    let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        w.iter()
            .any(|w| w.contains("links will point to http://127.0.0.1:8080")),
        "{w:?}"
    );
    let off = format!("{GOOD_HEAD}\n[directory]\nrounds = false\n");
    let c = Config::from_str_at(Path::new("t.toml"), off).expect("valid");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let bad = errors_after_head("[directory]\nconfirm_every = \"soon\"\nreminder_after = 20\nunconfirmed_after = 10\nlink_lifetime = \"1h\"\n");
    assert_says(
        &bad,
        &[
            "invalid duration \"soon\"",
            "unconfirmed_after (10) must be later than reminder_after (20)",
            "link_lifetime must be from 1 day to 90 days",
        ],
    );
}
