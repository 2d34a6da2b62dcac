#!/usr/bin/env python3
"""Benchmark the daemon on loopback with a real SMTP server (issue #3). Not a test.

usage: scripts/bench-daemon.py [ROUNDS]     (from the repository root; needs python3-aiosmtpd)

Reports:
  1. fan-out latency: POST /api/v1/alerts (an alert firing for 3 h, so the notice is due at
     once) until the 65th message is accepted by the SMTP server; then the resolution (65 Løst).
  2. webhook ingestion: alerts per second, each POST committed durably (fsync) before 200.
  3. resident memory of the idle daemon, and after 10,000 incidents.
  4. with Debian's prometheus-alertmanager installed: the same alert through Alertmanager's
     email receiver (group_wait 0s) to the same SMTP server, latency to first message.
"""
import http.client, json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time
from datetime import datetime, timedelta, timezone

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
ROOT = os.path.abspath(os.path.dirname(__file__) + "/..")
subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
BIN = os.path.join(ROOT, "target/release/meldingsvakt")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
from common import IDLE_BEFORE_ALERT, StampedSmtp, alertmanager_first_message, free_port, wait_port

tmp = tempfile.mkdtemp(prefix="mv-bench-")
smtp = StampedSmtp(tmp)
smtp_port, http_port = smtp.port, free_port()
cfg = open(os.path.join(ROOT, "config/meldingsvakt.toml"), encoding="utf-8").read().replace(
    'include = ["organizations.d/*.toml"]',
    f'include = ["{ROOT}/config/organizations.d/*.toml"]\n\n[storage]\ndir = "state"\n\n[http]\nlisten = "127.0.0.1:{http_port}"\n\n'
    f'[smtp]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n')
open(os.path.join(tmp, "mv.toml"), "w", encoding="utf-8").write(cfg)
daemon = subprocess.Popen([BIN, "run", "--config", os.path.join(tmp, "mv.toml")], cwd=tmp,
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "daemon.log"), "w"))
wait_port(http_port)
alert_token = open(os.path.join(tmp, "state/alert-token")).read().strip()
op_token = open(os.path.join(tmp, "state/operator-token")).read().strip()

def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

def post(conn, path, token, body):
    conn.request("POST", path, body=json.dumps(body), headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    r = conn.getresponse(); data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{path}: {r.status} {data[:200]}")

def alert(name, status, started):
    return {"version": "4", "status": status, "alerts": [{"status": status, "labels": {"alertname": name, "service": "PLO", "severity": "C"},
            "annotations": {}, "startsAt": started, "fingerprint": name}]}

time.sleep(0.5)
idle = rss_mib(daemon.pid)
conn = http.client.HTTPConnection("127.0.0.1", http_port)
notice, resolved, first = [], [], []
for r in range(ROUNDS):
    time.sleep(IDLE_BEFORE_ALERT)  # as before each of Alertmanager's (common.py)
    started = (datetime.now(timezone.utc) - timedelta(hours=3)).isoformat()
    base = smtp.count()
    t = time.perf_counter(); post(conn, "/api/v1/alerts", alert_token, alert(f"Bench{r}", "firing", started))
    notice.append(smtp.wait(base + 65, t))
    first.append(smtp.at(base + 1) - t)
    base = smtp.count()
    t = time.perf_counter(); post(conn, "/api/v1/alerts", alert_token, alert(f"Bench{r}", "resolved", started))
    resolved.append(smtp.wait(base + 65, t))
print(f"fan-out, POST → 65th message at the SMTP server, {ROUNDS} rounds: median {statistics.median(notice)*1000:.0f} ms "
      f"(min {min(notice)*1000:.0f}, max {max(notice)*1000:.0f}); first message: median {statistics.median(first)*1000:.0f} ms; "
      f"resolution (65 × Løst): median {statistics.median(resolved)*1000:.0f} ms")

# Ingestion: counterpart alerts (cheap for the engine: they join one group), one per POST.
N, THREADS = 6000, 4
def worker(k):
    c = http.client.HTTPConnection("127.0.0.1", http_port)
    for i in range(k, N, THREADS):
        post(c, "/api/v1/alerts", alert_token, {"version": "4", "alerts": [{"status": "firing",
             "labels": {"alertname": f"Ing{i}", "org": ["malvik", "melhus", "skaun", "frosta"][i % 4], "service": "PLO", "kind": "kvittering"}}]})
t = time.perf_counter()
ts = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
[x.start() for x in ts]; [x.join() for x in ts]
el = time.perf_counter() - t
print(f"webhook ingestion: {N} alerts in {el:.2f} s = {N/el:.0f} alerts/s ({THREADS} clients, one alert per POST, each committed with fsync before 200)")

# Memory after 10,000 incidents (counterpart incidents stay open: inquiry deadlines pending).
orgs = [l.split('"')[1] for l in open(os.path.join(ROOT, "config/organizations.d/midt-norge.toml"), encoding="utf-8") if l.startswith("id = ")][:65]
def opener(k):
    c = http.client.HTTPConnection("127.0.0.1", http_port)
    for i in range(k, 10000, THREADS):
        post(c, "/api/v1/incidents", op_token, {"id": f"M{i}", "kind": "kvittering", "at_org": orgs[i % 65], "services": ["PLO"], "category": "C"})
t = time.perf_counter()
ts = [threading.Thread(target=opener, args=(k,)) for k in range(THREADS)]
[x.start() for x in ts]; [x.join() for x in ts]
print(f"10,000 incidents opened through the API in {time.perf_counter()-t:.1f} s")
time.sleep(1)
print(f"resident memory: idle {idle:.1f} MiB; after 10,000 open incidents {rss_mib(daemon.pid):.1f} MiB")
daemon.terminate(); daemon.wait()

# Alertmanager with an email receiver, same SMTP server.
am = shutil.which("prometheus-alertmanager")
if am:
    lat = alertmanager_first_message(am, tmp, smtp, ROUNDS)
    print(f"Alertmanager email receiver (group_wait 0s), the same {IDLE_BEFORE_ALERT} s idle before each alert, POST → first message: median {statistics.median(lat)*1000:.0f} ms "
          f"(min {min(lat)*1000:.0f}, max {max(lat)*1000:.0f}); one message, no 2-hour rule, no per-organization fan-out")
else:
    print("prometheus-alertmanager not installed: comparison skipped")
smtp.stop()
shutil.rmtree(tmp, ignore_errors=True)
