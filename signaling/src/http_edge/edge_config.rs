//! The `getEdgeConfigResponse` XML E answers `get_edge_config` with (MRA-NOTES, "Response
//! shape"; no published schema, so the element order follows the one real example).
//!
//! Services: each requested `service_name` gets a `<service>`: `_cisco-uds` lists the UDS
//! servers, `_cuplogin` the IM and Presence servers or `<error>NameError</error>` when there are
//! none, any other name `<error>NameError</error>`; `tftpServer` follows whenever TFTP servers
//! are configured. `userUdsServer` is the first UDS server, so it is never empty when one is
//! configured (room endpoints fail on an empty one). Every value is XML-escaped.

use core::fmt;
use std::fmt::Write as _;

/// A server in an SRV-like list (`_cisco-uds`, `_cuplogin`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvServer {
    /// Priority (lower first).
    pub priority: u16,
    /// Weight among equal priorities.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Host name or address, as the client should use it.
    pub address: String,
}

/// One E the clients may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeServer {
    /// E's public name.
    pub address: String,
    /// SIP over TLS (5061).
    pub sip_port: u16,
    /// XMPP (5222).
    pub xmpp_port: u16,
    /// HTTPS (8443).
    pub http_port: u16,
}

/// The route clients preload on SIP requests, naming C.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipRoute {
    /// C's address as E reaches it.
    pub address: String,
    /// C's port (5061).
    pub port: u16,
    /// The traversal zone id.
    pub zone_id: u32,
}

impl SipRoute {
    /// `<sip:ADDR:PORT;transport=tls;zone-id=N;directed;lr>`, unescaped.
    pub fn header_value(&self) -> String {
        format!(
            "<sip:{}:{};transport=tls;zone-id={};directed;lr>",
            self.address, self.port, self.zone_id
        )
    }
}

/// Everything the response is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeConfigInput {
    /// The edge domains E serves, lowercase.
    pub domains: Vec<String>,
    /// The E peers, in order of preference.
    pub edge_servers: Vec<EdgeServer>,
    /// The route to C.
    pub route: SipRoute,
    /// UDS servers (Unified CM), for `_cisco-uds` and `userUdsServer`.
    pub uds_servers: Vec<SrvServer>,
    /// IM and Presence servers, for `_cuplogin`.
    pub cup_servers: Vec<SrvServer>,
    /// TFTP servers.
    pub tftp_servers: Vec<String>,
}

/// Why no response was built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EdgeConfigError {
    /// The requested domain is not one E serves: answer 404.
    UnknownDomain,
    /// An address in the configuration is empty (a configuration bug): answer 500.
    EmptyAddress,
}

impl EdgeConfigError {
    /// The status code to answer with.
    pub const fn status_code(self) -> u16 {
        match self {
            EdgeConfigError::UnknownDomain => 404,
            EdgeConfigError::EmptyAddress => 500,
        }
    }
}

impl fmt::Display for EdgeConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EdgeConfigError::UnknownDomain => "domain not served by this edge",
            EdgeConfigError::EmptyAddress => "empty address in edge configuration",
        })
    }
}

impl std::error::Error for EdgeConfigError {}

/// Escapes `&`, `<`, `>`, `"` and `'` for XML text and attributes.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn srv_servers(out: &mut String, servers: &[SrvServer]) {
    for s in servers {
        let _ = write!(
            out,
            "<server><priority>{}</priority><weight>{}</weight><port>{}</port><address>{}</address></server>",
            s.priority,
            s.weight,
            s.port,
            xml_escape(&s.address)
        );
    }
}

fn tls_server(out: &mut String, address: &str, port: u16) {
    let _ = write!(
        out,
        "<server><address>{}</address><tlsPort>{port}</tlsPort></server>",
        xml_escape(address)
    );
}

impl EdgeConfigInput {
    /// Builds the response for `domain` (compared ASCII case-insensitively, trailing dot
    /// ignored) and the requested service names.
    pub fn response(
        &self,
        domain: &str,
        service_names: &[String],
    ) -> Result<String, EdgeConfigError> {
        let d = domain.strip_suffix('.').unwrap_or(domain);
        if !self.domains.iter().any(|x| x.eq_ignore_ascii_case(d)) {
            return Err(EdgeConfigError::UnknownDomain);
        }
        let addresses = self
            .uds_servers
            .iter()
            .chain(&self.cup_servers)
            .map(|s| s.address.as_str())
            .chain(self.edge_servers.iter().map(|e| e.address.as_str()))
            .chain(self.tftp_servers.iter().map(String::as_str))
            .chain([self.route.address.as_str()]);
        for a in addresses {
            if a.is_empty() {
                return Err(EdgeConfigError::EmptyAddress);
            }
        }
        let mut o = String::from("<getEdgeConfigResponse version=\"1.0\">\n <serviceConfig>\n");
        for name in service_names {
            let _ = write!(o, "  <service><name>{}</name>", xml_escape(name));
            match name.as_str() {
                "_cisco-uds" if !self.uds_servers.is_empty() => {
                    srv_servers(&mut o, &self.uds_servers)
                }
                "_cuplogin" if !self.cup_servers.is_empty() => {
                    srv_servers(&mut o, &self.cup_servers)
                }
                _ => o.push_str("<error>NameError</error>"),
            }
            o.push_str("</service>\n");
        }
        if !self.tftp_servers.is_empty() {
            o.push_str("  <service><name>tftpServer</name>");
            for t in &self.tftp_servers {
                let _ = write!(o, "<address>{}</address>", xml_escape(t));
            }
            o.push_str("</service>\n");
        }
        o.push_str(" </serviceConfig>\n <edgeConfig>\n");
        type PortOf = fn(&EdgeServer) -> u16;
        let groups: [(&str, PortOf); 3] = [
            ("sipEdgeServer", |e| e.sip_port),
            ("xmppEdgeServer", |e| e.xmpp_port),
            ("httpEdgeServer", |e| e.http_port),
        ];
        for (i, (tag, port)) in groups.iter().enumerate() {
            let _ = write!(o, "  <{tag}>");
            for e in &self.edge_servers {
                tls_server(&mut o, &e.address, port(e));
            }
            let _ = writeln!(o, "</{tag}>");
            if i == 0 {
                let _ = writeln!(
                    o,
                    "  <sipRequest><route>{}</route></sipRequest>",
                    xml_escape(&self.route.header_value())
                );
            }
        }
        o.push_str("  <turnEdgeServer/>\n");
        match self.uds_servers.first() {
            Some(u) => {
                o.push_str("  <userUdsServer>");
                tls_server(&mut o, &u.address, u.port);
                o.push_str("</userUdsServer>\n");
            }
            None => o.push_str("  <userUdsServer/>\n"),
        }
        o.push_str(" </edgeConfig>\n</getEdgeConfigResponse>\n");
        Ok(o)
    }
}
