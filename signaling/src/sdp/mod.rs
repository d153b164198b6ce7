//! SDP (RFC 4566), sans-IO: parse a session description into its lines, read the fields a
//! B2BUA must understand, rewrite them, and write the description back.
//!
//! What this module owns:
//!
//! - [`Sdp::parse`]: the session part and each media section (`m=` and the lines after it), every
//!   line kept in order as received; the grammar's order and required lines checked (`v=0`
//!   first, then `o=`, `s=`, `t=`; `c=` at session level or in every media section), each error
//!   naming the line and what was wrong ([`SdpError`]); limits on size, lines and media sections
//!   ([`Limits`]) so that a huge body is refused before it costs anything;
//! - typed views: [`Origin`], [`Connection`], [`Media`] (`m=` media, port and count, proto,
//!   formats), attributes by name ([`Section::attributes`]), and the SRTP ones a B2BUA needs:
//!   `a=crypto` values (RFC 4568: parse them with `media::sdes`), `a=rtcp` (RFC 3605),
//!   `a=rtcp-mux` (RFC 5761), the direction (`sendrecv`, `sendonly`, `recvonly`, `inactive`);
//! - edits for anchoring media in a relay: the connection address of the session and of each
//!   section, a section's port and proto, `a=rtcp`, removing and adding attributes (to replace
//!   the `a=crypto` lines with ours), bumping `o=`'s version;
//! - [`anchor`]: what a B2BUA checks in a received offer or answer (SRTP outside, 488
//!   otherwise) and the description it makes for the other leg at the relay;
//! - [`Sdp::write`]: the lines in order with CRLF (RFC 4566 §5), every field not edited as it
//!   came; codecs, `a=rtpmap`/`a=fmtp` and unknown attributes untouched.
//!
//! It opens no socket and reads no clock. No input makes it panic (the fuzz target `sdp` and the
//! random-input test hold it to that); the examples of RFC 4566 §5, RFC 3264 §10 and RFC 4568
//! are among its tests.

pub mod anchor;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;

pub use parse::Limits;

/// One line: its type letter and its value (after `=`), as received or as edited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// `v`, `o`, `s`, `c`, `m`, `a`, …
    pub kind: u8,
    /// What follows `x=`.
    pub value: String,
}

impl Line {
    fn new(kind: u8, value: impl Into<String>) -> Self {
        Self {
            kind,
            value: value.into(),
        }
    }

    /// For `a=` lines: the attribute name and its value (`None` for a flag such as
    /// `a=rtcp-mux`).
    pub fn attribute(&self) -> Option<(&str, Option<&str>)> {
        if self.kind != b'a' {
            return None;
        }
        Some(match self.value.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (self.value.as_str(), None),
        })
    }
}

/// A session-level part or a media section: its lines in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    lines: Vec<Line>,
}

/// The direction attribute of a section (RFC 4566 §6, RFC 3264 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn from_name(n: &str) -> Option<Direction> {
        match n {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

impl Section {
    /// The lines, in order.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The first line of that type.
    pub fn line(&self, kind: u8) -> Option<&Line> {
        self.lines.iter().find(|l| l.kind == kind)
    }

    /// Every `a=` line as (name, value).
    pub fn attributes(&self) -> impl Iterator<Item = (&str, Option<&str>)> + '_ {
        self.lines.iter().filter_map(Line::attribute)
    }

    /// The values of the attributes called `name`.
    pub fn attribute_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes()
            .filter(move |(n, _)| *n == name)
            .filter_map(|(_, v)| v)
    }

    /// Whether a flag or attribute called `name` is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes().any(|(n, _)| n == name)
    }

    /// The `a=crypto` values (RFC 4568), in order.
    pub fn crypto(&self) -> impl Iterator<Item = &str> + '_ {
        self.attribute_values("crypto")
    }

    /// The direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes()
            .find_map(|(n, v)| v.is_none().then(|| Direction::from_name(n)).flatten())
    }

    /// The connection line of this section.
    pub fn connection(&self) -> Option<Connection> {
        self.line(b'c')
            .and_then(|l| Connection::parse(&l.value).ok())
    }

    /// `a=rtcp` (RFC 3605): the port and, when given, the address.
    pub fn rtcp(&self) -> Option<(u16, Option<IpAddr>)> {
        let v = self.attribute_values("rtcp").next()?;
        let mut it = v.split_whitespace();
        let port = it.next()?.parse().ok()?;
        let addr = match (it.next(), it.next(), it.next()) {
            (Some("IN"), Some(_), Some(a)) => a.parse().ok(),
            _ => None,
        };
        Some((port, addr))
    }

    /// Removes every attribute called `name`; returns how many.
    pub fn remove_attribute(&mut self, name: &str) -> usize {
        let before = self.lines.len();
        self.lines
            .retain(|l| l.attribute().is_none_or(|(n, _)| n != name));
        before - self.lines.len()
    }

    /// Adds an attribute after the section's other lines (`value` `None`: a flag).
    pub fn add_attribute(&mut self, name: &str, value: Option<&str>) {
        let v = match value {
            Some(v) => format!("{name}:{v}"),
            None => name.to_owned(),
        };
        self.lines.push(Line::new(b'a', v));
    }

    /// Sets the direction attribute (replacing any).
    pub fn set_direction(&mut self, d: Direction) {
        for n in ["sendrecv", "sendonly", "recvonly", "inactive"] {
            self.remove_attribute(n);
        }
        self.add_attribute(d.as_str(), None);
    }

    /// Replaces (or adds, where the grammar puts it) the connection line.
    pub fn set_connection(&mut self, c: &Connection) {
        let value = c.to_string();
        if let Some(l) = self.lines.iter_mut().find(|l| l.kind == b'c') {
            l.value = value;
            return;
        }
        // c= comes after i= and u=, e=, p= (session) or after the m= line's i= (media): put it
        // before the first b=, t=, k= or a= line.
        let at = self
            .lines
            .iter()
            .position(|l| matches!(l.kind, b'b' | b't' | b'r' | b'z' | b'k' | b'a'))
            .unwrap_or(self.lines.len());
        self.lines.insert(at, Line::new(b'c', value));
    }
}

