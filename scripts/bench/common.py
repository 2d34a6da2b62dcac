"""What the benchmark scripts share: loopback ports, and Alertmanager as the peer for the
time from an alert to its first e-mail."""
import http.client, json, os, socket, subprocess, sys, time


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_port(p, timeout=30):
    t = time.time()
    while time.time() - t < timeout:
        try:
            socket.create_connection(("127.0.0.1", p), 0.2).close(); return
        except OSError:
            time.sleep(0.02)
    sys.exit(f"nothing on port {p}")


def alertmanager_first_message(am, tmp, smtp_port, rounds, count_mail):
    """Alertmanager (`am`, its binary) with one e-mail receiver on the SMTP server at
    `smtp_port` (group_wait 0s): for each of `rounds` alerts, the seconds from the POST until
    `count_mail()` has grown by one."""
    am_port = free_port()
    amdir = os.path.join(tmp, "am"); os.makedirs(amdir)
    open(os.path.join(amdir, "am.yml"), "w").write(f"""
global:
  smtp_smarthost: '127.0.0.1:{smtp_port}'
  smtp_from: 'am@hemit.example'
  smtp_require_tls: false
route:
  receiver: mail
  group_by: ['alertname']
  group_wait: 0s
  group_interval: 1s
receivers:
- name: mail
  email_configs:
  - to: 'meldingsansvarlig@malvik.kommune.example'
""")
    p = subprocess.Popen([am, f"--config.file={amdir}/am.yml", f"--storage.path={amdir}", f"--web.listen-address=127.0.0.1:{am_port}",
                          "--cluster.listen-address="], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(am_port); time.sleep(1)
        c = http.client.HTTPConnection("127.0.0.1", am_port)
        lat = []
        for r in range(rounds):
            base = count_mail()
            t = time.perf_counter()
            c.request("POST", "/api/v2/alerts", body=json.dumps([{"labels": {"alertname": f"AmBench{r}", "service": "PLO"}}]),
                      headers={"Content-Type": "application/json"})
            c.getresponse().read()
            while count_mail() < base + 1 and time.perf_counter() - t < 30: time.sleep(0.0002)
            lat.append(time.perf_counter() - t)
        return lat
    finally:
        p.terminate(); p.wait()
