//! Runs the Node and Python client scripts of `tests/js/` and `tests/python/` against a
//! test server. A script reports on stdout, one JSON object per line; `{"await": …}`
//! asks the test to act (restart the server…) and is answered with one line on stdin.
//! The dependencies come from `scripts/test-deps.sh` (run by `scripts/test.sh`).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

/// How long a script may go without printing a line before the test gives up on it.
const SCRIPT_PATIENCE: Duration = Duration::from_secs(120);

/// The repository's root directory.
pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `tests/js/NAME`, after checking its npm packages are installed.
pub(crate) fn js_script(name: &str) -> PathBuf {
    let dir = repo_root().join("tests/js");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "the JavaScript test clients are not installed: run scripts/test-deps.sh \
         (scripts/test.sh does)"
    );
    dir.join(name)
}

/// `python3` with the Python test clients' packages (httpx-sse, aiohttp) importable.
pub(crate) fn python() -> Command {
    let packages = repo_root().join(".test-deps/python");
    assert!(
        packages.join("httpx_sse").is_dir() && packages.join("aiohttp").is_dir(),
        "the Python test clients are not installed: run scripts/test-deps.sh \
         (scripts/test.sh does)"
    );
    let mut command = Command::new("python3");
    command
        .env("PYTHONPATH", packages)
        .env("PYTHONUNBUFFERED", "1");
    command
}

/// A Python HTTP server of `tests/python/` (a key server, an application) on a free
/// loopback port, which it prints as `{"port": N, …}`; killed when dropped.
pub(crate) struct PythonServer {
    child: Child,
    pub(crate) address: String,
    /// The whole line it printed on start.
    pub(crate) started: Value,
}

impl PythonServer {
    pub(crate) fn start(script: &str) -> Self {
        Self::start_with(script, &[])
    }

    pub(crate) fn start_with(script: &str, args: &[&std::path::Path]) -> Self {
        let mut child = python()
            .arg(repo_root().join("tests/python").join(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the server says its port");
        let started: Value = serde_json::from_str(&line).expect("a JSON line");
        Self {
            child,
            address: format!("http://127.0.0.1:{}", started["port"]),
            started,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Stops it now (a provider or an application going away).
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running script: its stdout lines, parsed, and its stdin for answers.
pub(crate) struct Script {
    child: Child,
    stdin: ChildStdin,
    /// The script's stdout, parsed; awaited, so the test's runtime keeps serving the
    /// test's own connections while it waits.
    lines: mpsc::UnboundedReceiver<Value>,
}

impl Script {
    /// `node tests/js/NAME ARGS…`.
    pub(crate) fn node(name: &str, args: &[&str]) -> Self {
        let mut command = Command::new("node");
        command.arg(js_script(name)).args(args);
        Self::start(command)
    }

    pub(crate) fn start(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the script starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or_else(|_| {
                    panic!("the script printed a line that is not JSON: {line}")
                });
                if send.send(value).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// The script's next request (`{"await": …}`), skipping its progress reports; `None`
    /// once it exited successfully. Panics if it failed or went silent.
    pub(crate) async fn next_request(&mut self) -> Option<Value> {
        loop {
            match tokio::time::timeout(SCRIPT_PATIENCE, self.lines.recv()).await {
                Ok(Some(line)) if line.get("await").is_some() => return Some(line),
                Ok(Some(line)) => eprintln!("script: {line}"),
                Ok(None) => {
                    let status = self.child.wait().expect("the script is reaped");
                    assert!(
                        status.success(),
                        "the script failed ({status}); see its stderr"
                    );
                    return None;
                }
                Err(_) => panic!("the script printed nothing for {SCRIPT_PATIENCE:?}"),
            }
        }
    }

    /// The next line the script prints, progress report or not.
    pub(crate) async fn next_line(&mut self) -> Value {
        tokio::time::timeout(SCRIPT_PATIENCE, self.lines.recv())
            .await
            .expect("the script printed nothing for too long")
            .expect("the script printed a line")
    }

    /// Answers the script's last request.
    pub(crate) fn answer(&mut self, answer: &Value) {
        writeln!(self.stdin, "{answer}").expect("the script reads its answers");
    }

    /// Runs the script to its end; it must make no request.
    pub(crate) async fn finish(mut self) {
        if let Some(request) = self.next_request().await {
            panic!("unexpected request from the script: {request}");
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SIGKILL skips the script's own cleanup, so ask politely first: Chromium is a
        // child of the script and is closed by it on SIGTERM.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
