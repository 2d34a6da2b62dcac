#!/usr/bin/env python3
"""Regenerates link/startup.order: the functions of the daemon that run from its start until it
is idle, which build.rs has the linker place next to each other in release builds (lld's
--symbol-ordering-file). The kernel maps a program's code 64 KiB around every page it faults in,
so code run once at start, spread over the 14 MB binary, kept most of it resident in an idle
daemon (issue #32: 11 MiB of code pages). Placed together, the same functions take about 3 MiB.

The list names functions with their mangled hashes, which change with the compiler version and
the dependencies' versions. A stale list only costs memory, never correctness (lld ignores names
it cannot find): run this again after `cargo update` or a new Rust, and commit the list.
`scripts/rss-breakdown.sh` prints how much of the list the binary still has.

It runs the release binary under valgrind's callgrind (installed by hand: this is a tool for
developers, not a test), in the three starts that an idle daemon has behind it:
  1. the example configuration, first start (the state directory is made);
  2. the same, started again;
  3. the national configuration (scripts/gen-example-orgs.py --national) with 20,000 subscribers,
     an incident behind it and SMTP as the transport, started again.
Each waits for the HTTP port, asks /healthz and /metrics (what monitoring does), waits 2 s and
is stopped with SIGTERM.

Usage: scripts/startup-order.py [BINARY]          (default target/release/meldingsvakt)
       scripts/startup-order.py --check BINARY  how much of the list BINARY has (no valgrind)
"""
import json, os, re, signal, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.abspath(os.path.dirname(__file__) + "/..")
sys.path.insert(0, os.path.join(ROOT, "scripts/bench"))
from common import free_port, national_config  # noqa: E402


def wait_http(port, path="/healthz", timeout=180):
    t = time.time()
    while time.time() - t < timeout:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"the daemon did not answer on port {port} within {timeout} s")


def start(bin, cfg, cwd, port, out=None):
    cmd = [bin, "run", "--config", cfg]
    if out:
        cmd = ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}"] + cmd
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(cwd, "daemon.log"), "a"))
    wait_http(port)
    return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)


def traced(bin, cfg, cwd, port, out):
    p = start(bin, cfg, cwd, port, out)
    for path in ["/healthz", "/metrics"] * 3:
        urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30).read()
    time.sleep(2)
    stop(p)


def example(tmp, bin, outs):
    port = free_port()
    cfg = open(os.path.join(ROOT, "config/meldingsvakt.toml"), encoding="utf-8").read().replace(
        'include = ["organizations.d/*.toml"]',
        f'include = ["{ROOT}/config/organizations.d/*.toml"]\n\n[storage]\ndir = "state"\n\n'
        f'[http]\nlisten = "127.0.0.1:{port}"\n')
    d = os.path.join(tmp, "example")
    os.makedirs(d)
    open(os.path.join(d, "mv.toml"), "w", encoding="utf-8").write(cfg)
    for n in (1, 2):
        outs.append(os.path.join(tmp, f"example-{n}.cg"))
        traced(bin, "mv.toml", d, port, outs[-1])


def national(tmp, bin, outs):
    d = os.path.join(tmp, "national")
    port = free_port()
    base = national_config(d, port)
    open(os.path.join(d, "files.toml"), "w", encoding="utf-8").write(base)
    # An incident and its end, sent to files, so the traced start restores a history.
    p = start(bin, "files.toml", d, port)
    token = open(os.path.join(d, "state/alert-token")).read().strip()
    for status in ("firing", "resolved"):
        body = {"version": "4", "status": status, "alerts": [{"status": status, "startsAt": "2026-01-01T00:00:00Z",
                "labels": {"alertname": "Oppstart", "service": "PLO", "severity": "C"}, "annotations": {}}]}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/alerts", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=30).read()
        time.sleep(3)
    stop(p)
    subprocess.run(["sqlite3", os.path.join(d, "state/meldingsvakt.db")],
                   stdin=open(os.path.join(d, "subscribers.sql")), check=True)
    # SMTP as the bench has it, to a port nobody listens on: the outbox is empty, nothing is sent.
    open(os.path.join(d, "smtp.toml"), "w", encoding="utf-8").write(
        base + f'\n[smtp]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {free_port()}\nsecurity = "none"\n')
    outs.append(os.path.join(tmp, "national.cg"))
    traced(bin, "smtp.toml", d, port, outs[-1])


def executed(bin, outs):
    """Functions callgrind saw run inside `bin` (its `fn=` records under the binary's `ob=`)."""
    names, base = set(), os.path.basename(bin)
    for f in outs:
        obs, fns, ob = {}, {}, ""
        for line in open(f, errors="replace"):
            m = re.match(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if not m:
                continue
            kind, i, name = m.groups()
            if kind.endswith("ob"):
                if name is not None:
                    obs[i] = name
                if kind == "ob":
                    ob = obs[i]
            else:
                if name is not None:
                    fns[i] = re.sub(r"'\d+$", "", name)  # callgrind's recursion depth suffix
                if kind == "fn" and ob.endswith(base):
                    names.add(fns[i])
    return names


def functions(bin):
    defined = set()
    for line in subprocess.run(["nm", "--defined-only", bin], capture_output=True, text=True, check=True).stdout.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "tTwW":
            defined.add(p[2])
    return defined


def check(bin):
    want = [l.strip() for l in open(os.path.join(ROOT, "link/startup.order")) if l.strip() and not l.startswith("#")]
    have = functions(bin)
    n = sum(w in have for w in want)
    stale = "" if n >= 0.9 * len(want) else " (stale: run scripts/startup-order.py and commit the list)"
    print(f"link/startup.order: {n} of {len(want)} functions are in {bin}{stale}")


def main():
    if sys.argv[1:2] == ["--check"]:
        return check(sys.argv[2])
    bin = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/meldingsvakt"))
    defined = functions(bin)
    with tempfile.TemporaryDirectory() as tmp:
        outs = []
        example(tmp, bin, outs)
        national(tmp, bin, outs)
        names = sorted(executed(bin, outs) & defined)
    dest = os.path.join(ROOT, "link/startup.order")
    with open(dest, "w", encoding="utf-8") as f:
        f.write("# Written by scripts/startup-order.py: the functions run from start to idle (see there).\n")
        f.write("\n".join(names) + "\n")
    print(f"{dest}: {len(names)} functions")


if __name__ == "__main__":
    main()
