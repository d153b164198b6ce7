//! E and C proxies together, sans-IO: a client's REGISTER through E and C to a registrar stand-in
//! and back, requests from inside back to the registering flow, both registration modes, and
//! every refusal.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::common::parse;
use super::*;
use crate::sip::{Host, Message, Transport};

const CLIENT: &str = "198.18.1.10:50612";

fn e_config(limit: u32) -> EProxyConfig {
    EProxyConfig {
        via_host: Host::Name("expe.example.test".into()),
        via_port: 5061,
        own: OwnNames::new([
            Host::Name("expe.example.test".into()),
            Host::parse("198.18.1.1").unwrap(),
        ]),
        registration_limit: limit,
        retry_after: Duration::from_secs(60),
        first_flow: 0x100,
    }
}

fn c_config(mode: RegistrationMode) -> CProxyConfig {
    CProxyConfig {
        mode,
        host: Host::parse("198.18.2.10").unwrap(),
        port: 5060,
        transport: Transport::Tcp,
        own: OwnNames::new([
            Host::Name("expc.example.test".into()),
            Host::parse("198.18.2.10").unwrap(),
        ]),
        max_bindings: 100,
        max_pending: 100,
        calls: None,
    }
}

fn register(cseq: u32, expires: u32, instance: &str) -> Vec<u8> {
    format!(
        "REGISTER sip:example.test SIP/2.0\r\n\
         Via: SIP/2.0/TLS 10.0.0.5:50612;branch=z9hG4bK-r{cseq};rport\r\n\
         Route: <sip:expc.example.test:5061;transport=tls;zone-id=3;directed;lr>\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.test>;tag=a1\r\n\
         To: <sip:alice@example.test>\r\n\
         Call-ID: reg-{instance}@10.0.0.5\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:alice@10.0.0.5:50612;transport=tls;ob>;+sip.instance=\"<urn:uuid:{instance}>\";reg-id=1\r\n\
         Expires: {expires}\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// A registrar stand-in: the 200 OK a registrar sends, echoing the Contacts it got with the
/// expiry it grants (as Kamailio does).
fn registrar_ok(req: &Message, granted: u32) -> Vec<u8> {
    let mut r = req.response(200, "OK", Some("reg1")).unwrap();
    for c in req.contacts() {
        let mut c = c.clone();
        c.set_param("expires", Some(&granted.to_string()));
        r.append_header("Contact", c.to_string().as_bytes())
            .unwrap();
    }
    r.to_bytes()
}

/// The media stand-in's answer to an Open.
type OpenFn = fn(u64, &[calls::StreamOpen]) -> Result<calls::OpenedMedia, String>;

struct Lab {
    e: EProxy,
    c: CProxy,
    flow: u64,
    now: Instant,
    to_client: Vec<Vec<u8>>,
    to_call_control: Vec<Vec<u8>>,
    to_inside: Vec<(InsideHop, Vec<u8>)>,
    /// Media work C asked for, in order.
    media: Vec<calls::CallAction>,
    /// How the test's media stand-in answers an Open (`None`: the test answers itself).
    open_with: Option<OpenFn>,
}

impl Lab {
    fn new(mode: RegistrationMode, limit: u32) -> Self {
        let mut e = EProxy::new(e_config(limit));
        let flow = e.open_flow(CLIENT.parse().unwrap());
        Self {
            e,
            c: CProxy::new(c_config(mode)),
            flow,
            now: Instant::now(),
            to_client: Vec::new(),
            to_call_control: Vec::new(),
            to_inside: Vec::new(),
            media: Vec::new(),
            open_with: None,
        }
    }

    /// A lab whose C carries calls (media address inside 198.18.2.10), its media stand-in
    /// answering every Open with `open`.
    fn with_calls(calls: calls::CallsConfig, open: OpenFn) -> Self {
        let mut lab = Self::new(RegistrationMode::ContactRewrite, 10);
        let mut config = c_config(RegistrationMode::ContactRewrite);
        config.calls = Some(calls);
        lab.c = CProxy::new(config);
        lab.open_with = Some(open);
        lab
    }

    /// Runs E's actions through C and C's back through E until nothing moves.
    fn pump_e(&mut self, actions: Vec<EAction>) {
        for a in actions {
            match a {
                EAction::ToClient { flow, bytes } => {
                    assert_eq!(flow, self.flow);
                    self.to_client.push(bytes);
                }
                EAction::ToC(env) => {
                    let (e, _) = Envelope::parse(&env).unwrap().unwrap();
                    let mut out = Vec::new();
                    self.c.from_e(e, self.now, &mut out);
                    self.pump_c(out);
                }
            }
        }
    }

    fn pump_c(&mut self, actions: Vec<CAction>) {
        for a in actions {
            match a {
                CAction::ToCallControl(b) => self.to_call_control.push(b),
                CAction::ToInside { hop, bytes } => self.to_inside.push((hop, bytes)),
                CAction::Call(a) => {
                    self.media.push(a.clone());
                    if let (calls::CallAction::Open { call, streams }, Some(open)) =
                        (&a, self.open_with)
                    {
                        let mut out = Vec::new();
                        self.c
                            .media_opened(*call, open(*call, streams), self.now, &mut out);
                        self.pump_c(out);
                    }
                }
                CAction::ToE(env) => {
                    let (e, _) = Envelope::parse(&env).unwrap().unwrap();
                    let mut out = Vec::new();
                    self.e.from_c(e, self.now, &mut out);
                    self.pump_e(out);
                }
            }
        }
    }

    fn client_sends(&mut self, bytes: &[u8]) {
        let mut out = Vec::new();
        self.e
            .from_client(self.flow, bytes, true, self.now, &mut out);
        self.pump_e(out);
    }

    fn call_control_sends(&mut self, hop: InsideHop, bytes: &[u8]) {
        let mut out = Vec::new();
        self.c.from_inside(hop, bytes, self.now, &mut out);
        self.pump_c(out);
    }

    /// REGISTER through E and C, the registrar's 200 back: what the registrar saw and what the
    /// client got.
    fn registers(&mut self, cseq: u32, expires: u32, granted: u32) -> (Message, Message) {
        self.client_sends(&register(cseq, expires, "dev-1"));
        let at_registrar = parse(
            &self
                .to_call_control
                .pop()
                .expect("REGISTER reached call control"),
        );
        let ok = registrar_ok(&at_registrar, granted);
        self.call_control_sends(InsideHop::Stream(1), &ok);
        let at_client = parse(&self.to_client.pop().expect("200 reached the client"));
        (at_registrar, at_client)
    }
}

fn message_for(ruri: &str, route: Option<&str>) -> Vec<u8> {
    let route = route.map(|r| format!("Route: {r}\r\n")).unwrap_or_default();
    format!(
        "MESSAGE {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/TCP 198.18.2.20:5060;branch=z9hG4bK-k1;rport\r\n\
         {route}Max-Forwards: 69\r\n\
         From: <sip:bob@example.test>;tag=b1\r\n\
         To: <sip:alice@example.test>\r\n\
         Call-ID: msg-1@198.18.2.20\r\n\
         CSeq: 7 MESSAGE\r\n\
         Content-Type: text/plain\r\n\
         Content-Length: 5\r\n\r\nhello"
    )
    .into_bytes()
}

#[test]
fn register_through_e_and_c_in_contact_rewrite_mode() {
    let mut lab = Lab::new(RegistrationMode::ContactRewrite, 10);
    let (at_registrar, at_client) = lab.registers(1, 120, 120);

    // The registrar sees C's Contact with the token and the client's address, C's Via on top,
    // E's below, the client's with received/rport; the Route naming C is gone.
    let contact = at_registrar.contacts().next().unwrap();
    let uri = contact.uri.as_sip().unwrap();
    assert_eq!(uri.host, Host::parse("198.18.2.10").unwrap());
    assert_eq!(uri.port, Some(5060));
    assert_eq!(uri.user.as_deref(), Some("alice"));
    assert_eq!(
        uri.param("orig-hostport").unwrap().value.as_deref(),
        Some(CLIENT)
    );
    let token = uri
        .param(c_proxy::TOKEN_PARAM)
        .unwrap()
        .value
        .clone()
        .unwrap();
    assert!(contact.instance().is_some(), "header parameters kept");
    let vias: Vec<_> = at_registrar.vias().collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].host, Host::parse("198.18.2.10").unwrap());
    assert_eq!(vias[1].host, Host::Name("expe.example.test".into()));
    assert_eq!(vias[2].received(), Some("198.18.1.10".parse().unwrap()));
    assert_eq!(vias[2].rport(), Some(Some(50612)));
    assert_eq!(at_registrar.routes().count(), 0);
    assert_eq!(at_registrar.max_forwards(), Some(68));

    // The client gets its own Contact back, one Via (its own, stamped).
    assert_eq!(at_client.status(), Some(200));
    assert_eq!(at_client.vias().count(), 1);
    assert_eq!(at_client.vias().next().unwrap().rport(), Some(Some(50612)));
    let back = at_client.contacts().next().unwrap();
    assert_eq!(
        back.uri.to_string(),
        "sip:alice@10.0.0.5:50612;transport=tls;ob"
    );
    assert_eq!(back.expires(), Some(120));

    assert_eq!(lab.e.registered_count(), 1);
    let b = lab.c.binding(&token).unwrap();
    assert_eq!(b.flow, Some(lab.flow));
    assert_eq!(b.aor, "sip:alice@example.test");
    assert_eq!(b.client, Some(CLIENT.parse().unwrap()));

    // Re-registration keeps the token (one binding at call control).
    let (again, _) = lab.registers(2, 120, 120);
    let t2 = again
        .contacts()
        .next()
        .unwrap()
        .uri
        .as_sip()
        .unwrap()
        .param(c_proxy::TOKEN_PARAM)
        .unwrap()
        .value
        .clone();
    assert_eq!(t2.as_deref(), Some(token.as_str()));
    assert_eq!(lab.c.binding_count(), 1);
    assert_eq!(lab.c.stats().bindings_refreshed, 1);

    // A MESSAGE from inside to the registered Contact reaches the client with the client's
    // own Contact as Request-URI, and its 200 goes back the way the MESSAGE came.
    let ruri = format!("<sip:alice@198.18.2.10:5060;transport=tcp;x-portico-reg={token}>");
    let ruri = ruri.trim_matches(|c| c == '<' || c == '>').to_owned();
    lab.call_control_sends(InsideHop::Stream(9), &message_for(&ruri, None));
    let got = parse(&lab.to_client.pop().expect("MESSAGE reached the client"));
    assert_eq!(
        got.request_uri().unwrap().to_string(),
        "sip:alice@10.0.0.5:50612;transport=tls;ob"
    );
    assert_eq!(got.body(), b"hello");
    assert_eq!(got.vias().count(), 3, "E, C, call control");
    assert_eq!(got.max_forwards(), Some(67));
    let answer = got.response(200, "OK", Some("al")).unwrap().to_bytes();
    lab.client_sends(&answer);
    let (hop, back) = lab.to_inside.pop().expect("200 went back inside");
    assert_eq!(hop, InsideHop::Stream(9));
    let back = parse(&back);
    assert_eq!(back.status(), Some(200));
    assert_eq!(back.vias().count(), 1);
    assert_eq!(back.top_via().unwrap().branch(), Some("z9hG4bK-k1"));

    // Unregistration removes the binding at C and the registration at E.
    let (_, ok) = lab.registers(3, 0, 0);
    assert_eq!(ok.status(), Some(200));
    assert_eq!(lab.c.binding_count(), 0);
    assert_eq!(lab.e.registered_count(), 0);
    lab.call_control_sends(InsideHop::Stream(9), &message_for(&ruri, None));
    let (_, nf) = lab.to_inside.pop().unwrap();
    assert_eq!(parse(&nf).status(), Some(404));
}

