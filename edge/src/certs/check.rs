//! What E's and C's certificates must carry, and a check that reports what is missing.
//!
//! The guide's requirements (`shared/spec/mra-deployment-guide-x8.2.txt`):
//!
//! - Both: "The certificate must include the **Client Authentication** extension" and "As each
//!   Expressway acts both as a client and as a server you must ensure that each Expressway's
//!   certificate is valid both as a client and as a server" — the Server and Client
//!   Authentication extended key usages. A certificate without an EKU extension is refused
//!   here too: the guide asks for the extension to be present.
//! - Both: "Install on both Expressways the trusted Certificate Authority (CA) certificates of
//!   the authority that signed the Expressway's server certificates" — the chain must lead to
//!   the configured CA.
//! - E ("Expressway-E server certificate requirements"): "**Unified CM registrations
//!   domains:** all of the domains which are configured on the Expressway-C for Unified CM
//!   registrations … You must also prefix each with `collab-edge`" (`collab-edge.<domain>`;
//!   MRA-NOTES: clients also accept the SRVName `_collab-edge._tls.<domain>`, which is accepted
//!   here in its place); "**XMPP federation domains**"; "**IM and Presence chat node aliases
//!   (federated group chat):** the same set of **Chat Node Aliases** as entered on the
//!   Expressway-C's certificate"; and its own FQDN ("Alternative name as it will appear
//!   DNS:taa21.vcs.domain DNS:collab-edge.example.com …"; C's "Peer 1 address: Enter the FQDN of
//!   the Expressway-E").
//! - C ("Expressway-C server certificate requirements"): "**Unified CM phone security profile
//!   names:** the names, in FQDN format, of all of the **Phone Security Profiles** in Unified CM
//!   that are configured for encrypted TLS and are used for devices requiring remote access";
//!   the chat node aliases; its own FQDN ("DNS:taa22.vcs.domain"); and the name E checks: "TLS
//!   verify subject name: Enter the name to look for in the traversal client's certificate
//!   (must be in either the Subject Common Name or the Subject Alternative Name attributes)".
//!
//! DNS names match case-insensitively; a SAN `*.example.test` covers one left-most label
//! (RFC 6125 §6.4.3). A required name that is an IP address must be an IP SAN.

use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use rustls_pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{
    Oid, OID_EC_P256, OID_NIST_EC_P384, OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA,
    OID_PKCS1_SHA512WITHRSA, OID_SIG_ECDSA_WITH_SHA256, OID_SIG_ECDSA_WITH_SHA384, OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{unix_seconds, Side};

/// A certificate due to expire within this many days is reported (a warning) and, in a lab
/// directory, renewed.
pub(crate) const RENEW_DAYS: i64 = 30;

/// `id-on-dnsSRV` (RFC 4985): the SRVName form of a SAN.
const OID_SRV_NAME: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x08, 0x07];

/// Why a name must be in a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NameReason {
    /// The node's own FQDN: peers and clients dial it.
    OwnFqdn,
    /// `collab-edge.<domain>` for a Unified CM registration domain (E).
    RegistrationDomain(String),
    /// An XMPP federation domain (E).
    XmppFederationDomain,
    /// An IM and Presence chat node alias (both).
    ChatNodeAlias,
    /// A Unified CM phone security profile name (C).
    PhoneSecurityProfile,
}

impl fmt::Display for NameReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameReason::OwnFqdn => f.write_str("the node's own FQDN, which peers and clients dial"),
            NameReason::RegistrationDomain(d) => write!(
                f,
                "the Unified CM registration domain {d}, prefixed with collab-edge (guide: \
                 \"You must also prefix each with collab-edge\"; clients check it)"
            ),
            NameReason::XmppFederationDomain => f.write_str("an XMPP federation domain"),
            NameReason::ChatNodeAlias => f.write_str(
                "an IM and Presence chat node alias (the guide: the same set on E's and C's \
                 certificates)",
            ),
            NameReason::PhoneSecurityProfile => f.write_str(
                "a Unified CM phone security profile name (the guide: without it, secure \
                 registrations fail with 'Failed to establish SSL connection')",
            ),
        }
    }
}

/// A name a certificate must carry as a subject alternative name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequiredName {
    /// A DNS name (lower case) or an IP address.
    pub(crate) name: String,
    pub(crate) why: NameReason,
}

