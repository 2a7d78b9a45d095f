//! Listening beyond loopback, through the `inferencekey-dev` binary: refused without
//! `--allow-remote` (a usage error), and with it served with a warning, the `/_dev` routes
//! still answering loopback peers. Traffic only ever goes to 127.0.0.1: the platform binds
//! 0.0.0.0, and the tests connect to it through loopback.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_inferencekey-dev");

/// Runs the binary to its exit (killed after 20 s: a platform that started is a failure).
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..400 {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    panic!(
        "inferencekey-dev {args:?} is still running: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_non_loopback_host_is_a_usage_error_without_allow_remote() {
    // Refused before anything binds. (Host names are covered by config's unit tests: here a
    // missing check would resolve them.)
    for host in ["0.0.0.0", "::", "192.0.2.10"] {
        let (code, stdout, stderr) = run(&["--host", host, "--port", "0"]);
        assert_eq!(code, Some(2), "--host {host}: {stderr}");
        assert!(
            stderr.contains(&format!("refusing to listen on {host}"))
                && stderr.contains("not a loopback address")
                && stderr.contains("--allow-remote"),
            "--host {host}: {stderr}"
        );
        assert!(stdout.is_empty(), "nothing printed for the shell: {stdout}");
    }
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("--allow-remote"), "{stdout}");
}

/// The child, stopped (SIGTERM, then SIGKILL) whatever the test's outcome.
struct Platform(Child);

impl Drop for Platform {
    fn drop(&mut self) {
        // SAFETY: signals the process this test started, by its pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        for _ in 0..100 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_remote_listens_on_every_address_warns_and_keeps_dev_routes_on_loopback() {
    let mut child = Command::new(BIN)
        .args([
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--allow-remote",
            "--project",
            "acme",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let platform = Platform(child);
    let (lines, received) = mpsc::channel();
    let stderr_lines = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(("out", line));
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = stderr_lines.send(("err", line));
        }
    });
    let mut exports = std::collections::HashMap::new();
    let mut warned = false;
    while exports.len() < 5 || !warned {
        let (stream, line) = received
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no exports and warning yet: {exports:?}"));
        if stream == "out" {
            let (key, value) = line
                .strip_prefix("export ")
                .and_then(|l| l.split_once('='))
                .unwrap();
            exports.insert(key.to_string(), value.to_string());
        } else if line.contains("warning: listening on 0.0.0.0, beyond loopback") {
            assert!(line.contains("--allow-remote") && line.contains("any command"));
            warned = true;
        }
    }
    let base = &exports["INFERENCEKEY_BASE_URL"];
    let port = base.strip_prefix("http://0.0.0.0:").expect(base);
    let local = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    let r = http.get(format!("{local}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{local}/api/projects/acme/workloads"))
        .bearer_auth(&exports["INFERENCEKEY_SDK_TOKEN"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Every /_dev route still serves a loopback peer (what a remote one gets is proven in
    // process, where the peer address can be chosen: routes::tests).
    let admin = &exports["INFERENCEKEY_DEV_ADMIN_SECRET"];
    let post = |path: &str, body: Option<Value>| {
        let mut request = http.post(format!("{local}{path}")).bearer_auth(admin);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { request.send().await.unwrap() }
    };
    let r = post("/_dev/projects", Some(json!({"slug": "beta"}))).await;
    assert_eq!(r.status(), 201);
    let r = post("/_dev/projects/beta/tokens", Some(json!({"kind": "sdk"}))).await;
    assert_eq!(r.status(), 201);
    let token_id = r.json::<Value>().await.unwrap()["token_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = post(&format!("/_dev/tokens/{token_id}/revoke"), None).await;
    assert_eq!(r.status(), 204);
    drop(platform);
}