#[test]
fn register_in_path_mode_keeps_the_contact_and_routes_by_path() {
    let mut lab = Lab::new(RegistrationMode::Path, 10);
    let (at_registrar, at_client) = lab.registers(1, 300, 300);
    let contact = at_registrar.contacts().next().unwrap();
    assert_eq!(
        contact.uri.to_string(),
        "sip:alice@10.0.0.5:50612;transport=tls;ob"
    );
    let path = at_registrar.paths().next().expect("Path added");
    let puri = path.uri.as_sip().unwrap();
    assert_eq!(puri.host, Host::parse("198.18.2.10").unwrap());
    assert!(puri.lr() && puri.ob());
    let token = puri.user.clone().unwrap();
    assert_eq!(at_client.contacts().next().unwrap().expires(), Some(300));
    assert_eq!(lab.c.binding(&token).unwrap().flow, Some(lab.flow));

    // The registrar routes by the Path: Route naming C with the token, Request-URI the client's.
    let route = format!("<sip:{token}@198.18.2.10:5060;transport=tcp;lr;ob>");
    lab.call_control_sends(
        InsideHop::Datagram("198.18.2.20:5060".parse().unwrap()),
        &message_for("sip:alice@10.0.0.5:50612;transport=tls;ob", Some(&route)),
    );
    let got = parse(&lab.to_client.pop().expect("reached the client"));
    assert_eq!(got.routes().count(), 0, "C's Route consumed");
    assert_eq!(
        got.request_uri().unwrap().to_string(),
        "sip:alice@10.0.0.5:50612;transport=tls;ob"
    );
}