/// What one side's certificate must carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Requirements {
    pub(crate) side: Side,
    /// Subject alternative names, each required.
    pub(crate) names: Vec<RequiredName>,
    /// One of these must be the subject CN or a SAN (E's "TLS verify subject name" for C);
    /// empty: no such requirement.
    pub(crate) subject_names: Vec<String>,
    /// The Server Authentication EKU (TLS server to clients, to call control, to C).
    pub(crate) server_auth: bool,
    /// The Client Authentication EKU (the traversal is mutual TLS).
    pub(crate) client_auth: bool,
}

impl Requirements {
    /// E's certificate: its FQDN, `collab-edge.<domain>` for each registration domain, the
    /// XMPP federation domains and the chat node aliases; both EKUs.
    pub(crate) fn e(
        fqdn: &str,
        domains: &[String],
        xmpp_federation_domains: &[String],
        chat_node_aliases: &[String],
    ) -> Requirements {
        let mut r = Requirements {
            side: Side::E,
            names: Vec::new(),
            subject_names: Vec::new(),
            server_auth: true,
            client_auth: true,
        };
        r.add(fqdn, NameReason::OwnFqdn);
        for d in domains {
            r.add(
                &format!("collab-edge.{d}"),
                NameReason::RegistrationDomain(d.to_ascii_lowercase()),
            );
        }
        for d in xmpp_federation_domains {
            r.add(d, NameReason::XmppFederationDomain);
        }
        for a in chat_node_aliases {
            r.add(a, NameReason::ChatNodeAlias);
        }
        r
    }

    /// C's certificate: its FQDN, the phone security profile names and the chat node aliases;
    /// one of `subject_names` (what E checks, when known) as CN or SAN; both EKUs.
    pub(crate) fn c(
        fqdn: &str,
        phone_security_profiles: &[String],
        chat_node_aliases: &[String],
        subject_names: &[String],
    ) -> Requirements {
        let mut r = Requirements {
            side: Side::C,
            names: Vec::new(),
            subject_names: subject_names
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            server_auth: true,
            client_auth: true,
        };
        r.add(fqdn, NameReason::OwnFqdn);
        for p in phone_security_profiles {
            r.add(p, NameReason::PhoneSecurityProfile);
        }
        for a in chat_node_aliases {
            r.add(a, NameReason::ChatNodeAlias);
        }
        r
    }

    fn add(&mut self, name: &str, why: NameReason) {
        let name = name.to_ascii_lowercase();
        if !self.names.iter().any(|n| n.name == name) {
            self.names.push(RequiredName { name, why });
        }
    }

    /// The SANs a certificate made for these requirements gets: every required name, then the
    /// first subject name if none of them is among those.
    pub(crate) fn san_list(&self) -> Vec<String> {
        let mut out: Vec<String> = self.names.iter().map(|n| n.name.clone()).collect();
        if let Some(first) = self.subject_names.first() {
            if !self.subject_names.iter().any(|s| out.contains(s)) {
                out.push(first.clone());
            }
        }
        out
    }
}

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    /// Works today; needs attention.
    Warning,
    /// Breaks MRA or the traversal: fix it.
    Error,
}

/// A problem an operator must fix in a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Finding {
    /// The certificate could not be read as X.509.
    Unparseable { detail: String },
    /// Its validity starts after `now`.
    NotYetValid { not_before: String },
    /// Its validity ended before `now`.
    Expired { not_after: String },
    /// It expires within [`RENEW_DAYS`].
    ExpiresSoon { not_after: String, days: i64 },
    /// A required subject alternative name is missing.
    MissingSan { name: String, why: NameReason },
    /// None of the names E checks is the subject CN or a SAN.
    MissingSubjectName { any_of: Vec<String> },
    /// No Client Authentication EKU.
    MissingClientAuth,
    /// No Server Authentication EKU (an EKU extension without it).
    MissingServerAuth,
    /// The chain does not lead to a configured CA.
    NotSignedByCa { issuer: String, detail: String },
    /// An intermediate or the CA of the chain is not valid at `now`.
    ChainNotValid { subject: String, problem: String },
    /// The signature algorithm is not one this check verifies (RSA-PSS, P-521): the chain
    /// could not be confirmed.
    UnverifiableSignature { algorithm: String },
}

