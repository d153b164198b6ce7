//! Certificates: loading the PEM files, generating a lab CA and the role certificates, and
//! checking a certificate against what the deployment guide requires of E and C.
//!
//! - [`load_certificates`], [`load_private_key`], [`load_identity`]: PEM files into
//!   `rustls-pki-types` values. Errors name the file and say what was wrong: no PEM blocks of
//!   the kind wanted, not X.509, a key that is not the certificate's, a certificate outside its
//!   validity period at the `now` given.
//! - [`ensure_lab_pki`]: for labs, a CA and the E and C certificates in a directory, generated
//!   when missing, unusable or close to expiry, reused otherwise; keys are written 0600.
//! - [`check`]: the problems an operator must fix in a certificate (missing SAN, missing Client
//!   Authentication EKU, expired, not signed by the configured CA), as a list of [`Finding`]s,
//!   for `edge doctor` and the admin API's alarms.
//!
//! What the guide (`shared/spec/mra-deployment-guide-x8.2.txt`) requires, and where it is
//! implemented, is listed on [`Requirements`].
//!
//! Time is an argument (`now`), never read here, so that tests can move it.

mod check;
mod lab;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::prelude::{FromDer, X509Certificate};

#[cfg(test)]
pub(crate) use check::NameReason;
pub(crate) use check::{check, Finding, Requirements, Severity};
#[cfg(test)]
pub(crate) use lab::LabOutcome;
pub(crate) use lab::{ensure_lab_pki, lab_ca_path, lab_identity_paths, LabReport};

/// Which end of the traversal a certificate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Side {
    /// Expressway-E: TLS server to clients and to C.
    E,
    /// Expressway-C: TLS client to E, server to call control.
    C,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::E => "E",
            Side::C => "C",
        })
    }
}

/// A certificate chain (leaf first) and its private key.
#[derive(Debug)]
pub(crate) struct Identity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

/// Why certificates could not be loaded or generated.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum CertError {
    /// A file could not be read.
    Read { path: PathBuf, source: io::Error },
    /// A file could not be written (lab generation).
    Write { path: PathBuf, source: io::Error },
    /// A file is not PEM, or holds no block of the kind wanted.
    Pem { path: PathBuf, problem: String },
    /// A CERTIFICATE block is not an X.509 certificate.
    NotX509 {
        path: PathBuf,
        index: usize,
        detail: String,
    },
    /// The private key is not the one of the certificate.
    KeyMismatch { certificate: PathBuf, key: PathBuf },
    /// The certificate is not valid at `now`.
    Validity { path: PathBuf, problem: String },
    /// A lab certificate could not be made.
    Generate(String),
    /// The lab directory holds a CA this code cannot sign with.
    LabCa { path: PathBuf, problem: String },
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            CertError::Write { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
            CertError::Pem { path, problem } => write!(f, "{}: {problem}", path.display()),
            CertError::NotX509 {
                path,
                index,
                detail,
            } => write!(
                f,
                "{}: certificate {} (counting from 1) is not an X.509 certificate: {detail}",
                path.display(),
                index + 1
            ),
            CertError::KeyMismatch { certificate, key } => write!(
                f,
                "{} is not the private key of the certificate in {}; give the key the \
                 certificate was issued for",
                key.display(),
                certificate.display()
            ),
            CertError::Validity { path, problem } => write!(f, "{}: {problem}", path.display()),
            CertError::Generate(why) => write!(f, "cannot generate a lab certificate: {why}"),
            CertError::LabCa { path, problem } => write!(f, "{}: {problem}", path.display()),
        }
    }
}

impl std::error::Error for CertError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CertError::Read { source, .. } | CertError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Seconds since the Unix epoch (negative before it), as x509-parser writes times.
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|source| CertError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The kinds of PEM blocks in a file, for messages ("found: PRIVATE KEY").
fn kinds(items: &[rustls_pemfile::Item]) -> String {
    use rustls_pemfile::Item;
    let mut names: Vec<&str> = items
        .iter()
        .map(|i| match i {
            Item::X509Certificate(_) => "CERTIFICATE",
            Item::Pkcs1Key(_) => "RSA PRIVATE KEY",
            Item::Pkcs8Key(_) => "PRIVATE KEY",
            Item::Sec1Key(_) => "EC PRIVATE KEY",
            Item::Crl(_) => "X509 CRL",
            Item::Csr(_) => "CERTIFICATE REQUEST",
            _ => "another kind",
        })
        .collect();
    names.dedup();
    if names.is_empty() {
        "no PEM blocks at all".to_string()
    } else {
        format!("only {}", names.join(", "))
    }
}

