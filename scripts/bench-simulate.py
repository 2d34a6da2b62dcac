#!/usr/bin/env python3
"""Benchmark `meldingsvakt simulate` on a generated year of operations (issue #2).

usage: scripts/bench-simulate.py [RUNS]      (from the repository root)

Builds the release binary, generates years with 1,000, 10,000 and 100,000 incidents (500
maintenances each, scripts/gen-year.py, fixed seed) under target/bench/, runs each RUNS times
(default 5; 3 for 100k) and prints the median and min wall time, the peak resident memory
(from wait4), microseconds per incident and the growth against 1,000. Not a test: timing
depends on the machine.
"""
import os, statistics, subprocess, sys, time

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
subprocess.run(["cargo", "build", "--release", "--quiet"], check=True)
os.makedirs("target/bench", exist_ok=True)
binary = "target/release/meldingsvakt"
rows = []
for n in (1000, 10000, 100000):
    path = f"target/bench/year-{n}.toml"
    if not os.path.exists(path):
        subprocess.run([sys.executable, "scripts/gen-year.py", str(n), "500", path], check=True, stdout=subprocess.DEVNULL)
    times, rss, lines = [], 0, 0
    for _ in range(runs if n < 100000 else min(runs, 3)):
        with open("target/bench/out.jsonl", "wb") as out:
            t = time.perf_counter()
            p = subprocess.Popen([binary, "simulate", path], stdout=out, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(p.pid, 0)
            times.append(time.perf_counter() - t)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"simulate failed on {path}")
        rss = max(rss, usage.ru_maxrss)  # KiB on Linux
        lines = sum(1 for _ in open("target/bench/out.jsonl", "rb"))
    med = statistics.median(times)
    rows.append((n, med, min(times), rss, lines))
base = rows[0][1]
print(f"{'incidents':>10} {'median s':>9} {'min s':>7} {'peak MiB':>9} {'actions':>8} {'µs/incident':>12} {'× vs 1k':>8}")
for n, med, mn, rss, lines in rows:
    print(f"{n:>10} {med:>9.3f} {mn:>7.3f} {rss / 1024:>9.1f} {lines:>8} {med / n * 1e6:>12.1f} {med / base:>8.1f}")
