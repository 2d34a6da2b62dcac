//! Every table and key of the configuration file, with its default and what it does: the
//! source of `meldingsvakt.toml(5)` (`meldingsvakt generate`). A test reads `raw.rs` and
//! fails when a key the parser accepts is missing here, or a key here is not accepted.

/// One key: its table (`""` for the top level; `[[…]]` tables by their name), its name, its
/// default (`None`: required, or empty), and what it does.
pub struct Key {
    pub table: &'static str,
    pub key: &'static str,
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

/// One table: its name as written (`[self]`, `[[organization]]`) and what it is for.
pub struct Table {
    pub table: &'static str,
    pub header: &'static str,
    pub doc: &'static str,
}

/// A key's manual entry.
pub(crate) const fn k(
    table: &'static str,
    key: &'static str,
    default: Option<&'static str>,
    doc: &'static str,
) -> Key {
    Key {
        table,
        key,
        default,
        doc,
    }
}

/// The core's tables, in the manual's order.
pub const TABLES: &[Table] = &[
    Table { table: "", header: "(top level)", doc: "Keys before the first table." },
    Table { table: "self", header: "[self]", doc: "Our own organization: who sends, and where ops are. Required." },
    Table { table: "organization", header: "[[organization]]", doc: "One per municipality, health trust or other counterpart; may live in included files." },
    Table { table: "service", header: "[[service]]", doc: "The message services; organizations' services must name declared ones." },
    Table { table: "ks_ekomp", header: "[[ks_ekomp]]", doc: "The KS e-Komp representative of an area, copied on inquiries and escalations." },
    Table { table: "policy", header: "[policy]", doc: "The routine's durations (SPEC §4)." },
    Table { table: "calendar", header: "[calendar]", doc: "Business hours, closed days and change freezes." },
    Table { table: "calendar.freeze", header: "[[calendar.freeze]]", doc: "A change freeze: maintenance inside it is accepted with a warning." },
    Table { table: "alerts.labels", header: "[alerts.labels]", doc: "The Alertmanager label names meldingsvakt reads." },
    Table { table: "templates", header: "[templates]", doc: "Message templates (Handlebars)." },
    Table { table: "http", header: "[http]", doc: "The HTTP listener: webhook, API, status page, console." },
    Table { table: "storage", header: "[storage]", doc: "Where the state lives: SQLite in the state directory, or PostgreSQL for two hosts." },
    Table { table: "maintenance", header: "[maintenance]", doc: "Planned maintenance declared in files." },
    Table { table: "imap", header: "[imap]", doc: "Our meldingsansvarlig mailbox, watched for replies, inbound inquiries and bounces (optional)." },
    Table { table: "report", header: "[report]", doc: "The monthly availability report (SPEC §4.13)." },
    Table { table: "console", header: "[console]", doc: "The operator console at /ops/ (SPEC §5.6)." },
    Table { table: "console.roles", header: "[console.roles]", doc: "Which groups give which role: viewer, operator, admin (SPEC §5.10)." },
    Table { table: "console.oidc", header: "[console.oidc]", doc: "Sign-in with OpenID Connect: authorization code with PKCE (SPEC §5.10)." },
    Table { table: "audit", header: "[audit]", doc: "The audit log of who did what (SPEC §5.10)." },
    Table { table: "directory", header: "[directory]", doc: "The rounds that keep organizations' contacts right (SPEC §4.16)." },
];

/// The core's keys (the rooms above declare theirs in their sections).
pub const KEYS: &[Key] = &[
    k("", "include", Some("[]"), "Files with [[organization]] tables, as globs relative to this file, e.g. [\"organizations.d/*.toml\"]."),
    k("self", "id", None, "Our organization id (letters, digits, - and _)."),
    k("self", "name", None, "Our name as recipients read it, e.g. \"Hemit HF\"."),
    k("self", "from", None, "The From address of every e-mail, e.g. \"Hemit meldingsansvarlig <meldingsansvarlig@helse-midt.example>\"."),
    k("self", "meldingsansvarlig", None, "Our meldingsansvarlig address: replies and inbound inquiries arrive here."),
    k("self", "phone", None, "The patient phone for our notices (the first line of every e-mail)."),
    k("self", "ops", None, "The operations centre's addresses: reminders, warnings, overdue notes."),
    k("self", "oncall", None, "On-call phone numbers (\"+47 …\") paged by SMS: a new priority-1 incident, the unacknowledged reminder, late delivery (SPEC §4.18). Empty: no SMS."),
    k("self", "region", None, "The region's shared address that also gets planned notices (SPEC §4.5)."),
    k("organization", "id", None, "The organization's id, as alerts' org label and the API name it."),
    k("organization", "name", None, "Its name, e.g. \"Malvik kommune\" (default: the id)."),
    k("organization", "kind", None, "kommune, hf or annen."),
    k("organization", "meldingsansvarlig", None, "Its meldingsansvarlig address: every notice goes here."),
    k("organization", "extra_addresses", Some("[]"), "More addresses that get the same notices."),
    k("organization", "phone", None, "Its patient phone (shown for its maintenance, and to ops to call)."),
    k("organization", "area", None, "Its area; the [[ks_ekomp]] of that area is copied on inquiries."),
    k("organization", "hf", None, "The id of its health trust (kind hf), copied on inquiries and escalations."),
    k("organization", "services", Some("[]"), "The services it exchanges (declared [[service]] ids)."),
    k("service", "id", None, "The service's id, as alerts' service label names it."),
    k("service", "name", None, "Its name as people read it; an id that is an abbreviation follows it in parentheses."),
    k("service", "component", None, "The Statuspage component it maps to."),
    k("ks_ekomp", "area", None, "The area it covers (organizations' area)."),
    k("ks_ekomp", "name", None, "Its name (default \"KS e-Komp AREA\")."),
    k("ks_ekomp", "email", None, "Its address."),
    k("policy", "publish_delay", Some("\"0m\""), "Wait before a priority 1-2 incident is published (at most 15 minutes)."),
    k("policy", "publish_priorities", Some("[1, 2]"), "The priorities published on the status page."),
    k("policy", "statuspage_update_interval", Some("\"30m\""), "The status page is updated at least this often while an incident is open."),
    k("policy", "unplanned_notice_after", Some("\"2h\""), "A stop longer than this is notified by e-mail (strictly longer)."),
    k("policy", "planned_notice_threshold", Some("\"2h\""), "A planned stop longer than this is notified by e-mail."),
    k("policy", "notice_lead", Some("\"7d\""), "A planned stop registered later than this before it starts gets an ops warning."),
    k("policy", "followup_after", Some("\"2h\""), "Business time before a counterpart's fault is followed up."),
    k("policy", "maintenance_grace", Some("\"15m\""), "Alerts still firing this long after a window ends become incidents."),
    k("policy", "ack_priority1", Some("\"30m\""), "Ops are reminded when a priority 1 incident is not acknowledged in this time."),
    k("policy", "ack_priority2", Some("\"45m\""), "The same for priority 2."),
    k("policy", "test_environment_mail", Some("false"), "Whether test-environment incidents e-mail organizations."),
    k("calendar", "timezone", Some("\"Europe/Oslo\""), "The time zone of business hours and of every time people read."),
    k("calendar", "business_start", Some("\"08:00\""), "Business hours start."),
    k("calendar", "business_end", Some("\"15:00\""), "Business hours end."),
    k("calendar", "half_day_end", Some("\"12:00\""), "Business hours end on half days (e.g. Christmas Eve)."),
    k("calendar", "closed_days", Some("[]"), "Extra closed days, \"YYYY-MM-DD\"."),
    k("calendar", "half_days", Some("[]"), "Extra half days, \"YYYY-MM-DD\"."),
    k("calendar.freeze", "name", Some("\"frysperiode\""), "The freeze's name, as warnings say it."),
    k("calendar.freeze", "from", None, "First day, \"YYYY-MM-DD\"."),
    k("calendar.freeze", "to", None, "Last day, \"YYYY-MM-DD\"."),
    k("alerts.labels", "org", Some("\"org\""), "Where the fault is: an organization id, or absent/self for our side."),
    k("alerts.labels", "service", Some("\"service\""), "The service."),
    k("alerts.labels", "kind", Some("\"kind\""), "feil, kvittering or info."),
    k("alerts.labels", "severity", Some("\"severity\""), "The category A-D (or critical/major/warning/info)."),
    k("alerts.labels", "impact", Some("\"impact\""), "alle, hoy, medium or lav (default: derived)."),
    k("alerts.labels", "environment", Some("\"environment\""), "produksjon or test."),
    k("templates", "dir", None, "A folder whose *.hbs files override the built-in templates of the same name (the package sets \"templates\")."),
    k("http", "listen", Some("\"127.0.0.1:8080\""), "Address and port to listen on."),
    k("http", "alert_token_file", Some("STATE/alert-token"), "The Alertmanager webhook's bearer token (made at first start when absent)."),
    k("http", "operator_token_file", Some("STATE/operator-token"), "The operators' bearer token (made at first start when absent)."),
    k("http", "max_body", Some("1048576"), "Largest request body in bytes."),
    k("http", "max_connections", Some("512"), "Open connections at most (keep it below LimitNOFILE)."),
    k("http", "public_url", Some("\"http://\" + listen"), "Where people reach this daemon, for the console links in ops e-mails."),
    k("storage", "dir", Some("$STATE_DIRECTORY, else \"var\""), "The state directory (SQLite, mail files, tokens)."),
    k("storage", "retention", Some("\"400d\""), "How long closed cases' history is kept (at least 31 days)."),
    k("maintenance", "dir", Some("\"maintenance.d\""), "Folder of maintenance files, beside this file."),
    k("maintenance", "horizon", Some("\"14d\""), "How far ahead recurring windows are declared."),
    k("imap", "host", None, "The IMAP server of our meldingsansvarlig mailbox."),
    k("imap", "port", Some("993 (tls), 143 (none)"), "Its port."),
    k("imap", "security", Some("\"tls\""), "tls, or none (loopback only)."),
    k("imap", "username", None, "Login name."),
    k("imap", "password_file", None, "A file holding the password."),
    k("imap", "password_env", None, "Or an environment variable holding it."),
    k("imap", "inbox", Some("\"INBOX\""), "The folder replies arrive in."),
    k("imap", "sent", Some("\"Sent\""), "The folder our answers to inquiries are in."),
    k("imap", "poll", Some("\"30s\""), "How often to look when the server has no IDLE."),
    k("report", "target_month", Some("99.7"), "Monthly availability target, in percent."),
    k("report", "target_12m", Some("99.9"), "Target over the 12 months ending with the month."),
    k("report", "recipients", Some("self.ops"), "Who gets the report e-mail."),
    k("directory", "rounds", Some("true"), "Ask each organization to confirm its contacts, every confirm_every."),
    k("directory", "confirm_every", Some("\"6 months\""), "The span after an organization last confirmed (calendar months, or e.g. \"180d\")."),
    k("directory", "reminder_after", Some("10"), "Working days without an answer before the one reminder."),
    k("directory", "unconfirmed_after", Some("20"), "Working days without an answer before ops are told."),
    k("directory", "spread", Some("10"), "The working days the first round is spread over."),
    k("directory", "link_lifetime", Some("\"30days\""), "How long a link in a request stays valid."),
    k("console", "enabled", Some("true"), "Serve the console."),
    k("console", "trusted_user_header", None, "The header an SSO reverse proxy puts the user's name in (none: token sign-in only)."),
    k("console", "trusted_proxies", Some("[\"127.0.0.1\", \"::1\"]"), "The addresses that proxy may connect from."),
    k("console", "session_lifetime", Some("\"12h\""), "How long a sign-in lasts (5 minutes to 7 days)."),
    k("console", "secure_cookie", Some("false"), "Mark the session cookie Secure (behind HTTPS)."),
    k("console", "trusted_groups_header", None, "The header the SSO proxy puts the user's groups in (comma-separated), mapped by [console.roles] (none: a proxy's user is an operator)."),
    k("console", "token_lifetime", Some("\"90days\""), "How long a personal API token lasts (1 day to 1 year)."),
    k("console.roles", "viewer", Some("[]"), "Groups whose members may read everything."),
    k("console.roles", "operator", Some("[]"), "Groups whose members may also act on cases and maintenance."),
    k("console.roles", "admin", Some("[]"), "Groups whose members may also manage tokens and export the audit log."),
    k("console.oidc", "issuer", None, "The provider's issuer URL, e.g. \"https://login.microsoftonline.com/TENANT/v2.0\"."),
    k("console.oidc", "client_id", None, "This daemon's client id at the provider."),
    k("console.oidc", "client_secret_file", None, "A file holding the client secret (e.g. a systemd credential)."),
    k("console.oidc", "client_secret_env", None, "Or an environment variable holding it."),
    k("console.oidc", "groups_claim", Some("\"groups\""), "The ID token claim that lists the person's groups."),
    k("console.oidc", "scopes", Some("[\"profile\", \"email\"]"), "Scopes asked for besides openid (Keycloak: add \"groups\" if its mapper needs a scope)."),
    k("console.oidc", "label", Some("\"Single sign-on\""), "The provider's name on the sign-in button."),
    k("audit", "retention", Some("\"5years\""), "How long audit entries are kept (at least 1 year); older ones are compacted behind an anchor the chain still verifies from."),
];

/// The fields of the `Raw*` structs in `src` (named in `structs` with their table) are
/// exactly `keys`, and there are more than `min` of them. Each room that reads its own
/// table runs it over its own file.
#[cfg(test)]
pub(crate) fn assert_documented(src: &str, structs: &[(&str, &str)], keys: &[Key], min: usize) {
    let mut accepted: Vec<(String, String)> = Vec::new();
    let mut current: Option<&str> = None;
    let mut rename: Option<String> = None;
    for line in src.lines().map(str::trim) {
        let line = line.strip_prefix("pub(crate) ").map_or(line, |l| l);
        if let Some(rest) = line
            .strip_prefix("pub struct ")
            .or_else(|| line.strip_prefix("struct "))
        {
            let name = rest.split([' ', '{', '(']).next().unwrap_or("");
            current = structs.iter().find(|(s, _)| *s == name).map(|(_, t)| *t);
            if current.is_none() && name.starts_with("Raw") && name != "RawInclude" {
                panic!("a struct {name} this test does not know");
            }
            continue;
        }
        if line == "}" {
            current = None;
            continue;
        }
        if let Some(r) = line
            .strip_prefix("#[serde(rename = \"")
            .and_then(|r| r.split('"').next())
        {
            rename = Some(r.to_string());
            continue;
        }
        let Some(table) = current else { continue };
        let Some(field) = line.strip_prefix("pub ").and_then(|l| l.split(':').next()) else {
            continue;
        };
        let name = rename.take().unwrap_or_else(|| field.to_string());
        let ty = line.split(':').nth(1).unwrap_or("");
        // A field that is itself a table (or a list of tables) is documented as a table.
        if ty.contains("Raw") {
            continue;
        }
        accepted.push((table.to_string(), name));
    }
    assert!(accepted.len() > min, "{accepted:?}");
    for (t, key) in &accepted {
        assert!(
            keys.iter().any(|k| k.table == t && k.key == key),
            "[{t}] {key} is accepted but not documented"
        );
    }
    for k in keys {
        assert!(
            accepted.iter().any(|(t, key)| t == k.table && key == k.key),
            "[{}] {} is documented but not accepted",
            k.table,
            k.key
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The struct that holds each table's keys in `raw.rs`.
    const STRUCTS: &[(&str, &str)] = &[
        ("RawConfig", ""),
        ("RawSelf", "self"),
        ("RawOrg", "organization"),
        ("RawService", "service"),
        ("RawKs", "ks_ekomp"),
        ("RawPolicy", "policy"),
        ("RawCalendar", "calendar"),
        ("RawFreeze", "calendar.freeze"),
        ("RawAlerts", "alerts"),
        ("RawLabels", "alerts.labels"),
        ("RawTemplates", "templates"),
        ("RawHttp", "http"),
        ("RawMaintenanceFiles", "maintenance"),
        ("RawStorage", "storage"),
        ("RawImap", "imap"),
        ("RawReport", "report"),
        ("RawConsole", "console"),
        ("RawRoles", "console.roles"),
        ("RawOidc", "console.oidc"),
        ("RawAudit", "audit"),
        ("RawDirectory", "directory"),
    ];

    /// Every field of every `Raw*` struct (its serde name) is documented, and nothing else.
    #[test]
    fn every_key_the_parser_accepts_is_documented() {
        assert_documented(include_str!("raw.rs"), STRUCTS, KEYS, 70);
        for k in KEYS {
            assert!(
                TABLES.iter().any(|t| t.table == k.table),
                "{} has no table",
                k.table
            );
        }
    }
}
