//! Names and addresses in the configuration: DNS names, hosts, `host:port`, listen addresses.
//!
//! Each parser returns the value or a sentence saying what was wrong and what would be right;
//! the caller puts the field's path in front of it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A host to dial: a DNS name (lower case) or an IP address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Host {
    /// A DNS name, checked by [`dns_name`] and lower-cased.
    Name(String),
    /// An IP address.
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// A DNS host name (RFC 1123 labels: letters, digits, hyphens; 1 to 63 characters each, at most
/// 253 in all), returned in lower case. Underscores are refused: the guide's clients and
/// certificate authorities reject host names with them. A trailing dot is refused too, so that
/// names compare equal as written.
pub(crate) fn dns_name(s: &str) -> Result<String, String> {
    let example = "a DNS name such as example.test";
    if s.is_empty() {
        return Err(format!("is empty; expected {example}"));
    }
    if s.parse::<IpAddr>().is_ok() {
        return Err(format!("{s:?} is an IP address; expected {example}"));
    }
    if s.len() > 253 {
        return Err(format!(
            "{s:?} is {} characters long; a DNS name has at most 253",
            s.len()
        ));
    }
    if s.ends_with('.') {
        return Err(format!(
            "{s:?} ends with a dot; write it without: {:?}",
            s.trim_end_matches('.')
        ));
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Err(format!(
                "{s:?} has an empty label (two dots in a row, or a leading dot); expected {example}"
            ));
        }
        if label.len() > 63 {
            return Err(format!(
                "{s:?}: the label {label:?} is {} characters long; a label has at most 63",
                label.len()
            ));
        }
        if label.contains('_') {
            return Err(format!(
                "{s:?} contains an underscore; host names may hold only letters, digits and \
                 hyphens (clients and certificate authorities refuse underscores)"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "{s:?} contains {c:?}; a DNS name holds only letters, digits, hyphens and dots"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "{s:?}: the label {label:?} starts or ends with a hyphen; expected {example}"
            ));
        }
    }
    Ok(s.to_ascii_lowercase())
}

/// A fully qualified DNS name: a [`dns_name`] with at least two labels.
pub(crate) fn fqdn(s: &str) -> Result<String, String> {
    let name = dns_name(s)?;
    if !name.contains('.') {
        return Err(format!(
            "{s:?} is not fully qualified; expected a name with its domain, such as \
             {name}.example.test"
        ));
    }
    Ok(name)
}

/// `host:port` or `host` (then `default_port`); `host` is a DNS name, an IPv4 address or a
/// bracketed IPv6 address (`[2001:db8::1]:7001`). Port 0 is refused.
pub(crate) fn host_port(s: &str, default_port: Option<u16>) -> Result<(Host, u16), String> {
    let with_port = match default_port {
        Some(p) => format!("HOST or HOST:PORT (default port {p})"),
        None => "HOST:PORT".to_string(),
    };
    let expected =
        format!("expected {with_port}, e.g. \"expe.example.test:7001\" or \"198.18.1.10:7001\"");
    if let Ok(sa) = s.parse::<SocketAddr>() {
        if sa.port() == 0 {
            return Err(format!("{s:?}: port 0 cannot be dialed; {expected}"));
        }
        return Ok((Host::Ip(sa.ip()), sa.port()));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return match default_port {
            Some(p) => Ok((Host::Ip(ip), p)),
            None => Err(format!("{s:?} has no port; {expected}")),
        };
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        if let (Ok(ip), Some(p)) = (inner.parse::<IpAddr>(), default_port) {
            return Ok((Host::Ip(ip), p));
        }
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => {
            let port =
                p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| {
                    format!("{s:?}: {p:?} is not a port (1 to 65535); {expected}")
                })?;
            (h, port)
        }
        None => match default_port {
            Some(p) => (s, p),
            None => return Err(format!("{s:?} has no port; {expected}")),
        },
    };
    if host.contains(':') {
        return Err(format!(
            "{s:?}: an IPv6 address needs brackets, as in \"[2001:db8::1]:7001\""
        ));
    }
    let name = dns_name(host).map_err(|e| format!("the host {e}; {expected}"))?;
    Ok((Host::Name(name), port))
}

