#!/usr/bin/env bash
# The shipped profile packages the same way as the one the tests use (issue #27): builds the
# package with `package-test` (what tests/package.rs and tests/systemd_package.rs install) and
# with `release` (fat LTO: what ships), and fails unless both hold the same files and lintian
# finds no error and no warning but the one ARCHITECTURE.md explains. scripts/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

list() { dpkg-deb -c "$1" | awk '$1 !~ /^d/ {print $6}' | sort; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

scripts/package.sh --profile package-test >/dev/null
list target/package/meldingsvakt_*_amd64.deb > "$tmp/package-test"
scripts/package.sh >/dev/null
python3 scripts/startup-order.py --check target/release/meldingsvakt
deb=$(ls target/package/meldingsvakt_*_amd64.deb)
list "$deb" > "$tmp/release"
if ! diff -u "$tmp/package-test" "$tmp/release"; then
  echo "package-check: the release package holds other files than the tested one" >&2
  exit 1
fi
lintian --allow-root "$deb" | tee "$tmp/lintian"
if grep -v 'initial-upload-closes-no-bugs' "$tmp/lintian" | grep -qE '^[EW]:'; then
  echo "package-check: lintian reports an error or an unexplained warning" >&2
  exit 1
fi
echo "package-check: release package $deb: $(wc -l < "$tmp/release") files, the same as the tested one; lintian clean"
