//! Black-box tests: each starts the real `taskhub` binary on a free loopback port with its
//! own SQLite file, and speaks HTTP to it. With `TASKHUB_TEST_BACKEND=cluster` (the second
//! run in scripts/test.sh) each server is a cluster node on its own Redis and PostgreSQL
//! database instead.

mod cluster_support;
mod helpers;
mod scripts;
mod tokens;

mod abuse;
mod auth;
mod auth_hook;
mod bad_input;
mod browser;
mod clients;
mod cluster;
mod command_line;
mod connections;
mod deploy;
mod errors;
mod history;
mod idempotency;
mod jwks;
mod library_clients;
mod lifecycle;
mod limits;
mod mercure;
mod mercure_match;
mod nginx;
mod observability;
mod open_files;
mod openapi;
mod presence;
mod publish;
mod quickstart;
mod replay;
mod slow_clients;
mod store_failures;
mod stream;
mod tasks;
mod tls_http2;
mod unknown_parameters;
mod webhooks;
