#!/usr/bin/env bash
# Runs every fuzz target for a while: scripts/fuzz.sh [SECONDS_PER_TARGET] (default 30).
# Needs cargo-fuzz (installed here if missing). cargo fuzz wants a nightly compiler; on
# the stable toolchain RUSTC_BOOTSTRAP=1 unlocks the flags it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in $(cargo fuzz list); do
  echo "fuzz: $target for ${seconds}s" >&2
  mkdir -p "fuzz/corpus/$target"
  cargo fuzz run "$target" "fuzz/corpus/$target" fuzz/seeds -- -max_total_time="$seconds" -timeout=10
done
