#!/usr/bin/env bash
# Restart time and database size after 1 week, 1 year and 5 years of 10,000 incidents a year
# (issue #10): the state is generated as the daemon writes it (examples/gen_state.rs: events,
# delivered outbox rows, a snapshot and compaction every 10 days, retention 400 days), then
# `meldingsvakt run` is started on it and timed from process start to the first /healthz 200.
# Median of 5 starts each. A benchmark, not a test: it is not run by scripts/test.sh.
#
#   scripts/bench-restart.sh              the example configuration (Midt-Norge, 65 municipalities)
#   scripts/bench-restart.sh --national   Norway's 356 municipalities (gen-example-orgs.py --national)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin meldingsvakt --example gen_state
bin=target/release/meldingsvakt
gen=target/release/examples/gen_state
work=$(mktemp -d)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
confdir=config
if [ "${1:-}" = "--national" ]; then
  python3 scripts/gen-example-orgs.py --national "$work/national" >/dev/null
  confdir="$work/national"
fi
printf '%-8s %12s %12s %14s %14s\n' period incidents "db MiB" "restart ms" "(min–max)"
for days in 7 365 1825; do
  state="$work/s$days"
  incidents=$("$gen" "$confdir/meldingsvakt.toml" "$state" "$days" 2>&1 | sed -E 's/.*: ([0-9]+) incidents.*/\1/')
  cp -r "$confdir" "$work/conf$days"
  cfg="$work/conf$days/meldingsvakt.toml"
  printf '\n[storage]\ndir = "%s"\n' "$state" >> "$cfg"
  sed -i "s/^listen = .*/listen = \"127.0.0.1:$port\"/" "$cfg"
  grep -q '^\[http\]' "$cfg" || printf '\n[http]\nlisten = "127.0.0.1:%s"\n' "$port" >> "$cfg"
  times=()
  for _ in 1 2 3 4 5; do
    t0=$(date +%s%N)
    "$bin" run --config "$cfg" 2>"$work/log" &
    pid=$!
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz" || true)" = 200 ]; do
      kill -0 "$pid" 2>/dev/null || { cat "$work/log"; exit 1; }
      sleep 0.005
    done
    t1=$(date +%s%N)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    times+=($(( (t1 - t0) / 1000000 )))
  done
  sorted=($(printf '%s\n' "${times[@]}" | sort -n))
  size=$(du -cb "$state"/meldingsvakt.db* | tail -1 | cut -f1)
  printf '%-8s %12s %12.1f %14s %14s\n' "${days}d" "$incidents" "$(echo "$size/1048576" | bc -l)" "${sorted[2]}" "${sorted[0]}–${sorted[4]}"
  port=$((port + 1))
done
