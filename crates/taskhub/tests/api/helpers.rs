//! `spawn_app()` and the clients the tests use.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use eventsource_stream::{Event, EventStream, Eventsource};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use tempfile::TempDir;

use crate::cluster_support::{ClusterBackend, cluster_mode};

/// How long a test waits for anything before declaring it lost.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// A running `taskhub serve` with its own data directory.
pub(crate) struct TestApp {
    pub(crate) address: String,
    pub(crate) client: reqwest::Client,
    pub(crate) dir: TempDir,
    args: Vec<String>,
    /// Where the node keeps its data: `--database-url` (and `--redis-url` in cluster mode).
    store_args: Vec<String>,
    /// Extra environment of the process (a failpoint).
    env: Vec<(String, String)>,
    child: Child,
    /// The node's own Redis and PostgreSQL database in cluster mode; dropped after it.
    _cluster: Option<ClusterBackend>,
}

/// Whether `spawn_app()` starts single-node servers on SQLite (the default run of the
/// suite) rather than cluster nodes (`TASKHUB_TEST_BACKEND=cluster`). Tests about the
/// SQLite file itself check it and return early in the cluster run.
pub(crate) fn backend_is_sqlite() -> bool {
    !cluster_mode()
}

/// `taskhub serve` on `addr` with its SQLite file `t.db` in `dir`; add flags and run it.
pub(crate) fn serve_command(dir: &std::path::Path, addr: &str) -> Command {
    let database = format!("sqlite://{}", dir.join("t.db").display());
    let mut command = Command::new(env!("CARGO_BIN_EXE_taskhub"));
    command.args(["serve", "--addr", addr, "--database-url", &database]);
    command
}

/// Starts `taskhub serve` on 0.0.0.0 with these flags and asserts it keeps running
/// (a public address is refused at start-up unless authentication or the opt-in allows it).
pub(crate) fn assert_serves_on_a_public_address(flags: &[&str]) {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = serve_command(dir.path(), "0.0.0.0:0")
        .args(flags)
        .stderr(Stdio::null())
        .spawn()
        .expect("runs");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "it keeps running"
    );
    child.kill().expect("kill");
    child.wait().expect("reaped");
}

/// Runs `taskhub serve` on loopback with a fresh database and these flags, and asserts it
/// refuses to start, saying `complaint` on stderr, before it has created the database.
pub(crate) fn assert_refused_at_start(flags: &[&str], complaint: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let output = serve_command(dir.path(), "127.0.0.1:0")
        .args(flags)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{flags:?} was accepted");
    assert!(stderr.contains(complaint), "{flags:?}: {stderr}");
    assert!(
        !dir.path().join("t.db").exists(),
        "{flags:?} refused only after the store was opened"
    );
}

/// `GET /metrics`, parsed into series → value, after checking the text format: every
/// sample belongs to a family with `# HELP` and `# TYPE`.
pub(crate) async fn metrics(address: &str) -> HashMap<String, f64> {
    let response = reqwest::get(format!("{address}/metrics"))
        .await
        .expect("metrics");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.expect("text");
    let mut helped = Vec::new();
    let mut typed = Vec::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.push(rest.split(' ').next().expect("name").to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.push(rest.split(' ').next().expect("name").to_owned());
        } else {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let family = series.split('{').next().expect("name");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| family.strip_suffix(suffix))
                .filter(|f| typed.iter().any(|t| t == f))
                .unwrap_or(family);
            assert!(typed.iter().any(|t| t == family), "no # TYPE for {line}");
            samples.insert(series.to_owned(), value.parse().expect("a number"));
        }
    }
    assert_eq!(helped, typed, "every family has HELP then TYPE");
    samples
}

/// A server whose JSON log lines the test reads.
pub(crate) struct LoggedServer {
    child: Child,
    pub(crate) address: String,
    /// Its SQLite file.
    database: std::path::PathBuf,
    logs: Arc<Mutex<Vec<Value>>>,
}

