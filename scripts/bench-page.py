#!/usr/bin/env python3
"""Benchmark the built-in status page (issue #4): GET / with 100 open incidents and 1,000 in
history, with wrk on loopback (Debian's `wrk`). Not a test.

usage: scripts/bench-page.py [SECONDS]       (from the repository root)
"""
import http.client, json, os, re, shutil, socket, subprocess, sys, tempfile, time

secs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
ROOT = os.path.abspath(os.path.dirname(__file__) + "/..")
subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
if not shutil.which("wrk"):
    sys.exit("wrk is not installed: apt-get install wrk")
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
tmp = tempfile.mkdtemp(prefix="mv-page-")
cfg = open(os.path.join(ROOT, "config/meldingsvakt.toml"), encoding="utf-8").read().replace(
    'include = ["organizations.d/*.toml"]', f'include = ["{ROOT}/config/organizations.d/*.toml"]\n\n[storage]\ndir = "state"\n\n[http]\nlisten = "127.0.0.1:{port}"\n')
open(os.path.join(tmp, "mv.toml"), "w", encoding="utf-8").write(cfg)
d = subprocess.Popen([os.path.join(ROOT, "target/release/meldingsvakt"), "run", "--config", os.path.join(tmp, "mv.toml")], cwd=tmp,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(300):
    try:
        socket.create_connection(("127.0.0.1", port), 0.1).close(); break
    except OSError:
        time.sleep(0.02)
tok = open(os.path.join(tmp, "state/operator-token")).read().strip()
c = http.client.HTTPConnection("127.0.0.1", port)
def post(path, body):
    c.request("POST", path, body=json.dumps(body), headers={"Authorization": f"Bearer {tok}"}); r = c.getresponse(); r.read()
    assert r.status < 300, (path, r.status)
svcs = ["PLO", "helsestasjon", "epikrise", "lab"]
for i in range(1000):
    post("/api/v1/incidents", {"id": f"H{i}", "services": [svcs[i % 4]], "category": "A"})
    post(f"/api/v1/incidents/H{i}/resolve", {})
for i in range(100):
    post("/api/v1/incidents", {"id": f"O{i}", "services": [svcs[i % 4]], "category": "B" if i % 2 else "A", "measures": "Feilsøking pågår"})
c.request("GET", "/"); r = c.getresponse(); size = len(r.read())
out = subprocess.run(["wrk", "-t2", "-c32", f"-d{secs}s", "--latency", f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
rps = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)
p50 = re.search(r"50%\s+([\d.]+\w+)", out).group(1)
print(f"GET / with 100 open incidents and 1,000 in history ({size} bytes of HTML): {float(rps):.0f} requests/s, p50 {p50}, p99 {p99} (wrk -t2 -c32 -d{secs}s, loopback, same 2-core machine)")
d.terminate(); d.wait(); shutil.rmtree(tmp, ignore_errors=True)
