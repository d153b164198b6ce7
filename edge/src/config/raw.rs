//! The configuration file as written: every key optional, values as TOML has them. Validation
//! (in the parent module) turns this into a [`Config`](super::Config) or a list of errors that
//! name each field. Unknown keys are refused here, so that a typo is not silently ignored.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) role: Option<String>,
    pub(super) domains: Option<Vec<String>>,
    pub(super) chat_node_aliases: Option<Vec<String>>,
    pub(super) e: Option<RawE>,
    pub(super) c: Option<RawC>,
    pub(super) tls: Option<RawTls>,
    pub(super) media: Option<RawMedia>,
    pub(super) admin: Option<RawAdmin>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawE {
    pub(super) fqdn: Option<String>,
    pub(super) sip_tls: Option<String>,
    pub(super) https: Option<String>,
    pub(super) xmpp: Option<String>,
    pub(super) traversal_sip: Option<String>,
    pub(super) traversal_http: Option<String>,
    pub(super) traversal_xmpp: Option<String>,
    pub(super) c_subject_names: Option<Vec<String>>,
    pub(super) credentials: Option<Vec<RawCredential>>,
    pub(super) registration_limit: Option<u32>,
    pub(super) registration_retry_after_seconds: Option<u32>,
    pub(super) xmpp_federation_domains: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCredential {
    pub(super) username: Option<String>,
    pub(super) password_hash: Option<String>,
    /// Labs only: hashed at load, never kept.
    pub(super) insecure_plaintext_password: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawC {
    pub(super) fqdn: Option<String>,
    pub(super) peers: Option<Vec<RawPeer>>,
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) password_file: Option<String>,
    pub(super) expected_e_subject: Option<String>,
    pub(super) keepalive_seconds: Option<u32>,
    pub(super) reconnect_min_seconds: Option<f64>,
    pub(super) reconnect_max_seconds: Option<f64>,
    pub(super) call_control: Option<Vec<RawCallControl>>,
    pub(super) registration: Option<String>,
    pub(super) phone_security_profiles: Option<Vec<String>>,
    pub(super) sip_listen: Option<String>,
    pub(super) sip_tls_listen: Option<String>,
    pub(super) max_calls: Option<u32>,
    pub(super) outside_media: Option<String>,
}

/// A traversal peer: `"host:port"`, or
/// `{ address = "host:port", http_port = …, xmpp_port = … }`.
#[derive(Debug)]
pub(super) enum RawPeer {
    Address(String),
    Table(RawPeerTable),
}

/// By hand rather than `#[serde(untagged)]`: a wrong element is then reported at the element,
/// with what was expected, instead of "data did not match any variant" at the whole array.
impl<'de> Deserialize<'de> for RawPeer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawPeer, D::Error> {
        struct PeerVisitor;
        impl<'de> Visitor<'de> for PeerVisitor {
            type Value = RawPeer;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "\"HOST:PORT\" or { address = \"HOST:PORT\", http_port = 2222, xmpp_port = \
                     7400 }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPeer, E> {
                Ok(RawPeer::Address(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawPeer, A::Error> {
                RawPeerTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawPeer::Table)
            }
        }
        d.deserialize_any(PeerVisitor)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPeerTable {
    pub(super) address: Option<String>,
    pub(super) http_port: Option<u16>,
    pub(super) xmpp_port: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCallControl {
    pub(super) address: Option<String>,
    pub(super) transport: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) ca: Option<String>,
    pub(super) certificate: Option<String>,
    pub(super) key: Option<String>,
    pub(super) c_certificate: Option<String>,
    pub(super) c_key: Option<String>,
    pub(super) generate: Option<bool>,
    pub(super) directory: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMedia {
    pub(super) bind: Option<String>,
    pub(super) range: Option<String>,
    pub(super) traversal_pairs: Option<Vec<u16>>,
    pub(super) large: Option<bool>,
    pub(super) cores: Option<Vec<usize>>,
    pub(super) backend: Option<String>,
    pub(super) quarantine_seconds: Option<f64>,
    pub(super) inactivity_seconds: Option<u64>,
    pub(super) xdp: Option<RawXdp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawXdp {
    pub(super) interfaces: Option<Vec<String>>,
    pub(super) mode: Option<String>,
    pub(super) rate: Option<u32>,
    pub(super) burst: Option<u32>,
    pub(super) steering: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    pub(super) address: Option<String>,
}
