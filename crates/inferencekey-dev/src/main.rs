//! `inferencekey-dev`: runs the local platform in the foreground.
//!
//! Prints `export …` lines for the shell on stdout, then serves until SIGINT or SIGTERM, and
//! stops cleanly (every workload process included).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use inferencekey_dev::{DevConfig, DevServer};

const USAGE: &str = "\
usage: inferencekey-dev [options]

  --host HOST            address to listen on (default 127.0.0.1); an address beyond
                         loopback (not 127.0.0.0/8, ::1 or localhost) needs --allow-remote
  --allow-remote         allow a non-loopback --host. Anyone who reaches the platform
                         with an ik_sdk_ token can then run any command on this machine
                         (a workload's config.command): use only on a trusted network
  --port PORT            port (default 8787; 0 picks a free one)
  --data-dir DIR         keep state in DIR (default: a temporary folder, removed at exit)
  --python PATH          Python interpreter for the CPU stand-ins
                         (default: $INFERENCEKEY_DEV_PYTHON, else python3)
  --project SLUG         project to create or reuse, with fresh tokens (default dev)
  --rate-limit N         requests per minute per credential (default: unlimited)
  --upstream-timeout S   seconds a workload process may take to answer (default 300)
  --webhook-retry-scale F
                         multiplies the webhook retry delays (default 1.0; 0.001 in tests)
  --admin-secret SECRET  secret of the /_dev routes (default: random)
  --log-file PATH        the platform's log (default DIR/logs/platform.log)
  -h, --help             this help
  -V, --version          the version

Run it in its own terminal and paste the printed export lines into another one.";

struct Args {
    config: DevConfig,
    project: String,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut config = DevConfig::default();
    let mut project = "dev".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("inferencekey-dev {}", inferencekey_dev::VERSION);
                return Ok(None);
            }
            "--host" => config.host = Some(value("--host")?),
            "--allow-remote" if inline.is_none() => config.allow_remote = Some(true),
            "--port" => {
                config.port = Some(
                    value("--port")?
                        .parse()
                        .map_err(|_| "--port takes a number from 0 to 65535")?,
                )
            }
            "--data-dir" => config.data_dir = Some(PathBuf::from(value("--data-dir")?)),
            "--python" => config.python = Some(PathBuf::from(value("--python")?)),
            "--project" => project = value("--project")?,
            "--rate-limit" => {
                config.rate_limit_per_minute = Some(
                    value("--rate-limit")?
                        .parse()
                        .map_err(|_| "--rate-limit takes a whole number")?,
                )
            }
            "--upstream-timeout" => {
                config.upstream_timeout_s = Some(
                    value("--upstream-timeout")?
                        .parse()
                        .map_err(|_| "--upstream-timeout takes seconds")?,
                )
            }
            "--webhook-retry-scale" => {
                config.webhook_retry_scale = Some(
                    value("--webhook-retry-scale")?
                        .parse()
                        .map_err(|_| "--webhook-retry-scale takes a number")?,
                )
            }
            "--admin-secret" => config.admin_secret = Some(value("--admin-secret")?),
            "--log-file" => config.log_file = Some(PathBuf::from(value("--log-file")?)),
            other => return Err(format!("unknown option {other}\n\n{USAGE}")),
        }
    }
    // A refused host is a usage error, reported before anything starts.
    config.check_host().map_err(|e| e.message)?;
    Ok(Some(Args { config, project }))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("inferencekey-dev: {message}");
            return ExitCode::from(2);
        }
    };

    // Signals are caught before anything is printed, so a supervisor may signal at once.
    let signals = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("inferencekey-dev: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (mut interrupt, mut terminate) = {
        let _guard = signals.enter();
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(i), Ok(t)) => (i, t),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("inferencekey-dev: cannot handle signals: {e}");
                return ExitCode::FAILURE;
            }
        }
    };

    let remote_warning = args.config.remote_warning();
    let server = match DevServer::start(args.config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("inferencekey-dev: {e}");
            return ExitCode::FAILURE;
        }
    };
    let creds = match server.create_project(&args.project, None) {
        Ok(creds) => creds,
        Err(e) => {
            eprintln!("inferencekey-dev: project {}: {e}", args.project);
            server.stop();
            return ExitCode::FAILURE;
        }
    };
    let info = server.info();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "export INFERENCEKEY_BASE_URL={}", info.base_url);
    let _ = writeln!(out, "export INFERENCEKEY_PROJECT={}", args.project);
    let _ = writeln!(out, "export INFERENCEKEY_SDK_TOKEN={}", creds.sdk_token);
    let _ = writeln!(out, "export INFERENCEKEY_API_KEY={}", creds.api_key);
    let _ = writeln!(
        out,
        "export INFERENCEKEY_DEV_ADMIN_SECRET={}",
        info.admin_secret
    );
    let _ = out.flush();
    drop(out);
    eprintln!(
        "inferencekey-dev {} listening on {} (data in {}); Ctrl-C stops it",
        info.version, info.base_url, info.data_dir
    );
    if let Some(warning) = remote_warning {
        eprintln!("inferencekey-dev: {warning}");
    }

    signals.block_on(async {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    });
    eprintln!("inferencekey-dev: stopping");
    server.stop();
    ExitCode::SUCCESS
}
