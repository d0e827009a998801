#!/usr/bin/env bash
# Runs every test of the workspace; every test starts its own server on a free loopback
# port with its own SQLite file. Needs cargo, python3 and node; scripts/test-deps.sh
# installs the rest (Chromium, nginx, the npm and pip packages) the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
# The client tests drive Chromium, nginx, Node and Python clients: install them if missing.
scripts/test-deps.sh
cargo test --workspace --locked "$@"
