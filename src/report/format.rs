//! The report as CSV (one row per service and a totals row) and as HTML that prints well to
//! PDF (A4, tables never cut across pages). Text is Norwegian bokmål; every value escaped.

use super::Report;

/// `service,navn,nedetid_minutter,tilgjengelighet,mål,oppfylt,12m_måneder,12m_tilgjengelighet,12m_mål,12m_oppfylt`,
/// one row per service, then `TOTALT` (summed downtime, the mean availability).
pub fn csv(r: &Report) -> String {
    let q = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let yn = |b: bool| if b { "ja" } else { "nei" };
    let mut out = String::from("måned,tjeneste,navn,nedetid_minutter,tilgjengelighet,mål,oppfylt,12m_måneder,12m_tilgjengelighet,12m_mål,12m_oppfylt\n");
    for s in &r.services {
        let t = &s.rolling_12m;
        out.push_str(&format!(
            "{},{},{},{:.1},{:.3},{},{},{},{:.3},{},{}\n",
            r.month,
            q(&s.service),
            q(&s.name),
            s.downtime_minutes,
            s.availability,
            s.target,
            yn(s.met),
            t.months,
            t.availability,
            t.target,
            yn(t.met)
        ));
    }
    let n = r.services.len().max(1) as f64;
    let down: f64 = r.services.iter().map(|s| s.downtime_minutes).sum();
    let mean = r.services.iter().map(|s| s.availability).sum::<f64>() / n;
    let mean12 = r
        .services
        .iter()
        .map(|s| s.rolling_12m.availability)
        .sum::<f64>()
        / n;
    out.push_str(&format!(
        "{},TOTALT,Alle tjenester,{:.1},{:.3},,,,{:.3},,\n",
        r.month,
        (down * 10.0).round() / 10.0,
        (mean * 1000.0).round() / 1000.0,
        (mean12 * 1000.0).round() / 1000.0
    ));
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A whole HTML document; `org` is our organization's name.
pub fn html(r: &Report, org: &str) -> String {
    let pct = |v: f64| format!("{v:.3} %").replace('.', ",");
    let target = |v: f64| format!("{v} %").replace('.', ",");
    let mut rows = String::new();
    let mut details = String::new();
    for s in &r.services {
        let t = &s.rolling_12m;
        rows.push_str(&format!(
            "<tr><th scope=\"row\">{} <span class=\"id\">({})</span></th><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{} ({} mnd.)</td><td class=\"{}\">{}</td></tr>\n",
            esc(&s.name),
            esc(&s.service),
            format!("{:.1}", s.downtime_minutes).replace('.', ","),
            pct(s.availability),
            target(s.target),
            if s.met { "ok" } else { "brudd" },
            if s.met { "Oppfylt" } else { "Ikke oppfylt" },
            pct(t.availability),
            t.months,
            if t.met { "ok" } else { "brudd" },
            if t.met { "Oppfylt" } else { "Ikke oppfylt" },
        ));
        if !s.incidents.is_empty() {
            details.push_str(&format!(
                "<section><h3>{0}</h3><div class=\"wide\" role=\"region\" aria-label=\"Hendelser: {0}\" tabindex=\"0\"><table><thead><tr><th scope=\"col\">Hendelse</th><th scope=\"col\">Fra</th><th scope=\"col\">Til</th><th scope=\"col\">Minutter</th></tr></thead><tbody>\n",
                esc(&s.name)
            ));
            for i in &s.incidents {
                let f = |t: &str| {
                    chrono::DateTime::parse_from_rfc3339(t)
                        .map(|t| t.format("%d.%m.%Y kl. %H:%M").to_string())
                        .unwrap_or_else(|_| esc(t))
                };
                details.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                    esc(&i.id),
                    f(&i.from),
                    f(&i.to),
                    format!("{:.1}", i.minutes).replace('.', ",")
                ));
            }
            details.push_str("</tbody></table></div></section>\n");
        }
    }
    if details.is_empty() {
        details.push_str("<p>Ingen nedetid som teller i måneden.</p>\n");
    }
    format!(
        r#"<!doctype html>
<html lang="nb">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tilgjengelighet {name} – {org}</title>
<style>
@page {{ size: A4; margin: 18mm 15mm; }}
body {{ font-family: system-ui, sans-serif; color: #1a1a1a; max-width: 60rem; margin: 1rem auto; padding: 0 1rem; line-height: 1.4; }}
table {{ border-collapse: collapse; width: 100%; margin: 0.5rem 0 1.5rem; }}
th, td {{ border: 1px solid #8a8a8a; padding: 0.3rem 0.5rem; text-align: left; }}
thead {{ display: table-header-group; }}
tr, section {{ break-inside: avoid; page-break-inside: avoid; }}
.id {{ color: #4a4a4a; font-weight: normal; }}
.wide {{ overflow-x: auto; }}
@media print {{ .wide {{ overflow: visible; }} }}
.ok {{ color: #0b6b1f; }}
.brudd {{ color: #a4000f; font-weight: bold; }}
@media (max-width: 40rem) {{ table {{ font-size: 0.85rem; }} }}
</style>
</head>
<body>
<main>
<h1>Tilgjengelighet {name}</h1>
<p>{org}. Produksjonsmiljøet, {hours} timer i måneden. Nedetid er tiden fra en feil med prioritet 1 eller 2 hos oss ble registrert til den ble rettet, utenom planlagt og varslet vedlikehold.</p>
<div class="wide" role="region" aria-label="Tilgjengelighet per tjeneste" tabindex="0">
<table>
<caption>Tilgjengelighet per tjeneste</caption>
<thead><tr><th scope="col">Tjeneste</th><th scope="col">Nedetid (min)</th><th scope="col">Tilgjengelighet</th><th scope="col">Mål</th><th scope="col">Mål nådd</th><th scope="col">Siste 12 måneder</th><th scope="col">Mål nådd (12 mnd.)</th></tr></thead>
<tbody>
{rows}</tbody>
</table>
</div>
<h2>Hendelser som teller</h2>
{details}</main>
</body>
</html>
"#,
        name = esc(&super::month_name(&r.month)),
        org = esc(org),
        hours = r.hours,
    )
}