/// An `o=` line (RFC 4566 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The user name.
    pub username: String,
    /// The session id.
    pub session_id: String,
    /// The session version (a number; bumped on each change).
    pub version: u64,
    /// `IN`.
    pub net_type: String,
    /// `IP4` or `IP6`.
    pub addr_type: String,
    /// The address (or name) of the originator.
    pub address: String,
}

impl Origin {
    fn parse(v: &str) -> Result<Origin, &'static str> {
        let f: Vec<&str> = v.split(' ').collect();
        let [username, session_id, version, net_type, addr_type, address] = f[..] else {
            return Err("o= needs six fields");
        };
        if session_id.is_empty() || !session_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err("o= session id is not a number");
        }
        Ok(Origin {
            username: username.to_owned(),
            session_id: session_id.to_owned(),
            version: version.parse().map_err(|_| "o= version is not a number")?,
            net_type: net_type.to_owned(),
            addr_type: addr_type.to_owned(),
            address: address.to_owned(),
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.version,
            self.net_type,
            self.addr_type,
            self.address
        )
    }
}

/// A `c=` line: `IN IP4|IP6 <address>[/ttl[/count]]` (RFC 4566 §5.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// `IP4` or `IP6`.
    pub addr_type: String,
    /// The address as written: an IP address, or a host name (RFC 4566 allows one; a relay
    /// cannot send to it, see [`Connection::ip`]).
    pub address: String,
    /// What followed the address (`/127` for multicast), kept.
    pub suffix: String,
}

impl Connection {
    /// `IN IP4|IP6 <address>`.
    pub fn new(address: IpAddr) -> Self {
        Self {
            addr_type: if address.is_ipv4() { "IP4" } else { "IP6" }.to_owned(),
            address: address.to_string(),
            suffix: String::new(),
        }
    }

    /// The address, when it is an IP address.
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.parse().ok()
    }

    fn parse(v: &str) -> Result<Connection, &'static str> {
        let f: Vec<&str> = v.split(' ').collect();
        let [net, kind, addr] = f[..] else {
            return Err("c= needs three fields");
        };
        if net != "IN" {
            return Err("c= network type is not IN");
        }
        let (host, suffix) = match addr.find('/') {
            Some(i) => (&addr[..i], &addr[i..]),
            None => (addr, ""),
        };
        if host.is_empty() {
            return Err("c= has no address");
        }
        match (kind, host.parse::<IpAddr>()) {
            ("IP4", Ok(IpAddr::V4(_)) | Err(_)) | ("IP6", Ok(IpAddr::V6(_)) | Err(_)) => {}
            ("IP4" | "IP6", Ok(_)) => return Err("c= address type does not match the address"),
            _ => return Err("c= address type is not IP4 or IP6"),
        }
        Ok(Connection {
            addr_type: kind.to_owned(),
            address: host.to_owned(),
            suffix: suffix.to_owned(),
        })
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IN {} {}{}", self.addr_type, self.address, self.suffix)
    }
}

/// An `m=` line (RFC 4566 §5.14).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// `audio`, `video`, `application`, …
    pub media: String,
    /// The port (0: the stream is refused or removed).
    pub port: u16,
    /// The number of ports (`/2`), if written.
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `RTP/SAVP`, `UDP/BFCP`, …
    pub proto: String,
    /// The formats (payload types for RTP), as written.
    pub formats: Vec<String>,
}

