#!/usr/bin/env bash
# Where the idle daemon's resident memory is (issue #13): starts BINARY (default
# target/release/meldingsvakt) on the example configuration with a fresh state directory, waits
# 2 s, prints VmRSS/RssAnon/RssFile and the resident kB per mapping and kind from
# /proc/PID/smaps, and stops it. Not a test. Usage: scripts/rss-breakdown.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/release/meldingsvakt}")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
P=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s#include = \[\"organizations.d/\*.toml\"\]#include = [\"$PWD/config/organizations.d/*.toml\"]\n\n[storage]\ndir = \"state\"\n\n[http]\nlisten = \"127.0.0.1:$P\"\n#" \
  config/meldingsvakt.toml > "$T/mv.toml"
(cd "$T" && exec "$BIN" run --config mv.toml 2>daemon.log) &
PID=$!
sleep 2
grep -E "VmRSS|RssAnon|RssFile" /proc/$PID/status
awk '/^[0-9a-f]+-/ { name = $6; perm = $2 }
     /^(Private_Dirty|Private_Clean|Shared_Clean|Shared_Dirty):/ { r[name " " perm " " $1] += $2 }
     END { for (k in r) if (r[k] >= 64) printf "  %6d kB  %s\n", r[k], k }' /proc/$PID/smaps | sort -rn
kill $PID
wait $PID 2>/dev/null || true
# How much of link/startup.order this binary still has (a list from another compiler or other
# dependency versions no longer places the start-up code together).
python3 scripts/startup-order.py --check "$BIN"
