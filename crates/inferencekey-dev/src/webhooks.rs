//! Webhook destinations and durable, signed delivery (WEBHOOKS.md).
//!
//! Deliveries live in SQLite; one worker task picks the due ones, posts each with a fresh
//! signature, and records the outcome: delivered on a 2xx within 3 s, else retried on the
//! hosted schedule (scaled by `webhook_retry_scale`), then `failed`. A delivery that was in
//! flight when the platform died is still `pending` in the database and goes out again after
//! a restart (at-least-once: receivers dedupe on `job_id`).

use std::collections::HashSet;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::TryRngCore;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::log::Logger;
use crate::model::Delivery;
use crate::util::now_rfc3339;

/// Destinations per workload.
pub const MAX_DESTINATIONS: usize = 10;
/// A destination acknowledges with a 2xx within this long.
pub const ACK_DEADLINE: Duration = Duration::from_secs(3);
/// Bodies over this many bytes are not delivered.
pub const MAX_BODY: usize = 1 << 20;
/// Delays before retries 1–5 (hosted schedule), in seconds; after the last: terminal.
pub const RETRY_DELAYS_S: [f64; 5] = [60.0, 300.0, 900.0, 3600.0, 21600.0];
/// Attempts in flight at once.
const CONCURRENCY: usize = 8;

// ---- destinations --------------------------------------------------------------------------

/// Checks a destination URL: `https` to a public host, as the hosted platform requires, or
/// (dev-only relaxation) any scheme of the two to this machine's loopback (`127.0.0.0/8`,
/// `localhost`, `[::1]`). Host names are not resolved here: a name is refused only when it is
/// plainly local (`localhost`-like, `.local`, `.internal`, a single label).
pub fn check_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 2048 {
        return Err("url must be 1 to 2048 characters".into());
    }
    let url = url::Url::parse(raw).map_err(|e| format!("url is not a valid URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not carry credentials (user:password@)".into());
    }
    if url.fragment().is_some() {
        return Err("url must not have a #fragment".into());
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" {
                true
            } else if name.ends_with(".localhost")
                || name.ends_with(".local")
                || name.ends_with(".internal")
                || !name.contains('.')
            {
                return Err(format!("url host {name} is not a public host"));
            } else {
                false
            }
        }
        Some(url::Host::Ipv4(ip)) => public_or_loopback(IpAddr::V4(ip))?,
        Some(url::Host::Ipv6(ip)) => public_or_loopback(IpAddr::V6(ip))?,
        None => return Err("url has no host".into()),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(
                "url must be https (http is allowed only to 127.0.0.1, localhost or [::1] on \
                 the local platform)"
                    .into(),
            )
        }
        other => return Err(format!("url scheme {other} is not allowed (https only)")),
    }
    Ok(url.to_string())
}

/// `Ok(true)` for loopback, `Ok(false)` for a public address, `Err` for any other.
fn public_or_loopback(ip: IpAddr) -> Result<bool, String> {
    let ip = ip.to_canonical();
    if ip.is_loopback() {
        return Ok(true);
    }
    let private = match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
        }
    };
    if private {
        Err(format!("url host {ip} is not a public address"))
    } else {
        Ok(false)
    }
}

/// A new destination secret: `whsec_` + 32 random bytes, hex.
pub fn new_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| format!("the OS random generator failed: {e}"))?;
    Ok(format!("whsec_{}", hex::encode(bytes)))
}

/// `t=<t>,v1=<hex(HMAC-SHA256(secret, "{t}.{body}"))>`: the SDK core's signer, the one its
/// `verify` checks against.
pub use inferencekey_core::webhooks::signature_header as signature;

// ---- secrets at rest -----------------------------------------------------------------------

/// Encrypts destination secrets with a key kept in its own 0600 file (`webhook.key` in the
/// data folder, created on first use), so the database file alone does not reveal them. Each
/// ciphertext is bound to its destination id (associated data).
pub struct SecretBox {
    path: PathBuf,
    cipher: Mutex<Option<XChaCha20Poly1305>>,
}

impl SecretBox {
    pub fn new(path: PathBuf) -> SecretBox {
        SecretBox {
            path,
            cipher: Mutex::new(None),
        }
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305, String> {
        let mut guard = self.cipher.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cipher) = guard.as_ref() {
            return Ok(cipher.clone());
        }
        let key = self.load_or_create_key()?;
        let cipher = XChaCha20Poly1305::new_from_slice(&key)
            .map_err(|_| "the webhook key has the wrong length".to_string())?;
        *guard = Some(cipher.clone());
        Ok(cipher)
    }

