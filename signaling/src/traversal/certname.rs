//! The names in an X.509 certificate, for E's "TLS verify subject name" check on C's certificate:
//! the subject's common names and the DNS and IP subject alternative names (RFC 5280 §4.1.2.6,
//! §4.2.1.6). A small DER reader, no allocation beyond the names found; the certificate has
//! already been verified by rustls, so this only reads names, it does not judge the certificate.
//!
//! Matching ([`CertNames::matches`]) is exact and ASCII case-insensitive, against the subject CN or
//! any DNS or IP SAN, as Expressway's "TLS verify subject name" does; wildcards in the certificate
//! are not expanded (a C certificate names its own cluster, it is not a wildcard).

use std::fmt;
use std::net::IpAddr;

/// OID 2.5.4.3 (id-at-commonName), content octets.
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
/// OID 2.5.29.17 (id-ce-subjectAltName), content octets.
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_OID: u8 = 0x06;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_BOOLEAN: u8 = 0x01;
const TAG_VERSION: u8 = 0xa0;
const TAG_EXTENSIONS: u8 = 0xa3;
const TAG_SAN_DNS: u8 = 0x82;
const TAG_SAN_IP: u8 = 0x87;

/// The certificate could not be read (it should not happen after rustls verified it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertNameError;

impl fmt::Display for CertNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("certificate DER could not be read")
    }
}

impl std::error::Error for CertNameError {}

/// The names a certificate carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertNames {
    /// Subject common names (usually one).
    pub common_names: Vec<String>,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// IP subject alternative names.
    pub ip_addresses: Vec<IpAddr>,
}

impl CertNames {
    /// Whether `expected` is the subject CN or one of the SANs (ASCII case-insensitive).
    pub fn matches(&self, expected: &str) -> bool {
        let ip: Option<IpAddr> = expected.parse().ok();
        self.common_names
            .iter()
            .chain(&self.dns_names)
            .any(|n| n.eq_ignore_ascii_case(expected))
            || ip.is_some_and(|ip| self.ip_addresses.contains(&ip))
    }
}

impl fmt::Display for CertNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CN={:?} DNS={:?}", self.common_names, self.dns_names)?;
        if !self.ip_addresses.is_empty() {
            write!(f, " IP={:?}", self.ip_addresses)?;
        }
        Ok(())
    }
}

/// Reads one TLV: (tag, content, rest). Only low-tag-number form, definite lengths up to 4 octets.
fn tlv(buf: &[u8]) -> Result<(u8, &[u8], &[u8]), CertNameError> {
    let (&tag, rest) = buf.split_first().ok_or(CertNameError)?;
    if tag & 0x1f == 0x1f {
        return Err(CertNameError);
    }
    let (&first, rest) = rest.split_first().ok_or(CertNameError)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(CertNameError);
        }
        let (octets, rest) = rest.split_at_checked(n).ok_or(CertNameError)?;
        let len = octets
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    let (content, rest) = rest.split_at_checked(len).ok_or(CertNameError)?;
    Ok((tag, content, rest))
}

fn expect(buf: &[u8], tag: u8) -> Result<(&[u8], &[u8]), CertNameError> {
    let (t, content, rest) = tlv(buf)?;
    if t == tag {
        Ok((content, rest))
    } else {
        Err(CertNameError)
    }
}

/// Reads the names of a DER certificate.
pub fn cert_names(der: &[u8]) -> Result<CertNames, CertNameError> {
    let (cert, _) = expect(der, TAG_SEQUENCE)?;
    let (tbs, _) = expect(cert, TAG_SEQUENCE)?;
    let mut rest = tbs;
    if rest.first() == Some(&TAG_VERSION) {
        rest = tlv(rest)?.2;
    }
    // serialNumber, signature, issuer, validity.
    for _ in 0..4 {
        rest = tlv(rest)?.2;
    }
    let (subject, mut rest) = expect(rest, TAG_SEQUENCE)?;
    let mut names = CertNames::default();
    read_common_names(subject, &mut names)?;
    // subjectPublicKeyInfo, then optional [1], [2], [3].
    rest = tlv(rest)?.2;
    while !rest.is_empty() {
        let (tag, content, next) = tlv(rest)?;
        if tag == TAG_EXTENSIONS {
            let (exts, _) = expect(content, TAG_SEQUENCE)?;
            read_extensions(exts, &mut names)?;
        }
        rest = next;
    }
    Ok(names)
}

