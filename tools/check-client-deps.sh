#!/usr/bin/env bash
# Fails when virt-client (the Rust client library and the `virt` CLI) builds the daemon half of
# virt-core again: virt-core's `server` feature, or any crate only the daemon runtime needs.
# virt-client enables `embedded` (the in-process test driver) and nothing more; see virt-core's
# crate docs, "Cargo features". Cargo resolves features for the packages named on its command
# line only, so asking about virt-client alone shows what a user of the library gets.
set -euo pipefail
cd "$(dirname "$0")/.."
features=$(cargo tree -p virt-client -e features --prefix none)
deps=$(cargo tree -p virt-client -e normal --prefix none)
fail=0
if grep -q '^virt-core feature "server"' <<<"$features"; then
  echo "virt-client enables virt-core's server feature:" >&2
  cargo tree -p virt-client -e features -i virt-core | head -20 >&2 || true
  fail=1
fi
for crate in tonic-health tonic-reflection sd-notify tracing-subscriber x509-parser loona-hpack; do
  if grep -q "^$crate v" <<<"$deps"; then
    echo "virt-client depends on $crate, a crate of the daemon runtime:" >&2
    cargo tree -p virt-client -e normal -i "$crate" >&2 || true
    fail=1
  fi
done
if [ "$fail" -eq 0 ]; then
  echo "virt-client: no daemon runtime in its dependencies ($(wc -l <<<"$deps") lines of cargo tree)"
fi
exit "$fail"
