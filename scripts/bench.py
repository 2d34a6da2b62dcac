#!/usr/bin/env python3
"""Every speed figure of issue #13 in one run, each beside its peer or physical limit measured
in the same run on the same machine, as a ratio. Not a test: figures depend on the machine.

usage: scripts/bench.sh [ROUNDS]   (from the repository root; ROUNDS defaults to 5)

Needs (Debian): python3-aiosmtpd, wrk, nginx (or nginx-light), prometheus-alertmanager;
scripts/bench.sh installs what is missing. Builds the release binary, and a second one with
glibc malloc (feature `system-alloc`) for the memory row.

Rows:
  simulate    the heavy year (scripts/gen-year.py 37000 500 … 0.25: a quarter of our-side
              incidents fan out to all 65 municipalities, ~250,000 actions); limit: writing
              the same JSON bytes to a file.
  fan-out     alert POST → 65th notice accepted by aiosmtpd (Maildir); limit: the same server
              taking 65 messages of the same size from a plain client on 8 connections.
  first       alert POST → first message; peer: Alertmanager's email receiver (group_wait 0s),
              same SMTP server.
  ingestion   webhook alerts/s, each durable before its 200 (wrk, 64 connections, one alert a
              request); limit: fsyncs/s on the state directory's disk (one commit per request).
  idle RSS    the idle daemon (VmRSS); peer: the same daemon built with glibc malloc.
  GET /       status page with 100 open incidents and 1,000 in history (wrk -c32); peer: nginx
              serving a file of the same size.
  national    Norway's 356 municipalities and 20,000 subscribers against Debian's Postfix,
              beside Postfix's own smtp-source (scripts/bench/national.py).
"""
import http.client, json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, threading, time
from datetime import datetime, timedelta, timezone

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
ROOT = os.path.abspath(os.path.dirname(__file__) + "/..")
os.chdir(ROOT)
subprocess.run(["cargo", "build", "--release", "--quiet"], check=True)
subprocess.run(["cargo", "build", "--release", "--quiet", "--features", "system-alloc",
                "--target-dir", "target/sysalloc"], check=True)
BIN = os.path.join(ROOT, "target/release/meldingsvakt")
BIN_GLIBC = os.path.join(ROOT, "target/sysalloc/release/meldingsvakt")
os.makedirs("target/bench", exist_ok=True)
rows = []


def row(name, ours, peer, ratio, target, met):
    rows.append((name, ours, peer, ratio, target, "yes" if met else "NO"))
    print(f"  {name}: {ours} | {peer} | {ratio} | target {target}", flush=True)


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
from common import IDLE_BEFORE_ALERT, StampedSmtp, alertmanager_first_message, free_port, wait_port


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024


def wrk(url, secs, conns, script=None, env=None):
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{secs}s", "--latency"] + (["-s", script] if script else []) + [url]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99, int(bad.group(1)) if bad else 0


# ---------------------------------------------------------------- simulate
print("simulate: the heavy year", flush=True)
year = "target/bench/heavy-year.toml"
if not os.path.exists(year):
    subprocess.run([sys.executable, "scripts/gen-year.py", "37000", "500", year, "2026", "0.25"], check=True, stdout=subprocess.DEVNULL)
out_path = "target/bench/heavy-year.jsonl"
times, peak = [], 0
for _ in range(3):
    with open(out_path, "wb") as out:
        t = time.perf_counter()
        p = subprocess.Popen([BIN, "simulate", year], stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        times.append(time.perf_counter() - t)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("simulate failed")
    peak = max(peak, usage.ru_maxrss / 1024)
actions = sum(1 for _ in open(out_path, "rb"))
data = open(out_path, "rb").read()
writes = []
for _ in range(3):
    t = time.perf_counter()
    with open("target/bench/write-limit.jsonl", "wb") as f:
        f.write(data)
    writes.append(time.perf_counter() - t)
os.remove("target/bench/write-limit.jsonl")
sim, lim = statistics.median(times), statistics.median(writes)
us = sim / actions * 1e6
row("simulate, heavy year", f"{sim:.2f} s, {us:.1f} µs/action ({actions} actions), peak {peak:.0f} MiB",
    f"writing its {len(data) / 1e6:.0f} MB of JSON: {lim:.2f} s", f"{sim / lim:.0f}×",
    "≤ 2 µs/action, < 100 MiB", us <= 2 and peak < 100)

# ---------------------------------------------------------------- daemon with SMTP
tmp = tempfile.mkdtemp(prefix="mv-bench-")
smtp = StampedSmtp(tmp)
maildir, smtp_port, http_port = smtp.maildir, smtp.port, free_port()

def config(port, smtp_section):
    return open("config/meldingsvakt.toml", encoding="utf-8").read().replace(
        'include = ["organizations.d/*.toml"]',
        f'include = ["{ROOT}/config/organizations.d/*.toml"]\n\n[storage]\ndir = "state"\n\n[http]\nlisten = "127.0.0.1:{port}"\n\n{smtp_section}')


def start(binary, dirname, port, smtp_section=""):
    d = os.path.join(tmp, dirname); os.makedirs(d)
    open(os.path.join(d, "mv.toml"), "w", encoding="utf-8").write(config(port, smtp_section))
    p = subprocess.Popen([binary, "run", "--config", os.path.join(d, "mv.toml")], cwd=d,
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "daemon.log"), "w"))
    wait_port(port)
    return p, d


