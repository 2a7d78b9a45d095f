//! Contract tests (wire protocol §1–§6, §8, §9) over real HTTP on loopback, with reqwest.
//!
//! Acceptance point 2: every route × every token kind, and every malformed request, get the
//! contract's status and nested error body while the platform keeps serving. Point 3: racing
//! creates. Point 5: no token secret in the SQLite file.

mod common;

use std::time::Duration;

use common::{assert_error, sse_data, Platform};
use reqwest::Method;
use serde_json::{json, Value};

/// One route of the contract, with a body that succeeds when the credential is right.
struct Route {
    name: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    /// Control (`ik_sdk_`) or data (`ik_live_`) plane.
    control: bool,
    /// Needs `workload:write` (else `workload:read`) on the control plane.
    write: bool,
    /// The path names the project (else `/api/workloads/{id}`).
    project_in_path: bool,
    success: u16,
}

async fn setup_matrix() -> (Platform, Vec<Route>) {
    let p = Platform::start();
    let (_, _) = p.create_fake("chat", "text2text", "").await;
    let (_, _) = p.create_fake("emb", "embedding", "").await;
    let (_, _) = p.create_fake("rr", "reranker", "").await;
    // A workload with no stand-in: reaches `error` at once and runs no process.
    let target = p
        .create_ok(
            json!({"name": "Target", "slug": "target", "task_type": "text2image",
                          "backend": "custom-engine", "model_name": "m"}),
        )
        .await;
    let doomed = p
        .create_ok(
            json!({"name": "Doomed", "slug": "doomed", "task_type": "text2image",
                          "backend": "custom-engine", "model_name": "m"}),
        )
        .await;
    for slug in ["chat", "emb", "rr"] {
        p.wait_ready(slug).await;
    }
    let id = |w: &Value| w["id"].as_str().unwrap().to_string();
    let routes = vec![
        Route {
            name: "list",
            method: Method::GET,
            path: "/api/projects/acme/workloads".into(),
            body: None,
            control: true,
            write: false,
            project_in_path: true,
            success: 200,
        },
        Route {
            name: "create",
            method: Method::POST,
            path: "/api/projects/acme/workloads".into(),
            body: Some(
                json!({"name": "Matrix", "slug": "matrix-created", "task_type": "text2image",
                              "backend": "custom-engine", "model_name": "m"}),
            ),
            control: true,
            write: true,
            project_in_path: true,
            success: 201,
        },
        Route {
            name: "patch",
            method: Method::PATCH,
            path: format!("/api/workloads/{}", id(&target)),
            body: Some(json!({"description": "patched by the matrix"})),
            control: true,
            write: true,
            project_in_path: false,
            success: 200,
        },
        Route {
            name: "delete",
            method: Method::DELETE,
            path: format!("/api/workloads/{}", id(&doomed)),
            body: None,
            control: true,
            write: true,
            project_in_path: false,
            success: 204,
        },
        Route {
            name: "readiness",
            method: Method::GET,
            path: "/api/projects/acme/workloads/chat/readiness-events".into(),
            body: None,
            control: true,
            write: false,
            project_in_path: true,
            success: 200,
        },
        Route {
            name: "chat",
            method: Method::POST,
            path: "/endpoint/acme/chat/v1/chat/completions".into(),
            body: Some(
                json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "stream": false}),
            ),
            control: false,
            write: false,
            project_in_path: true,
            success: 200,
        },
        Route {
            name: "completions",
            method: Method::POST,
            path: "/endpoint/acme/chat/v1/completions".into(),
            body: Some(json!({"model": "chat", "prompt": "hi", "stream": false})),
            control: false,
            write: false,
            project_in_path: true,
            success: 200,
        },
        Route {
            name: "embeddings",
            method: Method::POST,
            path: "/endpoint/acme/emb/v1/embeddings".into(),
            body: Some(json!({"model": "emb", "input": ["a cat"]})),
            control: false,
            write: false,
            project_in_path: true,
            success: 200,
        },
        Route {
            name: "rerank",
            method: Method::POST,
            path: "/endpoint/acme/rr/v1/rerank".into(),
            body: Some(json!({"model": "rr", "query": "q", "documents": ["a", "b"]})),
            control: false,
            write: false,
            project_in_path: true,
            success: 200,
        },
        Route {
            name: "models",
            method: Method::GET,
            path: "/endpoint/acme/chat/v1/models".into(),
            body: None,
            control: false,
            write: false,
            project_in_path: true,
            success: 200,
        },
    ];
    (p, routes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_enforces_every_token_kind_in_contract_order() {
    let (p, routes) = setup_matrix().await;

    // Another project, with its own tokens.
    let other = p
        .send(
            Method::POST,
            "/_dev/projects",
            Some(&p.admin),
            Some(json!({"slug": "other"})),
        )
        .await;
    assert_eq!(other.status(), 201);
    let other: Value = other.json().await.unwrap();
    let other_sdk = other["sdk_token"].as_str().unwrap().to_string();
    let other_live = other["api_key"].as_str().unwrap().to_string();

    // Tokens of acme with too little.
    let (sdk_read_only, _) = p
        .mint("acme", json!({"kind": "sdk", "scopes": ["workload:read"]}))
        .await;
    let (sdk_no_scope, _) = p.mint("acme", json!({"kind": "sdk", "scopes": []})).await;
    let (live_elsewhere, _) = p
        .mint(
            "acme",
            json!({"kind": "live", "grants": ["acme/not-these"]}),
        )
        .await;
    // Revoked tokens of both kinds.
    let (revoked_sdk, id) = p.mint("acme", json!({"kind": "sdk"})).await;
    p.revoke(&id).await;
    let (revoked_live, id) = p.mint("acme", json!({"kind": "live"})).await;
    p.revoke(&id).await;
    // Well-formed tokens nobody minted.
    let unknown_sdk = format!("ik_sdk_0badc0de_{}", "ab".repeat(32));
    let unknown_live = format!("ik_live_0badc0de_{}", "ab".repeat(32));

    for route in &routes {
        let (own, wrong_plane, revoked, unknown, other_project) = if route.control {
            (&p.sdk, &p.live, &revoked_sdk, &unknown_sdk, &other_sdk)
        } else {
            (&p.live, &p.sdk, &revoked_live, &unknown_live, &other_live)
        };
        let insufficient = if !route.control {
            &live_elsewhere
        } else if route.write {
            &sdk_read_only
        } else {
            &sdk_no_scope
        };
        let send = |auth: Option<String>| {
            let mut request = p.http.request(route.method.clone(), p.url(&route.path));
            if let Some(auth) = auth {
                request = request.header("Authorization", auth);
            }
            if let Some(body) = &route.body {
                request = request.json(body);
            }
            async move { request.send().await.unwrap() }
        };
        let bearer = |t: &str| Some(format!("Bearer {t}"));
        println!("route {}", route.name);

        assert_error(send(None).await, 401, "missing_credential").await;
        assert_error(
            send(Some("Basic dXNlcjpwYXNz".into())).await,
            401,
            "missing_credential",
        )
        .await;
        assert_error(
            send(Some("Bearer   ".into())).await,
            401,
            "missing_credential",
        )
        .await;
        assert_error(send(bearer("not-a-token")).await, 401, "invalid_credential").await;
        assert_error(
            send(bearer("ik_sdk_1234_short")).await,
            401,
            "invalid_credential",
        )
        .await;
        assert_error(
            send(bearer(&own.to_uppercase())).await,
            401,
            "invalid_credential",
        )
        .await;
        assert_error(
            send(bearer(wrong_plane)).await,
            403,
            "wrong_credential_type",
        )
        .await;
        assert_error(send(bearer(revoked)).await, 401, "invalid_credential").await;
        assert_error(send(bearer(unknown)).await, 401, "invalid_credential").await;
        if route.project_in_path {
            assert_error(
                send(bearer(other_project)).await,
                403,
                "project_scope_mismatch",
            )
            .await;
        } else {
            // `/api/workloads/{id}` of another project: not found, not forbidden.
            assert_error(send(bearer(other_project)).await, 404, "not_found").await;
        }
        assert_error(send(bearer(insufficient)).await, 403, "scope_insufficient").await;

        // The scheme word is case-insensitive; then the right token succeeds.
        let response = send(Some(format!("bEaReR {own}"))).await;
        let status = response.status().as_u16();
        assert!(response.headers().get("x-request-id").is_some());
        let text = response.text().await.unwrap();
        assert_eq!(status, route.success, "{}: {text}", route.name);
    }

    // Path project that does not exist: 403 (never reveals existence).
    let r = p
        .send(
            Method::GET,
            "/api/projects/nope/workloads",
            Some(&p.sdk),
            None,
        )
        .await;
    let error = assert_error(r, 403, "project_scope_mismatch").await;
    // The token's own project is named (the caller holds the token: nothing is revealed).
    assert_eq!(error["details"]["token_project"], "acme", "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("\"acme\"") && message.contains("\"nope\""),
        "{message}"
    );
    let r = p
        .send(
            Method::GET,
            "/endpoint/nope/chat/v1/models",
            Some(&p.live),
            None,
        )
        .await;
    assert_error(r, 403, "project_scope_mismatch").await;
    // The project id works like its slug.
    let r = p
        .send(
            Method::GET,
            &format!("/api/projects/{}/workloads", p.project_id),
            Some(&p.sdk),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    // A specific grant: another workload is 403 whether or not it exists; `project/*`: 404.
    let (chat_only, _) = p
        .mint("acme", json!({"kind": "live", "grants": ["acme/chat"]}))
        .await;
    for slug in ["emb", "ghost"] {
        let r = p
            .send(
                Method::GET,
                &format!("/endpoint/acme/{slug}/v1/models"),
                Some(&chat_only),
                None,
            )
            .await;
        assert_error(r, 403, "scope_insufficient").await;
    }
    let r = p
        .send(
            Method::GET,
            "/endpoint/acme/chat/v1/models",
            Some(&chat_only),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = p
        .send(
            Method::GET,
            "/endpoint/acme/ghost/v1/models",
            Some(&p.live),
            None,
        )
        .await;
    assert_error(r, 404, "not_found").await;
    // Unknown workload on the control plane.
    let r = p
        .send(
            Method::PATCH,
            "/api/workloads/wl_00000000000000000000000000",
            Some(&p.sdk),
            Some(json!({})),
        )
        .await;
    assert_error(r, 404, "not_found").await;
    let r = p
        .send(
            Method::GET,
            "/api/projects/acme/workloads/ghost/readiness-events",
            Some(&p.sdk),
            None,
        )
        .await;
    assert_error(r, 404, "not_found").await;
    // assignment:write guards worker_id / gpu_resource_id.
    let (no_assign, _) = p
        .mint(
            "acme",
            json!({"kind": "sdk", "scopes": ["workload:read", "workload:write"]}),
        )
        .await;
    let body = json!({"name": "Placed", "task_type": "text2image", "backend": "b", "model_name": "m", "worker_id": "w1"});
    let r = p
        .send(
            Method::POST,
            "/api/projects/acme/workloads",
            Some(&no_assign),
            Some(body.clone()),
        )
        .await;
    assert_error(r, 403, "scope_insufficient").await;
    let r = p
        .send(
            Method::POST,
            "/api/projects/acme/workloads",
            Some(&p.sdk),
            Some(body),
        )
        .await;
    assert_eq!(r.status(), 201);
    // Task type mismatch.
    let r = p
        .send(
            Method::POST,
            "/endpoint/acme/emb/v1/chat/completions",
            Some(&p.live),
            Some(json!({"messages": [{"role": "user", "content": "x"}]})),
        )
        .await;
    assert_error(r, 400, "task_type_mismatch").await;
    let r = p
        .send(
            Method::POST,
            "/endpoint/acme/chat/v1/rerank",
            Some(&p.live),
            Some(json!({"query": "q", "documents": ["a"]})),
        )
        .await;
    assert_error(r, 400, "task_type_mismatch").await;
    // Unknown data route.
    let r = p
        .send(
            Method::POST,
            "/endpoint/acme/chat/v1/images/generations",
            Some(&p.live),
            Some(json!({})),
        )
        .await;
    assert_error(r, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_contract_errors_and_the_platform_keeps_serving() {
    let p = Platform::start();
    let target = p
        .create_ok(json!({"name": "Target", "task_type": "classification", "backend": "custom", "model_name": "m"}))
        .await;
    assert_eq!(target["slug"], "target", "slug derived from the name");
    let target_path = format!("/api/workloads/{}", target["id"].as_str().unwrap());
    let create_path = "/api/projects/acme/workloads";
    let raw = |method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut request = p
            .http
            .request(method, p.url(path))
            .bearer_auth(&p.sdk)
            .body(body);
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        async move { request.send().await.unwrap() }
    };
    let healthy = || async {
        let r = p.send(Method::GET, "/healthz", None, None).await;
        assert_eq!(r.status(), 200);
        let r = p.send(Method::GET, create_path, Some(&p.sdk), None).await;
        assert_eq!(r.status(), 200);
    };
    let json_ct = Some("application/json");

    // Invalid JSON, and JSON that is not an object.
    for body in [&b"{\"name\": "[..], b"", b"[1,2]", b"\"text\"", b"\xff\xfe"] {
        assert_error(
            raw(Method::POST, create_path, json_ct, body.to_vec()).await,
            400,
            "invalid_json",
        )
        .await;
        assert_error(
            raw(Method::PATCH, &target_path, json_ct, body.to_vec()).await,
            400,
            "invalid_json",
        )
        .await;
        healthy().await;
    }
    // A missing content type is read as JSON; a non-JSON one is 415.
    let ok = raw(
        Method::PATCH,
        &target_path,
        None,
        br#"{"description": "no header"}"#.to_vec(),
    )
    .await;
    assert_eq!(ok.status(), 200);
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let r = raw(
            Method::POST,
            create_path,
            Some(ct),
            br#"{"name":"x"}"#.to_vec(),
        )
        .await;
        assert_error(r, 415, "unsupported_media_type").await;
    }
    healthy().await;

    // Wrong field types: 400 invalid_request with `field`.
    let base = json!({"name": "Typed", "slug": "typed", "task_type": "text2image", "backend": "b", "model_name": "m"});
    for (field, value) in [
        ("name", json!(5)),
        ("slug", json!(["a"])),
        ("task_type", json!(true)),
        ("backend", json!({})),
        ("model_name", json!(1.5)),
        ("config", json!("vllm serve x")),
        ("description", json!(7)),
        ("execution_policy_config", json!([1])),
        ("worker_id", json!(3)),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let r = p
            .send(Method::POST, create_path, Some(&p.sdk), Some(body))
            .await;
        let error = assert_error(r, 400, "invalid_request").await;
        assert_eq!(error["field"], field);
        let r = p
            .send(
                Method::PATCH,
                &target_path,
                Some(&p.sdk),
                Some(json!({field: base[field].clone(), "name": 5})),
            )
            .await;
        assert_error(r, 400, "invalid_request").await;
    }
    // Required fields missing.
    for field in ["name", "backend", "model_name"] {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(field);
        let r = p
            .send(Method::POST, create_path, Some(&p.sdk), Some(body))
            .await;
        assert_eq!(
            assert_error(r, 400, "invalid_request").await["field"],
            field
        );
    }
    healthy().await;

    // Non-canonical slugs: 422 invalid_slug.
    for slug in [
        "Support-Bot",
        "support_bot",
        "-bot",
        "bot-",
        "a--b",
        "",
        "sp ace",
        &"a".repeat(64),
    ] {
        let mut body = base.clone();
        body["slug"] = json!(slug);
        let r = p
            .send(Method::POST, create_path, Some(&p.sdk), Some(body))
            .await;
        assert_eq!(assert_error(r, 422, "invalid_slug").await["field"], "slug");
    }
    let r = p
        .send(
            Method::POST,
            create_path,
            Some(&p.sdk),
            Some(json!({"name": "!!!", "backend": "b", "model_name": "m"})),
        )
        .await;
    assert_error(r, 422, "invalid_slug").await;
    // Invalid values: 422 invalid_field.
    for (field, value) in [
        ("task_type", json!("text2poetry")),
        ("backend", json!("Not A Slug")),
        ("execution_policy", json!("sometimes")),
        ("name", json!("   ")),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let r = p
            .send(Method::POST, create_path, Some(&p.sdk), Some(body))
            .await;
        assert_eq!(assert_error(r, 422, "invalid_field").await["field"], field);
    }
    for field in ["name", "backend", "model_name", "execution_policy"] {
        let r = p
            .send(
                Method::PATCH,
                &target_path,
                Some(&p.sdk),
                Some(json!({field: null})),
            )
            .await;
        assert_eq!(assert_error(r, 422, "invalid_field").await["field"], field);
    }
    // Immutable fields: only equal values are accepted.
    let r = p
        .send(
            Method::PATCH,
            &target_path,
            Some(&p.sdk),
            Some(json!({"task_type": "embedding"})),
        )
        .await;
    assert_eq!(
        assert_error(r, 422, "immutable_field").await["field"],
        "task_type"
    );
    let r = p
        .send(
            Method::PATCH,
            &target_path,
            Some(&p.sdk),
            Some(json!({"slug": "renamed"})),
        )
        .await;
    assert_eq!(
        assert_error(r, 422, "immutable_field").await["field"],
        "slug"
    );
    let r = p
        .send(
            Method::PATCH,
            &target_path,
            Some(&p.sdk),
            Some(json!({"slug": "target", "task_type": "classification"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    healthy().await;

    // A token anywhere in a spec: 422 secret_in_spec (create and patch).
    for (field, value) in [
        ("config", json!({"env": {"API_KEY": p.live.clone()}})),
        ("description", json!(format!("use {}", p.sdk))),
        ("config", json!({"args": ["--token", "ik_live_whatever"]})),
    ] {
        let mut body = base.clone();
        body[field] = value.clone();
        let r = p
            .send(Method::POST, create_path, Some(&p.sdk), Some(body))
            .await;
        let error = assert_error(r, 422, "secret_in_spec").await;
        assert!(
            !error["message"].as_str().unwrap().contains(&p.live[12..]),
            "the secret is not echoed"
        );
        let r = p
            .send(
                Method::PATCH,
                &target_path,
                Some(&p.sdk),
                Some(json!({field: value})),
            )
            .await;
        assert_error(r, 422, "secret_in_spec").await;
    }
    healthy().await;

    // Over 16 MiB: 413 (control and data plane), with and without a Content-Length.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(16 * 1024 * 1024 + 10)).into_bytes();
    // With a Content-Length the platform answers from the header alone, before any of the
    // body is sent (a client that writes it all first is covered by
    // an_oversized_body_written_in_full_before_reading_gets_413_not_a_reset).
    let url = reqwest::Url::parse(&p.url(create_path)).unwrap();
    let authority = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let head = format!(
        "POST {create_path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        p.sdk,
        big.len()
    );
    let mut conn = tokio::net::TcpStream::connect(&authority).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut conn, head.as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("payload_too_large") {
            let n = tokio::io::AsyncReadExt::read(&mut conn, &mut buf)
                .await
                .unwrap();
            assert!(n > 0, "closed before the answer");
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the platform answers a declared oversized body without reading it");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    drop(conn);
    let chunks = futures_util::stream::iter(
        big.chunks(1 << 20)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let r = p
        .http
        .post(p.url(create_path))
        .bearer_auth(&p.sdk)
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    if let Ok(r) = r {
        // The server may answer before reading everything; either way it is a 413.
        assert_error(r, 413, "payload_too_large").await;
    }
    healthy().await;

    // Unknown routes and methods.
    for path in [
        "/",
        "/api",
        "/api/projects/acme",
        "/api/projects/acme/workloads/target",
        "/v1/models",
        "/endpoint/acme/target/v2/models",
        "/_dev",
    ] {
        let r = p.send(Method::GET, path, Some(&p.sdk), None).await;
        assert_error(r, 404, "not_found").await;
    }
    for (method, path) in [
        (Method::PUT, create_path.to_string()),
        (Method::DELETE, create_path.to_string()),
        (Method::GET, target_path.clone()),
        (Method::POST, target_path.clone()),
        (
            Method::GET,
            "/endpoint/acme/target/v1/chat/completions".to_string(),
        ),
        (Method::POST, "/healthz".to_string()),
    ] {
        let r = p.send(method, &path, Some(&p.sdk), None).await;
        assert_error(r, 405, "method_not_allowed").await;
    }
    // A percent-decoded segment holding `/` matches nothing.
    for path in [
        "/api/projects/ac%2Fme/workloads",
        "/api/workloads/a%2Fb",
        "/endpoint/acme/ta%2frget/v1/models",
    ] {
        let r = p.send(Method::GET, path, Some(&p.sdk), None).await;
        assert_error(r, 404, "not_found").await;
    }
    // Percent-encoded ordinary characters decode once.
    let r = p
        .send(
            Method::GET,
            "/api/projects/%61cme/workloads",
            Some(&p.sdk),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    healthy().await;

    // Data plane bodies.
    let (_, _) = p.create_fake("chat", "text2text", "").await;
    p.wait_ready("chat").await;
    let chat = "/endpoint/acme/chat/v1/chat/completions";
    let live = |body: Vec<u8>| {
        let request = p
            .http
            .post(p.url(chat))
            .bearer_auth(&p.live)
            .header("Content-Type", "application/json")
            .body(body);
        async move { request.send().await.unwrap() }
    };
    assert_error(live(b"{oops".to_vec()).await, 400, "invalid_json").await;
    for body in [
        json!({}),
        json!({"messages": "hi"}),
        json!({"messages": []}),
        json!({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}),
    ] {
        assert_error(
            live(body.to_string().into_bytes()).await,
            400,
            "invalid_request",
        )
        .await;
    }
    let r = live(
        json!({"messages": [{"role": "user", "content": "x"}]})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(r.status(), 200);
    healthy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_patch_delete_follow_the_contract() {
    let p = Platform::start();
    let create_path = "/api/projects/acme/workloads";
    let r = p.send(Method::GET, create_path, Some(&p.sdk), None).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!([]),
        "bare empty array"
    );

    let body = json!({"name": "Support Bot", "slug": "support-bot", "description": "Customer support",
                      "task_type": "text2image", "backend": "vllm", "model_name": "meta-llama/Llama-3.1-8B-Instruct",
                      "config": {"command": "vllm-missing-here serve x", "vllm_version": "0.6.3"},
                      "execution_policy": "autoscaling", "execution_policy_config": {"min_replicas": 0},
                      "unknown_key": "ignored"});
    let r = p
        .send(Method::POST, create_path, Some(&p.sdk), Some(body))
        .await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let w: Value = r.json().await.unwrap();
    let id = w["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/workloads/{id}"));
    assert!(id.starts_with("wl_") && id.len() == 29 && id == id.to_lowercase());
    assert!(w["project_id"].as_str().unwrap().starts_with("proj_"));
    for key in [
        "id",
        "project_id",
        "project_slug",
        "slug",
        "workload_slug",
        "name",
        "description",
        "task_type",
        "backend",
        "model_name",
        "config",
        "worker_id",
        "gpu_resource_id",
        "execution_policy",
        "execution_policy_config",
        "phase",
        "created_at",
        "updated_at",
    ] {
        assert!(w.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(w["workload_slug"], "support-bot");
    assert_eq!(w["project_slug"], "acme");
    assert_eq!(w["worker_id"], Value::Null);
    assert_eq!(w["config"]["vllm_version"], "0.6.3");
    assert!(w.get("unknown_key").is_none());
    let created = w["created_at"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created.len() == 24,
        "RFC 3339 with ms: {created}"
    );

    // Minimal create: defaults.
    let m = p
        .create_ok(json!({"name": "Billing Embeddings", "backend": "ollama", "model_name": "nomic", "task_type": "forecast"}))
        .await;
    assert_eq!(m["slug"], "billing-embeddings");
    assert_eq!(m["execution_policy"], "fixed");
    assert_eq!(m["config"], json!({}));
    assert_eq!(m["description"], Value::Null);
    let m2 = p.create_ok(json!({"name": "Default Task", "backend": "b", "model_name": "m", "config": {"command": "/bin/false"}})).await;
    assert_eq!(m2["task_type"], "text2text");

    // List: oldest first.
    let list: Value = p
        .send(Method::GET, create_path, Some(&p.sdk), None)
        .await
        .json()
        .await
        .unwrap();
    let slugs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["support-bot", "billing-embeddings", "default-task"]);

    // Duplicate slug.
    let r = p
        .send(
            Method::POST,
            create_path,
            Some(&p.sdk),
            Some(json!({"name": "x", "slug": "support-bot", "backend": "b", "model_name": "m"})),
        )
        .await;
    let error = assert_error(r, 409, "slug_conflict").await;
    assert_eq!(
        error["message"],
        "workload slug \"support-bot\" already exists in project \"acme\""
    );

    // Patch: `{}` changes nothing, not even updated_at.
    let path = format!("/api/workloads/{id}");
    let same: Value = p
        .send(Method::PATCH, &path, Some(&p.sdk), Some(json!({})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(same["updated_at"], w["updated_at"]);
    tokio::time::sleep(Duration::from_millis(5)).await;
    // Config is replaced whole; null clears nullable fields; slug works as the path id.
    let r = p
        .send(
            Method::PATCH,
            "/api/workloads/support-bot",
            Some(&p.sdk),
            Some(
                json!({"name": "Support Bot v2", "config": {"command": "x"}, "description": null,
                          "execution_policy_config": null}),
            ),
        )
        .await;
    assert_eq!(r.status(), 200);
    let patched: Value = r.json().await.unwrap();
    assert_eq!(patched["name"], "Support Bot v2");
    assert_eq!(patched["config"], json!({"command": "x"}));
    assert_eq!(patched["description"], Value::Null);
    assert_eq!(patched["execution_policy_config"], Value::Null);
    assert_eq!(patched["created_at"], w["created_at"]);
    assert_ne!(patched["updated_at"], w["updated_at"]);
    let cleared: Value = p
        .send(
            Method::PATCH,
            &path,
            Some(&p.sdk),
            Some(json!({"config": null})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["config"], json!({}));

    // Delete, then gone.
    let r = p.send(Method::DELETE, &path, Some(&p.sdk), None).await;
    assert_eq!(r.status(), 204);
    assert!(r.text().await.unwrap().is_empty());
    assert_error(
        p.send(Method::DELETE, &path, Some(&p.sdk), None).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        p.send(Method::PATCH, &path, Some(&p.sdk), Some(json!({})))
            .await,
        404,
        "not_found",
    )
    .await;
    let list: Value = p
        .send(Method::GET, create_path, Some(&p.sdk), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    // The slug is free again.
    p.create_ok(json!({"name": "again", "slug": "support-bot", "task_type": "reward", "backend": "b", "model_name": "m"}))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_racing_creates_of_one_slug_leave_exactly_one_workload() {
    let p = Platform::start();
    let mut tasks = Vec::new();
    for i in 0..8 {
        // One client per task: separate connections.
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = p.url("/api/projects/acme/workloads");
        let token = p.sdk.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"name": format!("Racer {i}"), "slug": "racer", "task_type": "text2image",
                              "backend": "b", "model_name": "m"});
            let r = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            201 => created += 1,
            409 => {
                assert_eq!(body["error"]["code"], "slug_conflict");
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, conflicts), (1, 7));
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
    assert_eq!(list[0]["slug"], "racer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_holds_no_token_secret() {
    let mut p = Platform::start();
    let mut secrets = vec![p.sdk.clone(), p.live.clone()];
    let other = p
        .server
        .as_ref()
        .unwrap()
        .create_project("other", None)
        .unwrap();
    secrets.extend([other.sdk_token, other.api_key]);
    let again = p
        .server
        .as_ref()
        .unwrap()
        .create_project("acme", None)
        .unwrap();
    secrets.extend([again.sdk_token, again.api_key]);
    secrets.push(
        p.mint("acme", json!({"kind": "sdk", "scopes": ["workload:read"]}))
            .await
            .0,
    );
    secrets.push(
        p.mint("acme", json!({"kind": "live", "grants": ["acme/x"]}))
            .await
            .0,
    );
    let (revoked, id) = p.mint("acme", json!({"kind": "live"})).await;
    p.revoke(&id).await;
    secrets.push(revoked);
    let (t, _) = p
        .server
        .as_ref()
        .unwrap()
        .mint_token("acme", &json!({"kind": "sdk"}))
        .unwrap();
    secrets.push(t);
    // Use them, including a rejected attempt to store one.
    p.create_ok(
        json!({"name": "Used", "task_type": "text2image", "backend": "b", "model_name": "m"}),
    )
    .await;
    let r = p
        .send(Method::POST, "/api/projects/acme/workloads", Some(&p.sdk),
              Some(json!({"name": "Leak", "backend": "b", "model_name": "m", "config": {"k": p.live.clone()}})))
        .await;
    assert_eq!(r.status(), 422);

    let db = p.data_dir.join("platform.db");
    let needles = |secret: &str| -> Vec<Vec<u8>> {
        let hex_secret = secret.rsplit('_').next().unwrap();
        vec![
            secret.as_bytes().to_vec(),
            hex_secret.as_bytes().to_vec(),
            hex::decode(hex_secret).unwrap(),
        ]
    };
    let check = |stage: &str| {
        let mut files = vec![
            db.clone(),
            db.with_extension("db-wal"),
            p.data_dir.join("logs/platform.log"),
        ];
        files.retain(|f| f.exists());
        assert!(
            files.len() >= 2,
            "{stage}: the database files exist: {files:?}"
        );
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            for secret in &secrets {
                for needle in needles(secret) {
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                        "{stage}: {} holds a token secret",
                        file.display()
                    );
                }
            }
        }
    };
    assert!(
        db.with_extension("db-wal").exists(),
        "the database runs in WAL mode"
    );
    check("while running");
    // Keep the folder: stop, then read what is left on disk.
    let data_dir = p.data_dir.clone();
    let keep = tempfile::tempdir().unwrap();
    let _ = std::fs::copy(&db, keep.path().join("copy.db"));
    p.stop();
    assert!(
        !data_dir.exists(),
        "a temporary data folder is removed at stop"
    );
    let copy = std::fs::read(keep.path().join("copy.db")).unwrap();
    for secret in &secrets {
        assert!(!copy.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_minted_or_echoed_on_every_response() {
    let p = Platform::start();
    let get = |path: &str, id: Option<&str>| {
        let mut request = p.http.get(p.url(path));
        if let Some(id) = id {
            request = request.header("X-Request-Id", id);
        }
        async move { request.send().await.unwrap() }
    };
    for path in ["/healthz", "/nope", "/api/projects/acme/workloads"] {
        let r = get(path, None).await;
        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        assert!(id.starts_with("req_") && id.len() == 30, "{id}");
        let r = get(path, Some("client-trace-42")).await;
        assert_eq!(r.headers()["x-request-id"], "client-trace-42");
        let long = "x".repeat(129);
        let r = get(path, Some(&long)).await;
        assert!(r.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_"));
    }
    // User-Agent and Accept are never required.
    let r = p
        .http
        .get(p.url("/api/projects/acme/workloads"))
        .bearer_auth(&p.sdk)
        .header("User-Agent", "")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_routes_need_the_admin_secret() {
    let p = Platform::start();
    let r = p.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );

    let body = json!({"slug": "beta", "name": "Beta"});
    for token in [None, Some("wrong-secret"), Some(p.sdk.as_str())] {
        let r = p
            .send(Method::POST, "/_dev/projects", token, Some(body.clone()))
            .await;
        let code = if token.is_none() {
            "missing_credential"
        } else {
            "invalid_credential"
        };
        assert_error(r, 401, code).await;
    }
    let r = p
        .send(
            Method::POST,
            "/_dev/projects",
            Some(&p.admin),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["project"]["slug"], "beta");
    assert_eq!(created["project"]["name"], "Beta");
    assert!(created["project"]["id"]
        .as_str()
        .unwrap()
        .starts_with("proj_"));
    let sdk = created["sdk_token"].as_str().unwrap();
    let live = created["api_key"].as_str().unwrap();
    assert!(sdk.starts_with("ik_sdk_") && sdk.len() == 7 + 8 + 1 + 64);
    assert!(live.starts_with("ik_live_") && live.len() == 8 + 8 + 1 + 64);
    // Same slug again: same project, fresh tokens, old ones still valid.
    let again: Value = p
        .send(Method::POST, "/_dev/projects", Some(&p.admin), Some(body))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["project"], created["project"]);
    assert_ne!(again["sdk_token"], created["sdk_token"]);
    for token in [sdk, again["sdk_token"].as_str().unwrap()] {
        let r = p
            .send(
                Method::GET,
                "/api/projects/beta/workloads",
                Some(token),
                None,
            )
            .await;
        assert_eq!(r.status(), 200);
    }

    let r = p
        .send(
            Method::POST,
            "/_dev/projects",
            Some(&p.admin),
            Some(json!({"slug": "Bad Slug"})),
        )
        .await;
    assert_error(r, 422, "invalid_slug").await;
    let r = p
        .send(
            Method::POST,
            "/_dev/projects",
            Some(&p.admin),
            Some(json!({"name": "no slug"})),
        )
        .await;
    assert_error(r, 400, "invalid_request").await;
    let mint = |project: &str, body: Value| {
        let path = format!("/_dev/projects/{project}/tokens");
        let p = &p;
        async move {
            p.send(Method::POST, &path, Some(&p.admin), Some(body))
                .await
        }
    };
    assert_error(
        mint("beta", json!({"kind": "admin"})).await,
        422,
        "invalid_field",
    )
    .await;
    assert_error(
        mint("beta", json!({"scopes": []})).await,
        400,
        "invalid_request",
    )
    .await;
    assert_error(
        mint("beta", json!({"kind": "sdk", "scopes": ["everything"]})).await,
        422,
        "invalid_field",
    )
    .await;
    assert_error(
        mint("beta", json!({"kind": "live", "grants": ["acme/*"]})).await,
        422,
        "invalid_field",
    )
    .await;
    assert_error(
        mint("ghost", json!({"kind": "sdk"})).await,
        404,
        "not_found",
    )
    .await;
    let r = mint("beta", json!({"kind": "sdk", "scopes": ["workload:read"]})).await;
    assert_eq!(r.status(), 201);
    let minted: Value = r.json().await.unwrap();
    let token = minted["token"].as_str().unwrap();
    assert_eq!(&token[7..15], minted["token_id"].as_str().unwrap());

    // Revocation takes effect on the next request, on both planes.
    let r = p
        .send(
            Method::GET,
            "/api/projects/beta/workloads",
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = p
        .send(
            Method::POST,
            &format!(
                "/_dev/tokens/{}/revoke",
                minted["token_id"].as_str().unwrap()
            ),
            Some(&p.admin),
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    let r = p
        .send(
            Method::GET,
            "/api/projects/beta/workloads",
            Some(token),
            None,
        )
        .await;
    assert_error(r, 401, "invalid_credential").await;
    let live_id = &live[8..16];
    p.revoke(live_id).await;
    let r = p
        .send(Method::GET, "/endpoint/beta/x/v1/models", Some(live), None)
        .await;
    assert_error(r, 401, "invalid_credential").await;
    let r = p
        .send(
            Method::POST,
            "/_dev/tokens/deadbeef/revoke",
            Some(&p.admin),
            None,
        )
        .await;
    assert_error(r, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_answers_429_with_retry_after() {
    let p = Platform::start_with(inferencekey_dev::DevConfig {
        rate_limit_per_minute: Some(3),
        ..Default::default()
    });
    for _ in 0..3 {
        let r = p
            .send(
                Method::GET,
                "/api/projects/acme/workloads",
                Some(&p.sdk),
                None,
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    let r = p
        .send(
            Method::GET,
            "/api/projects/acme/workloads",
            Some(&p.sdk),
            None,
        )
        .await;
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_error(r, 429, "rate_limited").await;
    // Per credential: another token still passes; local routes are not limited.
    let r = p
        .send(
            Method::GET,
            "/endpoint/acme/none/v1/models",
            Some(&p.live),
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = p.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_stream_sends_a_snapshot_then_closes_after_a_terminal_frame() {
    let p = Platform::start();
    p.create_ok(
        json!({"name": "Painter", "task_type": "text2image", "backend": "b", "model_name": "m"}),
    )
    .await;
    let frames = p.readiness("painter").await;
    let last = frames.last().unwrap();
    assert_eq!(last["phase"], "error");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("no local stand-in"),
        "{last}"
    );
    // A new connection to a terminal workload: exactly one frame, then EOF.
    let r = p
        .send(
            Method::GET,
            "/api/projects/acme/workloads/painter/readiness-events",
            Some(&p.sdk),
            None,
        )
        .await;
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let frames = sse_data(r).await;
    assert_eq!(frames.len(), 1);
    let frame: Value = serde_json::from_str(&frames[0]).unwrap();
    assert_eq!(frame["phase"], "error");
    assert!(frame["elapsed_ms"].is_u64());
}

/// Writes a request with a `len`-byte body to the platform the way a blocking client does
/// (the whole body first, then the answer), framed by Content-Length or chunked. Panics if a
/// write fails (a reset or a broken pipe); returns the raw answer, read to EOF.
fn post_whole_body_then_read(
    base: &str,
    path: &str,
    token: &str,
    len: usize,
    chunked: bool,
) -> String {
    use std::io::{Read, Write};
    let authority = base.strip_prefix("http://").unwrap();
    let mut conn = std::net::TcpStream::connect(authority).unwrap();
    conn.set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {len}")
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\n{framing}\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).unwrap();
    let piece = vec![b' '; 1 << 20];
    let mut sent = 0;
    while sent < len {
        let n = piece.len().min(len - sent);
        let written = if chunked {
            conn.write_all(format!("{n:x}\r\n").as_bytes())
                .and_then(|()| conn.write_all(&piece[..n]))
                .and_then(|()| conn.write_all(b"\r\n"))
        } else {
            conn.write_all(&piece[..n])
        };
        written.unwrap_or_else(|e| panic!("write failed after {sent} of {len} body bytes: {e}"));
        sent += n;
    }
    if chunked {
        conn.write_all(b"0\r\n\r\n").unwrap();
    }
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer)
        .unwrap_or_else(|e| panic!("reading the answer failed: {e}"));
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_written_in_full_before_reading_gets_413_not_a_reset() {
    let p = Platform::start();
    // A data-plane workload: the body is read after the credential and task type checks; no
    // process runs (no stand-in serves this backend).
    p.create_ok(
        json!({"name": "Big", "slug": "big", "task_type": "text2text",
                       "backend": "custom-engine", "model_name": "m"}),
    )
    .await;
    let cases = [
        ("/api/projects/acme/workloads", p.sdk.clone()),
        ("/endpoint/acme/big/v1/chat/completions", p.live.clone()),
    ];
    for (path, token) in cases {
        for chunked in [false, true] {
            let base = p.base.clone();
            let token = token.clone();
            let answer = tokio::task::spawn_blocking(move || {
                post_whole_body_then_read(&base, path, &token, 40 << 20, chunked)
            })
            .await
            .unwrap();
            let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
            assert!(
                head.starts_with("HTTP/1.1 413"),
                "{path} chunked={chunked}: {head}"
            );
            assert!(
                head.to_ascii_lowercase().contains("connection: close"),
                "{path} chunked={chunked}: {head}"
            );
            let body: Value = serde_json::from_str(body).unwrap();
            assert_eq!(body["error"]["code"], "payload_too_large");
        }
    }
    let r = p.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_oversized_body_is_cut_off_after_a_bounded_drain() {
    use std::io::Write;
    let p = Platform::start();
    let authority = p.base.strip_prefix("http://").unwrap().to_string();
    let sdk = p.sdk.clone();
    let (sent, elapsed) = tokio::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(&authority).unwrap();
        conn.set_write_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let head = format!(
            "POST /api/projects/acme/workloads HTTP/1.1\r\nHost: {authority}\r\n\
             Authorization: Bearer {sdk}\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        conn.write_all(head.as_bytes()).unwrap();
        let chunk = format!("100000\r\n{}\r\n", " ".repeat(1 << 20));
        let started = std::time::Instant::now();
        let mut sent: usize = 0;
        // Stops at the first failed write: the platform closed the connection.
        while sent < 1 << 30 && conn.write_all(chunk.as_bytes()).is_ok() {
            sent += 1 << 20;
        }
        (sent, started.elapsed())
    })
    .await
    .unwrap();
    // 64 MiB drained, plus what the socket buffers held when the platform closed.
    assert!(sent < 128 << 20, "the platform read {} MiB", sent >> 20);
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    let r = p.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_authorization_headers_are_refused_with_400_on_every_plane() {
    let p = Platform::start();
    p.create_ok(
        json!({"name": "Target", "slug": "target", "task_type": "text2image",
                       "backend": "custom-engine", "model_name": "m"}),
    )
    .await;
    let bearer = |token: &str| format!("Bearer {token}");
    let routes = [
        (
            Method::GET,
            "/api/projects/acme/workloads",
            p.sdk.clone(),
            None,
        ),
        (
            Method::GET,
            "/endpoint/acme/target/v1/models",
            p.live.clone(),
            None,
        ),
        (
            Method::POST,
            "/_dev/projects",
            p.admin.clone(),
            Some(json!({"slug": "beta"})),
        ),
    ];
    for (method, path, token, body) in &routes {
        // One header: served.
        let mut request = p
            .http
            .request(method.clone(), p.url(path))
            .header("Authorization", bearer(token));
        if let Some(body) = body {
            request = request.json(body);
        }
        let r = request.send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        // Two: refused, whichever comes first and even when both are the same.
        for pair in [
            [bearer(token), bearer(token)],
            [bearer(token), bearer("ik_sdk_junk")],
            [bearer("ik_sdk_junk"), bearer(token)],
        ] {
            let mut request = p.http.request(method.clone(), p.url(path));
            for value in &pair {
                request = request.header("Authorization", value);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let error = assert_error(request.send().await.unwrap(), 400, "invalid_request").await;
            assert!(
                error["message"]
                    .as_str()
                    .unwrap()
                    .contains("several Authorization headers"),
                "{path}: {error}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_json_types_are_400_invalid_request_naming_the_field_and_type() {
    let p = Platform::start();
    let create_path = "/api/projects/acme/workloads";
    let target = p
        .create_ok(
            json!({"name": "Target", "slug": "target", "task_type": "text2text",
                          "backend": "custom-engine", "model_name": "m"}),
        )
        .await;
    let target_path = format!("/api/workloads/{}", target["id"].as_str().unwrap());
    let base = json!({"name": "Typed", "slug": "typed", "task_type": "text2image",
                      "backend": "b", "model_name": "m"});
    let check = |field: &str, expected: &str, got: &str, error: &Value| {
        assert_eq!(error["field"], field, "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(field) && message.contains(&format!("must be {expected}, not {got}")),
            "{message}"
        );
    };

    // (field, value, expected type, its type as named)
    let create_cases = [
        ("slug", json!(null), "a string", "null"),
        ("name", json!(null), "a string", "null"),
        ("task_type", json!(null), "a string", "null"),
        ("backend", json!(null), "a string", "null"),
        ("model_name", json!(null), "a string", "null"),
        ("name", json!(5), "a string", "a number"),
        ("slug", json!(["a"]), "a string", "an array"),
        ("config", json!("x"), "an object or null", "a string"),
        ("description", json!(7), "a string or null", "a number"),
        ("worker_id", json!(3), "a string or null", "a number"),
        (
            "execution_policy",
            json!(true),
            "a string or null",
            "a boolean",
        ),
        (
            "execution_policy_config",
            json!([1]),
            "an object or null",
            "an array",
        ),
    ];
    for (field, value, expected, got) in create_cases {
        let mut body = base.clone();
        body[field] = value;
        let r = p
            .send(Method::POST, create_path, Some(&p.sdk), Some(body))
            .await;
        check(
            field,
            expected,
            got,
            &assert_error(r, 400, "invalid_request").await,
        );
    }
    let patch_cases = [
        ("slug", json!(null), "a string", "null"),
        ("task_type", json!(null), "a string", "null"),
        ("name", json!(5), "a string or null", "a number"),
        ("backend", json!(1), "a string or null", "a number"),
        (
            "model_name",
            json!([]),
            "a string or null",
            "an empty array",
        ),
        ("config", json!("x"), "an object or null", "a string"),
        ("description", json!(7), "a string or null", "a number"),
        (
            "gpu_resource_id",
            json!({}),
            "a string or null",
            "an object",
        ),
        ("execution_policy", json!(2), "a string or null", "a number"),
        (
            "execution_policy_config",
            json!("x"),
            "an object or null",
            "a string",
        ),
    ];
    for (field, value, expected, got) in patch_cases {
        let r = p
            .send(
                Method::PATCH,
                &target_path,
                Some(&p.sdk),
                Some(json!({field: value})),
            )
            .await;
        check(
            field,
            expected,
            got,
            &assert_error(r, 400, "invalid_request").await,
        );
    }

    // The contract's nullable fields still take null, on create and on patch.
    let nulls = json!({"description": null, "config": null, "worker_id": null,
                       "gpu_resource_id": null, "execution_policy": null,
                       "execution_policy_config": null});
    let mut body = base.clone();
    body.as_object_mut()
        .unwrap()
        .extend(nulls.as_object().unwrap().clone());
    let created = p.create_ok(body).await;
    assert_eq!(created["config"], json!({}));
    assert_eq!(created["execution_policy"], "fixed");
    assert_eq!(created["description"], Value::Null);
    let mut patch = nulls.clone();
    patch.as_object_mut().unwrap().remove("execution_policy");
    let r = p
        .send(Method::PATCH, &target_path, Some(&p.sdk), Some(patch))
        .await;
    assert_eq!(r.status(), 200);

    // Data plane: the fields the platform reads itself. Bodies are checked before readiness,
    // so this workload (no process) is enough: a well-typed body gets its 503.
    let chat = "/endpoint/acme/target/v1/chat/completions";
    let messages = json!([{"role": "user", "content": "hi"}]);
    let data_cases = [
        (
            json!({"messages": null}),
            "messages",
            "a non-empty array",
            "null",
        ),
        (
            json!({"messages": "hi"}),
            "messages",
            "a non-empty array",
            "a string",
        ),
        (
            json!({"messages": messages, "stream": "yes"}),
            "stream",
            "a boolean",
            "a string",
        ),
        (
            json!({"messages": messages, "stream_options": 1}),
            "stream_options",
            "an object",
            "a number",
        ),
        (
            json!({"messages": messages, "stream": true, "stream_options": {"include_usage": "yes"}}),
            "stream_options.include_usage",
            "a boolean",
            "a string",
        ),
    ];
    for (body, field, expected, got) in data_cases {
        let r = p.send(Method::POST, chat, Some(&p.live), Some(body)).await;
        check(
            field,
            expected,
            got,
            &assert_error(r, 400, "invalid_request").await,
        );
    }
    let r = p
        .send(
            Method::POST,
            chat,
            Some(&p.live),
            Some(json!({"messages": messages, "stream": null, "stream_options": {"include_usage": null}})),
        )
        .await;
    assert_eq!(r.status(), 503, "OpenAI-style nulls pass the checks");
}
