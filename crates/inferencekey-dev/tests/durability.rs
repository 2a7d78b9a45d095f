//! Acceptance point 4: the `inferencekey-dev` binary is SIGKILLed in the middle of a stream of
//! creates and patches, then restarted on the same data folder: no acknowledged write is lost,
//! nothing is duplicated, the workloads come back ready, and no workload process outlives the
//! platform that started it.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, fake_alive, fake_pids, plain_python, Binary, FAKE_UPSTREAM};
use serde_json::{json, Value};

/// What the writers know about one workload.
#[derive(Debug, Default, Clone)]
struct Known {
    /// Id from an acknowledged create.
    id: Option<String>,
    /// Last acknowledged (description, config revision).
    acked: (Option<String>, u64),
    /// A write that was sent but never answered: (description, revision).
    in_flight: Option<(Option<String>, u64)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_writes_loses_no_acknowledged_write() {
    let data = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("fault_injection_upstream.py");
    std::fs::write(&script, FAKE_UPSTREAM).unwrap();
    let pids_dir = scratch.path().join("pids");
    std::fs::create_dir_all(&pids_dir).unwrap();
    let command = format!(
        "'{}' '{}' '{}'",
        absolute(&plain_python()),
        script.display(),
        pids_dir.display()
    );

    let began = std::time::Instant::now();
    let mut platform = Binary::start(
        data.path(),
        &scratch.path().join("first.log"),
        &plain_python(),
        &[],
    )
    .await;
    let known: Arc<Mutex<HashMap<String, Known>>> = Arc::default();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    let patches = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut writers = Vec::new();
    for writer in 0..3 {
        let (http, known, base, sdk, command, patches) = (
            http.clone(),
            known.clone(),
            platform.base().to_string(),
            platform.sdk_token().to_string(),
            command.clone(),
            patches.clone(),
        );
        writers.push(tokio::spawn(async move {
            // Each writer creates 4 workloads, then patches them in turn until the platform
            // dies: descriptions (no restart), and every 7th write a config change (restart).
            let mut mine = Vec::new();
            for i in 0..4 {
                let slug = format!("w{writer}-{i}");
                known.lock().unwrap().insert(slug.clone(), Known { in_flight: Some((None, 1)), ..Default::default() });
                let body = json!({"name": slug, "slug": slug, "task_type": "text2text", "backend": "fake-engine",
                                  "model_name": "m", "config": {"command": command, "rev": 1}});
                let Ok(r) = http.post(format!("{base}/api/projects/acme/workloads")).bearer_auth(&sdk).json(&body).send().await else {
                    return;
                };
                assert_eq!(r.status(), 201);
                let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
                let mut k = known.lock().unwrap();
                let entry = k.get_mut(&slug).unwrap();
                entry.id = Some(id.clone());
                entry.acked = (None, 1);
                entry.in_flight = None;
                mine.push((slug, id));
            }
            for n in 1..=2000u64 {
                let (slug, id) = &mine[n as usize % mine.len()];
                let rev = known.lock().unwrap()[slug].acked.1 + u64::from(n % 7 == 0);
                let desc = Some(format!("d{n}"));
                known.lock().unwrap().get_mut(slug).unwrap().in_flight = Some((desc.clone(), rev));
                let patch = json!({"description": desc, "config": {"command": command, "rev": rev}});
                let Ok(r) = http.patch(format!("{base}/api/workloads/{id}")).bearer_auth(&sdk).json(&patch).send().await else {
                    return;
                };
                assert_eq!(r.status(), 200);
                let mut k = known.lock().unwrap();
                let entry = k.get_mut(slug).unwrap();
                entry.acked = (desc, rev);
                entry.in_flight = None;
                patches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }));
    }

    // Kill in the middle of the stream of writes.
    let acked_before_kill = || {
        known
            .lock()
            .unwrap()
            .values()
            .filter(|k| k.id.is_some())
            .count()
    };
    assert!(
        eventually(Duration::from_secs(60), || {
            acked_before_kill() >= 8
                && fake_pids(&pids_dir).len() >= 4
                && patches.load(std::sync::atomic::Ordering::SeqCst) >= 30
        })
        .await,
        "writes are acknowledged and workload processes run"
    );
    eprintln!(
        "[{:?}] killing after {} patches",
        began.elapsed(),
        patches.load(std::sync::atomic::Ordering::SeqCst)
    );
    platform.child.start_kill().unwrap(); // SIGKILL
    platform.child.wait().await.unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let known = known.lock().unwrap().clone();
    assert!(
        known.values().any(|k| k.in_flight.is_some()),
        "the kill landed mid-stream: {known:#?}"
    );

    // Every workload process of the killed platform dies with it (PR_SET_PDEATHSIG).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let orphans_before: Vec<u32> = fake_pids(&pids_dir);
    assert!(!orphans_before.is_empty());
    assert!(
        eventually(Duration::from_secs(10), || orphans_before
            .iter()
            .all(|p| !fake_alive(*p)))
        .await,
        "workload processes outlived a SIGKILLed platform"
    );

    eprintln!("[{:?}] restarting", began.elapsed());
    // Restart on the same folder.
    let mut platform = Binary::start(
        data.path(),
        &scratch.path().join("second.log"),
        &plain_python(),
        &[],
    )
    .await;
    let list: Value = http
        .get(format!("{}/api/projects/acme/workloads", platform.base()))
        .bearer_auth(platform.sdk_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap();
    let ids: HashSet<&str> = list.iter().map(|w| w["id"].as_str().unwrap()).collect();
    let slugs: HashSet<&str> = list.iter().map(|w| w["slug"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), list.len(), "no duplicated workload");
    assert_eq!(slugs.len(), list.len(), "no duplicated slug");
    for (slug, k) in &known {
        let stored = list.iter().find(|w| w["slug"] == slug.as_str());
        match (&k.id, stored) {
            (Some(id), Some(w)) => {
                assert_eq!(w["id"], id.as_str(), "{slug}: same workload");
                let got = (
                    w["description"].as_str().map(str::to_string),
                    w["config"]["rev"].as_u64().unwrap(),
                );
                let allowed = std::iter::once(k.acked.clone())
                    .chain(k.in_flight.clone())
                    .collect::<Vec<_>>();
                assert!(
                    allowed.contains(&got),
                    "{slug}: stored {got:?}, acknowledged {:?}",
                    k.acked
                );
            }
            (Some(_), None) => panic!("{slug}: an acknowledged create was lost"),
            (None, Some(w)) => {
                // A create that committed but whose answer never arrived.
                assert!(k.in_flight.is_some(), "{slug}: unexpected workload {w}");
            }
            (None, None) => {}
        }
    }
    for w in list {
        assert!(
            known.contains_key(w["slug"].as_str().unwrap()),
            "nothing appears from nowhere: {w}"
        );
    }

    eprintln!("[{:?}] checked {} workloads", began.elapsed(), list.len());
    // They all come back ready.
    let ready = futures_util::future::join_all(list.iter().map(|w| {
        let url = format!(
            "{}/api/projects/acme/workloads/{}/readiness-events",
            platform.base(),
            w["slug"].as_str().unwrap()
        );
        let request = http.get(url).bearer_auth(platform.sdk_token());
        async move {
            let frames = common::sse_data(request.send().await.unwrap()).await;
            serde_json::from_str::<Value>(frames.last().unwrap()).unwrap()
        }
    }))
    .await;
    for (w, last) in list.iter().zip(&ready) {
        assert_eq!(last["phase"], "ready", "{}: {last}", w["slug"]);
    }

    eprintln!("[{:?}] all ready", began.elapsed());
    // A clean stop (SIGTERM) ends every child too.
    let pids: Vec<u32> = fake_pids(&pids_dir)
        .into_iter()
        .filter(|p| fake_alive(*p))
        .collect();
    assert_eq!(pids.len(), list.len(), "one live process per workload");
    let pid = platform.child.id().unwrap() as i32;
    // SAFETY: signalling the child we started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(20), platform.child.wait())
        .await
        .expect("stops in time")
        .unwrap();
    assert!(status.success(), "clean exit: {status:?}");
    eprintln!("[{:?}] stopped", began.elapsed());
    assert!(
        pids.iter().all(|p| !fake_alive(*p)),
        "no orphan after SIGTERM"
    );
}

fn absolute(python: &Path) -> String {
    if python.components().count() > 1 {
        return python.display().to_string();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(python))
        .find(|p| p.is_file())
        .unwrap_or_else(|| python.to_path_buf())
        .display()
        .to_string()
}
