//! A lab PKI: a CA and the E and C certificates in one directory, made with rcgen.
//!
//! ```text
//! DIR/ca.pem  DIR/ca.key     the lab CA (ECDSA P-256, 10 years, CN "portico lab CA")
//! DIR/e.pem   DIR/e.key      E's certificate (397 days), signed by the CA
//! DIR/c.pem   DIR/c.key      C's certificate
//! ```
//!
//! [`ensure_lab_pki`] is idempotent: it reuses what is there when it is usable — the CA is one
//! it made (so it can sign with it), its key matches, it is valid for more than
//! [`RENEW_DAYS`](super::check::RENEW_DAYS); a role certificate chains to that CA, its key
//! matches and [`check`](super::check) finds nothing — and makes the rest. A new CA means new
//! role certificates. Keys are written 0600 (and set back to 0600 when found looser), the
//! directory is created 0700; files are written to a temporary name and renamed, so that a
//! crash leaves the old file or the new one. It refuses to overwrite a CA it did not make.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::check::{check, Requirements, RENEW_DAYS};
use super::{key_matches, load_certificates, load_private_key, unix_seconds, CertError, Side};

/// The subject CN of a lab CA; a CA with another name is not one [`ensure_lab_pki`] made.
pub(crate) const LAB_CA_NAME: &str = "portico lab CA";
const LAB_CA_ORG: &str = "portico";
const CA_DAYS: u64 = 3650;
/// The CA/Browser Forum's longest server certificate lifetime.
const LEAF_DAYS: u64 = 397;
/// Certificates start an hour back, for clocks a little behind.
const BACKDATE: Duration = Duration::from_secs(3600);
const DAY: u64 = 86_400;

/// The lab CA certificate in `dir`.
pub(crate) fn lab_ca_path(dir: &Path) -> PathBuf {
    dir.join("ca.pem")
}

/// The lab CA key in `dir`.
pub(crate) fn lab_ca_key_path(dir: &Path) -> PathBuf {
    dir.join("ca.key")
}

/// The certificate and key of `side` in `dir`.
pub(crate) fn lab_identity_paths(dir: &Path, side: Side) -> (PathBuf, PathBuf) {
    let stem = match side {
        Side::E => "e",
        Side::C => "c",
    };
    (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}.key")),
    )
}

/// What [`ensure_lab_pki`] did with one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LabOutcome {
    /// Found usable and kept.
    Reused,
    /// Not there: made.
    Created,
    /// There but unusable: made anew; why.
    Renewed(String),
}

/// What [`ensure_lab_pki`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LabReport {
    pub(crate) ca: LabOutcome,
    /// One per requirement, in order.
    pub(crate) leaves: Vec<(Side, LabOutcome)>,
}

/// Makes sure `dir` holds a lab CA and, for each of `wanted`, a certificate that meets it,
/// signed by that CA (see the module docs).
pub(crate) fn ensure_lab_pki(
    dir: &Path,
    wanted: &[Requirements],
    now: SystemTime,
) -> Result<LabReport, CertError> {
    if !dir.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| CertError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
    }
    let (ca_pem, ca_key) = (lab_ca_path(dir), lab_ca_key_path(dir));
    let mut renew_why: Option<String> = None;
    let reuse = match (ca_pem.exists(), ca_key.exists()) {
        (true, true) => match usable_ca(&ca_pem, &ca_key, now)? {
            Ok(key) => Some(key),
            Err(why) => {
                renew_why = Some(why);
                None
            }
        },
        (true, false) => {
            return Err(CertError::LabCa {
                path: ca_pem,
                problem: format!(
                    "is there without its key {}: nothing can be signed with it; remove it to \
                     have a new lab CA made, or give the key",
                    ca_key.display()
                ),
            })
        }
        (false, true) => {
            renew_why = Some(format!("{} was missing", ca_pem.display()));
            None
        }
        (false, false) => None,
    };
    let (ca_outcome, ca_cert, ca_keypair) = match reuse {
        Some(key) => {
            // The same name and key as the CA on disk: what a leaf's issuer field and signature
            // need.
            let cert = ca_params(now)?.self_signed(&key).map_err(generate)?;
            (LabOutcome::Reused, cert, key)
        }
        None => {
            let key = KeyPair::generate().map_err(generate)?;
            let cert = ca_params(now)?.self_signed(&key).map_err(generate)?;
            write_file(&ca_key, key.serialize_pem().as_bytes(), 0o600)?;
            write_file(&ca_pem, cert.pem().as_bytes(), 0o644)?;
            let outcome = renew_why.map_or(LabOutcome::Created, LabOutcome::Renewed);
            (outcome, cert, key)
        }
    };
    let ca_der = load_certificates(&ca_pem)?;

    let mut leaves = Vec::new();
    for req in wanted {
        let (cert_path, key_path) = lab_identity_paths(dir, req.side);
        let outcome = if !(cert_path.exists() && key_path.exists()) {
            LabOutcome::Created
        } else if ca_outcome != LabOutcome::Reused {
            LabOutcome::Renewed("the lab CA is new".into())
        } else {
            match leaf_problems(&cert_path, &key_path, &ca_der, req, now) {
                None => LabOutcome::Reused,
                Some(why) => LabOutcome::Renewed(why),
            }
        };
        if outcome == LabOutcome::Reused {
            tighten(&key_path)?;
        } else {
            let key = KeyPair::generate().map_err(generate)?;
            let cert = leaf_params(req, now)?
                .signed_by(&key, &ca_cert, &ca_keypair)
                .map_err(generate)?;
            write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
            write_file(&cert_path, cert.pem().as_bytes(), 0o644)?;
        }
        leaves.push((req.side, outcome));
    }
    if ca_outcome == LabOutcome::Reused {
        tighten(&ca_key)?;
    }
    Ok(LabReport {
        ca: ca_outcome,
        leaves,
    })
}

