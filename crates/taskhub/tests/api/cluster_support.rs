//! What cluster-mode tests run against: a private `redis-server` on a free port (with the
//! durable setting, `appendfsync always`) and a fresh PostgreSQL database, both removed
//! when dropped. `TASKHUB_TEST_BACKEND=cluster` makes `spawn_app()` use them, so the
//! whole suite runs in cluster mode too.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The PostgreSQL server the tests create their databases in (trust authentication).
const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

/// Whether this run of the suite is the cluster-mode run.
pub(crate) fn cluster_mode() -> bool {
    std::env::var("TASKHUB_TEST_BACKEND").is_ok_and(|v| v == "cluster")
}

/// A Redis and a PostgreSQL database for one test's nodes.
pub(crate) struct ClusterBackend {
    pub(crate) redis: RedisServer,
    pub(crate) database: PgDatabase,
}

impl ClusterBackend {
    pub(crate) fn start() -> Self {
        Self {
            redis: RedisServer::start(),
            database: PgDatabase::create(),
        }
    }

    /// The `serve` flags that put a node on this backend.
    pub(crate) fn args(&self) -> Vec<String> {
        vec![
            "--redis-url".into(),
            self.redis.url(),
            "--database-url".into(),
            self.database.url(),
        ]
    }
}

/// A `redis-server` of the test's own, persisting to a temporary directory.
pub(crate) struct RedisServer {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl RedisServer {
    pub(crate) fn start() -> Self {
        let mut server = Self {
            port: 0,
            dir: tempfile::tempdir().expect("temporary directory"),
            child: None,
        };
        // Another process may take the free port before redis-server binds it: try again.
        for _ in 0..10 {
            server.port = free_port();
            if server.run() {
                return server;
            }
        }
        panic!("redis-server did not start");
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILLs the server: whatever it acknowledged is in its append-only file.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process where it stands (SIGSTOP): connections stay open, commands queue
    /// unanswered in its socket buffers, and run once it is resumed.
    pub(crate) fn pause(&self) {
        self.signal("STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub(crate) fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("redis-server runs");
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal}");
    }

    /// Starts it again on the same port and files.
    pub(crate) fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.run() {
            assert!(Instant::now() < deadline, "redis-server did not restart");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `redis-cli` against this server and returns its output.
    pub(crate) fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Starts the process and waits until it answers; false if it could not start.
    fn run(&mut self) -> bool {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            if self.cli(&["PING"]) == "PONG" {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A database of its own on the local PostgreSQL, dropped afterwards.
pub(crate) struct PgDatabase {
    name: String,
}

impl PgDatabase {
    pub(crate) fn create() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("taskhub_{}_{nanos}_{}", std::process::id(), unique());
        psql("postgres", &format!("CREATE DATABASE {name}"));
        Self { name }
    }

    pub(crate) fn url(&self) -> String {
        format!("{POSTGRES}/{}", self.name)
    }

    /// Runs SQL in this database and returns the unaligned, tuples-only output.
    pub(crate) fn query(&self, sql: &str) -> String {
        psql(&self.name, sql)
    }

    /// Runs SQL as the server's administrator (for `ALTER DATABASE`).
    pub(crate) fn admin(&self, sql: &str) -> String {
        psql("postgres", &sql.replace("{db}", &self.name))
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([POSTGRES, "-q", "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn psql(database: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .arg(format!("{POSTGRES}/{database}"))
        .args(["-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .expect("psql is installed");
    assert!(
        output.status.success(),
        "psql {sql:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
