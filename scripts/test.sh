#!/usr/bin/env bash
# Runs every test of meldingsvakt: formatting, lints, unit, property, snapshot, scenario and
# command-line tests. This is the command README.md gives and .ci/run calls.
# Idempotent; installs nothing the Rust toolchain does not already have (later suites that need
# real servers install them here, with apt-get, before they run).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

# Real parts the tests talk to (Debian packages), installed once, idempotently.
need=()
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || need+=(python3-jsonschema)
/usr/bin/python3 -c 'import icalendar, vobject' 2>/dev/null || need+=(python3-icalendar python3-vobject)
/usr/bin/python3 -c 'import radicale' 2>/dev/null || need+=(radicale)
[ -x /usr/sbin/postfix ] || need+=(postfix)
command -v curl >/dev/null || need+=(curl)
# openssl makes the test CA and certificate for SMTP over TLS (tests/daemon/smtp_tls.rs).
command -v openssl >/dev/null || need+=(openssl)
[ -x /usr/bin/prometheus-alertmanager ] || need+=(prometheus-alertmanager)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
command -v node >/dev/null || need+=(nodejs npm)
# PostgreSQL for the two-host tests (tests/ha): each test starts its own cluster in a temporary
# directory; the package's own cluster is not used.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
command -v psql >/dev/null || need+=(postgresql-client)
# The audit test (tests/audit.rs) edits the database as an intruder would, with sqlite3.
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v setpriv >/dev/null || need+=(util-linux)
# The Debian package (tests/package.rs): lintian checks it, man renders its manual pages.
command -v lintian >/dev/null || need+=(lintian)
command -v man >/dev/null || need+=(man-db)
command -v dpkg-deb >/dev/null || need+=(dpkg)
# The package under a real systemd (tests/systemd_package.rs): a Debian root and nspawn.
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Browser tests: playwright-core drives Debian's Chromium (no browser download); axe-core.
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/axe-core ] || [ ! -d tests/browser/node_modules/oidc-provider ]; then
  echo "== npm ci (tests/browser)"
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi

# cargo-deb builds the package (scripts/package.sh), from crates.io, once.
command -v cargo-deb >/dev/null || cargo install --locked --quiet cargo-deb@3.8.0

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings
cargo clippy --locked --all-targets --features test-clock -- -D warnings
echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# test-clock: a clock offset the end-to-end tests control (never in release builds).
cargo test --locked --features test-clock 2>&1 | tee "$log"
echo "== meldingsvakt check (shipped example configuration)"
cargo run --locked --quiet -- check --config config/meldingsvakt.toml
# The tests install a package built without fat LTO; this proves the shipped profile packages
# the same files, lintian-clean (a release build: several minutes).
echo "== scripts/package-check.sh (release profile)"
scripts/package-check.sh
# One closing line with the totals of every cargo test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