/// A listen address `IP:PORT` (`0.0.0.0:5061`, `[::]:5061`). Port 0 is refused: peers must be
/// told the port.
pub(crate) fn listen_addr(s: &str, default: u16) -> Result<SocketAddr, String> {
    let sa = s.parse::<SocketAddr>().map_err(|_| {
        format!(
            "{s:?} is not a listen address; expected IP:PORT, e.g. \"0.0.0.0:{default}\" or \
             \"[::]:{default}\""
        )
    })?;
    if sa.port() == 0 {
        return Err(format!(
            "{s:?}: port 0 would pick a random port; give one, e.g. {}:{default}",
            sa.ip()
        ));
    }
    Ok(sa)
}

/// Whether two TCP listeners would fight over a port: the same port, and the same address or
/// a wildcard that covers the other (`0.0.0.0` covers IPv4; `[::]` covers both families, as
/// Linux binds it dual-stack by default).
pub(crate) fn listeners_clash(a: SocketAddr, b: SocketAddr) -> bool {
    fn covers(wild: IpAddr, other: IpAddr) -> bool {
        wild.is_unspecified() && (wild.is_ipv6() || other.is_ipv4())
    }
    a.port() == b.port() && (a.ip() == b.ip() || covers(a.ip(), b.ip()) || covers(b.ip(), a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert_eq!(dns_name("Example.TEST").unwrap(), "example.test");
        assert_eq!(
            dns_name("collab-edge.example.test").unwrap(),
            "collab-edge.example.test"
        );
        for (bad, says) in [
            ("", "empty"),
            ("a..b", "empty label"),
            (".a", "empty label"),
            ("a.", "ends with a dot"),
            ("my_host.example.test", "underscore"),
            ("-a.example", "hyphen"),
            ("a b.example", "' '"),
            ("10.0.0.1", "IP address"),
        ] {
            let e = dns_name(bad).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        assert!(dns_name(&"a".repeat(64))
            .unwrap_err()
            .contains("at most 63"));
        assert!(fqdn("expe").unwrap_err().contains("not fully qualified"));
    }

    #[test]
    fn host_ports() {
        assert_eq!(
            host_port("ExpE.example.test:7001", None).unwrap(),
            (Host::Name("expe.example.test".into()), 7001)
        );
        assert_eq!(host_port("expe.example.test", Some(7001)).unwrap().1, 7001);
        assert_eq!(
            host_port("[2001:db8::1]:7002", None).unwrap(),
            (Host::Ip("2001:db8::1".parse().unwrap()), 7002)
        );
        assert_eq!(
            host_port("2001:db8::1", Some(7001)).unwrap(),
            (Host::Ip("2001:db8::1".parse().unwrap()), 7001)
        );
        assert_eq!(host_port("[2001:db8::1]", Some(7001)).unwrap().1, 7001);
        assert!(host_port("expe.example.test", None)
            .unwrap_err()
            .contains("no port"));
        assert!(host_port("expe:99999", None)
            .unwrap_err()
            .contains("not a port"));
        assert!(host_port("198.18.1.1:0", None)
            .unwrap_err()
            .contains("port 0"));
        assert_eq!(
            Host::Ip("2001:db8::1".parse().unwrap()).to_string(),
            "[2001:db8::1]"
        );
    }

    #[test]
    fn listen_addresses() {
        assert!(listen_addr("0.0.0.0:5061", 5061).is_ok());
        assert!(listen_addr("5061", 5061).unwrap_err().contains("IP:PORT"));
        assert!(listen_addr("0.0.0.0:0", 5061)
            .unwrap_err()
            .contains("port 0"));
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(listeners_clash(a("0.0.0.0:1"), a("127.0.0.1:1")));
        assert!(!listeners_clash(a("10.0.0.1:1"), a("127.0.0.1:1")));
        assert!(!listeners_clash(a("0.0.0.0:1"), a("0.0.0.0:2")));
        assert!(listeners_clash(a("[::]:1"), a("127.0.0.1:1")));
        assert!(!listeners_clash(a("0.0.0.0:1"), a("[::1]:1")));
    }
}
