//! `[sms]`: how on-call texts leave the daemon (SPEC §4.18) — any HTTP SMS gateway, given
//! its URL, method, a body template and its credential from a file, or the preset for
//! Sveve (sveve.no, a Norwegian gateway whose API is public: <https://sveve.no/apidok/send>).
//!
//! ```toml
//! [sms]
//! preset = "sveve"                # fills url, method, body and auth for Sveve
//! user = "hemit"
//! password_file = "sms-password"  # or password_env; never in this file
//! from = "Hemit"                  # the sender the phone shows
//! ```
//!
//! A generic gateway:
//!
//! ```toml
//! [sms]
//! url = "https://sms.example/v1/messages"
//! method = "POST"                 # or GET: the body template is then the query string
//! body = '{"to": "{{to}}", "text": "{{text}}"}'
//! content_type = "application/json"
//! auth = "bearer"                 # the secret as `Authorization: Bearer`; or basic, body, none
//! password_file = "sms-token"
//! ```
//!
//! The body template sees `to` (one number: one request per number), `text`, `from`,
//! `user`, `password` (with `auth = "body"` only) and `ref` (the same for every attempt
//! of one text to one number). Values are escaped for the content type: JSON string
//! contents, or percent-encoding for forms and GET.

use crate::config::section::prelude::*;
use crate::config::Secret;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawSms {
    /// "sveve": the Norwegian gateway's URL, method, body and auth.
    pub preset: Option<String>,
    /// The gateway's endpoint; `https://`, or `http://` to a loopback host.
    pub url: Option<String>,
    /// "POST" (default) or "GET".
    pub method: Option<String>,
    /// The request body (GET: the query string), a Handlebars template.
    pub body: Option<String>,
    /// Default "application/json".
    pub content_type: Option<String>,
    /// "bearer", "basic", "body" or "none".
    pub auth: Option<String>,
    pub user: Option<String>,
    pub password_file: Option<String>,
    pub password_env: Option<String>,
    /// The sender the phone shows (Sveve: at most 11 letters and digits).
    pub from: Option<String>,
    /// Per request (default 10 s).
    pub timeout: Option<Dur>,
}

/// Its keys, for `meldingsvakt.toml(5)`.
#[rustfmt::skip]
pub(crate) const KEYS: &[Key] = &[
    k("sms", "preset", None, "sveve: Sveve's API (sveve.no), which fills url, method, body and auth."),
    k("sms", "url", Some("the preset's"), "The gateway's endpoint: https://, or http:// to a loopback host."),
    k("sms", "method", Some("\"POST\""), "POST, or GET (the body template is then the query string)."),
    k("sms", "body", Some("{\"to\": \"{{to}}\", \"text\": \"{{text}}\"}"), "The request, a Handlebars template over to, text, from, user, password (auth = body) and ref."),
    k("sms", "content_type", Some("\"application/json\""), "The body's type; values are escaped for it."),
    k("sms", "auth", Some("\"bearer\" with a secret, else \"none\""), "bearer, basic (user and the secret), body (the secret as {{password}}) or none."),
    k("sms", "user", None, "The gateway account."),
    k("sms", "password_file", None, "A file holding the gateway's password or token."),
    k("sms", "password_env", None, "Or an environment variable holding it."),
    k("sms", "from", None, "The sender the phone shows."),
    k("sms", "timeout", Some("\"10s\""), "Per request."),
];

// The room's table, read and validated by the room itself.
crate::section! {
    name: "sms",
    doc: "How on-call texts (SPEC §4.18, to [self] oncall) leave the daemon: an HTTP SMS gateway (optional; without it, texts are recorded as not sent).",
    keys: KEYS,
    raw: RawSms,
    validate: |v: &mut Validator<'_>, raw, _: &Config| settings(v, raw),
}

/// How the credential travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    Bearer,
    Basic,
    /// Only inside the body template, as `{{password}}`.
    Body,
    None,
}

/// How the template's values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    Json,
    Form,
    Raw,
}

/// A validated `[sms]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub url: String,
    pub get: bool,
    pub body: String,
    pub content_type: String,
    pub escape: Escape,
    pub auth: Auth,
    pub user: Option<String>,
    pub secret: Option<Secret>,
    pub from: Option<String>,
    pub timeout: Duration,
    /// Read the answer as Sveve's JSON (an HTTP 200 can still carry an error).
    pub sveve: bool,
}

/// Sveve's send API (<https://sveve.no/apidok/send>), body option 1.
const SVEVE_URL: &str = "https://sveve.no/SMS/SendMessage";
const SVEVE_BODY: &str = r#"{"user": "{{user}}", "passwd": "{{password}}", "to": "{{to}}", "msg": "{{text}}", "from": "{{from}}", "ref": "{{ref}}", "f": "json"}"#;
const GENERIC_BODY: &str = r#"{"to": "{{to}}", "text": "{{text}}"}"#;