#[test]
fn requests_for_a_closed_flow_or_a_dead_link_fail_with_430() {
    let mut lab = Lab::new(RegistrationMode::ContactRewrite, 10);
    let (at_registrar, _) = lab.registers(1, 120, 120);
    let ruri = at_registrar.contacts().next().unwrap().uri.to_string();

    // E closes the flow: C hears of it and answers 430 itself.
    let mut out = Vec::new();
    lab.e.close_flow(lab.flow, true, &mut out);
    lab.pump_e(out);
    lab.call_control_sends(InsideHop::Stream(1), &message_for(&ruri, None));
    let (_, r) = lab.to_inside.pop().unwrap();
    assert_eq!(parse(&r).status(), Some(430));
    assert_eq!(lab.c.stats().rejected_flow_failed, 1);

    // The client comes back on a new flow and re-registers: same binding, new flow.
    lab.flow = lab.e.open_flow("198.18.1.10:50999".parse().unwrap());
    lab.registers(2, 120, 120);
    assert_eq!(lab.c.binding_count(), 1);
    lab.call_control_sends(InsideHop::Stream(1), &message_for(&ruri, None));
    assert!(lab.to_client.pop().is_some(), "reaches the new flow");

    // The link drops: every flow is gone.
    lab.c.link_down();
    lab.call_control_sends(InsideHop::Stream(1), &message_for(&ruri, None));
    let (_, r) = lab.to_inside.pop().unwrap();
    assert_eq!(parse(&r).status(), Some(430));
}