impl Finding {
    #[must_use]
    pub(crate) fn severity(&self) -> Severity {
        match self {
            Finding::ExpiresSoon { .. } | Finding::UnverifiableSignature { .. } => {
                Severity::Warning
            }
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Unparseable { detail } => {
                write!(f, "not a readable X.509 certificate ({detail})")
            }
            Finding::NotYetValid { not_before } => write!(
                f,
                "not valid until {not_before}: check this machine's clock, or wait"
            ),
            Finding::Expired { not_after } => {
                write!(f, "expired on {not_after}: renew the certificate")
            }
            Finding::ExpiresSoon { not_after, days } => {
                write!(f, "expires on {not_after}, in {days} days: renew it soon")
            }
            Finding::MissingSan { name, why } => write!(
                f,
                "no subject alternative name DNS:{name} ({why}): reissue the certificate with it"
            ),
            Finding::MissingSubjectName { any_of } => write!(
                f,
                "neither the subject CN nor a SAN is {}: E checks C's certificate for it (the \
                 guide's \"TLS verify subject name\"); reissue the certificate with it, or change \
                 e.c_subject_names",
                any_of.join(" or ")
            ),
            Finding::MissingClientAuth => f.write_str(
                "no Client Authentication extended key usage: the traversal is mutual TLS and \
                 the guide requires it (\"The certificate must include the Client \
                 Authentication extension\"); reissue it, and make sure the CA does not strip it",
            ),
            Finding::MissingServerAuth => f.write_str(
                "no Server Authentication extended key usage: each node is a TLS server too \
                 (\"valid both as a client and as a server\"); reissue it with both",
            ),
            Finding::NotSignedByCa { issuer, detail } => write!(
                f,
                "not signed by the configured CA (issuer {issuer}): {detail}"
            ),
            Finding::ChainNotValid { subject, problem } => {
                write!(f, "the chain's certificate {subject} {problem}")
            }
            Finding::UnverifiableSignature { algorithm } => write!(
                f,
                "signed with {algorithm}, which this check cannot verify: the chain to the CA \
                 was not confirmed"
            ),
        }
    }
}

/// The problems of `chain` (leaf first, then intermediates) against `req`, with `ca` the
/// configured CA certificates, at `now`. Empty: nothing to fix.
#[must_use]
pub(crate) fn check(
    chain: &[CertificateDer<'_>],
    ca: &[CertificateDer<'_>],
    req: &Requirements,
    now: SystemTime,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(leaf_der) = chain.first() else {
        out.push(Finding::Unparseable {
            detail: "no certificate".into(),
        });
        return out;
    };
    let leaf = match X509Certificate::from_der(leaf_der.as_ref()) {
        Ok((_, c)) => c,
        Err(e) => {
            out.push(Finding::Unparseable {
                detail: e.to_string(),
            });
            return out;
        }
    };

    // Validity.
    let now_s = unix_seconds(now);
    let v = leaf.validity();
    if now_s < v.not_before.timestamp() {
        out.push(Finding::NotYetValid {
            not_before: v.not_before.to_string(),
        });
    } else if now_s > v.not_after.timestamp() {
        out.push(Finding::Expired {
            not_after: v.not_after.to_string(),
        });
    } else {
        let days = (v.not_after.timestamp() - now_s) / 86_400;
        if days < RENEW_DAYS {
            out.push(Finding::ExpiresSoon {
                not_after: v.not_after.to_string(),
                days,
            });
        }
    }

    // Names.
    let names = Names::of(&leaf);
    for r in &req.names {
        let ok = names.has(&r.name)
            || matches!(&r.why, NameReason::RegistrationDomain(d)
                if names.srv.iter().any(|s| *s == format!("_collab-edge._tls.{d}")));
        if !ok {
            out.push(Finding::MissingSan {
                name: r.name.clone(),
                why: r.why.clone(),
            });
        }
    }
    if !req.subject_names.is_empty()
        && !req
            .subject_names
            .iter()
            .any(|s| names.cn.contains(s) || names.dns.contains(s))
    {
        out.push(Finding::MissingSubjectName {
            any_of: req.subject_names.clone(),
        });
    }

    // Extended key usage.
    let (server, client) = match leaf.extended_key_usage() {
        Ok(Some(eku)) => (eku.value.server_auth, eku.value.client_auth),
        // No extension: any use is allowed (RFC 5280 §4.2.1.12) — but the guide asks for the
        // Client Authentication extension to be there.
        Ok(None) => (true, false),
        Err(_) => (false, false),
    };
    if req.client_auth && !client {
        out.push(Finding::MissingClientAuth);
    }
    if req.server_auth && !server {
        out.push(Finding::MissingServerAuth);
    }

    // The chain to the CA.
    chain_findings(&leaf, leaf_der, &chain[1..], ca, now, &mut out);
    out
}

/// The names a certificate carries, lower case.
struct Names {
    cn: Vec<String>,
    dns: Vec<String>,
    ips: Vec<IpAddr>,
    srv: Vec<String>,
}

impl Names {
    fn of(cert: &X509Certificate<'_>) -> Names {
        let cn = cert
            .subject()
            .iter_common_name()
            .filter_map(|a| a.as_str().ok())
            .map(str::to_ascii_lowercase)
            .collect();
        let mut n = Names {
            cn,
            dns: Vec::new(),
            ips: Vec::new(),
            srv: Vec::new(),
        };
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for g in &san.value.general_names {
                match g {
                    GeneralName::DNSName(d) => n.dns.push(d.trim().to_ascii_lowercase()),
                    GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            n.ips.push(IpAddr::from(a));
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            n.ips.push(IpAddr::from(a));
                        }
                    }
                    GeneralName::OtherName(oid, value) if oid.as_bytes() == OID_SRV_NAME => {
                        // [0] EXPLICIT IA5String
                        if let Some(s) = der_content(value)
                            .and_then(der_content)
                            .and_then(|b| std::str::from_utf8(b).ok())
                        {
                            n.srv.push(s.to_ascii_lowercase());
                        }
                    }
                    _ => {}
                }
            }
        }
        n
    }

    fn has(&self, name: &str) -> bool {
        if let Ok(ip) = name.parse::<IpAddr>() {
            return self.ips.contains(&ip);
        }
        self.dns.iter().any(|d| dns_matches(d, name))
    }
}

