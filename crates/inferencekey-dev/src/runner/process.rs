//! Child processes: started in their own process group, tied to the platform with
//! `PR_SET_PDEATHSIG` (Linux only: macOS has no equivalent, so there a platform killed with
//! SIGKILL leaves its workload processes running), stopped with SIGTERM then SIGKILL, their output kept in a log file whose
//! tail feeds readiness errors.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

use super::launch::Plan;
use crate::tokens::redact_text;

/// Environment variables holding credentials that a workload process must not inherit.
const SCRUBBED_ENV: [&str; 3] = [
    "INFERENCEKEY_SDK_TOKEN",
    "INFERENCEKEY_API_KEY",
    "INFERENCEKEY_DEV_ADMIN_SECRET",
];

/// A running workload process and its process group.
pub struct Proc {
    pub child: Child,
    pub pgid: i32,
}

/// Starts `plan` with stdout and stderr appended to `log_path`.
///
/// Must be called from a runtime worker thread (not `spawn_blocking`): `PR_SET_PDEATHSIG` fires
/// when the *thread* that forked the child exits, and worker threads live as long as the
/// platform's runtime.
pub fn spawn(plan: &Plan, work_dir: &Path, log_path: &Path) -> std::io::Result<Proc> {
    let log = File::create(log_path)?;
    let log_err = log.try_clone()?;
    let mut command = Command::new(&plan.program);
    command
        .args(&plan.args)
        .envs(plan.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(work_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .process_group(0)
        .kill_on_drop(true);
    for key in SCRUBBED_ENV {
        command.env_remove(key);
    }
    #[cfg(target_os = "linux")]
    tie_to_parent(&mut command);
    let child = command.spawn()?;
    let pgid = child.id().map(|id| id as i32).unwrap_or(0);
    Ok(Proc { child, pgid })
}

/// The child gets SIGKILL when the thread that forked it (a runtime worker) exits.
#[cfg(target_os = "linux")]
fn tie_to_parent(command: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The platform died between fork and prctl: do not outlive it.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Sends `signal` to the whole process group (no-op once it is empty).
pub fn signal_group(pgid: i32, signal: libc::c_int) {
    if pgid > 0 {
        // SAFETY: plain syscall; a negative pid addresses the process group. Linux never reuses
        // a pid that is still some group's id, so this cannot reach an unrelated process.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// SIGTERM to the group, SIGKILL after `grace`, then reap.
pub async fn terminate(mut proc: Proc, grace: Duration) {
    if proc.child.try_wait().ok().flatten().is_none() {
        signal_group(proc.pgid, libc::SIGTERM);
        if tokio::time::timeout(grace, proc.child.wait())
            .await
            .is_err()
        {
            signal_group(proc.pgid, libc::SIGKILL);
            let _ = proc.child.wait().await;
        }
    }
    // Whatever the leader left behind in its group goes too.
    signal_group(proc.pgid, libc::SIGKILL);
}

/// `process exited with status 3`, `process was killed by signal 9`.
pub fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("process exited with status {code}"),
        (None, Some(signal)) => format!("process was killed by signal {signal}"),
        _ => "process exited".to_string(),
    }
}

/// The last ≤ 40 lines / 4 KiB of a log file, redacted; `None` when empty.
pub fn log_tail(path: &Path) -> Option<String> {
    const MAX_BYTES: u64 = 4096;
    const MAX_LINES: usize = 40;
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let start = len.saturating_sub(MAX_BYTES);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && lines.len() > 1 {
        lines.remove(0); // cut mid-line
    }
    let keep = lines.len().saturating_sub(MAX_LINES);
    let mut tail = redact_text(lines[keep..].join("\n").trim_matches('\n'));
    tail.push('\n');
    // Redaction and lossy decoding can lengthen it: drop leading lines (or bytes) to fit.
    while tail.len() > MAX_BYTES as usize {
        match tail.find('\n') {
            Some(pos) if pos + 1 < tail.len() => {
                tail.drain(..=pos);
            }
            _ => {
                let cut = tail.len() - MAX_BYTES as usize;
                let boundary = (cut..tail.len())
                    .find(|i| tail.is_char_boundary(*i))
                    .unwrap_or(0);
                tail.drain(..boundary);
            }
        }
    }
    (!tail.trim().is_empty()).then_some(tail)
}

/// Reserves a free loopback port for a workload's process to bind (checked free, then
/// released). Taken below the system's ephemeral range: an ephemeral port may be handed to
/// any outgoing connection of the machine before the process binds it (clients' pools make
/// thousands), and the workload would then fail at start. A port handed out lately is not
/// handed out again, so workloads starting together never get the same one.
pub fn reserve_port() -> std::io::Result<u16> {
    use rand::Rng;
    static LATELY: std::sync::Mutex<std::collections::VecDeque<u16>> =
        std::sync::Mutex::new(std::collections::VecDeque::new());
    let mut lately = LATELY.lock().unwrap_or_else(|p| p.into_inner());
    let (low, high) = below_ephemeral_range();
    let mut rng = rand::rng();
    let candidates = (0..256).map(|_| rng.random_range(low..=high));
    let port = match candidates
        .filter(|port| !lately.contains(port))
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
    {
        Some(port) => port,
        // That range is taken: any free port the system picks.
        None => std::net::TcpListener::bind(("127.0.0.1", 0))?
            .local_addr()?
            .port(),
    };
    if lately.len() == 1024 {
        lately.pop_front();
    }
    lately.push_back(port);
    Ok(port)
}

/// Listening ports to pick from: from 10000 to just below where the system's ephemeral ports
/// start (Linux: `ip_local_port_range`, 32768 by default; macOS starts at 49152).
fn below_ephemeral_range() -> (u16, u16) {
    const LOW: u16 = 10_000;
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    (LOW, first_ephemeral.saturating_sub(1).max(LOW + 1_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ports_are_free_distinct_and_below_the_ephemeral_range() {
        let (low, high) = below_ephemeral_range();
        let ports: Vec<u16> = (0..300).map(|_| reserve_port().unwrap()).collect();
        let distinct: std::collections::HashSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "a port was handed out twice");
        for port in ports {
            assert!((low..=high).contains(&port), "{port} not in {low}..={high}");
        }
        // Each is free when handed out: the workload can bind it.
        let port = reserve_port().unwrap();
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    }

    #[test]
    fn tails_are_bounded_and_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let mut text = String::new();
        for i in 0..100 {
            text.push_str(&format!("line {i} ik_sdk_\n"));
        }
        text.push_str(&format!("last ik_live_0123abcd_{}\n", "7".repeat(64)));
        std::fs::write(&path, &text).unwrap();
        let tail = log_tail(&path).unwrap();
        assert!(tail.lines().count() <= 40 && tail.len() <= 4096);
        assert!(tail.ends_with("last ik_live_0123abcd\u{2026}\n"), "{tail}");
        // A bare prefix is prose (`an ik_sdk_ token`), not a token: kept as it is.
        assert!(tail.contains("line 99 ik_sdk_\n"), "{tail}");

        std::fs::write(&path, "x".repeat(10_000)).unwrap();
        let tail = log_tail(&path).unwrap();
        assert!(tail.len() <= 4096 && tail.starts_with('x'));

        std::fs::write(&path, "").unwrap();
        assert_eq!(log_tail(&path), None);
    }
}