def post(conn, path, token, body):
    conn.request("POST", path, body=json.dumps(body), headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    r = conn.getresponse(); data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{path}: {r.status} {data[:200]}")


print("daemon: fan-out and first message", flush=True)
daemon, ddir = start(BIN, "daemon", http_port, f'[smtp]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n')
time.sleep(1)
idle = rss_mib(daemon.pid)
alert_token = open(os.path.join(ddir, "state/alert-token")).read().strip()
conn = http.client.HTTPConnection("127.0.0.1", http_port)
notice, first, step = [], [], []
for r in range(ROUNDS):
    time.sleep(IDLE_BEFORE_ALERT)  # as before each of Alertmanager's (common.py)
    started = (datetime.now(timezone.utc) - timedelta(hours=3)).isoformat()
    base = smtp.count()
    t = time.perf_counter()
    post(conn, "/api/v1/alerts", alert_token, {"version": "4", "status": "firing", "alerts": [{"status": "firing",
         "labels": {"alertname": f"Bench{r}", "service": "PLO", "severity": "C"}, "annotations": {}, "startsAt": started}]})
    notice.append(smtp.wait(base + 65, t))
    first.append(smtp.at(base + 1) - t)
    step.append((smtp.at(base + 65) - smtp.at(base + 1)) / 64)
    # Resolve it (65 × Løst), so the next round's alert opens a new incident.
    post(conn, "/api/v1/alerts", alert_token, {"version": "4", "status": "resolved", "alerts": [{"status": "resolved",
         "labels": {"alertname": f"Bench{r}", "service": "PLO", "severity": "C"}, "annotations": {}, "startsAt": started}]})
    smtp.wait(base + 130, t)
# The limit: the same server, 65 messages of our size from a plain client on 8 connections.
import smtplib
size = len(open(os.path.join(maildir, "new", sorted(os.listdir(os.path.join(maildir, "new")))[0]), "rb").read())
sample = b"Subject: Feil i meldingsutveksling\r\n\r\n" + (b"y" * 74 + b"\r\n") * (size // 76)

limits, lim_step = [], []
for _ in range(ROUNDS):
    conns = []
    for k in range(8):
        s = smtplib.SMTP("127.0.0.1", smtp_port); s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); s.ehlo(); conns.append(s)
    def w(k):
        for i in range(k, 65, 8):
            conns[k].sendmail("meldingsansvarlig@helse-midt.example", [f"m{i}@kommune.example"], sample)
    time.sleep(IDLE_BEFORE_ALERT)  # as before each of our alerts (common.py)
    base = smtp.count()
    t = time.perf_counter()
    ts = [threading.Thread(target=w, args=(k,)) for k in range(8)]; [x.start() for x in ts]; [x.join() for x in ts]
    limits.append(smtp.wait(base + 65, t))
    lim_step.append((smtp.at(base + 65) - smtp.at(base + 1)) / 64)
    [s.quit() for s in conns]
fan, lim = statistics.median(notice), statistics.median(limits)
row("alert POST → 65th notice at the SMTP server", f"{fan * 1000:.0f} ms (min {min(notice) * 1000:.0f}; "
    f"then {statistics.median(step) * 1000:.2f} ms per message after the first)",
    f"aiosmtpd taking 65 such messages from a plain client, 8 connections: {lim * 1000:.0f} ms "
    f"({statistics.median(lim_step) * 1000:.2f} ms per message after the first)", f"{fan / lim:.2f}×",
    "< 100 ms", fan < 0.1)

am = shutil.which("prometheus-alertmanager")
ours_first = statistics.median(first)
if am:
    am_first = statistics.median(alertmanager_first_message(am, tmp, smtp, ROUNDS))
    am_hot = statistics.median(alertmanager_first_message(am, tmp, smtp, ROUNDS, idle=0))
    row("alert POST → first message", f"{ours_first * 1000:.1f} ms (min {min(first) * 1000:.1f})",
        f"Alertmanager email receiver, the same {IDLE_BEFORE_ALERT} s idle before each alert: {am_first * 1000:.1f} ms "
        f"(its alerts back to back: {am_hot * 1000:.1f} ms)",
        f"{ours_first / am_first:.2f}×", "≤ Alertmanager's", ours_first <= am_first)
else:
    row("alert POST → first message", f"{ours_first * 1000:.1f} ms", "prometheus-alertmanager not installed", "–", "≤ Alertmanager's", False)

# ---------------------------------------------------------------- ingestion
print("daemon: ingestion", flush=True)
fs = []
probe = os.path.join(ddir, "state", "fsync-probe")
with open(probe, "wb") as f:
    t = time.perf_counter(); n = 0
    while time.perf_counter() - t < 2:
        f.write(b"x" * 512); f.flush(); os.fsync(f.fileno()); n += 1
    fsyncs = n / (time.perf_counter() - t)
os.remove(probe)
env = dict(os.environ, MV_TOKEN=alert_token)
before = None
rps, p99, bad = wrk(f"http://127.0.0.1:{http_port}/", 5, 64, "scripts/bench/ingest.lua", env)
row("webhook ingestion, each alert durable before 200", f"{rps:,.0f} alerts/s (p99 {p99}, {bad} non-2xx)",
    f"one fsync per request on this disk: {fsyncs:,.0f}/s", f"{rps / fsyncs:.1f}×", "≥ 10,000 alerts/s", rps >= 10000 and bad == 0)
daemon.terminate(); daemon.wait()

# ---------------------------------------------------------------- idle memory
print("daemon: idle memory", flush=True)
rss = {}
for name, binary in (("mimalloc", BIN), ("glibc", BIN_GLIBC)):
    vals = []
    for k in range(3):
        port = free_port()
        p, _ = start(binary, f"idle-{name}-{k}", port)
        time.sleep(2)
        vals.append(rss_mib(p.pid))
        p.terminate(); p.wait()
    rss[name] = statistics.median(vals)
row("idle resident memory", f"{rss['mimalloc']:.1f} MiB", f"same daemon with glibc malloc: {rss['glibc']:.1f} MiB",
    f"{rss['mimalloc'] / rss['glibc']:.2f}×", "≤ 15 MiB", rss["mimalloc"] <= 15)

# ---------------------------------------------------------------- status page vs nginx
print("status page and nginx", flush=True)
port = free_port()
page, pdir = start(BIN, "page", port)
tok = open(os.path.join(pdir, "state/operator-token")).read().strip()
c = http.client.HTTPConnection("127.0.0.1", port)
svcs = ["PLO", "helsestasjon", "epikrise", "lab"]
for i in range(1000):
    post(c, "/api/v1/incidents", tok, {"id": f"H{i}", "services": [svcs[i % 4]], "category": "A"})
    post(c, f"/api/v1/incidents/H{i}/resolve", tok, {})
for i in range(100):
    post(c, "/api/v1/incidents", tok, {"id": f"O{i}", "services": [svcs[i % 4]], "category": "B" if i % 2 else "A", "measures": "Feilsøking pågår"})
c.request("GET", "/"); r = c.getresponse(); html = r.read()
ours, ours_p99, bad = wrk(f"http://127.0.0.1:{port}/", 8, 32)
if bad:
    sys.exit(f"the status page answered {bad} requests with an error")
page.terminate(); page.wait()
ng = shutil.which("nginx") or "/usr/sbin/nginx"
ngdir = os.path.join(tmp, "nginx"); os.makedirs(os.path.join(ngdir, "www"))
# nginx started as root serves from worker processes running as `nobody`: the file and every
# directory above it must be readable by others, or the row measures fast 403s.
os.chmod(tmp, 0o755); os.chmod(ngdir, 0o755); os.chmod(os.path.join(ngdir, "www"), 0o755)
open(os.path.join(ngdir, "www", "index.html"), "wb").write(html)
nport = free_port()
open(os.path.join(ngdir, "nginx.conf"), "w").write(f"""
daemon off; worker_processes 2; pid {ngdir}/nginx.pid; error_log {ngdir}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path {ngdir}; proxy_temp_path {ngdir}; fastcgi_temp_path {ngdir}; uwsgi_temp_path {ngdir}; scgi_temp_path {ngdir};
  server {{ listen 127.0.0.1:{nport}; root {ngdir}/www; default_type text/html; }} }}
""")
ngp = subprocess.Popen([ng, "-c", os.path.join(ngdir, "nginx.conf"), "-p", ngdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wait_port(nport)
theirs, their_p99, bad = wrk(f"http://127.0.0.1:{nport}/index.html", 8, 32)
if bad:
    sys.exit(f"nginx answered {bad} requests with an error; its row would be invalid (see {ngdir}/error.log)")
ngp.terminate(); ngp.wait()
row(f"status page GET / ({len(html) // 1000} KB)", f"{ours:,.0f} req/s (p99 {ours_p99})", f"nginx, same file: {theirs:,.0f} req/s (p99 {their_p99})",
    f"{ours / theirs:.2f}×", "≥ 0.95× nginx", ours >= 0.95 * theirs)

smtp.stop()

# ---------------------------------------------------------------- national scale (issue #32)
print("national: 356 municipalities, 20,000 subscribers, Postfix", flush=True)
import national
national.rows(BIN, tmp, row, ROUNDS, rss_mib)
shutil.rmtree(tmp, ignore_errors=True)

print()
print("| measure | meldingsvakt | peer / limit, same run | ratio | target | met |")
print("|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