#[test]
fn e_answers_430_when_c_names_a_flow_that_is_gone() {
    let mut lab = Lab::new(RegistrationMode::ContactRewrite, 10);
    let (at_registrar, _) = lab.registers(1, 120, 120);
    let ruri = at_registrar.contacts().next().unwrap().uri.to_string();
    // E forgets the flow without telling C (the FlowClosed envelope was lost in a race).
    let mut ignored = Vec::new();
    lab.e.close_flow(lab.flow, false, &mut ignored);
    assert!(ignored.is_empty());
    lab.call_control_sends(InsideHop::Stream(4), &message_for(&ruri, None));
    let (hop, r) = lab.to_inside.pop().expect("430 from E back inside");
    assert_eq!(hop, InsideHop::Stream(4));
    assert_eq!(parse(&r).status(), Some(430));
    assert_eq!(lab.e.stats().flow_failed, 1);
}

#[test]
fn registration_limit_gives_503_with_retry_after_but_refreshes_pass() {
    let mut lab = Lab::new(RegistrationMode::ContactRewrite, 1);
    lab.registers(1, 120, 120);
    // Same flow refreshes: fine.
    let (_, ok) = lab.registers(2, 120, 120);
    assert_eq!(ok.status(), Some(200));
    // Another flow: refused.
    let other = lab.e.open_flow("198.18.1.11:40000".parse().unwrap());
    let mut out = Vec::new();
    lab.e
        .from_client(other, &register(1, 120, "dev-2"), true, lab.now, &mut out);
    let [EAction::ToClient { flow, bytes }] = &out[..] else {
        panic!("expected one answer, got {out:?}");
    };
    assert_eq!(*flow, other);
    let r = parse(bytes);
    assert_eq!(r.status(), Some(503));
    assert_eq!(r.header("Retry-After"), Some(&b"60"[..]));
    assert_eq!(lab.e.stats().rejected_registration_limit, 1);
    // Once the first registration lapses, the other flow gets in.
    lab.now += Duration::from_secs(121);
    lab.e.expire(lab.now);
    assert_eq!(lab.e.registered_count(), 0);
    let mut out = Vec::new();
    lab.e
        .from_client(other, &register(2, 120, "dev-2"), true, lab.now, &mut out);
    assert!(matches!(&out[..], [EAction::ToC(_)]));
}