fn settings(v: &mut Validator<'_>, raw: RawSms) -> Option<Settings> {
    let sveve = match raw.preset.as_deref() {
        None => false,
        Some("sveve") => true,
        Some(other) => {
            v.err(0, tpath!["sms", "preset"], format!("unknown preset {other:?}: expected \"sveve\" (or leave it out and give url and body)"));
            false
        }
    };
    let url = match raw.url {
        Some(u) => u,
        None if sveve => SVEVE_URL.to_string(),
        None if raw.body.is_none()
            && raw.user.is_none()
            && raw.password_file.is_none()
            && raw.password_env.is_none() =>
        {
            return None;
        }
        None => {
            v.err(
                0,
                tpath!["sms"],
                "missing required key `url` (or `preset = \"sveve\"`)",
            );
            return None;
        }
    };
    v.endpoint(
        tpath!["sms", "url"],
        &url,
        "https://sms.example/v1/messages",
        "phone numbers and the gateway's credential",
    );
    let get = match raw
        .method
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("POST") => false,
        Some("GET") => true,
        Some(other) => {
            v.err(
                0,
                tpath!["sms", "method"],
                format!("unknown method {other:?}: expected \"POST\" or \"GET\""),
            );
            false
        }
    };
    let secret = v.secret("sms", raw.password_file, raw.password_env, None);
    let auth = match raw.auth.as_deref() {
        None if sveve => Auth::Body,
        None if secret.is_some() => Auth::Bearer,
        None => Auth::None,
        Some("bearer") => Auth::Bearer,
        Some("basic") => Auth::Basic,
        Some("body") => Auth::Body,
        Some("none") => Auth::None,
        Some(other) => {
            v.err(
                0,
                tpath!["sms", "auth"],
                format!(
                    "unknown auth {other:?}: expected \"bearer\", \"basic\", \"body\" or \"none\""
                ),
            );
            Auth::None
        }
    };
    if auth != Auth::None && secret.is_none() {
        v.err(0, tpath!["sms"], "the gateway's credential needs `password_file` (e.g. a systemd credential) or `password_env`; it never lives in this file");
    }
    if (auth == Auth::Basic || sveve) && raw.user.is_none() {
        v.err(
            0,
            tpath!["sms"],
            "missing required key `user` (the gateway account)",
        );
    }
    let body = raw
        .body
        .unwrap_or_else(|| if sveve { SVEVE_BODY } else { GENERIC_BODY }.to_string());
    if let Err(e) = handlebars::Template::compile(&body) {
        v.err(
            0,
            tpath!["sms", "body"],
            format!("the body template does not compile: {e}"),
        );
    }
    if !body.contains("{{to}}") || !body.contains("{{text}}") {
        v.err(
            0,
            tpath!["sms", "body"],
            "the body template must place {{to}} and {{text}}",
        );
    }
    if auth != Auth::Body && body.contains("{{password}}") {
        v.err(
            0,
            tpath!["sms", "body"],
            "{{password}} goes into the body only with auth = \"body\"",
        );
    }
    let content_type = raw
        .content_type
        .unwrap_or_else(|| "application/json".into());
    let escape = if get || content_type.starts_with("application/x-www-form-urlencoded") {
        Escape::Form
    } else if content_type.contains("json") {
        Escape::Json
    } else {
        Escape::Raw
    };
    let timeout = raw.timeout.map_or(Duration::seconds(10), |d| d.0);
    if timeout < Duration::seconds(1) || timeout > Duration::minutes(2) {
        v.err(
            0,
            tpath!["sms", "timeout"],
            "timeout must be between 1 second and 2 minutes",
        );
    }
    Some(Settings {
        url,
        get,
        body,
        content_type,
        escape,
        auth,
        user: raw.user,
        secret,
        from: raw.from.or_else(|| sveve.then(|| "27333".into())),
        timeout,
        sveve,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    /// The configuration, or every problem, one per line.
    fn check(extra: &str) -> Result<Config, Problems> {
        let root = crate::testutil::example_config_path();
        let text = std::fs::read_to_string(&root).unwrap() + extra;
        Config::from_str_with(&root, text, Some(&[&super::SECTION]))
            .map_err(|es| Problems(es.iter().map(|e| format!("{e}\n")).collect()))
    }

    #[derive(Debug)]
    struct Problems(String);

    impl Problems {
        fn contains(&self, s: &str) -> bool {
            self.0.contains(s)
        }
    }

    impl std::fmt::Display for Problems {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    #[test]
    fn the_sveve_preset_fills_the_request_and_asks_for_the_account() {
        let c = check("\n[sms]\npreset = \"sveve\"\nuser = \"hemit\"\npassword_env = \"MV_SMS\"\n")
            .unwrap();
        let s = c.sections.get::<super::Settings>().unwrap();
        assert_eq!(s.url, "https://sveve.no/SMS/SendMessage");
        assert_eq!(s.auth, super::Auth::Body);
        assert_eq!(s.escape, super::Escape::Json);
        assert!(s.body.contains("\"passwd\": \"{{password}}\""));
        let e = check("\n[sms]\npreset = \"sveve\"\n").unwrap_err();
        assert!(e.contains("`user`") && e.contains("password_file"), "{e}");
    }

    #[test]
    fn a_generic_gateway_is_checked_where_it_is_written() {
        let e = check("\n[sms]\nurl = \"http://sms.example/send\"\nbody = \"{{to}}\"\nauth = \"carrier-pigeon\"\n")
            .unwrap_err();
        assert!(e.contains("loopback"), "{e}");
        assert!(e.contains("must place {{to}} and {{text}}"), "{e}");
        assert!(e.contains("unknown auth \"carrier-pigeon\""), "{e}");
        assert!(e.contains("meldingsvakt.toml:"), "the place is named: {e}");
        let e =
            check("\n[sms]\nurl = \"https://sms.example/send\"\nbody = \"{{#if to}}{{text}}\"\n")
                .unwrap_err();
        assert!(e.contains("does not compile"), "{e}");
        let c = check("\n[sms]\nurl = \"http://127.0.0.1:9/send\"\nmethod = \"get\"\nbody = \"to={{to}}&msg={{text}}\"\n")
            .unwrap();
        let s = c.sections.get::<super::Settings>().unwrap();
        assert!(s.get && s.escape == super::Escape::Form && s.auth == super::Auth::None);
        // No table: no sink.
        assert!(check("")
            .unwrap()
            .sections
            .get::<super::Settings>()
            .is_none());
    }
}
