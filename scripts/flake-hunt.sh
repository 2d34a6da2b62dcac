#!/usr/bin/env bash
# Hunts flaky tests: runs the timing-sensitive test binaries (daemon, faults, group_commit, ha,
# webhook, sms) N times in a row (default 10) with a CPU hog busy on one core beside them, and prints
# each test's failures out of N. A tool for developers; CI does not run it.
#
#   scripts/flake-hunt.sh [N] [BINARY…]     e.g. scripts/flake-hunt.sh 3 ha webhook
#
# The failing runs' output is kept in $FLAKE_DIR (default: a new temporary directory), one file
# per binary and round. Exit status 1 when any test failed in any round.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-10}
shift || true
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=(daemon faults group_commit ha webhook sms)
out=${FLAKE_DIR:-$(mktemp -d -t mv-flake-XXXXXX)}
mkdir -p "$out"

echo "== building the test binaries (feature test-clock)" >&2
declare -A exe
while IFS=$'\t' read -r name path; do
  exe[$name]=$path
done < <(cargo test --locked --features test-clock --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"] + "\t" + m["executable"])
')
for b in "${bins[@]}"; do
  [ -n "${exe[$b]:-}" ] || { echo "no test binary named $b" >&2; exit 2; }
done

# The hog: one busy loop pinned to the first core (taskset from util-linux), for the whole hunt.
hog() { while :; do :; done; }
if command -v taskset >/dev/null; then
  taskset -c 0 bash -c "$(declare -f hog); hog" &
else
  bash -c "$(declare -f hog); hog" &
fi
hog_pid=$!
trap 'kill $hog_pid 2>/dev/null || true' EXIT

declare -A runs fails
for ((r = 1; r <= rounds; r++)); do
  for b in "${bins[@]}"; do
    log="$out/$b.$r.log"
    start=$(date +%s)
    # Run from the repository root, as cargo test does (CARGO_MANIFEST_DIR is compiled in).
    if "${exe[$b]}" >"$log" 2>&1; then status=ok; else status=FAILED; fi
    echo "round $r/$rounds  $b: $status ($(( $(date +%s) - start )) s)" >&2
    while read -r t result; do
      runs[$b::$t]=$(( ${runs[$b::$t]:-0} + 1 ))
      [ "$result" = ok ] || fails[$b::$t]=$(( ${fails[$b::$t]:-0} + 1 ))
    done < <(sed -n -E 's/^test (.+) \.\.\. (ok|FAILED|ignored)$/\1 \2/p' "$log")
    [ "$status" = FAILED ] || rm -f "$log"
  done
done

echo
printf '%-10s %-80s %s\n' binary test "failures"
bad=0
for key in $(printf '%s\n' "${!runs[@]}" | sort); do
  b=${key%%::*}
  t=${key#*::}
  f=${fails[$key]:-0}
  [ "$f" = 0 ] || bad=1
  printf '%-10s %-80s %d/%d\n' "$b" "$t" "$f" "${runs[$key]}"
done
echo
echo "logs of failing runs: $out"
exit $bad