#[test]
fn without_a_link_e_answers_503_and_never_answers_ack() {
    let mut e = EProxy::new(e_config(10));
    let flow = e.open_flow(CLIENT.parse().unwrap());
    let mut out = Vec::new();
    e.from_client(flow, &register(1, 60, "x"), false, Instant::now(), &mut out);
    let [EAction::ToClient { bytes, .. }] = &out[..] else {
        panic!("{out:?}");
    };
    let r = parse(bytes);
    assert_eq!(r.status(), Some(503));
    assert!(r.header("Retry-After").is_some());
    let ack = b"ACK sip:x@example.test SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.5;branch=z9hG4bK-a\r\n\
        From: <sip:a@example.test>;tag=1\r\nTo: <sip:x@example.test>;tag=2\r\nCall-ID: c\r\n\
        CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n";
    let mut out = Vec::new();
    e.from_client(flow, ack, false, Instant::now(), &mut out);
    assert!(out.is_empty());
    assert_eq!(e.stats().rejected_no_link, 2);
}

#[test]
fn garbage_and_exhausted_max_forwards_are_answered_not_forwarded() {
    let mut lab = Lab::new(RegistrationMode::ContactRewrite, 10);
    lab.client_sends(b"REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK-1\r\n\
        From: <sip:a@example.test>;tag=1\r\nTo: <sip:a@example.test>\r\nCall-ID: c\r\nCSeq: one REGISTER\r\n\
        Content-Length: 0\r\n\r\n");
    // The 400 copies the broken CSeq line as it came (RFC 3261 §8.2.6.2), so only its status
    // line is checked.
    let r = lab.to_client.pop().unwrap();
    assert!(r.starts_with(b"SIP/2.0 400 Bad Request (malformed CSeq header)\r\n"));
    assert_eq!(lab.e.stats().rejected_malformed, 1);

    let mut zero = register(1, 60, "z");
    let s = String::from_utf8(zero.clone())
        .unwrap()
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    zero = s.into_bytes();
    lab.client_sends(&zero);
    assert_eq!(parse(&lab.to_client.pop().unwrap()).status(), Some(483));
    assert!(lab.to_call_control.is_empty());

    // A response from a client that E never sent a request for: dropped, counted.
    let stray = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 10.0.0.5;branch=z9hG4bK-x\r\nFrom: <sip:a@example.test>;tag=1\r\n\
        To: <sip:b@example.test>;tag=2\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n";
    lab.client_sends(stray);
    assert_eq!(lab.e.stats().dropped_responses, 1);
    assert!(lab.to_inside.is_empty());
}

