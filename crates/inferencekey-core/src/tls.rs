//! Which servers a client trusts: its TLS set-up, built once per client configuration and
//! shared by both transports (the async reqwest client and the blocking [`crate::http1`] path),
//! so every mode of a client trusts exactly the same roots.
//!
//! The roots, first that applies:
//! 1. `ca_bundle_path` of the client configuration: a PEM file, which *replaces* the other
//!    roots (as `verify=` does in requests and httpx, and `--cacert` in curl).
//! 2. `SSL_CERT_FILE` / `SSL_CERT_DIR`: when either is set, only those are read, as OpenSSL,
//!    curl and Python's `ssl` do.
//! 3. The operating system's store (Linux: the distribution bundle and directory that
//!    OpenSSL uses; macOS: the keychains' trust settings; Windows: the system store). A
//!    corporate TLS-inspection CA is installed there by the IT department.
//! 4. The bundled Mozilla roots (`webpki-roots`), when the system store has none (a scratch
//!    container without `ca-certificates`).
//!
//! Crate choice: `rustls-native-certs` rather than `rustls-platform-verifier`. The platform
//! verifier hands verification to the OS on macOS and Windows, which then ignores
//! `SSL_CERT_FILE`/`SSL_CERT_DIR` and cannot be told to trust *only* a given bundle; and an
//! empty store cannot be detected to fall back. `rustls-native-certs` gives one model on every
//! platform — a root store that rustls (webpki) verifies against — which reads the same
//! system stores, honours both variables on every platform (verified in its 0.8 source:
//! either variable replaces the platform store), and leaves the fallback to us. What it does
//! not do is apply OS-only policy (revocation, per-root constraints set in the keychain).

use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::codes;
use crate::error::{Error, ErrorKind, Result};
use crate::process::ForkLocal;

/// The TLS set-up of one client: the same roots, offered with HTTP/2 (async client) or
/// HTTP/1.1 only (our HTTP/1 exchanges). A `ca_bundle_path` given to the client is read when
/// the client is made, so a bad path fails there; roots from the environment
/// (`SSL_CERT_FILE`/`SSL_CERT_DIR`, set machine-wide in many containers and CI images) and the
/// system store are read on the first TLS connection, as curl reads them: a client of an
/// `http://` server (the local platform) never parses a certificate. A bad variable is then a
/// configuration error of that first `https://` call.
#[derive(Clone)]
pub struct Tls(Arc<Lazy>);