    fn load_or_create_key(&self) -> Result<Vec<u8>, String> {
        use std::os::unix::fs::OpenOptionsExt;
        let shown = self.path.display();
        match std::fs::read(&self.path) {
            Ok(key) if key.len() == 32 => return Ok(key),
            Ok(_) => return Err(format!("{shown} is not a 32-byte key")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{shown}: {e}")),
        }
        let mut key = [0u8; 32];
        OsRng
            .try_fill_bytes(&mut key)
            .map_err(|e| format!("the OS random generator failed: {e}"))?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(|e| format!("{shown}: {e}"))?;
        file.write_all(&key)
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("{shown}: {e}"))?;
        Ok(key.to_vec())
    }

    /// `nonce || ciphertext` of `secret`, bound to destination `id`.
    pub fn seal(&self, id: &str, secret: &str) -> Result<Vec<u8>, String> {
        let cipher = self.cipher()?;
        let mut nonce = [0u8; 24];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| format!("the OS random generator failed: {e}"))?;
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| "encryption failed".to_string())?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    pub fn open(&self, id: &str, sealed: &[u8]) -> Result<String, String> {
        let cipher = self.cipher()?;
        if sealed.len() < 24 {
            return Err("the stored secret is truncated".into());
        }
        let (nonce, ciphertext) = sealed.split_at(24);
        let plain = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| "the stored secret does not decrypt with webhook.key".to_string())?;
        String::from_utf8(plain).map_err(|_| "the stored secret is not UTF-8".to_string())
    }
}

// ---- delivery ------------------------------------------------------------------------------

/// The delivery worker's handle: wake it when deliveries are added.
pub struct Deliverer {
    db: Arc<Db>,
    secrets: Arc<SecretBox>,
    log: Arc<Logger>,
    client: reqwest::Client,
    retry_scale: f64,
    wake: Notify,
    in_flight: Mutex<HashSet<String>>,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Deliverer {
    pub fn new(
        db: Arc<Db>,
        secrets: Arc<SecretBox>,
        log: Arc<Logger>,
        retry_scale: f64,
    ) -> Result<Arc<Deliverer>, String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(ACK_DEADLINE)
            .user_agent(concat!("inferencekey-dev/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Arc::new(Deliverer {
            db,
            secrets,
            log,
            client,
            retry_scale,
            wake: Notify::new(),
            in_flight: Mutex::default(),
        }))
    }

    pub fn secrets(&self) -> &SecretBox {
        &self.secrets
    }

    /// New deliveries were recorded: look now rather than at the next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The delay after failed attempt `attempts` (1-based), or `None` when it was the last.
    fn retry_delay(&self, attempts: i64) -> Option<Duration> {
        let delay = RETRY_DELAYS_S.get(usize::try_from(attempts - 1).ok()?)?;
        Some(Duration::from_secs_f64(delay * self.retry_scale))
    }

    /// Runs until `shutdown`: picks due deliveries and attempts each once.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        loop {
            let db = self.db.clone();
            let due = tokio::task::spawn_blocking(move || {
                let due = db.due_deliveries(now_ms(), 64)?;
                let next = db.next_due_ms()?;
                Ok::<_, rusqlite::Error>((due, next))
            })
            .await;
            let (due, next) = match due {
                Ok(Ok(found)) => found,
                Ok(Err(e)) => {
                    self.log.warn(format!("webhook deliveries: database: {e}"));
                    (Vec::new(), None)
                }
                Err(e) => {
                    self.log.warn(format!("webhook deliveries: {e}"));
                    (Vec::new(), None)
                }
            };
            for delivery in due {
                if !self.claim(&delivery.id) {
                    continue;
                }
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let this = self.clone();
                tokio::spawn(async move {
                    let id = delivery.id.clone();
                    this.attempt(delivery).await;
                    this.release(&id);
                    this.wake();
                    drop(permit);
                });
            }
            // Sleep until the next due delivery (at most 1 s: clocks move), or a wake-up.
            let wait = next
                .map(|ms| Duration::from_millis((ms - now_ms()).clamp(5, 1000) as u64))
                .unwrap_or(Duration::from_secs(1));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn claim(&self, id: &str) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string())
    }

    fn release(&self, id: &str) {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// One attempt; records its outcome.
    async fn attempt(&self, mut delivery: Delivery) {
        let outcome = self.post(&delivery).await;
        delivery.attempts += 1;
        delivery.updated_at = now_rfc3339();
        match outcome {
            Ok(status) => {
                delivery.status = "delivered".into();
                delivery.next_attempt_ms = None;
                delivery.last_status = Some(status);
                delivery.last_error = None;
            }
            Err((status, error, terminal)) => {
                delivery.last_status = status;
                match self.retry_delay(delivery.attempts).filter(|_| !terminal) {
                    Some(delay) => {
                        delivery.next_attempt_ms = Some(now_ms() + delay.as_millis() as i64);
                    }
                    None => {
                        delivery.status = "failed".into();
                        delivery.next_attempt_ms = None;
                    }
                }
                self.log.warn(format!(
                    "webhook {} delivery {} (job {}) attempt {}: {error}{}",
                    delivery.webhook_id,
                    delivery.id,
                    delivery.job_id,
                    delivery.attempts,
                    if delivery.status == "failed" {
                        "; giving up"
                    } else {
                        ""
                    }
                ));
                delivery.last_error = Some(error);
            }
        }
        let db = self.db.clone();
        let record = delivery.clone();
        match tokio::task::spawn_blocking(move || db.record_attempt(&record)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.log.warn(format!("webhook deliveries: database: {e}")),
            Err(e) => self.log.warn(format!("webhook deliveries: {e}")),
        }
    }

    /// Posts once. `Ok(status)` on a 2xx; else (status, reason, terminal).
    async fn post(&self, delivery: &Delivery) -> Result<i64, (Option<i64>, String, bool)> {
        let db = self.db.clone();
        let webhook_id = delivery.webhook_id.clone();
        let sealed = match tokio::task::spawn_blocking(move || db.webhook_secret(&webhook_id)).await
        {
            Ok(Ok(Some(sealed))) => sealed,
            Ok(Ok(None)) => return Err((None, "the destination was removed".into(), true)),
            Ok(Err(e)) => return Err((None, format!("database: {e}"), false)),
            Err(e) => return Err((None, format!("database task: {e}"), false)),
        };
        let secret = self
            .secrets
            .open(&delivery.webhook_id, &sealed)
            .map_err(|e| (None, e, true))?;
        let t = crate::util::unix_now();
        let request = self
            .client
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-InferenceKey-Event", event_header(&delivery.event))
            .header("X-InferenceKey-Job-Id", &delivery.job_id)
            .header(
                "X-InferenceKey-Signature",
                signature(&secret, t, delivery.body.as_bytes()),
            )
            .body(delivery.body.clone());
        drop(secret);
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let code = i64::from(status.as_u16());
                if status.is_success() {
                    Ok(code)
                } else if status.is_redirection() {
                    Err((
                        Some(code),
                        format!("the destination answered {code} (redirects are not followed)"),
                        false,
                    ))
                } else {
                    Err((
                        Some(code),
                        format!("the destination answered {code}"),
                        false,
                    ))
                }
            }
            Err(e) if e.is_timeout() => Err((
                None,
                format!("no answer within {} s", ACK_DEADLINE.as_secs()),
                false,
            )),
            Err(e) if e.is_connect() => Err((None, "the connection failed".into(), false)),
            Err(_) => Err((None, "the exchange broke off".into(), false)),
        }
    }
}

