//! What the numbers were measured on: the machine, and each server's version.

use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::server::ServerSetup;
use crate::target::Kind;

/// The machine, as `/proc` and `/etc/os-release` describe it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub os: String,
    /// Open-file limit (soft/hard) of the benchmark process.
    pub nofile: String,
}

impl Machine {
    pub fn describe() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default();
        let memory_kib: f64 = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_default();
        let nofile = read("/proc/self/limits")
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                format!("{}/{}", f.get(3).unwrap_or(&"?"), f.get(4).unwrap_or(&"?"))
            })
            .unwrap_or_default();
        Self {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            memory_gib: (memory_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            os,
            nofile,
        }
    }
}

/// A one-line version of each server, as installed here.
pub fn version(kind: Kind, setup: &ServerSetup) -> String {
    match kind {
        Kind::Taskhub => {
            let bin = run(
                setup.taskhub_bin.as_os_str().to_str().unwrap_or("taskhub"),
                &["--version"],
            );
            // The working tree the benchmark runs from (scripts/bench.sh: the repository).
            let commit = run("git", &["rev-parse", "--short", "HEAD"]);
            format!("{bin} (commit {commit})")
        }
        Kind::Nchan => {
            let nginx = run("sh", &["-c", "nginx -v 2>&1"]);
            let nchan = dpkg(&["libnginx-mod-nchan"]);
            format!("{nginx}, {nchan}")
        }
        Kind::Pushpin => dpkg(&["pushpin", "condure", "zurl"]),
        Kind::Seed => {
            let python = setup.peers_dir.join("seed-fastapi/.venv/bin/python");
            run(
                python.to_str().unwrap_or("python3"),
                &[
                    "-c",
                    "import sys, fastapi, sse_starlette, uvicorn, starlette; \
                     print(f'Python {sys.version.split()[0]}, fastapi {fastapi.__version__}, \
                     sse-starlette {sse_starlette.__version__}, starlette {starlette.__version__}, \
                     uvicorn {uvicorn.__version__}')",
                ],
            )
        }
    }
}

fn dpkg(packages: &[&str]) -> String {
    let mut args = vec!["-W", "-f", "${Package} ${Version}\\n"];
    args.extend_from_slice(packages);
    run("dpkg-query", &args).replace('\n', ", ")
}

/// A command's trimmed stdout, or `unknown (why)`.
fn run(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        Ok(o) => format!("unknown ({})", String::from_utf8_lossy(&o.stderr).trim()),
        Err(e) => format!("unknown ({program}: {e})"),
    }
}
