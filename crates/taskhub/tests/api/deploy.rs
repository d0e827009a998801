//! The deployment files in `deploy/`: the example environment file names only real
//! settings and starts a server; the systemd unit passes `systemd-analyze verify`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use serde_json::Value;

use crate::helpers::PATIENCE;
use crate::scripts::repo_root;

/// Every `TASKHUB_X=value` in `deploy/taskhub.env`, commented out or not.
fn example_settings() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("deploy/taskhub.env")).expect("read");
    text.lines()
        .map(|line| line.trim_start_matches('#'))
        .filter(|line| line.starts_with("TASKHUB_"))
        .map(|line| {
            let (key, value) = line.split_once('=').expect("KEY=value");
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

#[test]
fn the_example_environment_names_real_settings_and_starts_a_server() {
    let help = Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args(["serve", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8(help.stdout).expect("UTF-8");
    let settings = example_settings();
    assert!(settings.len() > 20, "the example shows the settings");
    for (key, _) in &settings {
        assert!(
            help.contains(&format!("env: {key}")),
            "{key} is not a setting"
        );
    }

    // Every value shown, except files this machine does not have, is accepted.
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut server = Command::new(env!("CARGO_BIN_EXE_taskhub"));
    server
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (key, value) in settings.iter().filter(|(_, v)| !v.starts_with("/etc/")) {
        server.env(key, value);
    }
    let database = format!("sqlite://{}", dir.path().join("taskhub.db").display());
    let mut child = server
        .env("TASKHUB_ADDR", "127.0.0.1:0")
        .env("TASKHUB_DATABASE_URL", database)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = child.stderr.take().expect("stderr");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let listening = loop {
        let Ok(line) = received.recv_timeout(PATIENCE) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not start with the example settings");
        };
        // TASKHUB_LOG_FORMAT=json: every line is a JSON object.
        let log: Value = serde_json::from_str(&line).expect("JSON logs");
        if log["message"] == "listening" {
            break log;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening["addr"].is_string());
}

#[test]
fn the_systemd_unit_verifies() {
    let Ok(verify) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed; the unit was not checked");
        return;
    };
    assert!(verify.status.success());
    // The unit as installed, but pointing at this build and this checkout.
    let unit = std::fs::read_to_string(repo_root().join("deploy/taskhub.service")).expect("read");
    let env_file = repo_root()
        .join("deploy/taskhub.env")
        .canonicalize()
        .expect("the example exists");
    let unit = unit
        .replace("/usr/local/bin/taskhub", env!("CARGO_BIN_EXE_taskhub"))
        .replace(
            "EnvironmentFile=/etc/taskhub/taskhub.env",
            &format!("EnvironmentFile={}", env_file.display()),
        );
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("taskhub.service");
    std::fs::write(&path, unit).expect("written");
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{output:?}");
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
