//! What E's and C's SIP proxies share: building the responses they answer themselves, telling
//! their own Via and Route values, stable hashes for branches and tokens.

use std::hash::{Hash, Hasher};

use crate::sip::{Host, Message, NameAddr, Uri, Via};

/// A 64-bit hash that is the same in every process and release (FNV-1a), for branch ids and
/// registration tokens: inputs are chosen by us or already visible to the peer, so no secret is
/// needed, and stability across restarts lets a re-registration find its binding again.
pub(crate) fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    for p in parts {
        h.write(p);
        h.write(&[0xff]);
    }
    h.finish()
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Hashes any `Hash` value with [`Fnv`] (a URI, a host).
pub(crate) fn hash_of(v: &impl Hash) -> u64 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    v.hash(&mut h);
    h.finish()
}

/// Writes counters as Prometheus text lines: `<prefix>_<name>{<labels>} <value>` (no braces
/// when `labels` is empty).
pub(crate) fn write_metrics(prefix: &str, rows: &[(&str, &str, u64)], out: &mut String) {
    for (name, labels, v) in rows {
        if labels.is_empty() {
            out.push_str(&format!("{prefix}_{name} {v}\n"));
        } else {
            out.push_str(&format!("{prefix}_{name}{{{labels}}} {v}\n"));
        }
    }
}

/// The names and addresses that mean "this node" in a Route or Request-URI.
#[derive(Clone, Debug, Default)]
pub struct OwnNames {
    hosts: Vec<Host>,
    /// The ports that are ours on those hosts (empty: any port). A URI with another explicit
    /// port names another server on the same host (call control beside C, say).
    ports: Vec<u16>,
}

impl OwnNames {
    /// From host names and addresses as configured (any port).
    pub fn new(hosts: impl IntoIterator<Item = Host>) -> Self {
        Self {
            hosts: hosts.into_iter().collect(),
            ports: Vec::new(),
        }
    }

    /// The same, naming us only on these ports (or with no port written).
    pub fn on_ports(mut self, ports: impl IntoIterator<Item = u16>) -> Self {
        self.ports = ports.into_iter().collect();
        self
    }

    /// Whether `host` is one of ours (names without regard to case).
    pub fn is_ours(&self, host: &Host) -> bool {
        self.hosts.iter().any(|h| match (h, host) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        })
    }

    /// Whether the URI is a SIP URI naming us: one of our hosts, and no port or one of ours.
    pub fn names_us(&self, uri: &Uri) -> bool {
        uri.as_sip().is_some_and(|s| {
            self.is_ours(&s.host)
                && (self.ports.is_empty() || s.port.is_none_or(|p| self.ports.contains(&p)))
        })
    }

    /// Whether a Route value names us.
    pub fn is_our_route(&self, route: &NameAddr) -> bool {
        self.names_us(&route.uri)
    }
}

/// A response of ours to `request`: `code reason`, with `to_tag` where To has no tag and the
/// extra header fields given. `None` when the request cannot be answered (an ACK; missing
/// header fields): the caller counts a drop.
pub(crate) fn respond(
    request: &Message,
    code: u16,
    reason: &str,
    to_tag: &str,
    extra: &[(&str, &str)],
) -> Option<Vec<u8>> {
    let tag = (code > 100).then_some(to_tag);
    let mut r = request.response(code, reason, tag).ok()?;
    for (name, value) in extra {
        r.append_header(name, value.as_bytes()).ok()?;
    }
    Some(r.to_bytes())
}

/// The branch of a Via we push: `z9hG4bK-<role><id hex>-<hash hex>`. `id` is what we need back
/// from a response (E: the flow; C: a pending-transaction number).
pub(crate) fn branch(role: char, id: u64, hash: u64) -> String {
    format!("z9hG4bK-{role}{id:x}-{hash:x}")
}

/// The id of a branch made by [`branch`] with this role.
pub(crate) fn branch_id(via: &Via, role: char) -> Option<u64> {
    let b = via.branch()?.strip_prefix("z9hG4bK-")?;
    let rest = b.strip_prefix(role)?;
    let (id, _) = rest.split_once('-')?;
    u64::from_str_radix(id, 16).ok()
}

/// Parses a message the test built (panics with the text if it does not parse).
#[cfg(test)]
pub(crate) fn parse(bytes: &[u8]) -> Message {
    match Message::parse(bytes) {
        Ok(m) => m,
        Err(e) => panic!(
            "test message does not parse: {e}\n{}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Transport;

    #[test]
    fn branches_carry_their_id_back() {
        let b = branch('E', 0xdead_beef, 42);
        let via = Via::new(Transport::Tls, Host::Name("e".into()), None, &b);
        assert_eq!(branch_id(&via, 'E'), Some(0xdead_beef));
        assert_eq!(branch_id(&via, 'C'), None);
        let other = Via::new(Transport::Tls, Host::Name("e".into()), None, "z9hG4bK-x");
        assert_eq!(branch_id(&other, 'E'), None);
    }

    #[test]
    fn stable_hash_is_stable_and_separates_parts() {
        assert_eq!(stable_hash(&[b"a", b"bc"]), stable_hash(&[b"a", b"bc"]));
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
        // FNV-1a of "a" then the separator, fixed forever (tokens in call control survive us)
        assert_eq!(stable_hash(&[b"a"]), 0x89bc907b544c769);
    }

    #[test]
    fn own_names_compare_hosts() {
        let own = OwnNames::new([
            Host::Name("ExpC.example.test".into()),
            Host::parse("198.18.2.10").unwrap(),
        ]);
        assert!(own.is_ours(&Host::Name("expc.EXAMPLE.test".into())));
        assert!(own.is_ours(&Host::parse("198.18.2.10").unwrap()));
        assert!(!own.is_ours(&Host::parse("198.18.2.11").unwrap()));
        let uri = Uri::parse(b"sip:198.18.2.10:5060;lr").unwrap();
        assert!(own.names_us(&uri));
        // With our ports given, another server on our host is not us.
        let own = own.on_ports([5060, 5061]);
        assert!(own.names_us(&uri));
        assert!(own.names_us(&Uri::parse(b"sip:198.18.2.10;lr").unwrap()));
        assert!(!own.names_us(&Uri::parse(b"sip:198.18.2.10:25160;lr").unwrap()));
    }
}
