#!/usr/bin/env bash
# Runs every test of the workspace; every test starts its own server on a free loopback
# port with its own SQLite file. Needs cargo, python3 and node; scripts/test-deps.sh
# installs the rest (Chromium, nginx, the npm and pip packages) the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
# The client tests drive Chromium, nginx, Node and Python clients: install them if missing.
scripts/test-deps.sh
# Cluster mode's tests start their own redis-server and create databases on the local
# PostgreSQL (127.0.0.1:5432, trust authentication): start it if it is not running.
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
cargo test --workspace --locked "$@"
# The black-box suite again, every server a cluster node (its own Redis and PostgreSQL
# database): every rule of the contract holds in cluster mode too.
TASKHUB_TEST_BACKEND=cluster cargo test -p taskhub --test api --locked "$@"