/// Whether the SAN `pattern` covers `name` (both lower case): equal, or `*.rest` with `name`
/// one label then `rest`.
fn dns_matches(pattern: &str, name: &str) -> bool {
    if pattern == name {
        return true;
    }
    match (pattern.strip_prefix("*."), name.split_once('.')) {
        (Some(rest), Some((label, name_rest))) => !label.is_empty() && rest == name_rest,
        _ => false,
    }
}

/// The contents of the DER element at the start of `b` (short or long length form, up to
/// four length bytes).
fn der_content(b: &[u8]) -> Option<&[u8]> {
    let first = *b.get(1)?;
    let (len, start) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let len = b
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        (len, 2 + n)
    };
    b.get(start..start.checked_add(len)?)
}

/// Whether `child` was signed with `parent`'s key.
enum Link {
    Verified,
    BadSignature,
    Unsupported(String),
}

fn signed_by(child: &X509Certificate<'_>, parent: &X509Certificate<'_>) -> Link {
    let sig = &child.signature_algorithm.algorithm;
    let spki = parent.public_key();
    let curve = spki.algorithm.parameters.as_ref().map(|p| p.data);
    let on = |c: &Oid<'_>| curve == Some(c.as_bytes());
    let alg: &'static dyn VerificationAlgorithm = if *sig == OID_SIG_ECDSA_WITH_SHA256 {
        if on(&OID_EC_P256) {
            &signature::ECDSA_P256_SHA256_ASN1
        } else if on(&OID_NIST_EC_P384) {
            &signature::ECDSA_P384_SHA256_ASN1
        } else {
            return Link::Unsupported("ECDSA with SHA-256 on an unsupported curve".into());
        }
    } else if *sig == OID_SIG_ECDSA_WITH_SHA384 {
        if on(&OID_EC_P256) {
            &signature::ECDSA_P256_SHA384_ASN1
        } else if on(&OID_NIST_EC_P384) {
            &signature::ECDSA_P384_SHA384_ASN1
        } else {
            return Link::Unsupported("ECDSA with SHA-384 on an unsupported curve".into());
        }
    } else if *sig == OID_PKCS1_SHA256WITHRSA {
        &signature::RSA_PKCS1_2048_8192_SHA256
    } else if *sig == OID_PKCS1_SHA384WITHRSA {
        &signature::RSA_PKCS1_2048_8192_SHA384
    } else if *sig == OID_PKCS1_SHA512WITHRSA {
        &signature::RSA_PKCS1_2048_8192_SHA512
    } else if *sig == OID_SIG_ED25519 {
        &signature::ED25519
    } else {
        return Link::Unsupported(format!("the signature algorithm {sig}"));
    };
    let key = UnparsedPublicKey::new(alg, spki.subject_public_key.data.as_ref());
    match key.verify(
        child.tbs_certificate.as_ref(),
        child.signature_value.data.as_ref(),
    ) {
        Ok(()) => Link::Verified,
        Err(_) => Link::BadSignature,
    }
}