struct Lazy {
    ca_bundle_path: Option<String>,
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR` as they were when the client was made.
    native_key: NativeKey,
    /// Built once per process (a forked child rebuilds it rather than take a lock that a
    /// parent's thread may have held).
    configs: ForkLocal<Arc<Configs>>,
}

/// The configurations, once built.
pub struct Configs {
    /// For reqwest (`use_preconfigured_tls`): ALPN `h2`, `http/1.1`.
    pub async_config: Arc<rustls::ClientConfig>,
    /// For [`crate::http1`]: ALPN `http/1.1`.
    pub blocking_config: Arc<rustls::ClientConfig>,
    /// Where the roots came from, for messages (`the system store`, a path, …).
    pub source: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("ca_bundle_path", &self.0.ca_bundle_path)
            .finish()
    }
}

/// The system roots (or those of `SSL_CERT_FILE`/`SSL_CERT_DIR`) are read once per process
/// and per value of those variables: reading them parses a few hundred kilobytes.
type NativeKey = (Option<std::ffi::OsString>, Option<std::ffi::OsString>);
type NativeCache = Mutex<Vec<(NativeKey, Arc<Roots>)>>;
static NATIVE: ForkLocal<NativeCache> = ForkLocal::new();

struct Roots {
    store: Arc<RootCertStore>,
    source: String,
}

impl Tls {
    /// The set-up of a client with this `ca_bundle_path` (the rest from the environment).
    pub fn new(ca_bundle_path: Option<&str>) -> Result<Tls> {
        let native_key: NativeKey = (
            std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()),
            std::env::var_os("SSL_CERT_DIR").filter(|v| !v.is_empty()),
        );
        let tls = Tls(Arc::new(Lazy {
            ca_bundle_path: ca_bundle_path.map(str::to_owned),
            native_key,
            configs: ForkLocal::new(),
        }));
        if ca_bundle_path.is_some() {
            tls.configs()?;
        }
        Ok(tls)
    }

    /// A set-up trusting exactly `roots`, built now (tests).
    #[cfg(test)]
    pub(crate) fn with_roots(roots: RootCertStore) -> Tls {
        let tls = Tls(Arc::new(Lazy {
            ca_bundle_path: None,
            native_key: (None, None),
            configs: ForkLocal::new(),
        }));
        let roots = Roots {
            store: Arc::new(roots),
            source: "the test's roots".to_owned(),
        };
        tls.0
            .configs
            .get_or_init(|| Arc::new(configs(&roots).unwrap()), drop);
        tls
    }

    /// The configurations, built on first use.
    pub fn configs(&self) -> Result<Arc<Configs>> {
        self.0
            .configs
            .get_or_try_init(
                || {
                    let roots = match &self.0.ca_bundle_path {
                        Some(path) => Arc::new(bundle_roots(path)?),
                        None => native_roots(&self.0.native_key)?,
                    };
                    configs(&roots).map(Arc::new)
                },
                drop,
            )
            .cloned()
    }
}

fn configs(roots: &Roots) -> Result<Configs> {
    Ok(Configs {
        async_config: config(&roots.store, &[b"h2", b"http/1.1"])?,
        blocking_config: config(&roots.store, &[b"http/1.1"])?,
        source: roots.source.clone(),
    })
}

fn config(roots: &Arc<RootCertStore>, alpn: &[&[u8]]) -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

fn tls_error(message: String) -> Error {
    Error::new(ErrorKind::Config, codes::TLS, message)
}

/// An explicit CA bundle: a readable PEM file holding at least one usable certificate.
fn bundle_roots(path: &str) -> Result<Roots> {
    let bad = |why: String| {
        Error::config(
            codes::INVALID_CA_BUNDLE,
            format!("ca_bundle_path {path:?}: {why}"),
        )
    };
    if path.trim().is_empty() {
        return Err(Error::config(
            codes::INVALID_CA_BUNDLE,
            "ca_bundle_path must name a PEM file, got an empty string",
        ));
    }
    let data = std::fs::read(Path::new(path)).map_err(|e| bad(format!("cannot be read: {e}")))?;
    let mut store = RootCertStore::empty();
    let (added, rejected) = add_pem(&mut store, &data).map_err(&bad)?;
    if added == 0 {
        return Err(bad(if rejected > 0 {
            format!("none of its {rejected} certificates is a usable CA certificate")
        } else {
            "no PEM certificate (-----BEGIN CERTIFICATE-----) found".to_owned()
        }));
    }
    Ok(Roots {
        store: Arc::new(store),
        source: format!("ca_bundle_path {path:?}"),
    })
}

/// Adds every PEM certificate of `data`; returns how many were added and rejected. A
/// malformed PEM section is an error (a truncated bundle should not pass silently).
fn add_pem(store: &mut RootCertStore, data: &[u8]) -> std::result::Result<(usize, usize), String> {
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(data) {
        certs.push(cert.map_err(|e| format!("is not valid PEM: {e}"))?);
    }
    Ok(store.add_parsable_certificates(certs))
}

fn native_roots(key: &NativeKey) -> Result<Arc<Roots>> {
    let cache = NATIVE.get_or_init(|| Mutex::new(Vec::new()), drop);
    if let Some((_, roots)) = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|(k, _)| k == key)
    {
        return Ok(roots.clone());
    }
    let roots = Arc::new(load_native(key)?);
    let mut cached = cache.lock().unwrap_or_else(|p| p.into_inner());
    if !cached.iter().any(|(k, _)| k == key) {
        cached.push((key.clone(), roots.clone()));
    }
    Ok(roots)
}

fn load_native(key: &NativeKey) -> Result<Roots> {
    let result = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(result.certs);
    let named = |name: &str, value: &Option<std::ffi::OsString>| {
        value
            .as_ref()
            .map(|v| format!("{name}={}", Path::new(v).display()))
    };
    let variables: Vec<String> = [
        named("SSL_CERT_FILE", &key.0),
        named("SSL_CERT_DIR", &key.1),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !variables.is_empty() {
        // The user named the roots: an unreadable or empty location is an error, not a
        // silent fallback to roots they did not ask for.
        let variables = variables.join(", ");
        if added == 0 {
            let why = match result.errors.first() {
                Some(e) => e.to_string(),
                None => "no usable certificate found".to_owned(),
            };
            return Err(tls_error(format!(
                "no root certificates could be loaded from {variables}: {why}"
            )));
        }
        return Ok(Roots {
            store: Arc::new(store),
            source: variables,
        });
    }
    if added == 0 {
        // No system store (a minimal container): the bundled Mozilla roots.
        let store = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(Roots {
            store: Arc::new(store),
            source: "the bundled Mozilla roots (the system store is empty)".to_owned(),
        });
    }
    Ok(Roots {
        store: Arc::new(store),
        source: "the system store".to_owned(),
    })
}

/// A one-line hint for a certificate the client did not accept.
pub fn untrusted_hint() -> &'static str {
    "if a proxy inspects TLS on this network, trust its CA: pass ca_bundle_path (Python: \
     ca_bundle=) or set SSL_CERT_FILE to a PEM file holding it"
}

/// The server side of the TLS test fixture (`tests/fixtures/tls`, signed by its `ca.pem`),
/// shared by the transports' tests.
#[cfg(test)]
pub(crate) fn fixture_server_config() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
    let chain: Vec<_> = CertificateDer::pem_file_iter(format!("{fixture}/server.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(format!("{fixture}/server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");

    #[test]
    fn an_explicit_bundle_is_the_only_root() {
        let tls = Tls::new(Some(&format!("{FIXTURE}/ca.pem"))).unwrap();
        let built = tls.configs().unwrap();
        assert!(built.source.contains("ca.pem"), "{}", built.source);
        assert_eq!(built.async_config.alpn_protocols.len(), 2);
        assert_eq!(
            built.blocking_config.alpn_protocols,
            vec![b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn bad_bundles_are_configuration_errors() {
        let dir = std::env::temp_dir().join(format!("ik-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, data: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, data).unwrap();
            p.to_string_lossy().into_owned()
        };
        let missing = dir.join("missing.pem").to_string_lossy().into_owned();
        let empty = write("empty.pem", b"");
        let text = write("text.pem", b"hello, not a certificate\n");
        let key_only = write(
            "key.pem",
            &std::fs::read(format!("{FIXTURE}/server.key")).unwrap(),
        );
        let broken = write(
            "broken.pem",
            b"-----BEGIN CERTIFICATE-----\nMIIB!!!notbase64\n-----END CERTIFICATE-----\n",
        );
        let garbage_der = write(
            "garbage.pem",
            b"-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
        );
        for (path, says) in [
            (missing.as_str(), "cannot be read"),
            (empty.as_str(), "no PEM certificate"),
            (text.as_str(), "no PEM certificate"),
            (key_only.as_str(), "no PEM certificate"),
            (broken.as_str(), "is not valid PEM"),
            (garbage_der.as_str(), "none of its 1 certificates"),
            (dir.to_str().unwrap(), "cannot be read"),
            ("", "empty string"),
        ] {
            let err = Tls::new(Some(path)).unwrap_err();
            assert_eq!(
                (err.kind, err.code.as_str()),
                (ErrorKind::Config, "invalid_ca_bundle"),
                "{path}"
            );
            assert!(err.message.contains(says), "{path}: {}", err.message);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