impl Media {
    fn parse(v: &str) -> Result<Media, &'static str> {
        let mut f = v.split(' ');
        let media = f
            .next()
            .filter(|s| !s.is_empty())
            .ok_or("m= has no media")?;
        let port = f.next().ok_or("m= has no port")?;
        let (port, port_count) = match port.split_once('/') {
            Some((p, n)) => (
                p,
                Some(n.parse().map_err(|_| "m= port count is not a number")?),
            ),
            None => (port, None),
        };
        let port = port
            .parse()
            .map_err(|_| "m= port is not a number 0-65535")?;
        let proto = f
            .next()
            .filter(|s| !s.is_empty())
            .ok_or("m= has no proto")?;
        let formats: Vec<String> = f.map(str::to_owned).collect();
        if formats.is_empty() || formats.iter().any(String::is_empty) {
            return Err("m= has no formats");
        }
        Ok(Media {
            media: media.to_owned(),
            port,
            port_count,
            proto: proto.to_owned(),
            formats,
        })
    }

    /// Whether the proto is RTP with SRTP (`RTP/SAVP`, `RTP/SAVPF`).
    pub fn is_srtp(&self) -> bool {
        self.proto.eq_ignore_ascii_case("RTP/SAVP") || self.proto.eq_ignore_ascii_case("RTP/SAVPF")
    }

    /// Whether the proto is plain RTP (`RTP/AVP`, `RTP/AVPF`).
    pub fn is_rtp(&self) -> bool {
        self.proto.eq_ignore_ascii_case("RTP/AVP") || self.proto.eq_ignore_ascii_case("RTP/AVPF")
    }
}

impl fmt::Display for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.media, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.proto)?;
        for fmt_ in &self.formats {
            write!(f, " {fmt_}")?;
        }
        Ok(())
    }
}

/// A parsed session description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sdp {
    session: Section,
    media: Vec<Section>,
}

/// Why a description was refused: the line (1-based) and what was wrong, for a 488/400 and the
/// log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpError {
    /// The line, counted from 1 (0: the description as a whole).
    pub line: usize,
    /// What was wrong.
    pub problem: &'static str,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "SDP: {}", self.problem)
        } else {
            write!(f, "SDP line {}: {}", self.line, self.problem)
        }
    }
}

impl std::error::Error for SdpError {}

impl Sdp {
    /// Parses a description with the default [`Limits`].
    pub fn parse(body: &[u8]) -> Result<Sdp, SdpError> {
        parse::parse(body, &Limits::default())
    }

    /// Parses with other limits.
    pub fn parse_with(body: &[u8], limits: &Limits) -> Result<Sdp, SdpError> {
        parse::parse(body, limits)
    }

    /// The session-level part.
    pub fn session(&self) -> &Section {
        &self.session
    }

    /// The session-level part, to edit.
    pub fn session_mut(&mut self) -> &mut Section {
        &mut self.session
    }

    /// The media sections, in order.
    pub fn sections(&self) -> &[Section] {
        &self.media
    }

    /// A media section, to edit.
    pub fn section_mut(&mut self, i: usize) -> Option<&mut Section> {
        self.media.get_mut(i)
    }

    /// The `o=` line.
    pub fn origin(&self) -> Option<Origin> {
        self.session
            .line(b'o')
            .and_then(|l| Origin::parse(&l.value).ok())
    }

    /// The `m=` line of section `i`.
    pub fn media(&self, i: usize) -> Option<Media> {
        self.media
            .get(i)
            .and_then(|s| s.line(b'm'))
            .and_then(|l| Media::parse(&l.value).ok())
    }

    /// The connection that applies to section `i`: its own, else the session's.
    pub fn connection_of(&self, i: usize) -> Option<Connection> {
        self.media
            .get(i)
            .and_then(Section::connection)
            .or_else(|| self.session.connection())
    }

    /// Replaces the `m=` line of section `i`.
    pub fn set_media(&mut self, i: usize, m: &Media) -> bool {
        let Some(line) = self
            .media
            .get_mut(i)
            .and_then(|s| s.lines.iter_mut().find(|l| l.kind == b'm'))
        else {
            return false;
        };
        line.value = m.to_string();
        true
    }

    /// Sets `o=`'s version to one more than it was (RFC 3264 §8: each new offer or answer of a
    /// session bumps it).
    pub fn bump_version(&mut self) {
        if let Some(mut o) = self.origin() {
            o.version = o.version.wrapping_add(1);
            if let Some(l) = self.session.lines.iter_mut().find(|l| l.kind == b'o') {
                l.value = o.to_string();
            }
        }
    }

    /// Replaces `o=` (a B2BUA's own origin on each leg).
    pub fn set_origin(&mut self, o: &Origin) {
        if let Some(l) = self.session.lines.iter_mut().find(|l| l.kind == b'o') {
            l.value = o.to_string();
        }
    }

    /// Appends the description to `out`, CRLF after every line.
    pub fn write(&self, out: &mut Vec<u8>) {
        for l in self
            .session
            .lines
            .iter()
            .chain(self.media.iter().flat_map(|s| s.lines.iter()))
        {
            out.push(l.kind);
            out.push(b'=');
            out.extend_from_slice(l.value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The description as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }
}
