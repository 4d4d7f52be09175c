//! A rustls server configuration with a fresh self-signed certificate, for the checker
//! probes (SSL_GET) and the checks benchmark's `ssl` mode.
#![allow(dead_code)]

use std::sync::Arc;

/// An ECDSA P-256 certificate for `CN=lvsd-test`, made with the openssl CLI in `dir`.
pub fn server_config(dir: &std::path::Path) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=lvsd-test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl CLI is needed (scripts/install-test-deps.sh installs it)");
    assert!(out.status.success(), "openssl: {out:?}");
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(&cert)
        .expect("certificate file")
        .map(|c| c.expect("certificate"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(&key).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    Arc::new(cfg)
}
