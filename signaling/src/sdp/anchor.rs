//! Anchoring media in the relay: what a B2BUA checks in an offer or answer it receives on one
//! leg, and how it rewrites the description for the other leg (RFC 3264 offer/answer; SDES keys
//! RFC 4568).
//!
//! The edge's rule (the guide's, and the issue's): legs toward the internet carry SRTP with SDES
//! keys (`RTP/SAVP`), legs inside carry RTP (`RTP/AVP`); the relay translates. So:
//!
//! - [`check`] reads a received description: per `m=` section, whether it is RTP-based, which of
//!   the peer's `a=crypto` lines we accept (the first the caller's `accept` says yes to), and
//!   whether it asks for `rtcp-mux`. An external leg offering plain RTP, or SRTP with no
//!   acceptable key, is refused with 488 Not Acceptable Here (RFC 3261 §21.4.26) unless the
//!   policy is best-effort. Sections that are not RTP (BFCP, `application`) are refused in the
//!   rewrite (port 0, RFC 3264 §6), not passed through: the relay only carries RTP/RTCP.
//! - [`rewrite`] makes the description for the other leg: our origin, the relay's address as
//!   the connection, each section's port from the plan (0 for refused ones), the leg's proto,
//!   our own `a=crypto` on SRTP legs (never the peer's: each leg has its keys), `a=rtcp` when
//!   RTCP has its own port, and the ICE attributes dropped (the relay is the only candidate).
//!   Codecs, `a=rtpmap`, `a=fmtp`, direction and unknown attributes pass untouched.
//!
//! Which crypto suites are acceptable and what our `a=crypto` lines say is the caller's (the
//! media crate's SDES code): this module only moves lines.

use std::net::IpAddr;

use super::{Connection, Origin, Sdp};

/// What a leg carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegKind {
    /// Toward the internet: SRTP with SDES (`RTP/SAVP`).
    External,
    /// Inside: plain RTP (`RTP/AVP`).
    Internal,
}

/// What [`check`] found in one `m=` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionCheck {
    /// `audio`, `video`, …
    pub media: String,
    /// Carried through the relay (RTP-based, port not 0, acceptable on this leg).
    pub carried: bool,
    /// The peer's port (0: the peer refused or removed the stream).
    pub port: u16,
    /// The peer's `a=crypto` value we accept (SRTP legs).
    pub crypto: Option<String>,
    /// The peer asked for RTP and RTCP on one port (RFC 5761).
    pub rtcp_mux: bool,
}

/// A description refused: the SIP status to answer and the reason phrase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 488 (Not Acceptable Here).
    pub code: u16,
    /// Why, for the reason phrase and the log.
    pub reason: String,
}

/// Reads a description received on a leg of `kind`. `best_effort`: an external leg may carry
/// plain RTP when its peer offers no SRTP. `accept`: whether an `a=crypto` value is one we can
/// use.
pub fn check(
    sdp: &Sdp,
    kind: LegKind,
    best_effort: bool,
    accept: impl Fn(&str) -> bool,
) -> Result<Vec<SectionCheck>, Refusal> {
    let mut out = Vec::with_capacity(sdp.sections().len());
    for (i, section) in sdp.sections().iter().enumerate() {
        let Some(m) = sdp.media(i) else {
            return Err(refusal(format!("m= line {} unreadable", i + 1)));
        };
        let rtp = m.is_rtp() || m.is_srtp();
        let mut c = SectionCheck {
            media: m.media.clone(),
            carried: rtp && m.port != 0,
            port: m.port,
            crypto: None,
            rtcp_mux: section.has_attribute("rtcp-mux"),
        };
        if c.carried && sdp.connection_of(i).and_then(|c| c.ip()).is_none() {
            return Err(refusal(format!(
                "{} stream without an IP address to send to",
                m.media
            )));
        }
        if c.carried && kind == LegKind::External {
            if m.is_srtp() {
                c.crypto = section.crypto().find(|v| accept(v)).map(str::to_owned);
                if c.crypto.is_none() {
                    return Err(refusal(format!(
                        "no acceptable crypto for the {} stream",
                        m.media
                    )));
                }
            } else if !best_effort {
                return Err(refusal(format!(
                    "plain RTP offered for the {} stream on an external leg (SRTP required)",
                    m.media
                )));
            }
        }
        out.push(c);
    }
    if !out.iter().any(|c| c.carried) {
        return Err(refusal("no RTP stream to carry".to_owned()));
    }
    Ok(out)
}

fn refusal(reason: String) -> Refusal {
    Refusal { code: 488, reason }
}

/// Where the relay takes one section on the other leg.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionPlan {
    /// The relay's RTP port (0: the section is refused on this leg).
    pub port: u16,
    /// The relay's RTCP port when it is not `port + 1` and not muxed (written as `a=rtcp`).
    pub rtcp_port: Option<u16>,
    /// RTP and RTCP on one port (written as `a=rtcp-mux`).
    pub rtcp_mux: bool,
    /// Our `a=crypto` value for this section (SRTP legs).
    pub crypto: Option<String>,
}

/// The other leg's side of the relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// What the leg carries.
    pub kind: LegKind,
    /// The relay's address on that leg.
    pub address: IpAddr,
    /// The B2BUA's origin on that leg (its own session id; the version bumps with each change).
    pub origin: Origin,
    /// One per `m=` section, in order.
    pub sections: Vec<SectionPlan>,
}

/// ICE attributes (RFC 8839): dropped, the relay being the only address.
const ICE: &[&str] = &[
    "candidate",
    "remote-candidates",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "ice-lite",
    "ice-mismatch",
    "end-of-candidates",
];

/// The description for the other leg (see the module docs). Sections beyond the plan are
/// refused (port 0).
pub fn rewrite(received: &Sdp, plan: &Plan) -> Sdp {
    let mut sdp = received.clone();
    sdp.set_origin(&plan.origin);
    let relay = Connection::new(plan.address);
    sdp.session_mut().set_connection(&relay);
    for name in ICE {
        sdp.session_mut().remove_attribute(name);
    }
    for i in 0..sdp.sections().len() {
        let p = plan.sections.get(i).cloned().unwrap_or(SectionPlan {
            port: 0,
            rtcp_port: None,
            rtcp_mux: false,
            crypto: None,
        });
        if let Some(mut m) = sdp.media(i) {
            m.port = p.port;
            m.port_count = None;
            if p.port != 0 && (m.is_rtp() || m.is_srtp()) {
                let feedback = m.proto.ends_with('F') || m.proto.ends_with('f');
                m.proto = match (plan.kind, feedback) {
                    (LegKind::External, false) => "RTP/SAVP",
                    (LegKind::External, true) => "RTP/SAVPF",
                    (LegKind::Internal, false) => "RTP/AVP",
                    (LegKind::Internal, true) => "RTP/AVPF",
                }
                .to_owned();
            }
            sdp.set_media(i, &m);
        }
        let Some(s) = sdp.section_mut(i) else {
            continue;
        };
        for name in ICE.iter().chain(["crypto", "rtcp", "rtcp-mux"].iter()) {
            s.remove_attribute(name);
        }
        if s.line(b'c').is_some() {
            s.set_connection(&relay);
        }
        if p.port == 0 {
            continue;
        }
        if p.rtcp_mux {
            s.add_attribute("rtcp-mux", None);
        } else if let Some(r) = p.rtcp_port {
            s.add_attribute("rtcp", Some(&r.to_string()));
        }
        if plan.kind == LegKind::External {
            if let Some(k) = &p.crypto {
                s.add_attribute("crypto", Some(k));
            }
        }
    }
    sdp
}
