#!/usr/bin/env bash
# Builds the Debian package target/package/meldingsvakt_{version}_amd64.deb (SPEC §5.11):
#
#   scripts/package.sh [--profile PROFILE] [--deb-version VERSION]
#
# PROFILE defaults to release (fat LTO: slow to build, what ships). The package tests use the
# faster `package-test` profile; `tests/package.rs` proves both give the same file list.
# Installs cargo-deb (crates.io) when it is missing; needs dpkg-dev (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
version=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --deb-version) version=(--deb-version "$2"); shift 2 ;;
    *) echo "usage: scripts/package.sh [--profile PROFILE] [--deb-version VERSION]" >&2; exit 2 ;;
  esac
done
command -v cargo-deb >/dev/null || cargo install --locked cargo-deb@3.8.0

dir=$profile
[ "$profile" = dev ] && dir=debug
cargo build --locked --profile "$profile" --bin meldingsvakt
bin=target/$dir/meldingsvakt

# Generated, never edited: the manual pages and completions, from the code.
rm -rf target/package
etc=target/package/etc/meldingsvakt
mkdir -p "$etc/organizations.d" "$etc/templates"
"$bin" generate target/package/generated >/dev/null
# /etc/meldingsvakt as installed: the example configuration with the shipped templates (the
# message templates; the console's are compiled in) in force, and the example organizations.
{
  cat config/meldingsvakt.toml
  printf '\n[templates]\n# The shipped templates, as conffiles: edit them here (meldingsvakt check validates them).\ndir = "templates"\n'
} > "$etc/meldingsvakt.toml"
cp config/organizations.d/*.toml "$etc/organizations.d/"
for t in email ops statuspage page report; do cp -r "templates/$t" "$etc/templates/"; done
"$bin" check --config "$etc/meldingsvakt.toml" >/dev/null

# Stripped: the release profile keeps debug info for profiling (lintian: unstripped-binary).
cargo deb --no-build --strip --profile "$profile" "${version[@]}" --output target/package/
ls target/package/*.deb
