#!/usr/bin/env bash
# The side-by-side benchmark of issue 4: TaskHub against the seed's FastAPI app, nchan
# and Pushpin (../shared/peers), one server at a time, a fresh server per measurement.
#
# Installs what the peers need (Debian: nginx + libnginx-mod-nchan, pushpin; the seed's
# virtualenv), builds the release binaries, raises the open-file limit, runs
# `taskhub-bench suite` and writes docs/bench/{tables.md,results.json,latency.svg}.
#
#   scripts/bench.sh                                   # the full run (about 20 minutes)
#   scripts/bench.sh --scale 0.05 --time-scale 0.2     # a quick look (about 4 minutes)
#   scripts/bench.sh --servers taskhub,nchan --scenarios burst
#
# Environment: PEERS_DIR (default ../shared/peers), BENCH_OUT (default docs/bench),
# CARGO_TARGET_DIR (default target).
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS="${PEERS_DIR:-../shared/peers}"
OUT="${BENCH_OUT:-docs/bench}"
TARGET="${CARGO_TARGET_DIR:-target}"

missing=()
{ command -v nginx >/dev/null && [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ]; } ||
  missing+=(nginx libnginx-mod-nchan)
command -v pushpin >/dev/null || missing+=(pushpin)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -x "$PEERS/seed-fastapi/.venv/bin/uvicorn" ] || "$PEERS/seed-fastapi/setup.sh"

CARGO_TARGET_DIR="$TARGET" cargo build --release --locked -p taskhub -p taskhub-bench
# Workers and servers raise their own soft limit too; 20,000 (the hard limit here) fits
# 19,800 connections per process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p "$OUT"
"$TARGET/release/taskhub-bench" suite \
  --peers-dir "$PEERS" \
  --markdown "$OUT/tables.md" \
  --json-out "$OUT/results.json" \
  --plot "$OUT/latency.svg" \
  "$@"
