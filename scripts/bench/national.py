"""Issue #32's national rows: Norway's 356 municipalities and 20,000 subscribers, with Debian's
Postfix as the mail server and its own `smtp-source` as the limit, all in one run.

Rows:
  356 notices     alert POST → all 356 municipal notices accepted by Postfix (when the daemon
                  recorded the 356th, from its log's "delivered" lines; see `Delivered`),
                  after the same idle pause as the limit's; limit: smtp-source, 356
                  messages of the same size on 8 sessions (the daemon's window).
  356 + 20,000    the same with 20,000 confirmed subscribers: → all 20,356 accepted; limit:
                  smtp-source, 20,356 messages on 8 sessions. And the order Postfix finished
                  them in: every municipal notice before the 1,000th subscriber mail.
  idle RSS        the daemon idle with the national configuration and 20,000 subscribers.
  10,000 open     its RSS with 10,000 open incidents.
"""
import http.client, json, os, statistics, subprocess, sys, time
from datetime import datetime, timedelta, timezone

from common import IDLE_BEFORE_ALERT, free_port, national_config, wait_port
from postfix import Postfix

ROOT = os.path.abspath(os.path.dirname(__file__) + "/../..")


def metric(port, name):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def wait_metric(port, name, n, since, timeout=600, every=0.05):
    """Seconds from `since` until the counter `name` reached `n`, asked every `every` s."""
    while metric(port, name) < n:
        if time.perf_counter() - since > timeout:
            sys.exit(f"{name} stayed below {n} for {timeout} s")
        time.sleep(every)
    return time.perf_counter() - since


