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

/// A whole HTML document; `org` is our organization's name, `contact` the address for
/// questions. Percentages keep their sign on the line (`99,7&nbsp;%`); below 40rem each
/// table row becomes a block with its column names, so every column shows at 375 px; in
/// print the page carries its own header (the browser's is turned off with a zero margin).
pub fn html(r: &Report, org: &str, contact: &str) -> String {
    use super::{duration_text, ReportState};
    let pct = |v: f64| format!("{v:.3}&nbsp;%").replace('.', ",");
    let target = |v: f64| format!("{v}&nbsp;%").replace('.', ",");
    let local = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| t.format("%d.%m.%Y kl.&nbsp;%H:%M").to_string())
            .unwrap_or_else(|_| esc(t))
    };
    let yes = |b: bool| {
        if b {
            ("ok", "Oppfylt")
        } else {
            ("brudd", "Ikke oppfylt")
        }
    };
    let no_data = r.state == ReportState::NoData;
    let mut rows = String::new();
    let mut details = String::new();
    for s in &r.services {
        let t = &s.rolling_12m;
        let (c1, w1) = yes(s.met);
        let (c2, w2) = yes(t.met);
        if no_data {
            rows.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td data-label=\"Nedetid\">ingen data</td><td data-label=\"Tilgjengelighet\">ingen data</td><td data-label=\"Mål\">{}</td><td data-label=\"Mål nådd\">–</td><td data-label=\"Siste 12 måneder\">ingen data</td><td data-label=\"Mål nådd (12 mnd.)\">–</td></tr>\n",
                esc(&s.name),
                target(s.target),
            ));
            continue;
        }
        rows.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td data-label=\"Nedetid\">{}</td><td data-label=\"Tilgjengelighet\">{}</td><td data-label=\"Mål\">{}</td><td data-label=\"Mål nådd\" class=\"{c1}\">{w1}</td><td data-label=\"Siste 12 måneder\">{} ({}&nbsp;mnd.)</td><td data-label=\"Mål nådd (12 mnd.)\" class=\"{c2}\">{w2}</td></tr>\n",
            esc(&s.name),
            duration_text(s.downtime_minutes).replace(' ', "&nbsp;"),
            pct(s.availability),
            target(s.target),
            pct(t.availability),
            t.months,
        ));
        for i in &s.incidents {
            details.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td data-label=\"Tjeneste\">{}</td><td data-label=\"Hva\">{}</td><td data-label=\"Prioritet\">{}</td><td data-label=\"Fra\">{}</td><td data-label=\"Til\">{}</td><td data-label=\"Nedetid\">{}</td></tr>\n",
                esc(&i.id),
                esc(&s.name),
                esc(&i.title),
                if i.priority == 0 { "–".to_string() } else { i.priority.to_string() },
                local(&i.from),
                if i.open { "pågår".to_string() } else { local(&i.to) },
                duration_text(i.minutes).replace(' ', "&nbsp;"),
            ));
        }
    }
    let total: f64 = r.services.iter().map(|s| s.downtime_minutes).sum();
    if !no_data {
        rows.push_str(&format!(
            "<tr class=\"total\"><th scope=\"row\">Alle tjenester</th><td data-label=\"Nedetid\">{}</td><td data-label=\"Tilgjengelighet\"></td><td data-label=\"Mål\"></td><td data-label=\"Mål nådd\"></td><td data-label=\"Siste 12 måneder\"></td><td data-label=\"Mål nådd (12 mnd.)\"></td></tr>\n",
            duration_text(total).replace(' ', "&nbsp;")
        ));
    }
    let details = if no_data {
        String::new()
    } else if details.is_empty() {
        "<h2>Hendelser som teller</h2>\n<p>Ingen nedetid som teller i måneden.</p>\n".into()
    } else {
        format!(
            "<h2>Hendelser som teller</h2>\n<table class=\"cards\"><caption class=\"sr\">Hendelser som teller</caption><thead><tr><th scope=\"col\">Hendelse</th><th scope=\"col\">Tjeneste</th><th scope=\"col\">Hva</th><th scope=\"col\">Prioritet</th><th scope=\"col\">Fra</th><th scope=\"col\">Til</th><th scope=\"col\">Nedetid</th></tr></thead><tbody>\n{details}</tbody></table>\n"
        )
    };
    let mut excluded = String::new();
    if !no_data && !r.excluded_maintenance.is_empty() {
        excluded.push_str("<h2>Planlagt vedlikehold som ikke er regnet som nedetid</h2>\n<ul>\n");
        for m in &r.excluded_maintenance {
            excluded.push_str(&format!(
                "<li>{}: {} – {}</li>\n",
                esc(&m.id),
                local(&m.from),
                local(&m.to)
            ));
        }
        excluded.push_str("</ul>\n");
    }
    let state = match r.state {
        ReportState::NoData => "<p class=\"note\"><strong>Ingen data:</strong> meldingsvakt hadde ikke registrert noe i denne måneden, så det finnes ingen tall å rapportere.</p>".to_string(),
        ReportState::Preliminary => format!("<p class=\"note\"><strong>Foreløpig:</strong> måneden er ikke over. Tallene gjelder fram til {}.</p>", local(&r.generated_at)),
        ReportState::Final => String::new(),
    };
    let suffix = if r.state == ReportState::Preliminary {
        " (foreløpig)"
    } else {
        ""
    };
    format!(
        r#"<!doctype html>
<html lang="nb">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tilgjengelighet {name}{suffix} – {org}</title>
<style>
@page {{ size: A4; margin: 0; }}
body {{ font-family: system-ui, sans-serif; color: #1a1a1a; max-width: 60rem; margin: 1rem auto; padding: 0 1rem; line-height: 1.4; }}
table {{ border-collapse: collapse; width: 100%; margin: 0.5rem 0 1.5rem; }}
th, td {{ border: 1px solid #8a8a8a; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }}
thead {{ display: table-header-group; }}
tr, section {{ break-inside: avoid; page-break-inside: avoid; }}
.total th, .total td {{ font-weight: bold; border-top: 2px solid #1a1a1a; }}
.ok {{ color: #0b6b1f; }}
.brudd {{ color: #a4000f; font-weight: bold; }}
.note {{ border-left: 4px solid #8a5a00; padding: 0.3rem 0.6rem; background: #fff6e0; }}
.sr {{ position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }}
.print-header {{ display: none; }}
footer {{ margin-top: 2rem; color: #4a4a4a; }}
@media print {{
  body {{ margin: 18mm 15mm; max-width: none; padding: 0; }}
  .print-header {{ display: flex; justify-content: space-between; border-bottom: 1px solid #8a8a8a; margin-bottom: 1rem; font-size: 0.85rem; }}
}}
@media (max-width: 40rem) {{
  table, thead, tbody, tr, th, td {{ display: block; }}
  thead tr {{ position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }}
  tr {{ border: 1px solid #8a8a8a; margin-bottom: 0.6rem; }}
  th, td {{ border: none; padding: 0.15rem 0.5rem; }}
  td[data-label]::before {{ content: attr(data-label) ": "; font-weight: 600; }}
  td:empty {{ display: none; }}
}}
</style>
</head>
<body>
<div class="print-header" aria-hidden="true"><span>{org}</span><span>Tilgjengelighet {name}{suffix}</span><span>Laget {generated}</span></div>
<main>
<h1>Tilgjengelighet {name}{suffix}</h1>
<p>{org}. Produksjonsmiljøet, {hours} timer i måneden. Nedetid er tiden fra en feil med prioritet 1 eller 2 hos oss ble registrert til den ble rettet, utenom planlagt og varslet vedlikehold.</p>
{state}
<table>
<caption>Tilgjengelighet per tjeneste</caption>
<thead><tr><th scope="col">Tjeneste</th><th scope="col">Nedetid</th><th scope="col">Tilgjengelighet</th><th scope="col">Mål</th><th scope="col">Mål nådd</th><th scope="col">Siste 12 måneder</th><th scope="col">Mål nådd (12 mnd.)</th></tr></thead>
<tbody>
{rows}</tbody>
</table>
{details}{excluded}</main>
<footer><p>Laget {generated} av meldingsvakt. Spørsmål om rapporten: <a href="mailto:{contact}">{contact}</a>.</p></footer>
</body>
</html>
"#,
        name = esc(&super::month_name(&r.month)),
        org = esc(org),
        hours = r.hours,
        generated = local(&r.generated_at),
        contact = esc(contact),
    )
}
