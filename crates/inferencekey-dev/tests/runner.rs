//! The workload runner and the data-plane proxy, driven with the fault-injection fake upstream
//! and with commands that fail on purpose.
//!
//! Acceptance point 6: a failing command reaches `error` with its output tail. Point 7: an
//! interrupted upstream stream becomes an error event, and a client disconnect cancels the
//! upstream request.

mod common;

use std::time::{Duration, Instant};

use common::{assert_error, eventually, fake_alive, fake_pids, sse_data, Platform};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_reaches_error_with_its_output_tail() {
    let p = Platform::start();
    let secret = format!("ik_live_0123abcd_{}", "9".repeat(64));
    // The secret is assembled by the shell at run time, so the stored spec holds none.
    let script = p.scratch.path().join("crashing-engine.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho 'engine: loading weights from /models/llama'\n\
             for i in $(seq 1 60); do echo \"engine: warming up step $i\"; done\n\
             echo \"engine: fatal: CUDA is not available (key {0}{1})\" >&2\nexit 3\n",
            &secret[..10],
            &secret[10..]
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    p.create_ok(json!({"name": "Crasher", "slug": "crasher", "task_type": "text2text", "backend": "vllm",
                       "model_name": "meta-llama/Llama-3.1-8B-Instruct",
                       "config": {"command": format!("{} --max-model-len 8192", script.display())}}))
        .await;
    p.create_ok(json!({"name": "Shell", "slug": "shell", "task_type": "embedding", "backend": "custom",
                       "model_name": "m", "config": {"command": "sh -c 'echo bad flag --frobnicate >&2; exit 7'"}}))
        .await;
    p.create_ok(
        json!({"name": "False", "slug": "false", "task_type": "reranker", "backend": "custom",
                       "model_name": "m", "config": {"command": "false"}}),
    )
    .await;

    let frames = p.readiness("crasher").await;
    let phases: Vec<&str> = frames
        .iter()
        .map(|f| f["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases.last(), Some(&"error"), "{frames:#?}");
    for frame in &frames {
        assert!(frame["message"].is_string() && !frame["message"].as_str().unwrap().contains('\n'));
    }
    let error = frames.last().unwrap();
    assert_eq!(error["message"], "process exited with status 3");
    let tail = error["log_tail"].as_str().expect("log_tail on error");
    assert!(
        tail.contains("engine: fatal: CUDA is not available"),
        "{tail}"
    );
    assert!(
        tail.lines().count() <= 40 && tail.len() <= 4096,
        "tail is bounded"
    );
    assert!(
        !tail.contains("loading weights"),
        "only the last 40 lines are kept"
    );
    assert!(
        !tail.contains(&secret[17..]),
        "the tail is redacted: {tail}"
    );
    assert!(tail.contains("ik_live_0123abcd\u{2026}"), "{tail}");

    let frames = p.readiness("shell").await;
    let error = frames.last().unwrap();
    assert_eq!(error["phase"], "error");
    assert_eq!(error["message"], "process exited with status 7");
    assert!(error["log_tail"]
        .as_str()
        .unwrap()
        .contains("bad flag --frobnicate"));
    let frames = p.readiness("false").await;
    assert_eq!(
        frames.last().unwrap()["message"],
        "process exited with status 1"
    );

    // The list shows the phase; data calls say the workload failed (no Retry-After).
    let list: Value = p
        .send(
            Method::GET,
            "/api/projects/acme/workloads",
            Some(&p.sdk),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|w| w["phase"] == "error"));
    let r = p.chat("crasher", "hi", false).await;
    assert!(r.headers().get("retry-after").is_none());
    let error = assert_error(r, 503, "workload_failed").await;
    assert!(error["message"].as_str().unwrap().contains("status 3"));

    // Patching the command restarts it: back to scheduling, then ready.
    let (command, _) = p.fake_command("crasher", "");
    let r = p
        .send(
            Method::PATCH,
            "/api/workloads/crasher",
            Some(&p.sdk),
            Some(json!({"config": {"command": command}})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let patched: Value = r.json().await.unwrap();
    assert_ne!(patched["phase"], "error");
    p.wait_ready("crasher").await;
    assert_eq!(p.chat("crasher", "hi", false).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_that_cannot_run_say_why() {
    let p = Platform::start_with(inferencekey_dev::DevConfig {
        python: Some("/nonexistent/python3".into()),
        ..Default::default()
    });
    p.create_ok(
        json!({"name": "Painter", "task_type": "text2image", "backend": "b", "model_name": "sdxl",
                       "config": {"command": "stable-diffusion-not-installed --x"}}),
    )
    .await;
    let error = p.readiness("painter").await.pop().unwrap();
    assert_eq!(error["phase"], "error");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("no local stand-in serves task type text2image"),
        "{message}"
    );
    assert!(
        message.contains("stable-diffusion-not-installed is not installed"),
        "{message}"
    );

    // A stand-in whose interpreter is missing.
    p.create_ok(
        json!({"name": "Chat", "task_type": "text2text", "backend": "vllm", "model_name": "m"}),
    )
    .await;
    let error = p.readiness("chat").await.pop().unwrap();
    assert_eq!(error["phase"], "error");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("could not start /nonexistent/python3"),
        "{message}"
    );

    // A process that never becomes ready within its startup deadline is stopped.
    let (command, markers) = p.fake_command("late", "--slow-start 60");
    p.create_ok(
        json!({"name": "Late", "task_type": "text2text", "backend": "vllm", "model_name": "m",
                       "config": {"command": command, "startup_timeout_s": 1.5}}),
    )
    .await;
    let error = p.readiness("late").await.pop().unwrap();
    assert_eq!(error["phase"], "error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("not ready after 1.5 s"),
        "{error}"
    );
    let pid = fake_pids(&markers)[0];
    assert!(
        eventually(Duration::from_secs(5), || !fake_alive(pid)).await,
        "the late process is stopped"
    );

    // A command that does not parse.
    p.create_ok(
        json!({"name": "Quote", "task_type": "text2text", "backend": "vllm", "model_name": "m",
                       "config": {"command": "vllm serve 'unterminated"}}),
    )
    .await;
    let error = p.readiness("quote").await.pop().unwrap();
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("unterminated single quote"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_upstream_stream_becomes_an_error_event() {
    let p = Platform::start();
    p.create_fake("breaker", "text2text", "").await;
    let frames = p.wait_ready("breaker").await;
    let steps: Vec<&str> = frames.iter().filter_map(|f| f["step"].as_str()).collect();
    assert!(steps.contains(&"health_probe"), "{frames:#?}");

    let r = p.chat("breaker", "break", true).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let events = sse_data(r).await;
    assert!(events.len() >= 2, "{events:?}");
    let (last, chunks) = events.split_last().unwrap();
    for chunk in chunks {
        let chunk: Value = serde_json::from_str(chunk).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(
            chunk["model"], "fake-model.Q4",
            "a file path is never shown as the model"
        );
    }
    let last: Value = serde_json::from_str(last).unwrap();
    assert_eq!(
        last,
        json!({"error": {"code": "upstream_interrupted", "message": "workload process closed the stream"}})
    );
    assert!(!events.iter().any(|e| e == "[DONE]"));

    // A complete stream ends with [DONE]; empty-choices events only when usage is asked for.
    let events = sse_data(p.chat("breaker", "usage", true).await).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert!(
        events
            .iter()
            .all(|e| !e.contains("\"choices\": []") && !e.contains("\"choices\":[]")),
        "{events:?}"
    );
    assert_eq!(events.len(), 3, "hello, finish, [DONE]: {events:?}");
    let r = p
        .send(
            Method::POST,
            "/endpoint/acme/breaker/v1/chat/completions",
            Some(&p.live),
            Some(
                json!({"messages": [{"role": "user", "content": "usage"}], "stream": true,
                          "stream_options": {"include_usage": true}}),
            ),
        )
        .await;
    let events = sse_data(r).await;
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(events.iter().any(|e| e.contains("\"usage\"")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disconnect_cancels_the_upstream_request() {
    let p = Platform::start();
    let (_, markers) = p.create_fake("slowpoke", "text2text", "").await;
    p.wait_ready("slowpoke").await;

    let r = p.chat("slowpoke", "slow", true).await;
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let started = Instant::now();
    // Events arrive one by one while the upstream is still producing (no buffering).
    let mut seen = String::new();
    while !seen.contains("tick2 ") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("events flow before the upstream finishes")
            .expect("stream open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "streamed, not buffered"
    );
    drop(stream); // the client goes away mid-stream

    let cancelled = markers.join("cancelled");
    assert!(
        eventually(Duration::from_secs(10), || cancelled.exists()).await,
        "the upstream request was not cancelled"
    );
    assert!(!markers.join("completed").exists());
    // The workload keeps serving.
    assert_eq!(p.chat("slowpoke", "hi", false).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failures_map_to_the_contract_codes() {
    let p = Platform::start_with(inferencekey_dev::DevConfig {
        upstream_timeout_s: Some(1.0),
        ..Default::default()
    });
    let (_, markers) = p.create_fake("flaky", "text2text", "").await;
    p.create_fake("sleepy", "text2text", "--slow-start 4").await;
    p.wait_ready("flaky").await;

    // `model` is rewritten to the id the process serves; file paths never show.
    let r = p.chat("flaky", "hi", false).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "received model=fake-model.Q4"
    );
    assert_eq!(body["model"], "fake-model.Q4");

    // Not ready yet: 503 with Retry-After.
    let r = p.chat("sleepy", "hi", false).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry));
    assert_error(r, 503, "workload_not_ready").await;

    assert_error(
        p.chat("flaky", "garbage", false).await,
        502,
        "upstream_error",
    )
    .await;
    assert_error(
        p.chat("flaky", "sleep", false).await,
        504,
        "upstream_timeout",
    )
    .await;
    let pid = fake_pids(&markers)[0];
    assert_error(p.chat("flaky", "crash", false).await, 502, "upstream_error").await;
    // The supervisor notices the exit just after the 502; give it a bounded moment.
    let mut frames = p.readiness("flaky").await;
    for _ in 0..100 {
        if frames.last().is_some_and(|f| f["phase"] == "error") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        frames = p.readiness("flaky").await;
    }
    let last = frames.last().unwrap();
    assert_eq!(last["phase"], "error", "{frames:#?}");
    assert!(last["message"].as_str().unwrap().contains("while serving"));
    assert!(!fake_alive(pid));
    assert_error(p.chat("flaky", "hi", false).await, 503, "workload_failed").await;

    p.wait_ready("sleepy").await;
    assert_eq!(p.chat("sleepy", "hi", false).await.status(), 200);
    // /v1/models says what serves it.
    let models: Value = p
        .send(
            Method::GET,
            "/endpoint/acme/sleepy/v1/models",
            Some(&p.live),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "sleepy");
    assert_eq!(models["data"][0]["root"], "fake-model.Q4");
    assert_eq!(models["data"][0]["inferencekey"]["stand_in"], false);
    assert_eq!(
        models["data"][0]["inferencekey"]["declared_model"],
        "acme/fake-model"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_stop_and_restart_manage_the_processes() {
    let data = tempfile::tempdir().unwrap();
    let config = inferencekey_dev::DevConfig {
        data_dir: Some(data.path().to_path_buf()),
        ..Default::default()
    };
    let mut p = Platform::start_with(config.clone());
    let (kept, kept_markers) = p.create_fake("kept", "text2text", "").await;
    let (_, gone_markers) = p.create_fake("gone", "embedding", "").await;
    p.wait_ready("kept").await;
    p.wait_ready("gone").await;
    let kept_pid = fake_pids(&kept_markers)[0];
    let gone_pid = fake_pids(&gone_markers)[0];
    assert!(fake_alive(kept_pid) && fake_alive(gone_pid));

    // Delete stops the process before answering.
    let r = p
        .send(Method::DELETE, "/api/workloads/gone", Some(&p.sdk), None)
        .await;
    assert_eq!(r.status(), 204);
    assert!(
        !fake_alive(gone_pid),
        "the process is gone when DELETE answers"
    );

    // A patch of name/description does not restart; a config change does.
    let r = p
        .send(
            Method::PATCH,
            "/api/workloads/kept",
            Some(&p.sdk),
            Some(json!({"description": "d"})),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["phase"], "ready");
    assert_eq!(fake_pids(&kept_markers), vec![kept_pid]);

    // Stop: every child goes. Start again on the same folder: restored and started.
    p.stop();
    assert!(!fake_alive(kept_pid), "stop leaves no child behind");
    let p = Platform::start_with(config);
    p.wait_ready("kept").await;
    let list: Value = p
        .send(
            Method::GET,
            "/api/projects/acme/workloads",
            Some(&p.sdk),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], kept["id"]);
    assert_eq!(list[0]["description"], "d");
    let pids = fake_pids(&kept_markers);
    assert_eq!(pids.len(), 2, "started again: {pids:?}");
    assert_eq!(p.chat("kept", "hi", false).await.status(), 200);

    // A second platform on the same folder is refused.
    let err = inferencekey_dev::DevServer::start(inferencekey_dev::DevConfig {
        port: Some(0),
        data_dir: Some(data.path().to_path_buf()),
        ..Default::default()
    })
    .err()
    .expect("one platform per data folder");
    assert_eq!(err.code, "data_dir_in_use");
}