#[test]
fn inside_requests_without_a_binding_get_404_and_options_to_c_gets_200() {
    let mut lab = Lab::new(RegistrationMode::ContactRewrite, 10);
    lab.call_control_sends(
        InsideHop::Stream(1),
        &message_for(
            "sip:alice@198.18.2.10:5060;x-portico-reg=00000000deadbeef",
            None,
        ),
    );
    assert_eq!(parse(&lab.to_inside.pop().unwrap().1).status(), Some(404));
    let options = b"OPTIONS sip:198.18.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.2.20;branch=z9hG4bK-o\r\n\
        From: <sip:ping@example.test>;tag=1\r\nTo: <sip:198.18.2.10>\r\nCall-ID: o\r\nCSeq: 1 OPTIONS\r\n\
        Content-Length: 0\r\n\r\n";
    lab.call_control_sends(
        InsideHop::Datagram("198.18.2.20:5060".parse().unwrap()),
        options,
    );
    let (hop, r) = lab.to_inside.pop().unwrap();
    assert_eq!(
        hop,
        InsideHop::Datagram("198.18.2.20:5060".parse().unwrap())
    );
    assert_eq!(parse(&r).status(), Some(200));
}

#[test]
fn challenges_pass_through_untouched() {
    let mut lab = Lab::new(RegistrationMode::ContactRewrite, 10);
    lab.client_sends(&register(1, 60, "d"));
    let req = parse(&lab.to_call_control.pop().unwrap());
    let mut r = req.response(401, "Unauthorized", Some("k")).unwrap();
    let challenge = b"Digest realm=\"example.test\", nonce=\"abc\", qop=\"auth\"";
    r.append_header("WWW-Authenticate", challenge).unwrap();
    lab.call_control_sends(InsideHop::Stream(1), &r.to_bytes());
    let got = parse(&lab.to_client.pop().unwrap());
    assert_eq!(got.status(), Some(401));
    assert_eq!(got.header("WWW-Authenticate"), Some(&challenge[..]));
    assert_eq!(lab.c.binding_count(), 0);
    assert_eq!(lab.e.registered_count(), 0);
}

#[test]
fn pending_entries_and_bindings_expire() {
    let mut lab = Lab::new(RegistrationMode::ContactRewrite, 10);
    lab.registers(1, 60, 60);
    assert_eq!(lab.c.binding_count(), 1);
    lab.now += Duration::from_secs(61);
    lab.c.expire(lab.now);
    assert_eq!(lab.c.binding_count(), 0);
    assert_eq!(lab.c.stats().bindings_removed, 1);
}

#[test]
fn random_bytes_never_panic_either_proxy() {
    let mut lab = Lab::new(RegistrationMode::ContactRewrite, 10);
    let seed = register(1, 60, "r");
    let mut x: u64 = 0x1234_5678_9abc_def1;
    for _ in 0..3_000 {
        let mut m = seed.clone();
        for _ in 0..(x % 6) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % m.len();
            m[i] = (x >> 32) as u8;
        }
        lab.client_sends(&m);
        let mut out = Vec::new();
        lab.c
            .from_inside(InsideHop::Stream(1), &m, lab.now, &mut out);
        let _ = SocketAddr::from(([0, 0, 0, 0], 0));
    }
}

mod call_tests;
