#!/usr/bin/env python3
"""Benchmark two hosts on PostgreSQL (issue #12). Not a test.

usage: scripts/bench-ha.py [KILLS]      (from the repository root; run as root or as a user that
                                          can run Debian's postgresql programs; needs python3-aiosmtpd)

Starts its own PostgreSQL cluster in a temporary directory (Debian's postgresql package) and
reports, in one run:
  1. webhook ingestion, alerts per second, each durable before its 200: the embedded SQLite store
     and PostgreSQL (one host) side by side, same workload;
  2. fan-out latency on PostgreSQL: POST of an alert firing for 3 h until the 65th message is
     accepted by a real SMTP server (median of 5);
  3. failover: two hosts, the leader killed with SIGKILL KILLS times (default 20); time from the
     kill until the standby's /healthz says leader (median, max).
"""
import glob, http.client, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time
from datetime import datetime, timedelta, timezone

KILLS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
ROOT = os.path.abspath(os.path.dirname(__file__) + "/..")
subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
BIN = os.path.join(ROOT, "target/release/meldingsvakt")
PGBIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))[-1]
AS_PG = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] if os.geteuid() == 0 else []

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
from common import StampedSmtp, free_port, wait_port

tmp = tempfile.mkdtemp(prefix="mv-bench-ha-")
os.chmod(tmp, 0o755)
pgdir = os.path.join(tmp, "pg"); os.makedirs(pgdir)
open(os.path.join(pgdir, "pw"), "w").write("bench-password")
if os.geteuid() == 0:
    shutil.chown(pgdir, "postgres")
subprocess.run(AS_PG + [f"{PGBIN}/initdb", "-D", f"{pgdir}/data", "-U", "meldingsvakt", "--auth=scram-sha-256",
                        f"--pwfile={pgdir}/pw", "-E", "UTF8", "--locale=C", "--no-sync"], check=True, stdout=subprocess.DEVNULL)
pg_port = free_port()
pg = subprocess.Popen(AS_PG + [f"{PGBIN}/postgres", "-D", f"{pgdir}/data", "-p", str(pg_port), "-k", pgdir,
                               "-c", "listen_addresses=127.0.0.1"], stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/pg.log", "w"))
wait_port(pg_port)
time.sleep(0.5)
tokens = {}
for t in ("alert-token", "operator-token"):
    tokens[t] = os.urandom(24).hex(); open(f"{tmp}/{t}", "w").write(tokens[t])

smtps = []
def host(name, storage):
    d = os.path.join(tmp, name); os.makedirs(d)
    smtp = StampedSmtp(d); smtps.append(smtp)
    smtp_port, http_port = smtp.port, free_port()
    cfg = open(os.path.join(ROOT, "config/meldingsvakt.toml"), encoding="utf-8").read().replace(
        'include = ["organizations.d/*.toml"]',
        f'include = ["{ROOT}/config/organizations.d/*.toml"]\n\n[storage]\ndir = "state"\n{storage}\n\n[http]\nlisten = "127.0.0.1:{http_port}"\n'
        f'alert_token_file = "{tmp}/alert-token"\noperator_token_file = "{tmp}/operator-token"\n\n'
        f'[smtp]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n')
    open(os.path.join(d, "mv.toml"), "w", encoding="utf-8").write(cfg)
    return {"dir": d, "http": http_port, "smtp": smtp, "proc": None}

def start(h):
    h["proc"] = subprocess.Popen([BIN, "run", "--config", os.path.join(h["dir"], "mv.toml")], cwd=h["dir"],
                                 stdout=subprocess.DEVNULL, stderr=open(os.path.join(h["dir"], "daemon.log"), "a"))
    wait_port(h["http"])

def role(h):
    try:
        c = http.client.HTTPConnection("127.0.0.1", h["http"], timeout=1)
        c.request("GET", "/healthz"); return json.loads(c.getresponse().read()).get("role", "?")
    except OSError:
        return "down"

def wait_role(h, want, timeout=30):
    t = time.perf_counter()
    while role(h) != want:
        if time.perf_counter() - t > timeout: sys.exit(f"{h['dir']} did not become {want}")
        time.sleep(0.01)
    return time.perf_counter() - t

def post(conn, path, body):
    token = tokens["alert-token"] if path == "/api/v1/alerts" else tokens["operator-token"]
    conn.request("POST", path, body=json.dumps(body), headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    r = conn.getresponse(); data = r.read()
    if r.status >= 300: raise SystemExit(f"{path}: {r.status} {data[:200]}")

PG_STORAGE = f'url = "postgresql://meldingsvakt@127.0.0.1:{pg_port}/postgres"\npassword_file = "{pgdir}/pw"\nlease = "2s"'

def ingestion(h, n=3000, threads=4):
    def worker(k):
        c = http.client.HTTPConnection("127.0.0.1", h["http"])
        for i in range(k, n, threads):
            post(c, "/api/v1/alerts", {"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": f"Ing{i}",
                 "org": ["malvik", "melhus", "skaun", "frosta"][i % 4], "service": "PLO", "kind": "kvittering"}}]})
    t = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    [x.start() for x in ts]; [x.join() for x in ts]
    return n / (time.perf_counter() - t)

