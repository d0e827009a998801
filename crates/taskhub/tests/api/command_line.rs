//! The `taskhub` command as a newcomer meets it: secrets the server would refuse are
//! refused when minting, `--addr` takes host names, logs are coloured only on a terminal,
//! `serve --help` says what it runs, and a server that cannot start says why in one line
//! (the whole chain under `RUST_LOG=debug`).

use std::process::{Command, Output, Stdio};

use crate::helpers::{LoggedServer, serve_command};

fn taskhub(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args(args)
        .env_remove("TASKHUB_JWT_SECRET")
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("taskhub runs")
}

/// Asserts the command failed with exactly one line on stderr containing `words`, and
/// returns that line.
fn one_line_failure(output: &Output, words: &str) -> String {
    assert!(!output.status.success(), "{output:?}");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.contains(" INFO ") && !line.contains(" WARN "))
        .collect();
    assert_eq!(errors.len(), 1, "one line: {stderr}");
    assert!(errors[0].starts_with("taskhub: "), "{stderr}");
    assert!(errors[0].contains(words), "{words:?} not in: {stderr}");
    errors[0].to_owned()
}

#[test]
fn token_refuses_an_empty_or_short_secret_in_one_line() {
    let empty = taskhub(&["token", "--secret", ""]);
    one_line_failure(&empty, "the secret is empty (is TASKHUB_JWT_SECRET set?)");
    assert!(empty.stdout.is_empty(), "no token minted");
    let short = taskhub(&["token", "--secret", "short"]);
    let line = one_line_failure(&short, "the secret is 5 bytes");
    assert!(line.contains("at least 32 bytes"), "{line}");
    assert!(short.stdout.is_empty(), "no token minted");
    let enough = taskhub(&["token", "--secret", &"s".repeat(32)]);
    assert!(enough.status.success(), "{enough:?}");
    // A Mercure hub refuses an empty key and only warns about a short one: so does token.
    one_line_failure(
        &taskhub(&["token", "--mercure", "--secret", ""]),
        "the secret is empty",
    );
    let short_mercure = taskhub(&["token", "--mercure", "--secret", "short"]);
    assert!(short_mercure.status.success(), "{short_mercure:?}");
    assert!(String::from_utf8_lossy(&short_mercure.stderr).starts_with("warning: "));
}

#[test]
fn serve_help_says_it_runs_one_node_or_a_cluster_node() {
    for args in [&["--help"][..], &["serve", "--help"]] {
        let help = taskhub(args);
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(text.contains("cluster node"), "{args:?}: {text}");
        assert!(!text.contains("embedded SQLite store."), "{args:?}: {text}");
    }
}

#[test]
fn addr_takes_a_host_name_or_says_an_ip_and_port_is_needed() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args(["serve", "--addr", "localhost:0", "--log-format", "json"])
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.path().join("t.db").display()))
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let stderr = child.stderr.take().expect("stderr");
    let listening = std::io::BufRead::lines(std::io::BufReader::new(stderr))
        .map_while(Result::ok)
        .find(|line| line.contains("listening"));
    child.kill().expect("kill");
    child.wait().expect("reaped");
    let listening = listening.expect("it listens");
    assert!(listening.contains(r#""addr":"127.0.0.1:"#), "{listening}");
    for (addr, words) in [
        ("localhost", "has no port"),
        ("localhost:http", "is not a port number"),
    ] {
        let output = taskhub(&["serve", "--addr", addr]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{addr}: {output:?}");
        assert!(stderr.contains(words), "{addr}: {stderr}");
        assert!(stderr.contains("IP:PORT or HOST:PORT"), "{addr}: {stderr}");
    }
}

/// Text logs through a pipe (a file, journald) carry no ANSI escape codes.
#[test]
fn text_logs_written_to_a_pipe_have_no_colour() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = serve_command(dir.path(), "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.contains("listening"))
        .expect("a listening line");
    child.kill().expect("kill");
    child.wait().expect("reaped");
    assert!(!listening.contains('\x1b'), "{listening:?}");
    assert!(listening.contains(" INFO "), "{listening:?}");
}

#[test]
fn a_port_in_use_is_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("dir");
    let output = serve_command(dir.path(), &addr)
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("runs");
    let line = one_line_failure(&output, &format!("cannot listen on {addr}"));
    assert!(line.contains("choose another --addr"), "{line}");
    assert_eq!(line.matches("in use").count(), 1, "said once: {line}");
}

#[test]
fn a_database_in_use_by_another_server_is_one_line() {
    let first = LoggedServer::start(&[], "info");
    let database = first.database();
    let dir = tempfile::tempdir().expect("dir");
    let output = Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url"])
        .arg(format!("sqlite://{}", database.display()))
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("runs");
    let line = one_line_failure(&output, "another TaskHub server is already using");
    assert_eq!(
        line.matches("already using").count(),
        1,
        "said once: {line}"
    );
    assert!(!line.contains("unavailable"), "{line}");
    drop(first);
}

#[test]
fn a_database_directory_that_cannot_be_written_is_named() {
    // Root may write anywhere: a regular file where the directory should be fails for all.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "").expect("file");
    let database = file.join("taskhub.db");
    let run = |rust_log: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_taskhub"));
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--database-url"])
            .arg(format!("sqlite://{}", database.display()))
            .env_remove("RUST_LOG")
            .env_remove("RUST_BACKTRACE");
        if let Some(level) = rust_log {
            command.env("RUST_LOG", level);
        }
        command.output().expect("runs")
    };
    let line = one_line_failure(&run(None), "cannot create the database");
    assert!(
        line.contains(&format!("in the directory {}", file.display())),
        "{line}"
    );
    assert!(
        !line.contains(".lock"),
        "named by the database, not its lock: {line}"
    );

    // Under RUST_LOG=debug the one line is followed by every cause.
    let debug = run(Some("debug"));
    let stderr = String::from_utf8_lossy(&debug.stderr);
    assert!(stderr.contains("The whole chain:"), "{stderr}");
    assert!(stderr.contains("  0: "), "{stderr}");
    assert!(!debug.status.success());
}