fn read_common_names(mut rdns: &[u8], names: &mut CertNames) -> Result<(), CertNameError> {
    while !rdns.is_empty() {
        let (mut set, next) = expect(rdns, TAG_SET)?;
        while !set.is_empty() {
            let (atv, more) = expect(set, TAG_SEQUENCE)?;
            let (oid, value) = expect(atv, TAG_OID)?;
            if oid == OID_COMMON_NAME {
                let (tag, content, _) = tlv(value)?;
                names.common_names.push(decode_string(tag, content)?);
            }
            set = more;
        }
        rdns = next;
    }
    Ok(())
}

fn decode_string(tag: u8, content: &[u8]) -> Result<String, CertNameError> {
    match tag {
        // BMPString: UTF-16BE.
        0x1e => {
            let units: Vec<u16> = content
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).map_err(|_| CertNameError)
        }
        // UTF8String, PrintableString, IA5String, TeletexString (read as UTF-8 / ASCII).
        0x0c | 0x13 | 0x16 | 0x14 => core::str::from_utf8(content)
            .map(str::to_owned)
            .map_err(|_| CertNameError),
        _ => Err(CertNameError),
    }
}

fn read_extensions(mut exts: &[u8], names: &mut CertNames) -> Result<(), CertNameError> {
    while !exts.is_empty() {
        let (ext, next) = expect(exts, TAG_SEQUENCE)?;
        let (oid, mut rest) = expect(ext, TAG_OID)?;
        if rest.first() == Some(&TAG_BOOLEAN) {
            rest = tlv(rest)?.2;
        }
        if oid == OID_SUBJECT_ALT_NAME {
            let (value, _) = expect(rest, TAG_OCTET_STRING)?;
            let (mut general_names, _) = expect(value, TAG_SEQUENCE)?;
            while !general_names.is_empty() {
                let (tag, content, more) = tlv(general_names)?;
                match tag {
                    TAG_SAN_DNS => names.dns_names.push(
                        core::str::from_utf8(content)
                            .map_err(|_| CertNameError)?
                            .to_owned(),
                    ),
                    TAG_SAN_IP => {
                        if let Ok(v4) = <[u8; 4]>::try_from(content) {
                            names.ip_addresses.push(IpAddr::from(v4));
                        } else if let Ok(v6) = <[u8; 16]>::try_from(content) {
                            names.ip_addresses.push(IpAddr::from(v6));
                        }
                    }
                    _ => {}
                }
                general_names = more;
            }
        }
        exts = next;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};

    fn cert(cn: Option<&str>, sans: Vec<SanType>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example");
        if let Some(cn) = cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        params.subject_alt_names = sans;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_cn_and_sans() {
        let der = cert(
            Some("expc.example.com"),
            vec![
                SanType::DnsName("expc1.example.com".try_into().unwrap()),
                SanType::DnsName("expc2.example.com".try_into().unwrap()),
                SanType::IpAddress("10.0.0.5".parse().unwrap()),
            ],
        );
        let names = cert_names(&der).unwrap();
        assert_eq!(names.common_names, ["expc.example.com"]);
        assert_eq!(names.dns_names, ["expc1.example.com", "expc2.example.com"]);
        assert_eq!(names.ip_addresses, ["10.0.0.5".parse::<IpAddr>().unwrap()]);
        assert!(names.matches("EXPC.example.com"), "CN, any case");
        assert!(names.matches("expc2.example.com"), "a SAN");
        assert!(names.matches("10.0.0.5"));
        assert!(!names.matches("expe.example.com"));
        assert!(!names.matches("example.com"));
    }

    #[test]
    fn san_only_and_cn_only() {
        let der = cert(
            None,
            vec![SanType::DnsName("c.example.net".try_into().unwrap())],
        );
        let names = cert_names(&der).unwrap();
        assert!(names.common_names.is_empty());
        assert!(names.matches("c.example.net"));
        let names = cert_names(&cert(Some("only-cn"), vec![])).unwrap();
        assert!(names.matches("only-cn"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let der = cert(Some("x"), vec![]);
        for cut in 0..der.len() {
            let _ = cert_names(&der[..cut]);
        }
        let mut rng = crate::traversal::peers::Rng::new(3);
        for _ in 0..5_000 {
            let mut d = der.clone();
            let i = (rng.next_u64() as usize) % d.len();
            d[i] = rng.next_u64() as u8;
            let _ = cert_names(&d);
        }
        assert_eq!(cert_names(&[]), Err(CertNameError));
    }
}