/// Follows the chain from `leaf` through `intermediates` to one of `ca`, reporting where it
/// breaks and any certificate on the way that is not valid at `now`.
fn chain_findings<'c>(
    leaf: &'c X509Certificate<'c>,
    leaf_der: &CertificateDer<'_>,
    intermediates: &'c [CertificateDer<'c>],
    ca: &'c [CertificateDer<'c>],
    now: SystemTime,
    out: &mut Vec<Finding>,
) {
    let issuer = leaf.issuer().to_string();
    if ca.is_empty() {
        out.push(Finding::NotSignedByCa {
            issuer,
            detail: "no CA certificate is configured (tls.ca)".into(),
        });
        return;
    }
    // A configured CA certificate that is the leaf itself (a pinned self-signed one).
    if ca.iter().any(|c| c.as_ref() == leaf_der.as_ref()) {
        return;
    }
    let parse = |list: &'c [CertificateDer<'_>]| -> Vec<X509Certificate<'c>> {
        list.iter()
            .filter_map(|d| X509Certificate::from_der(d.as_ref()).ok().map(|(_, c)| c))
            .collect()
    };
    let (anchors, inters) = (parse(ca), parse(intermediates));

    let mut current = leaf;
    let mut wrong_key = false;
    for _ in 0..8 {
        for a in anchors
            .iter()
            .filter(|a| a.subject().as_raw() == current.issuer().as_raw())
        {
            match signed_by(current, a) {
                Link::Verified => {
                    note_validity(a, now, out);
                    return;
                }
                Link::Unsupported(algorithm) => {
                    out.push(Finding::UnverifiableSignature { algorithm });
                    return;
                }
                Link::BadSignature => wrong_key = true,
            }
        }
        let next = inters.iter().find(|i| {
            i.subject().as_raw() == current.issuer().as_raw()
                && matches!(signed_by(current, i), Link::Verified)
        });
        match next {
            Some(i) => {
                note_validity(i, now, out);
                current = i;
            }
            None => break,
        }
    }
    let detail = if wrong_key {
        "a configured CA has the issuer's name but its key did not sign this certificate (a \
         different CA of the same name?); configure the CA that issued it"
            .to_string()
    } else {
        format!(
            "no configured CA is named {}; add the issuing CA to tls.ca, and put any \
             intermediate certificates after the certificate in its file",
            current.issuer()
        )
    };
    out.push(Finding::NotSignedByCa { issuer, detail });
}

fn note_validity(cert: &X509Certificate<'_>, now: SystemTime, out: &mut Vec<Finding>) {
    if let Err(problem) = super::validity_at(cert, now) {
        out.push(Finding::ChainNotValid {
            subject: cert.subject().to_string(),
            problem,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_and_der() {
        assert!(dns_matches("*.example.test", "collab-edge.example.test"));
        assert!(!dns_matches("*.example.test", "a.b.example.test"));
        assert!(!dns_matches("*.example.test", "example.test"));
        assert!(dns_matches("example.test", "example.test"));
        // [0] { IA5String "_x" }
        let v = [0xa0, 0x04, 0x16, 0x02, b'_', b'x'];
        assert_eq!(der_content(&v).and_then(der_content), Some(&b"_x"[..]));
        assert_eq!(der_content(&[0x16, 0x05, b'a']), None);
    }

    #[test]
    fn requirements() {
        let e = Requirements::e(
            "expe.example.test",
            &["example.test".into(), "Other.test".into()],
            &["example.test".into()],
            &["chat.example.test".into()],
        );
        let names: Vec<&str> = e.names.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "expe.example.test",
                "collab-edge.example.test",
                "collab-edge.other.test",
                "example.test",
                "chat.example.test"
            ]
        );
        assert!(e.server_auth && e.client_auth);
        let c = Requirements::c(
            "expc.example.test",
            &["jabber.secure.example.test".into()],
            &[],
            &["cluster.example.test".into()],
        );
        assert_eq!(
            c.san_list(),
            [
                "expc.example.test",
                "jabber.secure.example.test",
                "cluster.example.test"
            ]
        );
    }
}
