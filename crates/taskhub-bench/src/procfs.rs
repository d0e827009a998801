//! What a server costs, read from `/proc`: CPU time (`utime + stime` of
//! `/proc/PID/stat`) and resident memory (`VmRSS` of `/proc/PID/status`), summed over
//! the server's processes (the ones started and all their descendants).

use std::collections::BTreeSet;
use std::fs;

/// CPU and memory of a set of processes at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// `utime + stime`, in clock ticks.
    pub cpu_ticks: u64,
    pub rss_kib: u64,
    /// Processes that could be read.
    pub processes: usize,
}

/// `roots` and every process descended from them, alive now.
pub fn family(roots: &[u32]) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(stat) = read_stat(pid) {
                parents.push((pid, stat.ppid));
            }
        }
    }
    let mut family: BTreeSet<u32> = roots
        .iter()
        .copied()
        .filter(|&p| read_stat(p).is_some())
        .collect();
    loop {
        let before = family.len();
        for &(pid, ppid) in &parents {
            if family.contains(&ppid) {
                family.insert(pid);
            }
        }
        if family.len() == before {
            return family.into_iter().collect();
        }
    }
}

/// Sums CPU time and RSS over `pids` (ones that exited are skipped).
pub fn sample(pids: &[u32]) -> Sample {
    let mut sample = Sample::default();
    for &pid in pids {
        let Some(stat) = read_stat(pid) else {
            continue;
        };
        sample.cpu_ticks += stat.utime + stat.stime;
        sample.rss_kib += rss_kib(pid).unwrap_or(0);
        sample.processes += 1;
    }
    sample
}

/// The machine's 1-minute load average (other work competing for the cores).
pub fn load_average() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we know).
pub fn ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

#[derive(Debug, Clone, Copy)]
struct Stat {
    ppid: u32,
    utime: u64,
    stime: u64,
}

fn read_stat(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Fields after the command name (which may hold spaces and parentheses): state, ppid,
/// …, utime (14th field of the line), stime (15th).
fn parse_stat(text: &str) -> Option<Stat> {
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    Some(Stat {
        ppid: fields.get(1)?.parse().ok()?,
        utime: fields.get(11)?.parse().ok()?,
        stime: fields.get(12)?.parse().ok()?,
    })
}

fn rss_kib(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_an_awkward_name() {
        let line = "1234 (my (odd) proc) S 77 1234 1234 0 -1 4194560 100 0 0 0 25 13 0 0 20 0 1 0";
        let stat = parse_stat(line).expect("valid");
        assert_eq!((stat.ppid, stat.utime, stat.stime), (77, 25, 13));
    }

    #[test]
    fn sees_this_process() {
        let me = std::process::id();
        let s = sample(&family(&[me]));
        assert!(s.processes >= 1);
        assert!(s.rss_kib > 0);
    }
}
