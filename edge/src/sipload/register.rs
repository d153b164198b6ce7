//! One phone's registration (RFC 3261 §10, RFC 5626 for the outbound Contact), sans-IO: the
//! REGISTER it writes, and what a response to it means. The driver owns the connection, the
//! clock and the timers; this owns the dialog-less state a UA keeps between REGISTERs (Call-ID,
//! From tag, CSeq, the last Digest challenge).
//!
//! A *registration* is one attempt to get a binding: the first REGISTER, plus the REGISTERs
//! that answer a 401/407 challenge (RFC 3261 §22.2) or a 423 Interval Too Brief (§10.2.8),
//! until a final answer that is not one of those. [`UserAgent::on_response`] says which.
//! Only one registration is in flight at a time (§10.2: a UA must not send a new REGISTER
//! before the previous one got a final response or timed out).

use std::fmt::Write as _;
use std::net::SocketAddr;

use signaling::sip::{Message, Method};

use super::digest::{self, Challenge, Credentials};

/// What every phone of a run shares.
#[derive(Clone, Debug)]
pub(crate) struct Profile {
    /// The registration domain: Request-URI `sip:DOMAIN`, AORs `userNNNNNN@DOMAIN`.
    pub(crate) domain: String,
    /// The Expires asked for.
    pub(crate) expires: u32,
    /// A preloaded Route (`<sip:…;lr>` or a bare URI), if any.
    pub(crate) route: Option<String>,
    /// Every user's Digest password, if the registrar challenges.
    pub(crate) password: Option<String>,
    /// A per-run token (hex) that makes Call-IDs, tags, branches and instance ids unique.
    pub(crate) run: u64,
}

/// The user part of user `index`'s AOR.
pub(crate) fn user_name(index: u32) -> String {
    format!("user{index:06}")
}

/// An RFC 4122 version-4-shaped UUID made from the run token and the user index (unique per
/// run and user, stable across that user's REGISTERs, as `+sip.instance` must be).
pub(crate) fn instance_uuid(run: u64, index: u32) -> String {
    let hi = run;
    let lo = u64::from(index).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ run.rotate_left(29);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0x0fff,
        0x8000 | (lo >> 48) & 0x3fff,
        lo & 0xffff_ffff_ffff
    )
}

/// The REGISTER in flight.
#[derive(Clone, Debug)]
struct Pending {
    cseq: u32,
    branch: String,
    /// Challenges answered in this registration.
    challenges: u8,
    /// Whether a 423 was already followed.
    interval_retried: bool,
}

/// The last challenge, reused on later REGISTERs (as phones do) with a growing nonce count.
#[derive(Clone, Debug)]
struct Auth {
    challenge: Challenge,
    /// `Proxy-Authorization` (after a 407) rather than `Authorization`.
    proxy: bool,
    nc: u32,
}

/// What a response meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Outcome {
    /// Not a final response to the REGISTER in flight (provisional, stray, another Call-ID):
    /// nothing changes.
    Ignored,
    /// A challenge or a 423 was answered: a new REGISTER is in the caller's buffer and the
    /// registration goes on.
    Retried,
    /// 2xx: the binding holds for this many seconds (0: the registrar removed it).
    Registered { expires: u32 },
    /// A final failure with this status (a 401/407 that cannot be answered among them).
    Failed { status: u16 },
}

/// One phone: one AOR, one flow (its TLS connection), one Contact.
#[derive(Clone, Debug)]
pub(crate) struct UserAgent {
    index: u32,
    user: String,
    local: SocketAddr,
    call_id: String,
    from_tag: String,
    instance: String,
    cseq: u32,
    branches: u64,
    expires: u32,
    auth: Option<Auth>,
    pending: Option<Pending>,
}

impl UserAgent {
    /// User `index` on a flow whose local end is `local` (the Via sent-by and the Contact).
    pub(crate) fn new(profile: &Profile, index: u32, local: SocketAddr) -> UserAgent {
        let run = profile.run;
        UserAgent {
            index,
            user: user_name(index),
            local,
            call_id: format!("{run:016x}-{index}@sipload.invalid"),
            from_tag: format!("{:x}{index:x}", run & 0xffff_ffff),
            instance: instance_uuid(run, index),
            cseq: 0,
            branches: 0,
            expires: profile.expires,
            auth: None,
            pending: None,
        }
    }

