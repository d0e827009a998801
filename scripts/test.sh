#!/usr/bin/env bash
# Runs every test of the workspace. Needs only cargo and python3 (both on the machine);
# every test starts its own server on a free loopback port with its own SQLite file.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
