"""What the benchmark scripts share: loopback ports, an SMTP server that records when it
accepted each message, and Alertmanager as the peer for the time from an alert to its first
e-mail."""
import http.client, json, os, socket, subprocess, sys, tempfile, time


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def national_config(dir, port, tail=""):
    """Writes Norway's organizations into `dir` (scripts/gen-example-orgs.py --national) and
    returns its configuration text with state in `dir/state`, HTTP on `port`, then `tail`."""
    root = os.path.abspath(os.path.dirname(__file__) + "/../..")
    subprocess.run([sys.executable, os.path.join(root, "scripts/gen-example-orgs.py"), "--national", dir],
                   check=True, stdout=subprocess.DEVNULL)
    return open(os.path.join(dir, "meldingsvakt.toml"), encoding="utf-8").read().replace(
        'include = ["organizations.toml"]',
        f'include = ["organizations.toml"]\n\n[storage]\ndir = "state"\n\n[http]\nlisten = "127.0.0.1:{port}"\n\n{tail}')


def wait_port(p, timeout=30):
    t = time.time()
    while time.time() - t < timeout:
        try:
            socket.create_connection(("127.0.0.1", p), 0.2).close(); return
        except OSError:
            time.sleep(0.02)
    sys.exit(f"nothing on port {p}")


STAMP_WIDTH = 21  # one stamp line of scripts/bench/stamped.py: "%20.6f\n"

# Every timed alert, ours and Alertmanager's, comes after this pause with nothing to do: an
# alert reaches an idle daemon, and on this machine idleness alone is costly. A trivial
# `GET /healthz` round trip takes 0.17 ms back to back and 1.9 ms after 0.3 s idle (the
# processors are woken), and Alertmanager's first message takes about twice as long after
# such a pause as back to back. So every peer or limit a row compares us with is timed
# under the same pause (Alertmanager here, the plain clients of scripts/bench.py, Postfix's
# smtp-source in national.py), never one idle and the other hot.
IDLE_BEFORE_ALERT = 0.3


class StampedSmtp:
    """aiosmtpd on a loopback port, saving to `dir/maildir` and stamping each accepted message
    (scripts/bench/stamped.py). Latencies are the server's stamp minus the client's
    `time.perf_counter()` before its request: the same clock in both processes."""

    def __init__(self, dir):
        self.width, self.maildir = STAMP_WIDTH, os.path.join(dir, "maildir")
        self.stamps = os.path.join(dir, "stamps")
        open(self.stamps, "w").close()
        self.port = free_port()
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
        self.p = subprocess.Popen(["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
                                   "-c", "stamped.StampedMailbox", self.maildir, self.stamps],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def count(self):
        """Messages accepted so far (one stat, no directory listing)."""
        return os.stat(self.stamps).st_size // self.width

    def at(self, n):
        """When the `n`-th message (1-based) was accepted."""
        with open(self.stamps, "rb") as f:
            f.seek((n - 1) * self.width)
            return float(f.read(self.width))

    def wait(self, n, since, timeout=30):
        """Seconds from `since` until the `n`-th message was accepted; polls every millisecond."""
        while self.count() < n:
            if time.perf_counter() - since > timeout:
                sys.exit(f"the SMTP server had {self.count()} of {n} messages after {timeout} s")
            time.sleep(0.001)
        return self.at(n) - since

    def stop(self):
        self.p.terminate(); self.p.wait()


def alertmanager_first_message(am, tmp, smtp, rounds, idle=IDLE_BEFORE_ALERT):
    """Alertmanager (`am`, its binary) with one e-mail receiver on `smtp` (a StampedSmtp;
    group_wait 0s): for each of `rounds` alerts, the seconds from the POST until the server
    accepted its message. Each alert comes `idle` seconds after the last message was
    accepted (0: back to back)."""
    smtp_port = smtp.port
    am_port = free_port()
    amdir = tempfile.mkdtemp(prefix="am-", dir=tmp)
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
            time.sleep(idle)
            base = smtp.count()
            t = time.perf_counter()
            c.request("POST", "/api/v2/alerts", body=json.dumps([{"labels": {"alertname": f"AmBench{r}-{idle}", "service": "PLO"}}]),
                      headers={"Content-Type": "application/json"})
            c.getresponse().read()
            lat.append(smtp.wait(base + 1, t))
        return lat
    finally:
        p.terminate(); p.wait()
