//! Starting and stopping the servers under test: a fresh one for every measurement.
//!
//! TaskHub is started from its binary on a fresh SQLite file (or on the database its
//! extra flags name, a cluster node's); each peer by its own
//! `start.sh PORT` in `peers/<dir>/` and stopped by its `stop.sh`. A server that cannot
//! start is an error naming why (the caller reports it as skipped).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::error::BenchError;
use crate::http::get_status;
use crate::procfs;
use crate::target::{Kind, Target};
use crate::url::HttpUrl;

/// Flags every benchmark run gives TaskHub: room for 19,800 streams, no per-address
/// rate limits (all the load comes from loopback), a short shutdown.
pub const TASKHUB_BENCH_ARGS: &[&str] = &[
    "--max-clients",
    "20000",
    "--connect-rate",
    "0",
    "--publish-rate",
    "0",
    "--shutdown-grace-secs",
    "2",
];

/// Where the servers come from.
#[derive(Debug, Clone)]
pub struct ServerSetup {
    pub taskhub_bin: PathBuf,
    /// Extra flags for `taskhub serve`, after [`TASKHUB_BENCH_ARGS`].
    pub taskhub_args: Vec<String>,
    /// The directory holding `seed-fastapi/`, `nchan/`, `pushpin/`.
    pub peers_dir: PathBuf,
    /// For TaskHub's database and log.
    pub scratch: PathBuf,
    /// TaskHub listens on `base_port`, the seed on +1, nchan +2, pushpin +3 (origin +13).
    pub base_port: u16,
}

impl ServerSetup {
    pub fn port(&self, kind: Kind) -> u16 {
        self.base_port
            + match kind {
                Kind::Taskhub => 0,
                Kind::Seed => 1,
                Kind::Nchan => 2,
                Kind::Pushpin => 3,
            }
    }

    fn peer_dir(&self, kind: Kind) -> PathBuf {
        self.peers_dir.join(match kind {
            Kind::Seed => "seed-fastapi",
            other => other.name(),
        })
    }
}

#[derive(Debug)]
enum Stopper {
    Child(Child),
    Script(PathBuf),
}

/// A started server.
#[derive(Debug)]
pub struct Running {
    pub kind: Kind,
    pub target: Target,
    roots: Vec<u32>,
    stopper: Stopper,
}

impl Running {
    /// The server's processes now (the ones started and their descendants).
    pub fn pids(&self) -> Vec<u32> {
        procfs::family(&self.roots)
    }

    /// Stops it and waits until it is gone.
    pub async fn stop(self) {
        match self.stopper {
            Stopper::Child(mut child) => {
                if let Some(pid) = child.id() {
                    let _ = Command::new("kill")
                        .args(["-TERM", &pid.to_string()])
                        .status()
                        .await;
                }
                if tokio::time::timeout(Duration::from_secs(8), child.wait())
                    .await
                    .is_err()
                {
                    let _ = child.kill().await;
                }
            }
            Stopper::Script(script) => {
                let _ = run_script(&script, &[], Duration::from_secs(30)).await;
            }
        }
    }
}

/// Starts a fresh server of `kind`.
pub async fn start(kind: Kind, setup: &ServerSetup) -> Result<Running, BenchError> {
    let port = setup.port(kind);
    match kind {
        Kind::Taskhub => start_taskhub(setup, port).await,
        _ => start_peer(kind, setup, port).await,
    }
}

async fn start_taskhub(setup: &ServerSetup, port: u16) -> Result<Running, BenchError> {
    let fail = |reason: String| BenchError::Start {
        server: "taskhub".into(),
        reason,
    };
    if !setup.taskhub_bin.is_file() {
        return Err(fail(format!(
            "no binary at {} (build it: cargo build --release -p taskhub)",
            setup.taskhub_bin.display()
        )));
    }
    std::fs::create_dir_all(&setup.scratch).map_err(BenchError::io(format!(
        "creating {}",
        setup.scratch.display()
    )))?;
    let db = setup.scratch.join("taskhub-bench.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let log_path = setup.scratch.join("taskhub.log");
    let log = std::fs::File::create(&log_path)
        .map_err(BenchError::io(format!("creating {}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(BenchError::io("duplicating the log file"))?;
    // A fresh SQLite file, unless the extra flags name a database (a cluster node's).
    let names_database = setup
        .taskhub_args
        .iter()
        .any(|arg| arg == "--database-url" || arg.starts_with("--database-url="));
    let sqlite = (!names_database).then(|| format!("--database-url=sqlite://{}", db.display()));
    let child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$0\" \"$@\"")
        .arg(&setup.taskhub_bin)
        .arg("serve")
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .args(sqlite)
        .args(TASKHUB_BENCH_ARGS)
        .args(&setup.taskhub_args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot run {}: {e}", setup.taskhub_bin.display())))?;
    let pid = child.id().unwrap_or(0);
    let mut running = Running {
        kind: Kind::Taskhub,
        target: Target::local(Kind::Taskhub, port),
        roots: vec![pid],
        stopper: Stopper::Child(child),
    };
    let health = HttpUrl::parse(&format!("http://127.0.0.1:{port}/healthz"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(200) = get_status(&health, Duration::from_secs(2)).await {
            return Ok(running);
        }
        let exited = match &mut running.stopper {
            Stopper::Child(child) => child.try_wait().ok().flatten().is_some(),
            Stopper::Script(_) => false,
        };
        if exited || Instant::now() > deadline {
            running.stop().await;
            return Err(fail(format!(
                "not answering /healthz; log tail: {}",
                tail(&log_path)
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start_peer(kind: Kind, setup: &ServerSetup, port: u16) -> Result<Running, BenchError> {
    let dir = setup.peer_dir(kind);
    let start = dir.join("start.sh");
    if !start.is_file() {
        return Err(BenchError::Start {
            server: kind.name().into(),
            reason: format!("no {}", start.display()),
        });
    }
    let mut args = vec![port.to_string()];
    if kind == Kind::Pushpin {
        args.push((port + 10).to_string());
    }
    // A first start may install packages or build a virtualenv.
    let output = run_script(&start, &args, Duration::from_secs(600)).await?;
    if !output.0 {
        let _ = run_script(&dir.join("stop.sh"), &[], Duration::from_secs(30)).await;
        return Err(BenchError::Start {
            server: kind.name().into(),
            reason: output.1,
        });
    }
    let pidfiles: &[&str] = match kind {
        Kind::Seed => &["run/seed.pid"],
        Kind::Nchan => &["run/nginx.pid"],
        Kind::Pushpin => &["run/pushpin.pid", "run/origin.pid"],
        Kind::Taskhub => &[],
    };
    let roots = pidfiles
        .iter()
        .filter_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Ok(Running {
        kind,
        target: Target::local(kind, port),
        roots,
        stopper: Stopper::Script(dir.join("stop.sh")),
    })
}

/// Runs a script; `(succeeded, last lines of its output)`.
async fn run_script(
    script: &Path,
    args: &[String],
    timeout: Duration,
) -> Result<(bool, String), BenchError> {
    let child = Command::new("bash")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(timeout, child)
        .await
        .map_err(|_| BenchError::Timeout {
            secs: timeout.as_secs_f64(),
            what: format!("running {}", script.display()),
        })?
        .map_err(BenchError::io(format!("running {}", script.display())))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
    Ok((output.status.success(), tail))
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}