fn event_header(event: &str) -> &'static str {
    if event == "ping" {
        "ping"
    } else {
        "job"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_urls_follow_the_hosted_rules_with_the_loopback_relaxation() {
        for ok in [
            "https://hooks.example.com/ik",
            "https://203.0.113.0.nip.io/x",
            "https://8.8.8.8/hook",
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://[::1]:8080/",
            "https://127.0.0.1:8443/",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}: {:?}", check_url(ok));
        }
        for bad in [
            "",
            "not a url",
            "ftp://example.com/x",
            "http://example.com/hook",
            "http://10.0.0.1/hook",
            "https://10.0.0.1/hook",
            "https://192.168.1.2/",
            "https://169.254.169.254/latest/meta-data",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://0.0.0.0/",
            "https://100.64.0.1/",
            "https://intranet/",
            "https://printer.local/",
            "https://db.internal/",
            "https://a.localhost/",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "file:///etc/passwd",
        ] {
            assert!(check_url(bad).is_err(), "{bad} was accepted");
        }
        assert!(check_url(&format!("https://example.com/{}", "a".repeat(2100))).is_err());
    }

    #[test]
    fn secrets_round_trip_and_are_bound_to_their_destination() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("webhook.key");
        let secret = new_secret().unwrap();
        assert!(secret.starts_with("whsec_") && secret.len() == 6 + 64);
        let sealed = SecretBox::new(path.clone()).seal("wh_1", &secret).unwrap();
        assert!(!sealed
            .windows(16)
            .any(|w| secret.as_bytes().windows(16).any(|s| s == w)));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A fresh box reads the same key file.
        let reopened = SecretBox::new(path.clone());
        assert_eq!(reopened.open("wh_1", &sealed).unwrap(), secret);
        assert!(reopened.open("wh_2", &sealed).is_err());
        assert!(reopened.open("wh_1", &sealed[..10]).is_err());
        // Another key cannot open it.
        let other = SecretBox::new(dir.path().join("other.key"));
        assert!(other.open("wh_1", &sealed).is_err());
    }
}