fn generate(e: rcgen::Error) -> CertError {
    CertError::Generate(e.to_string())
}

fn ca_params(now: SystemTime) -> Result<CertificateParams, CertError> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(generate)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, LAB_CA_ORG);
    dn.push(DnType::CommonName, LAB_CA_NAME);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = (now - BACKDATE).into();
    p.not_after = (now + Duration::from_secs(CA_DAYS * DAY)).into();
    p.serial_number = Some(serial()?);
    Ok(p)
}

fn leaf_params(req: &Requirements, now: SystemTime) -> Result<CertificateParams, CertError> {
    let sans = req.san_list();
    let mut p = CertificateParams::new(sans.clone()).map_err(generate)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, LAB_CA_ORG);
    if let Some(cn) = sans.first() {
        dn.push(DnType::CommonName, cn.as_str());
    }
    p.distinguished_name = dn;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = Vec::new();
    if req.server_auth {
        p.extended_key_usages
            .push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if req.client_auth {
        p.extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    p.not_before = (now - BACKDATE).into();
    p.not_after = (now + Duration::from_secs(LEAF_DAYS * DAY)).into();
    p.serial_number = Some(serial()?);
    Ok(p)
}

/// A random positive 16-byte serial number.
fn serial() -> Result<SerialNumber, CertError> {
    let mut b = [0u8; 16];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| CertError::Generate("the system random number generator failed".into()))?;
    b[0] &= 0x7f;
    b[0] |= 0x01;
    Ok(SerialNumber::from_slice(&b))
}

/// The lab CA's key if the CA in `pem` is usable (`Ok(Ok)`), why not if it should be renewed
/// (`Ok(Err)`), or an error if it is a CA this code did not make.
fn usable_ca(
    pem: &Path,
    key: &Path,
    now: SystemTime,
) -> Result<Result<KeyPair, String>, CertError> {
    let certs = match load_certificates(pem) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let Ok((_, x509)) = X509Certificate::from_der(certs[0].as_ref()) else {
        return Ok(Err("not X.509".into()));
    };
    let ours = x509
        .subject()
        .iter_common_name()
        .any(|cn| cn.as_str().ok() == Some(LAB_CA_NAME));
    if !ours {
        return Err(CertError::LabCa {
            path: pem.to_path_buf(),
            problem: format!(
                "is not a portico lab CA (subject {}): lab generation signs only with a CA it \
                 made; move it away to have one made, or set tls.generate = false and give \
                 tls.ca, tls.certificate and tls.key",
                x509.subject()
            ),
        });
    }
    let private = match load_private_key(key) {
        Ok(k) => k,
        Err(e) => return Ok(Err(e.to_string())),
    };
    if key_matches(&certs[0], &private) != Some(true) {
        return Ok(Err(format!("{} is not the CA's key", key.display())));
    }
    let left = x509.validity().not_after.timestamp() - unix_seconds(now);
    if left < RENEW_DAYS * 86_400 {
        return Ok(Err(format!(
            "it expires on {} (or has)",
            x509.validity().not_after
        )));
    }
    if unix_seconds(now) < x509.validity().not_before.timestamp() {
        return Ok(Err("it is not valid yet".into()));
    }
    Ok(KeyPair::try_from(&private).map_err(|e| format!("its key cannot sign: {e}")))
}

/// Why the lab certificate at `cert`/`key` should be made anew; `None`: keep it.
fn leaf_problems(
    cert: &Path,
    key: &Path,
    ca: &[rustls_pki_types::CertificateDer<'static>],
    req: &Requirements,
    now: SystemTime,
) -> Option<String> {
    let chain = match load_certificates(cert) {
        Ok(c) => c,
        Err(e) => return Some(e.to_string()),
    };
    let private = match load_private_key(key) {
        Ok(k) => k,
        Err(e) => return Some(e.to_string()),
    };
    if key_matches(&chain[0], &private) != Some(true) {
        return Some(format!("{} is not the certificate's key", key.display()));
    }
    let findings = check(&chain, ca, req, now);
    if findings.is_empty() {
        None
    } else {
        Some(
            findings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// Writes `bytes` to `path` with `mode`, through a temporary file renamed over it.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CertError> {
    let err = |source| CertError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    // `mode` applies only when the file is created: start from no file.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)).map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}

/// Sets a key file found with group or other access back to 0600.
fn tighten(key: &Path) -> Result<(), CertError> {
    let meta = fs::metadata(key).map_err(|source| CertError::Read {
        path: key.to_path_buf(),
        source,
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(key, fs::Permissions::from_mode(0o600)).map_err(|source| {
            CertError::Write {
                path: key.to_path_buf(),
                source,
            }
        })?;
    }
    Ok(())
}

/// A certificate for `req` signed by `issuer`, after `edit` (tests). Returns (certificate PEM,
/// key PEM).
#[cfg(test)]
pub(crate) fn issue_for_test(
    req: &Requirements,
    issuer: (&rcgen::Certificate, &KeyPair),
    now: SystemTime,
    edit: impl FnOnce(&mut CertificateParams),
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut p = leaf_params(req, now).unwrap();
    edit(&mut p);
    let cert = p.signed_by(&key, issuer.0, issuer.1).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A throwaway CA (tests).
#[cfg(test)]
pub(crate) fn test_ca(name: &str, now: SystemTime) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p = ca_params(now).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    p.distinguished_name = dn;
    (p.self_signed(&key).unwrap(), key)
}