impl LoggedServer {
    /// `taskhub serve` on a fresh file with these flags, logging at `rust_log`.
    pub(crate) fn start(args: &[&str], rust_log: &str) -> Self {
        Self::spawn(args, rust_log, None)
    }

    /// The same, under an open-file limit (`ulimit -n`) of `open_files`.
    pub(crate) fn start_with_open_file_limit(
        args: &[&str],
        rust_log: &str,
        open_files: u32,
    ) -> Self {
        Self::spawn(args, rust_log, Some(open_files))
    }

    fn spawn(args: &[&str], rust_log: &str, open_files: Option<u32>) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = dir.path().join("t.db");
        let mut command = serve_command(dir.path(), "127.0.0.1:0");
        command.args(["--log-format", "json"]).args(args);
        if let Some(limit) = open_files {
            command = with_open_file_limit(&command, limit);
        }
        let mut child = command
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("taskhub starts");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (found, listening) = mpsc::channel();
        let kept = Arc::clone(&logs);
        std::thread::spawn(move || {
            let _dir = dir;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("TASKHUB_TEST_LOGS").is_some() {
                    eprintln!("server: {line}");
                }
                let log: Value = serde_json::from_str(&line).expect("every log line is JSON");
                let listening = log["addr"].as_str().map(|addr| format!("http://{addr}"));
                // Kept first: a test that counts lines once the server listens counts it.
                kept.lock().expect("logs").push(log);
                if let Some(address) = listening {
                    let _ = found.send(address);
                }
            }
        });
        let address = listening.recv_timeout(PATIENCE).expect("listening");
        Self {
            child,
            address,
            database,
            logs,
        }
    }

    /// Its SQLite file, which its data directory keeps while it runs.
    pub(crate) fn database(&self) -> &std::path::Path {
        &self.database
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn lines(&self) -> Vec<Value> {
        self.logs.lock().expect("logs").clone()
    }
}

impl Drop for LoggedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `command`, run by `sh` after `ulimit -n limit` (the soft and the hard limit).
pub(crate) fn with_open_file_limit(command: &Command, limit: u32) -> Command {
    let mut limited = Command::new("sh");
    limited
        .arg("-c")
        .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
        .arg(command.get_program())
        .args(command.get_args());
    limited
}

/// Another process's write lock on a SQLite file, held until [`SqliteLock::release`].
pub(crate) struct SqliteLock {
    release: std::sync::mpsc::Sender<()>,
    holder: std::thread::JoinHandle<()>,
}

impl SqliteLock {
    /// Takes `BEGIN EXCLUSIVE` on `path` from another connection and returns once held.
    pub(crate) fn take(path: std::path::PathBuf) -> Self {
        let (locked, lock_taken) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(path).expect("open");
            conn.execute_batch("BEGIN EXCLUSIVE").expect("lock");
            locked.send(()).expect("signal");
            let _ = released.recv();
            conn.execute_batch("ROLLBACK").expect("unlock");
        });
        lock_taken.recv().expect("lock taken");
        Self { release, holder }
    }

    /// Lets go of the lock and waits until it is gone.
    pub(crate) fn release(self) {
        self.release.send(()).expect("release");
        self.holder.join().expect("the holder ends");
    }
}

/// Starts a server with default settings.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts a server with extra `serve` flags. Rate limits are off unless a test sets them:
/// most tests publish and connect far faster than one client address normally may.
pub(crate) async fn spawn_app_with(args: &[&str]) -> TestApp {
    spawn_app_with_env(args, &[]).await
}

/// Starts a server with extra `serve` flags and environment (`SSL_CERT_FILE`…).
pub(crate) async fn spawn_app_with_env(args: &[&str], env: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cluster = cluster_mode().then(ClusterBackend::start);
    let store_args = match &cluster {
        Some(cluster) => cluster.args(),
        None => {
            let database = format!("sqlite://{}", dir.path().join("taskhub.db").display());
            vec!["--database-url".to_owned(), database]
        }
    };
    launch(dir, store_args, env, args, cluster)
}