fn pem_items(path: &Path) -> Result<Vec<rustls_pemfile::Item>, CertError> {
    let bytes = read(path)?;
    rustls_pemfile::read_all(&mut &bytes[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Pem {
            path: path.to_path_buf(),
            problem: format!("is not valid PEM: {e}"),
        })
}

/// The certificates of a PEM file, in order (a chain: leaf first). Each must be X.509.
pub(crate) fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let items = pem_items(path)?;
    let found = kinds(&items);
    let certs: Vec<CertificateDer<'static>> = items
        .into_iter()
        .filter_map(|i| match i {
            rustls_pemfile::Item::X509Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(CertError::Pem {
            path: path.to_path_buf(),
            problem: format!("holds no certificate (-----BEGIN CERTIFICATE-----); found {found}"),
        });
    }
    for (index, c) in certs.iter().enumerate() {
        if let Err(e) = X509Certificate::from_der(c.as_ref()) {
            return Err(CertError::NotX509 {
                path: path.to_path_buf(),
                index,
                detail: e.to_string(),
            });
        }
    }
    Ok(certs)
}

/// The one private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, CertError> {
    use rustls_pemfile::Item;
    let items = pem_items(path)?;
    let found = kinds(&items);
    let mut keys: Vec<PrivateKeyDer<'static>> = items
        .into_iter()
        .filter_map(|i| match i {
            Item::Pkcs8Key(k) => Some(PrivateKeyDer::Pkcs8(k)),
            Item::Pkcs1Key(k) => Some(PrivateKeyDer::Pkcs1(k)),
            Item::Sec1Key(k) => Some(PrivateKeyDer::Sec1(k)),
            _ => None,
        })
        .collect();
    match keys.len() {
        1 => Ok(keys.remove(0)),
        0 => Err(CertError::Pem {
            path: path.to_path_buf(),
            problem: format!(
                "holds no private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC \
                 PRIVATE KEY); found {found}"
            ),
        }),
        n => Err(CertError::Pem {
            path: path.to_path_buf(),
            problem: format!("holds {n} private keys; expected exactly one"),
        }),
    }
}

/// Whether `key` is the private key of `cert`: `Some(true/false)` where it can tell (PKCS#8
/// ECDSA P-256/P-384, Ed25519 and RSA keys), `None` for other key formats.
pub(crate) fn key_matches(cert: &CertificateDer<'_>, key: &PrivateKeyDer<'_>) -> Option<bool> {
    let (_, x509) = X509Certificate::from_der(cert.as_ref()).ok()?;
    let pair = rcgen::KeyPair::try_from(key).ok()?;
    Some(pair.public_key_raw() == x509.public_key().subject_public_key.data.as_ref())
}

/// The validity period of `cert` against `now`: `Err(sentence)` when not yet or no longer valid.
pub(crate) fn validity_at(cert: &X509Certificate<'_>, now: SystemTime) -> Result<(), String> {
    let now_s = unix_seconds(now);
    let v = cert.validity();
    if now_s < v.not_before.timestamp() {
        return Err(format!(
            "is not valid yet: not before {} (is this machine's clock right?)",
            v.not_before
        ));
    }
    if now_s > v.not_after.timestamp() {
        return Err(format!("expired on {}; renew the certificate", v.not_after));
    }
    Ok(())
}

/// A certificate chain and its key, checked: the key is the leaf's (where the key format lets
/// us tell) and every certificate in the chain is valid at `now`.
pub(crate) fn load_identity(
    certificate: &Path,
    key: &Path,
    now: SystemTime,
) -> Result<Identity, CertError> {
    let chain = load_certificates(certificate)?;
    let private = load_private_key(key)?;
    if key_matches(&chain[0], &private) == Some(false) {
        return Err(CertError::KeyMismatch {
            certificate: certificate.to_path_buf(),
            key: key.to_path_buf(),
        });
    }
    for (i, c) in chain.iter().enumerate() {
        // Parsed once already by load_certificates.
        let Ok((_, x509)) = X509Certificate::from_der(c.as_ref()) else {
            continue;
        };
        if let Err(problem) = validity_at(&x509, now) {
            let which = if i == 0 {
                "the certificate".to_string()
            } else {
                format!("certificate {} of the chain ({})", i + 1, x509.subject())
            };
            return Err(CertError::Validity {
                path: certificate.to_path_buf(),
                problem: format!("{which} {problem}"),
            });
        }
    }
    Ok(Identity {
        chain,
        key: private,
    })
}

#[cfg(test)]
mod tests;