    /// Whether a registration is in flight.
    pub(crate) fn busy(&self) -> bool {
        self.pending.is_some()
    }

    /// The Expires asked for now (raised by a 423's Min-Expires).
    pub(crate) fn expires(&self) -> u32 {
        self.expires
    }

    /// The Call-ID (one per user for all its REGISTERs, RFC 3261 §10.2).
    #[cfg(test)]
    pub(crate) fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Starts a registration: appends a REGISTER to `out`. Returns `false`, writing nothing,
    /// when one is already in flight.
    pub(crate) fn register(&mut self, profile: &Profile, out: &mut Vec<u8>) -> bool {
        if self.pending.is_some() {
            return false;
        }
        self.send(profile, 0, false, out);
        true
    }

    /// The REGISTER in flight timed out (Timer F): the registration failed.
    pub(crate) fn on_timeout(&mut self) {
        self.pending = None;
    }

    /// A response arrived on the flow. A retry, when there is one, is appended to `out`.
    pub(crate) fn on_response(
        &mut self,
        profile: &Profile,
        msg: &Message,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let (Some(status), Some(p)) = (msg.status(), self.pending.as_ref()) else {
            return Outcome::Ignored;
        };
        let cseq = msg.cseq();
        if cseq.method != Method::Register
            || cseq.seq != p.cseq
            || msg.call_id() != self.call_id
            || msg.top_via().and_then(|v| v.branch()) != Some(p.branch.as_str())
            || status < 200
        {
            return Outcome::Ignored;
        }
        let (challenges, interval_retried) = (p.challenges, p.interval_retried);
        match status {
            200..=299 => {
                self.pending = None;
                Outcome::Registered {
                    expires: self.granted(msg),
                }
            }
            401 | 407 if profile.password.is_some() => {
                let field = if status == 401 {
                    "WWW-Authenticate"
                } else {
                    "Proxy-Authenticate"
                };
                let challenge = msg
                    .headers_named(field)
                    .find_map(|h| Challenge::parse(h.raw_value()).ok());
                match challenge {
                    // One answer per registration; a second only when the first nonce went
                    // stale (the credentials were right).
                    Some(c) if challenges == 0 || (challenges == 1 && c.stale) => {
                        self.auth = Some(Auth {
                            challenge: c,
                            proxy: status == 407,
                            nc: 0,
                        });
                        self.send(profile, challenges + 1, interval_retried, out);
                        Outcome::Retried
                    }
                    _ => self.fail(status),
                }
            }
            423 if !interval_retried => {
                let min = msg
                    .header("Min-Expires")
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|v| v.trim().parse::<u32>().ok());
                match min {
                    Some(m) if m > self.expires => {
                        self.expires = m;
                        self.send(profile, challenges, true, out);
                        Outcome::Retried
                    }
                    _ => self.fail(status),
                }
            }
            _ => self.fail(status),
        }
    }

    fn fail(&mut self, status: u16) -> Outcome {
        self.pending = None;
        Outcome::Failed { status }
    }

    /// The expiry granted for our Contact: its `expires` parameter (found by instance id, else
    /// by URI user and port, else the only Contact), else the Expires field, else what was
    /// asked.
    fn granted(&self, msg: &Message) -> u32 {
        let want = format!("<urn:uuid:{}>", self.instance);
        let ours = msg
            .contacts()
            .find(|c| c.instance() == Some(want.as_str()))
            .or_else(|| {
                msg.contacts().find(|c| {
                    c.uri.as_sip().is_some_and(|u| {
                        u.user.as_deref() == Some(self.user.as_str())
                            && u.port == Some(self.local.port())
                    })
                })
            })
            .or_else(|| {
                let mut all = msg.contacts();
                match (all.next(), all.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            });
        ours.and_then(|c| c.expires())
            .or_else(|| msg.expires())
            .unwrap_or(self.expires)
    }

    /// Writes a REGISTER with a new CSeq and branch; `challenges` and `interval_retried` carry
    /// over within a registration.
    fn send(
        &mut self,
        profile: &Profile,
        challenges: u8,
        interval_retried: bool,
        out: &mut Vec<u8>,
    ) {
        self.cseq = self.cseq.wrapping_add(1).max(1);
        self.branches += 1;
        let branch = format!(
            "z9hG4bK{:x}.{:x}.{:x}",
            profile.run & 0xffff_ffff,
            self.index,
            self.branches
        );
        let request_uri = format!("sip:{}", profile.domain);
        let authorization = match (&mut self.auth, &profile.password) {
            (Some(a), Some(password)) => {
                a.nc = a.nc.wrapping_add(1);
                let cnonce = format!("{:x}{:x}", profile.run ^ u64::from(self.index), a.nc);
                let cred = Credentials {
                    username: &self.user,
                    password,
                    method: "REGISTER",
                    uri: &request_uri,
                };
                Some((
                    a.proxy,
                    digest::authorization(&a.challenge, &cred, a.nc, &cnonce),
                ))
            }
            _ => None,
        };
        let (u, d, l) = (&self.user, &profile.domain, self.local);
        let mut s = String::with_capacity(640);
        let _ = write!(
            s,
            "REGISTER {request_uri} SIP/2.0\r\n\
             Via: SIP/2.0/TLS {l};rport;branch={branch}\r\n\
             Max-Forwards: 70\r\n"
        );
        if let Some(r) = &profile.route {
            if r.starts_with('<') {
                let _ = write!(s, "Route: {r}\r\n");
            } else {
                let _ = write!(s, "Route: <{r}>\r\n");
            }
        }
        let _ = write!(
            s,
            "From: <sip:{u}@{d}>;tag={tag}\r\n\
             To: <sip:{u}@{d}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{u}@{l};transport=tls;ob>;+sip.instance=\"<urn:uuid:{inst}>\";reg-id=1\r\n\
             Expires: {expires}\r\n\
             Supported: path, outbound\r\n\
             User-Agent: portico-sipload/{version}\r\n",
            tag = self.from_tag,
            call_id = self.call_id,
            cseq = self.cseq,
            inst = self.instance,
            expires = self.expires,
            version = env!("CARGO_PKG_VERSION"),
        );
        if let Some((proxy, value)) = authorization {
            let name = if proxy {
                "Proxy-Authorization"
            } else {
                "Authorization"
            };
            let _ = write!(s, "{name}: {value}\r\n");
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        out.extend_from_slice(s.as_bytes());
        self.pending = Some(Pending {
            cseq: self.cseq,
            branch,
            challenges,
            interval_retried,
        });
    }
}

/// A response of a phone to a request the registrar side sent down its flow (an OPTIONS
/// keepalive, a call): 200 to OPTIONS, 486 Busy Here to anything else, nothing to an ACK.
pub(crate) fn answer_request(msg: &Message, to_tag: &str, out: &mut Vec<u8>) -> bool {
    let (code, reason) = match msg.method() {
        Some(Method::Options) => (200, "OK"),
        Some(Method::Ack) | None => return false,
        Some(_) => (486, "Busy Here"),
    };
    match msg.response(code, reason, Some(to_tag)) {
        Ok(r) => {
            r.write(out);
            true
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signaling::sip::{Frame, Framer, Limits, Role};

    fn profile(password: Option<&str>) -> Profile {
        Profile {
            domain: "example.test".into(),
            expires: 600,
            route: Some("sip:expe.example.test;lr".into()),
            password: password.map(str::to_owned),
            run: 0x0123_4567_89ab_cdef,
        }
    }

    fn local() -> SocketAddr {
        "127.0.1.2:40123".parse().unwrap()
    }

    /// A registrar's answer to `req`: its Via, From, To (tagged), Call-ID and CSeq, plus `extra`
    /// header lines.
    fn answer(req: &[u8], code: u16, reason: &str, extra: &str) -> Message {
        let r = Message::parse(req).unwrap();
        let mut text = format!("SIP/2.0 {code} {reason}\r\n");
        for h in r.headers() {
            if ["Via", "From", "Call-ID", "CSeq"].iter().any(|n| h.is(n)) {
                text.push_str(std::str::from_utf8(h.line()).unwrap());
                text.push_str("\r\n");
            }
            if h.is("To") {
                text.push_str(std::str::from_utf8(h.line()).unwrap());
                text.push_str(";tag=reg1\r\n");
            }
        }
        text.push_str(extra);
        text.push_str("Content-Length: 0\r\n\r\n");
        Message::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn register_is_well_formed() {
        let p = profile(None);
        let mut ua = UserAgent::new(&p, 7, local());
        let mut out = Vec::new();
        assert!(ua.register(&p, &mut out));
        assert!(!ua.register(&p, &mut out), "one registration at a time");
        // One whole message as a stream framer sees it.
        let mut framer = Framer::new(Limits::default(), Role::Server);
        assert_eq!(
            framer.next(&out).unwrap(),
            Frame::Message { len: out.len() }
        );
        let m = Message::parse(&out).unwrap();
        assert_eq!(m.method(), Some(&Method::Register));
        assert_eq!(m.request_uri().unwrap().to_string(), "sip:example.test");
        let via = m.top_via().unwrap();
        assert!(via.has_rfc3261_branch(), "z9hG4bK branch");
        assert_eq!(via.rport(), Some(None), "rport without a value");
        assert_eq!(via.to_string(), {
            let b = via.branch().unwrap();
            format!("SIP/2.0/TLS 127.0.1.2:40123;rport;branch={b}")
        });
        assert_eq!(m.from().uri.to_string(), "sip:user000007@example.test");
        assert!(m.from().tag().is_some());
        assert_eq!(m.to().uri, m.from().uri);
        assert_eq!(m.to().tag(), None);
        assert_eq!(m.cseq().seq, 1);
        assert_eq!(m.call_id(), ua.call_id());
        assert_eq!(m.expires(), Some(600));
        assert_eq!(m.content_length(), Some(0));
        assert_eq!(m.max_forwards(), Some(70));
        assert_eq!(m.routes().count(), 1);
        let c = m.contacts().next().unwrap();
        assert_eq!(
            c.uri.to_string(),
            "sip:user000007@127.0.1.2:40123;transport=tls;ob"
        );
        assert!(c.ob());
        assert_eq!(c.reg_id(), Some(1));
        let inst = c.instance().unwrap();
        assert!(
            inst.starts_with("<urn:uuid:") && inst.ends_with('>'),
            "{inst}"
        );
        assert_eq!(inst.len(), "<urn:uuid:>".len() + 36);
        // Another user: another Call-ID, tag and instance; the same user keeps its Call-ID.
        let other = UserAgent::new(&p, 8, local());
        assert_ne!(other.call_id(), ua.call_id());
        assert_ne!(instance_uuid(p.run, 7), instance_uuid(p.run, 8));
        assert_ne!(instance_uuid(p.run, 7), instance_uuid(p.run ^ 1, 7));
    }

    #[test]
    fn refresh_keeps_call_id_and_raises_cseq() {
        let p = profile(None);
        let mut ua = UserAgent::new(&p, 1, local());
        let mut out = Vec::new();
        assert!(ua.register(&p, &mut out));
        let first = Message::parse(&out).unwrap();
        let ok = answer(
            &out,
            200,
            "OK",
            &format!(
                "Contact: <sip:user000001@127.0.1.2:40123;transport=tls;ob>;expires=300;\
                 +sip.instance=\"<urn:uuid:{}>\";reg-id=1\r\n",
                instance_uuid(p.run, 1)
            ),
        );
        assert_eq!(
            ua.on_response(&p, &ok, &mut Vec::new()),
            Outcome::Registered { expires: 300 }
        );
        assert!(!ua.busy());
        // The same response again is stray now.
        assert_eq!(ua.on_response(&p, &ok, &mut Vec::new()), Outcome::Ignored);
        out.clear();
        assert!(ua.register(&p, &mut out));
        let second = Message::parse(&out).unwrap();
        assert_eq!(second.call_id(), first.call_id());
        assert_eq!(second.cseq().seq, 2);
        assert_ne!(
            second.top_via().unwrap().branch(),
            first.top_via().unwrap().branch()
        );
        assert_eq!(second.from().tag(), first.from().tag());
    }

    #[test]
    fn granted_expiry_falls_back_to_expires_then_request() {
        let p = profile(None);
        let mut ua = UserAgent::new(&p, 1, local());
        let mut out = Vec::new();
        assert!(ua.register(&p, &mut out));
        // Two contacts, neither ours: the Expires field.
        let ok = answer(
            &out,
            200,
            "OK",
            "Contact: <sip:a@192.0.2.1>;expires=10, <sip:b@192.0.2.2>;expires=20\r\nExpires: 120\r\n",
        );
        assert_eq!(
            ua.on_response(&p, &ok, &mut Vec::new()),
            Outcome::Registered { expires: 120 }
        );
        out.clear();
        assert!(ua.register(&p, &mut out));
        let ok = answer(&out, 200, "OK", "");
        assert_eq!(
            ua.on_response(&p, &ok, &mut Vec::new()),
            Outcome::Registered { expires: 600 }
        );
    }

    #[test]
    fn stray_and_provisional_responses_are_ignored() {
        let p = profile(None);
        let mut ua = UserAgent::new(&p, 1, local());
        let mut out = Vec::new();
        assert!(ua.register(&p, &mut out));
        let trying = answer(&out, 100, "Trying", "");
        assert_eq!(
            ua.on_response(&p, &trying, &mut Vec::new()),
            Outcome::Ignored
        );
        // Another user's 200.
        let mut other = UserAgent::new(&p, 2, local());
        let mut theirs = Vec::new();
        assert!(other.register(&p, &mut theirs));
        let ok = answer(&theirs, 200, "OK", "");
        assert_eq!(ua.on_response(&p, &ok, &mut Vec::new()), Outcome::Ignored);
        assert!(ua.busy());
        // A request is not a response.
        let req = Message::parse(&out).unwrap();
        assert_eq!(ua.on_response(&p, &req, &mut Vec::new()), Outcome::Ignored);
        ua.on_timeout();
        assert!(!ua.busy());
    }

    #[test]
    fn challenge_answered_once_then_preemptively() {
        let p = profile(Some("secret"));
        let mut ua = UserAgent::new(&p, 3, local());
        let mut out = Vec::new();
        assert!(ua.register(&p, &mut out));
        let chal = answer(
            &out,
            401,
            "Unauthorized",
            "WWW-Authenticate: Digest realm=\"example.test\", nonce=\"n1\", qop=\"auth\"\r\n",
        );
        let mut retry = Vec::new();
        assert_eq!(ua.on_response(&p, &chal, &mut retry), Outcome::Retried);
        let r = Message::parse(&retry).unwrap();
        assert_eq!(r.cseq().seq, 2);
        let auth = std::str::from_utf8(r.header("Authorization").unwrap()).unwrap();
        let c = Challenge::parse(b"Digest realm=\"example.test\", nonce=\"n1\", qop=auth").unwrap();
        let cnonce = format!("{:x}{:x}", p.run ^ 3, 1);
        let want = digest::response(
            &c,
            &Credentials {
                username: "user000003",
                password: "secret",
                method: "REGISTER",
                uri: "sip:example.test",
            },
            1,
            &cnonce,
        );
        assert!(auth.contains(&format!("response=\"{want}\"")), "{auth}");
        assert!(auth.contains("nc=00000001"), "{auth}");
        // A second 401 to the answered request: wrong password, the registration fails.
        let again = answer(
            &retry,
            401,
            "Unauthorized",
            "WWW-Authenticate: Digest realm=\"example.test\", nonce=\"n2\"\r\n",
        );
        assert_eq!(
            ua.on_response(&p, &again, &mut Vec::new()),
            Outcome::Failed { status: 401 }
        );
        // The next registration carries credentials at once, nc counting on.
        out.clear();
        assert!(ua.register(&p, &mut out));
        let r = Message::parse(&out).unwrap();
        let auth = std::str::from_utf8(r.header("Authorization").unwrap()).unwrap();
        assert!(auth.contains("nc=00000002"), "{auth}");
        // stale=true on that one: answered again with the new nonce.
        let stale = answer(
            &out,
            401,
            "Unauthorized",
            "WWW-Authenticate: Digest realm=\"example.test\", nonce=\"n3\", stale=true\r\n",
        );
        let mut retry = Vec::new();
        assert_eq!(ua.on_response(&p, &stale, &mut retry), Outcome::Retried);
        let r = Message::parse(&retry).unwrap();
        assert!(std::str::from_utf8(r.header("Authorization").unwrap())
            .unwrap()
            .contains("nonce=\"n3\""));
    }

    #[test]
    fn proxy_challenge_and_no_password() {
        let p = profile(Some("pw"));
        let mut ua = UserAgent::new(&p, 4, local());
        let mut out = Vec::new();
        assert!(ua.register(&p, &mut out));
        let chal = answer(
            &out,
            407,
            "Proxy Authentication Required",
            "Proxy-Authenticate: Digest realm=\"x\", nonce=\"y\"\r\n",
        );
        let mut retry = Vec::new();
        assert_eq!(ua.on_response(&p, &chal, &mut retry), Outcome::Retried);
        let r = Message::parse(&retry).unwrap();
        assert!(r.header("Proxy-Authorization").is_some());
        assert!(r.header("Authorization").is_none());
        // Without a password a challenge is a failure.
        let p = profile(None);
        let mut ua = UserAgent::new(&p, 4, local());
        out.clear();
        assert!(ua.register(&p, &mut out));
        let chal = answer(
            &out,
            401,
            "Unauthorized",
            "WWW-Authenticate: Digest realm=\"x\", nonce=\"y\"\r\n",
        );
        assert_eq!(
            ua.on_response(&p, &chal, &mut Vec::new()),
            Outcome::Failed { status: 401 }
        );
    }

    #[test]
    fn interval_too_brief_is_followed_once() {
        let p = profile(None);
        let mut ua = UserAgent::new(&p, 5, local());
        let mut out = Vec::new();
        assert!(ua.register(&p, &mut out));
        let brief = answer(&out, 423, "Interval Too Brief", "Min-Expires: 1800\r\n");
        let mut retry = Vec::new();
        assert_eq!(ua.on_response(&p, &brief, &mut retry), Outcome::Retried);
        assert_eq!(Message::parse(&retry).unwrap().expires(), Some(1800));
        assert_eq!(ua.expires(), 1800);
        let brief = answer(&retry, 423, "Interval Too Brief", "Min-Expires: 3600\r\n");
        assert_eq!(
            ua.on_response(&p, &brief, &mut Vec::new()),
            Outcome::Failed { status: 423 }
        );
    }

    #[test]
    fn requests_down_the_flow_are_answered() {
        let options = b"OPTIONS sip:user000001@127.0.1.2:40123;transport=tls SIP/2.0\r\n\
            Via: SIP/2.0/TLS 127.0.0.1:25061;branch=z9hG4bKx\r\n\
            From: <sip:reg@example.test>;tag=r\r\nTo: <sip:user000001@example.test>\r\n\
            Call-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        let m = Message::parse(options).unwrap();
        let mut out = Vec::new();
        assert!(answer_request(&m, "ua1", &mut out));
        let r = Message::parse(&out).unwrap();
        assert_eq!(r.status(), Some(200));
        assert_eq!(r.to().tag(), Some("ua1"));
        let invite = String::from_utf8_lossy(options)
            .replace("OPTIONS", "INVITE")
            .into_bytes();
        out.clear();
        assert!(answer_request(
            &Message::parse(&invite).unwrap(),
            "ua1",
            &mut out
        ));
        assert_eq!(Message::parse(&out).unwrap().status(), Some(486));
        let ack = String::from_utf8_lossy(options)
            .replace("OPTIONS", "ACK")
            .into_bytes();
        out.clear();
        assert!(!answer_request(
            &Message::parse(&ack).unwrap(),
            "ua1",
            &mut out
        ));
        assert!(out.is_empty());
    }
}