/// Starts a single-node server on the SQLite file `database` (somewhere the test chose,
/// such as a small file system of its own), with extra `serve` flags.
pub(crate) fn spawn_app_on(database: &std::path::Path, args: &[&str]) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", database.display());
    launch(dir, vec!["--database-url".to_owned(), url], &[], args, None)
}

/// Starts a cluster node on `cluster` (which the test owns and shares between nodes), with
/// extra `serve` flags and environment.
pub(crate) fn spawn_node(cluster: &ClusterBackend, args: &[&str], env: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    launch(dir, cluster.args(), env, args, None)
}

fn launch(
    dir: TempDir,
    store_args: Vec<String>,
    env: &[(&str, &str)],
    args: &[&str],
    cluster: Option<ClusterBackend>,
) -> TestApp {
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    for limit in ["--connect-rate", "--publish-rate"] {
        if !args.iter().any(|a| a == limit) {
            args.extend([limit.to_owned(), "0".to_owned()]);
        }
    }
    let env: Vec<_> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let (child, address) = start(&store_args, &env, &args, "127.0.0.1:0");
    TestApp {
        address,
        client: reqwest::Client::new(),
        dir,
        args,
        store_args,
        env,
        child,
        _cluster: cluster,
    }
}

/// Runs `taskhub serve` and waits for its "listening" log line.
fn start(
    store_args: &[String],
    env: &[(String, String)],
    args: &[String],
    addr: &str,
) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args(["serve", "--addr", addr])
        .args(store_args)
        .args(["--log-format", "json"])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("taskhub starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let (found, listening) = mpsc::channel();
    // Keep draining stderr for the server's whole life, or its writes would block.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(log) = serde_json::from_str::<Value>(&line)
                && let Some(addr) = log["addr"].as_str()
            {
                let _ = found.send(addr.to_owned());
            }
            if std::env::var_os("TASKHUB_TEST_LOGS").is_some() {
                eprintln!("server: {line}");
            }
        }
    });
    let addr = listening
        .recv_timeout(PATIENCE)
        .expect("the server logs the address it listens on");
    (child, format!("http://{addr}"))
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET` a path: the answer, whatever its status.
    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("sent")
    }

    /// `GET` a path and parse the answer as JSON.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.get(path).await.json().await.expect("JSON")
    }

    /// `POST` a JSON body to a path and parse the answer as JSON.
    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Value {
        let request = self.client.post(self.url(path)).json(body);
        request
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("JSON")
    }

    /// `POST /events` with any JSON body.
    pub(crate) async fn post_events(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/events"))
            .body(body.to_string())
            .header("content-type", "application/json")
            .send()
            .await
            .expect("request sent")
    }

    /// Publishes one event and returns its id.
    pub(crate) async fn publish(&self, event: &str, data: Value, topic: Option<&str>) -> String {
        let mut body = serde_json::json!({ "event": event, "data": data });
        if let Some(topic) = topic {
            body["topic"] = topic.into();
        }
        let response = self.post_events(&body).await;
        assert_eq!(response.status(), 202);
        let answer: Value = response.json().await.expect("JSON answer");
        answer["id"].as_str().expect("an id").to_owned()
    }

    /// Publishes a batch of `n` events of type `tick` with `data: {"n": i}`.
    pub(crate) async fn publish_batch(&self, from: usize, n: usize) -> Vec<String> {
        let batch: Vec<Value> = (from..from + n)
            .map(|i| serde_json::json!({ "event": "tick", "data": { "n": i } }))
            .collect();
        let response = self.post_events(&Value::Array(batch)).await;
        assert_eq!(response.status(), 202);
        let answer: Value = response.json().await.expect("JSON answer");
        answer["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|id| id.as_str().expect("string id").to_owned())
            .collect()
    }

    /// Opens `/events/stream` with a query string and an optional `Last-Event-ID`.
    pub(crate) async fn subscribe(&self, query: &str, last_event_id: Option<&str>) -> Sse {
        let mut request = self.client.get(self.url(&format!("/events/stream{query}")));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("stream request");
        assert_eq!(response.status(), 200, "stream refused");
        Sse::new(response)
    }

    /// Opens streams until one is accepted (a `--max-clients` slot is free), each refusal
    /// a 503; panics if none is within `within`.
    pub(crate) async fn await_stream_slot(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let response = self.get("/events/stream").await;
            if response.status() == 200 {
                return;
            }
            assert_eq!(response.status(), 503);
            assert!(
                tokio::time::Instant::now() < deadline,
                "no stream slot was freed within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls `/readyz` until it answers 200, every other answer a 503 problem; panics if
    /// it does not within `within`.
    pub(crate) async fn await_ready(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let response = self.get("/readyz").await;
            if response.status() == 200 {
                return;
            }
            problem(response, 503).await;
            assert!(
                tokio::time::Instant::now() < deadline,
                "/readyz did not recover within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends a signal with `kill(1)`.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `limit`.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGKILLs the server and starts it again on the same file and address.
    pub(crate) fn crash_and_restart(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
        self.restart_stopped();
    }

    /// Starts the server again on the same file and address after it stopped.
    pub(crate) fn restart_stopped(&mut self) {
        let addr = self.address.trim_start_matches("http://").to_owned();
        let (child, address) = start(&self.store_args, &self.env, &self.args, &addr);
        self.child = child;
        self.address = address;
        // Pooled connections died with the old process.
        self.client = reqwest::Client::new();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type ByteStream = std::pin::Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// An open SSE stream, parsed by an independent parser (`eventsource-stream`).
pub(crate) struct Sse {
    events: EventStream<ByteStream>,
}

impl Sse {
    pub(crate) fn new(response: reqwest::Response) -> Self {
        let bytes: ByteStream = Box::pin(response.bytes_stream());
        Self {
            events: bytes.eventsource(),
        }
    }

    /// The next event, or `None` when the stream ended. Panics after [`PATIENCE`].
    pub(crate) async fn next(&mut self) -> Option<Event> {
        match tokio::time::timeout(PATIENCE, self.events.next()).await {
            Ok(Some(Ok(event))) => Some(event),
            Ok(Some(Err(_)) | None) => None,
            Err(_) => panic!("no event within {PATIENCE:?}"),
        }
    }

    /// The next event, which must exist.
    pub(crate) async fn expect(&mut self) -> Event {
        self.next().await.expect("the stream ended early")
    }

    /// Skips the `connected` event, asserting it is there.
    pub(crate) async fn connected(mut self) -> Self {
        let event = self.expect().await;
        assert_eq!(event.event, "connected");
        self
    }

    /// The next `n` events' ids.
    pub(crate) async fn ids(&mut self, n: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(n);
        while ids.len() < n {
            ids.push(self.expect().await.id);
        }
        ids
    }

    /// Waits `quiet` and asserts nothing arrived meanwhile.
    pub(crate) async fn assert_quiet(&mut self, quiet: Duration) {
        if let Ok(item) = tokio::time::timeout(quiet, self.events.next()).await {
            panic!("expected silence, got {item:?}");
        }
    }
}

/// The envelope carried in an event's `data`.
pub(crate) fn envelope(event: &Event) -> Value {
    serde_json::from_str(&event.data).expect("data is JSON")
}

/// Ids `from..=to` as strings.
pub(crate) fn id_range(from: u64, to: u64) -> Vec<String> {
    (from..=to).map(|id| id.to_string()).collect()
}

/// Asserts a response is problem+json with `status`, and returns the problem.
pub(crate) async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.expect("problem JSON");
    assert_eq!(problem["status"], status);
    for member in ["type", "title", "detail"] {
        assert!(
            problem[member].is_string(),
            "problem lacks {member}: {problem}"
        );
    }
    problem
}