try:
    # 1. Ingestion, SQLite then PostgreSQL, same workload.
    sq = host("sqlite", ""); start(sq); time.sleep(0.5)
    sqlite_rate = ingestion(sq)
    sq["proc"].terminate(); sq["proc"].wait()
    a = host("a", PG_STORAGE); b = host("b", PG_STORAGE)
    start(a); wait_role(a, "leader")
    pg_rate = ingestion(a)
    print(f"webhook ingestion (3,000 alerts, 4 clients, one alert per POST, durable before 200): "
          f"SQLite {sqlite_rate:.0f} alerts/s, PostgreSQL {pg_rate:.0f} alerts/s (ratio PG/SQLite {pg_rate/sqlite_rate:.2f})")

    # 2. Fan-out on PostgreSQL.
    conn = http.client.HTTPConnection("127.0.0.1", a["http"])
    lat, first = [], []
    for r in range(5):
        started = (datetime.now(timezone.utc) - timedelta(hours=3)).isoformat()
        base = a["smtp"].count()
        t = time.perf_counter()
        post(conn, "/api/v1/alerts", {"version": "4", "status": "firing", "alerts": [{"status": "firing",
             "labels": {"alertname": f"Fan{r}", "service": "PLO", "severity": "C"}, "startsAt": started, "fingerprint": f"Fan{r}"}]})
        lat.append(a["smtp"].wait(base + 65, t))
        first.append(a["smtp"].at(base + 1) - t)
        post(conn, "/api/v1/alerts", {"version": "4", "status": "resolved", "alerts": [{"status": "resolved",
             "labels": {"alertname": f"Fan{r}", "service": "PLO", "severity": "C"}, "startsAt": started, "fingerprint": f"Fan{r}"}]})
        a["smtp"].wait(base + 130, t)
    print(f"fan-out on PostgreSQL, POST → 65th message at the SMTP server, 5 rounds: median {statistics.median(lat)*1000:.0f} ms "
          f"(min {min(lat)*1000:.0f}, max {max(lat)*1000:.0f}); first message: median {statistics.median(first)*1000:.0f} ms")

    # 3. Failover.
    start(b); wait_role(b, "standby")
    hosts, times = [a, b], []
    for k in range(KILLS):
        time.sleep(0.5)
        leader = next(h for h in hosts if role(h) == "leader")
        other = hosts[1 - hosts.index(leader)]
        leader["proc"].send_signal(signal.SIGKILL); leader["proc"].wait()
        times.append(wait_role(other, "leader"))
        start(leader); wait_role(leader, "standby")
    print(f"failover after kill -9 of the leader ({KILLS} kills, lease 2 s): median {statistics.median(times)*1000:.0f} ms, "
          f"max {max(times)*1000:.0f} ms (SPEC §5.7 asks ≤ 15 s)")
finally:
    for h in [x for x in globals().get("hosts", [])] + [globals().get("sq")]:
        if h and h.get("proc") and h["proc"].poll() is None:
            h["proc"].kill()
    for s in smtps: s.stop()
    pg.send_signal(signal.SIGINT); pg.wait()
    shutil.rmtree(tmp, ignore_errors=True)