class Delivered:
    """When the daemon recorded its deliveries, read from its log ("delivered … kind=K", with
    the time of each line), so timing our rows costs the daemon nothing: asking `/metrics`
    every 2 ms took 0.1 ms of its CPU each time, beside Postfix on the same 2 cores, which
    the `smtp-source` limit is not charged."""

    def __init__(self, path):
        self.path, self.offset, self.counts, self.rest = path, 0, {}, b""

    def _read(self, kind, stop_at):
        with open(self.path, "rb") as f:
            f.seek(self.offset); data = self.rest + f.read()
        self.offset += len(data) - len(self.rest)
        *lines, self.rest = data.split(b"\n")
        hit = None
        for line in lines:
            if b" delivered " not in line:
                continue
            k = line.rsplit(b" kind=", 1)[-1].decode()
            self.counts[k] = self.counts.get(k, 0) + 1
            if k == kind and hit is None and self.counts[k] >= stop_at:
                hit = datetime.strptime(line.split()[0].decode(), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        return hit

    def count(self, kind):
        self._read(kind, float("inf"))
        return self.counts.get(kind, 0)

    def wait(self, kind, n, wall, timeout=600):
        """Seconds from `wall` (time.time() at the request) until the `n`-th delivery of `kind`."""
        while (hit := self._read(kind, n)) is None:
            if time.time() - wall > timeout:
                sys.exit(f"{kind}: {self.counts.get(kind, 0)} of {n} delivered after {timeout} s")
            time.sleep(0.002)
        return hit.timestamp() - wall


def alert(name, status="firing"):
    started = (datetime.now(timezone.utc) - timedelta(hours=3)).isoformat()
    return {"version": "4", "status": status, "alerts": [{"status": status,
            "labels": {"alertname": name, "service": "PLO", "severity": "C"}, "annotations": {}, "startsAt": started}]}


def post(port, token, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/api/v1/alerts", body=json.dumps(body),
              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    r = c.getresponse(); data = r.read()
    if r.status >= 300:
        sys.exit(f"alert: {r.status} {data[:200]}")


def rows(bin, tmp, row, rounds, rss_mib):
    pf = Postfix(os.path.join(tmp, "postfix"))
    nat = os.path.join(tmp, "national")
    port = free_port()
    cfg = national_config(nat, port, f'[smtp]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {pf.port}\nsecurity = "none"\n')
    open(os.path.join(nat, "mv.toml"), "w", encoding="utf-8").write(cfg)

    log = os.path.join(nat, "daemon.log")
    delivered = Delivered(log)

    def start():
        p = subprocess.Popen([bin, "run", "--config", os.path.join(nat, "mv.toml")], cwd=nat,
                             stdout=subprocess.DEVNULL, stderr=open(log, "a"))
        wait_port(port)
        return p

    try:
        d = start()
        time.sleep(1)
        token = open(os.path.join(nat, "state/alert-token")).read().strip()
        ours = []
        for r in range(rounds):
            base, base_res = delivered.count("unplanned"), delivered.count("resolved")
            wall = time.time()
            post(port, token, alert(f"Nasjonal{r}"))
            ours.append(delivered.wait("unplanned", base + 356, wall))
            wall = time.time()
            post(port, token, alert(f"Nasjonal{r}", "resolved"))
            delivered.wait("resolved", base_res + 356, wall)
            time.sleep(0.3)
        size = statistics.median(pf.sizes() or [1500])
        limit = []
        for _ in range(rounds):
            time.sleep(IDLE_BEFORE_ALERT)  # as before each of our alerts (common.py)
            limit.append(pf.smtp_source(356, 8, int(size)))
        o, l = statistics.median(ours), statistics.median(limit)
        row("alert POST → all 356 municipal notices accepted by Postfix", f"{o * 1000:.0f} ms",
            f"smtp-source, 356 messages of {size / 1000:.1f} kB on 8 sessions: {l * 1000:.0f} ms", f"{o / l:.2f}×",
            "≤ 1.3× Postfix's limit", o <= 1.3 * l)

        # 20,000 subscribers.
        d.terminate(); d.wait()
        subprocess.run(["sqlite3", os.path.join(nat, "state/meldingsvakt.db")],
                       stdin=open(os.path.join(nat, "subscribers.sql")), check=True)
        d = start()
        time.sleep(2)
        idle = rss_mib(d.pid)
        row("idle RSS, national configuration + 20,000 subscribers", f"{idle:.1f} MiB", "–", "–", "≤ 20 MiB", idle <= 20)
        done_before = len(pf.discarded())
        base, subs = delivered.count("unplanned"), metric(port, "meldingsvakt_subscriber_mail_sent_total")
        t, wall = time.perf_counter(), time.time()
        post(port, token, alert("NasjonalAbonnenter"))
        notices = delivered.wait("unplanned", base + 356, wall)
        # Every subscriber follows PLO or everything, or not: the post's count is the store's.
        want = int(subprocess.run(["sqlite3", os.path.join(nat, "state/meldingsvakt.db"),
                                   "SELECT count(*) FROM subscriber WHERE services = '[]' OR services LIKE '%\"PLO\"%'"],
                                  capture_output=True, text=True, check=True).stdout)
        total = wait_metric(port, "meldingsvakt_subscriber_mail_sent_total", subs + want, t)
        time.sleep(1)
        order = pf.discarded()[done_before:]
        municipal = [i for i, a in enumerate(order) if a.endswith(".kommune.example")]
        subscribers_before = sum(1 for a in order[:max(municipal) + 1] if a.endswith("@abonnent.example")) if municipal else -1
        d.terminate(); d.wait()
        time.sleep(IDLE_BEFORE_ALERT)
        lim = pf.smtp_source(356 + want, 8, int(size))
        row(f"alert POST → 356 notices + {want:,} subscriber mails accepted", f"{total:.1f} s (the 356 in {notices * 1000:.0f} ms; "
            f"{subscribers_before} subscriber mails before the last notice)",
            f"smtp-source, {356 + want:,} messages on 8 sessions: {lim:.1f} s", f"{total / lim:.2f}×",
            "≤ 1.3× Postfix's limit; the 356 before the 1,000th subscriber mail",
            total <= 1.3 * lim and 0 <= subscribers_before < 1000)

        # 10,000 open incidents (priority 4: neither published nor mailed within the run).
        d = start()
        op = open(os.path.join(nat, "state/operator-token")).read().strip()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(10_000):
            c.request("POST", "/api/v1/incidents", body=json.dumps({"id": f"OPEN-{i}", "services": ["lab"], "category": "D"}),
                      headers={"Authorization": f"Bearer {op}", "Content-Type": "application/json"})
            r = c.getresponse(); r.read()
            if r.status >= 300:
                sys.exit(f"incident {i}: {r.status}")
        time.sleep(2)
        busy = rss_mib(d.pid)
        d.terminate(); d.wait()
        row("RSS with 10,000 open incidents (national, 20,000 subscribers)", f"{busy:.1f} MiB", f"idle: {idle:.1f} MiB",
            f"+{(busy - idle) * 1024 / 10_000:.1f} KiB an incident", "tens of MiB at most (SPEC §6)", busy <= 100)
    finally:
        pf.stop()
