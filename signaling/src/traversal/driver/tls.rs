//! rustls configuration of both ends (mutual TLS with the ring provider) and the classification
//! of TLS failures into operator-facing reasons.

use std::fmt;
use std::io;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::traversal::status::FailureKind;

/// A certificate chain (leaf first) and its private key.
pub struct TlsIdentity {
    /// The chain, leaf first.
    pub cert_chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl TlsIdentity {
    /// An identity from a chain and a key.
    pub fn new(cert_chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        Self { cert_chain, key }
    }
}

impl Clone for TlsIdentity {
    fn clone(&self) -> Self {
        Self {
            cert_chain: self.cert_chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("certificates", &self.cert_chain.len())
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(cas: &[CertificateDer<'static>]) -> Result<Arc<RootCertStore>, String> {
    let mut store = RootCertStore::empty();
    for ca in cas {
        store
            .add(ca.clone())
            .map_err(|e| format!("CA certificate not usable: {e}"))?;
    }
    if store.is_empty() {
        return Err("no CA certificate configured".to_owned());
    }
    Ok(Arc::new(store))
}

/// E's configuration: its identity, and client certificates required and verified against
/// `client_ca` (chain, validity, client-auth usage). The subject name is checked after the
/// handshake ([`crate::traversal::certname`]).
pub(crate) fn server_config(
    identity: &TlsIdentity,
    client_ca: &[CertificateDer<'static>],
) -> Result<Arc<ServerConfig>, String> {
    let provider = provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(client_ca)?, provider.clone())
        .build()
        .map_err(|e| format!("client verifier: {e}"))?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.cert_chain.clone(), identity.key.clone_key())
        .map_err(|e| format!("E certificate or key: {e}"))?;
    Ok(Arc::new(config))
}

/// C's configuration: its identity for client authentication, and E's certificate verified
/// against `server_ca` and the name C dialed.
pub(crate) fn client_config(
    identity: &TlsIdentity,
    server_ca: &[CertificateDer<'static>],
) -> Result<Arc<ClientConfig>, String> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots(server_ca)?)
        .with_client_auth_cert(identity.cert_chain.clone(), identity.key.clone_key())
        .map_err(|e| format!("C certificate or key: {e}"))?;
    Ok(Arc::new(config))
}

/// The reason an I/O error from a TLS connection or handshake gives.
pub(crate) fn classify(e: &io::Error) -> (FailureKind, String) {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::InvalidCertificate(_)) => {
            (FailureKind::CertificateRejected, format!("TLS: {e}"))
        }
        Some(rustls::Error::NoCertificatesPresented) => (
            FailureKind::NoClientCertificate,
            "TLS: the client presented no certificate".to_owned(),
        ),
        Some(rustls::Error::AlertReceived(alert)) => (
            FailureKind::RefusedByPeer,
            format!("TLS: the peer refused the connection with alert {alert:?}"),
        ),
        Some(other) => (FailureKind::Tls, format!("TLS: {other}")),
        None => match e.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => (
                FailureKind::ConnectionLost,
                format!("connection closed by the peer: {e}"),
            ),
            _ => (FailureKind::Tls, format!("TLS: {e}")),
        },
    }
}
