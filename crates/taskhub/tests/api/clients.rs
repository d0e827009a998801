//! Real clients against the real server: the README's Python listener and the CLI.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use serde_json::{Value, json};

use crate::helpers::{PATIENCE, spawn_app_with};

/// A client process whose stdout lines arrive on a channel.
struct Listener {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Listener {
    fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("client starts");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    fn try_line(&self, wait: std::time::Duration) -> Option<Value> {
        let line = self.lines.recv_timeout(wait).ok()?;
        Some(serde_json::from_str(&line).expect("one JSON envelope per line"))
    }

    fn line(&self) -> Value {
        self.try_line(PATIENCE)
            .expect("the client printed an event")
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a listener against a server, restarts the server with SIGKILL in the middle,
/// and checks the listener printed every event exactly once, in order.
pub(crate) async fn survives_a_crash(command: impl Fn(&str) -> Command) {
    let mut app = spawn_app_with(&["--retry-ms", "200"]).await;
    let listener = Listener::start(&mut command(&app.address));
    // Publish until the listener shows it is connected.
    let mut last_published: u64 = 0;
    let first = loop {
        last_published = app
            .publish("tick", json!({"n": last_published}), None)
            .await
            .parse()
            .expect("id");
        if let Some(first) = listener.try_line(std::time::Duration::from_millis(100)) {
            break first;
        }
        assert!(last_published < 200, "the listener never connected");
    };
    let first_id: u64 = first["id"].as_str().expect("id").parse().expect("numeric");
    app.crash_and_restart();
    for n in 0..5 {
        last_published = app
            .publish("tick", json!({"after": n}), Some("t/1"))
            .await
            .parse()
            .expect("id");
    }
    let mut ids = vec![first_id];
    while ids.last() != Some(&last_published) {
        let envelope = listener.line();
        assert_eq!(envelope["event"], "tick");
        ids.push(
            envelope["id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("numeric"),
        );
    }
    assert_eq!(ids, (first_id..=last_published).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_readme_python_client_resumes_across_a_server_crash() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/python/listen.py"
    );
    survives_a_crash(|address| {
        let mut command = Command::new("python3");
        command.args([script, address]);
        command
    })
    .await;
}

#[tokio::test]
async fn taskhub_listen_resumes_across_a_server_crash() {
    survives_a_crash(|address| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_taskhub"));
        command.args(["listen", address]);
        command
    })
    .await;
}

#[tokio::test]
async fn taskhub_listen_filters_and_starts_after_an_id() {
    let app = spawn_app_with(&[]).await;
    app.publish("a", json!(1), Some("x/1")).await;
    app.publish("b", json!(2), Some("y/1")).await;
    app.publish("a", json!(3), Some("x/2")).await;
    let listener = Listener::start(Command::new(env!("CARGO_BIN_EXE_taskhub")).args([
        "listen",
        &app.address,
        "--topics",
        "x/*",
        "--types",
        "a",
        "--last-event-id",
        "1",
    ]));
    assert_eq!(listener.line()["id"], "3");
    assert!(
        listener
            .try_line(std::time::Duration::from_millis(300))
            .is_none()
    );
}

#[tokio::test]
async fn taskhub_publish_prints_the_acknowledgement_and_refuses_bad_data() {
    let app = spawn_app_with(&[]).await;
    let mut sse = app.subscribe("", None).await.connected().await;
    let output = Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args([
            "publish",
            &app.address,
            "--event",
            "note",
            "--data",
            r#"{"text":"hi"}"#,
        ])
        .args(["--topic", "notes/1"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{output:?}");
    let answer: Value = serde_json::from_slice(&output.stdout).expect("JSON answer");
    assert_eq!(answer, json!({"id": "1"}));
    let event = sse.expect().await;
    assert_eq!(crate::helpers::envelope(&event)["topic"], "notes/1");

    // The same command run again with its own key is answered, not published twice.
    let keyed = || {
        Command::new(env!("CARGO_BIN_EXE_taskhub"))
            .args(["publish", &app.address, "--event", "deploy", "--data", "42"])
            .args(["--idempotency-key", "deploy-42"])
            .output()
            .expect("runs")
    };
    let (first, again) = (keyed(), keyed());
    assert!(
        first.status.success() && again.status.success(),
        "{again:?}"
    );
    assert_eq!(first.stdout, again.stdout);
    assert_eq!(sse.expect().await.event, "deploy");
    app.publish("after", json!(null), None).await;
    assert_eq!(sse.expect().await.event, "after", "one deploy, not two");

    let output = Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args([
            "publish",
            &app.address,
            "--event",
            "note",
            "--data",
            "{not json",
        ])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let output = Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args([
            "publish",
            &app.address,
            "--event",
            "bad type",
            "--data",
            "1",
        ])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("422"),
        "{output:?}"
    );
}
