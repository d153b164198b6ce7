//! Calls through E and C, sans-IO: the SDP each side sees, the media work C asks for, the
//! dialog's routing through E and C, and every refusal — with a media stand-in.

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::sdp::Sdp;
use crate::sip::Method;
use crate::sip_edge::calls::{
    CallAction, CallsConfig, OpenedMedia, OpenedStream, StreamOpen, DEFAULT_SUITE,
};

const E_MEDIA: &str = "198.18.1.1";
const C_MEDIA: &str = "198.18.2.10";
const CLIENT_KEY: &str = "AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
const OUR_KEY: &str = "AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj";

fn accept(v: &str) -> bool {
    v.contains("AES_CM_128_HMAC_SHA1_80") || v.contains("AES_CM_128_HMAC_SHA1_32")
}

fn config() -> CallsConfig {
    CallsConfig::new(C_MEDIA.parse().unwrap(), accept)
}

/// Streams k get E port 40000 + 2k, C port 50000 + 2k, and our key.
fn open_ok(_call: u64, streams: &[StreamOpen]) -> Result<OpenedMedia, String> {
    Ok(OpenedMedia {
        outside_address: E_MEDIA.parse().unwrap(),
        streams: (0..streams.len())
            .map(|k| OpenedStream {
                outside_port: 40000 + 2 * k as u16,
                inside_port: 50000 + 2 * k as u16,
                our_crypto: streams[k].suite.as_ref().map(|_| OUR_KEY.to_owned()),
            })
            .collect(),
    })
}

fn open_fails(_call: u64, _: &[StreamOpen]) -> Result<OpenedMedia, String> {
    Err("E refused the media: Exhausted".into())
}

fn sdp(addr: &str, proto: &str, crypto: Option<&str>, extra: &str) -> String {
    let crypto = crypto
        .map(|k| format!("a=crypto:{k}\r\n"))
        .unwrap_or_default();
    format!(
        "v=0\r\no=- 1 1 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n\
         m=audio 30000 {proto} 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
         {crypto}a=sendrecv\r\n{extra}"
    )
}

fn client_offer() -> String {
    sdp(
        "198.18.1.10",
        "RTP/SAVP",
        Some(&format!("1 {CLIENT_KEY}")),
        "",
    )
}

fn with_body(head: &str, body: &str) -> Vec<u8> {
    let ct = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".to_owned()
    };
    format!("{head}{ct}Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

fn client_invite(cseq: u32, to_tag: Option<&str>, body: &str) -> Vec<u8> {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let route = if to_tag.is_empty() {
        "Route: <sip:expc.example.test:5061;transport=tls;lr>\r\n".to_owned()
    } else {
        "Route: <sip:expe.example.test:5061;transport=tls;lr>\r\n\
         Route: <sip:198.18.2.10:5060;transport=tcp;lr>\r\n\
         Route: <sip:198.18.2.20;lr>\r\n"
            .to_owned()
    };
    with_body(
        &format!(
            "INVITE sip:bob@example.test SIP/2.0\r\n\
             Via: SIP/2.0/TLS 10.0.0.5:50612;branch=z9hG4bK-inv{cseq};rport\r\n\
             {route}Max-Forwards: 70\r\n\
             From: <sip:alice@example.test>;tag=a1\r\n\
             To: <sip:bob@example.test>{to_tag}\r\n\
             Call-ID: call-1@10.0.0.5\r\n\
             CSeq: {cseq} INVITE\r\n\
             Contact: <sip:alice@10.0.0.5:50612;transport=tls;ob>\r\n"
        ),
        body,
    )
}

fn client_request(method: &str, cseq: u32, branch: &str, to_tag: Option<&str>) -> Vec<u8> {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    with_body(
        &format!(
            "{method} sip:bob@198.18.2.100 SIP/2.0\r\n\
             Via: SIP/2.0/TLS 10.0.0.5:50612;branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@example.test>;tag=a1\r\n\
             To: <sip:bob@example.test>{to_tag}\r\n\
             Call-ID: call-1@10.0.0.5\r\n\
             CSeq: {cseq} {method}\r\n"
        ),
        "",
    )
}

/// The inside party's answer to what reached call control (its Record-Route copied, as a UAS
/// does).
fn inside_answer(req: &Message, code: u16, body: &str) -> Vec<u8> {
    let mut r = req
        .response(code, "OK", (code > 100).then_some("b9"))
        .unwrap();
    for rr in req.record_routes() {
        r.append_header("Record-Route", rr.to_string().as_bytes())
            .unwrap();
    }
    r.append_header("Contact", b"<sip:bob@198.18.2.100:5060>")
        .unwrap();
    if !body.is_empty() {
        r.append_header("Content-Type", b"application/sdp").unwrap();
        r.set_body(body.as_bytes().to_vec()).unwrap();
    }
    r.to_bytes()
}

fn body_of(m: &Message) -> Sdp {
    Sdp::parse(m.body()).unwrap()
}

fn last<T>(v: &mut Vec<T>, what: &str) -> T {
    v.pop().unwrap_or_else(|| panic!("{what}"))
}

/// alice (outside) calls bob (inside): the offer is opened and rewritten, the answer too,
/// the dialog routes through E and C, and BYE closes the media.
#[test]
fn outside_to_inside_call_rewrites_both_ways_and_closes_on_bye() {
    let mut lab = Lab::with_calls(config(), open_ok);
    lab.registers(1, 300, 300);
    lab.client_sends(&client_invite(1, None, &client_offer()));

    // C asked for one stream: our key in the client's suite, the client's key for its side.
    let open = lab.media.first().expect("media opened").clone();
    let CallAction::Open { call, streams } = open else {
        panic!("{open:?}")
    };
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].suite.as_deref(), Some(DEFAULT_SUITE));
    assert_eq!(
        streams[0].peer_crypto.as_deref(),
        Some(format!("1 {CLIENT_KEY}").as_str())
    );
    assert_eq!(streams[0].inside_remote, None);

    // Call control sees plain RTP at C's inside address and port, no key, and E and C in the
    // Record-Route (C's carrying alice's binding token).
    let invite = parse(&last(&mut lab.to_call_control, "INVITE went inside"));
    let offer = body_of(&invite);
    let m = offer.media(0).unwrap();
    assert_eq!((m.port, m.proto.as_str()), (50000, "RTP/AVP"));
    assert_eq!(
        offer.connection_of(0).unwrap().ip(),
        Some(C_MEDIA.parse::<IpAddr>().unwrap())
    );
    assert_eq!(offer.sections()[0].crypto().count(), 0);
    assert!(offer.sections()[0].has_attribute("rtpmap"), "codecs kept");
    let rr: Vec<String> = invite.record_routes().map(|r| r.to_string()).collect();
    assert_eq!(rr.len(), 2, "{rr:?}");
    assert!(
        rr[0].contains("198.18.2.10:5060") && rr[0].contains('@'),
        "{rr:?}"
    );
    assert!(rr[1].contains("expe.example.test:5061"), "{rr:?}");

    // bob answers in plain RTP: C learns where bob wants media, alice gets SRTP at E with our
    // key under her tag.
    let answer = sdp("198.18.2.100", "RTP/AVP", None, "");
    lab.call_control_sends(InsideHop::Stream(1), &inside_answer(&invite, 200, &answer));
    let ok = parse(&last(&mut lab.to_client, "200 reached alice"));
    assert_eq!(ok.status(), Some(200));
    let theirs = body_of(&ok);
    let m = theirs.media(0).unwrap();
    assert_eq!((m.port, m.proto.as_str()), (40000, "RTP/SAVP"));
    assert_eq!(
        theirs.connection_of(0).unwrap().ip(),
        Some(E_MEDIA.parse::<IpAddr>().unwrap())
    );
    let crypto: Vec<&str> = theirs.sections()[0].crypto().collect();
    assert_eq!(crypto, vec![format!("1 {OUR_KEY}").as_str()]);
    let update = lab.media.last().unwrap().clone();
    let CallAction::Update { call: c2, update } = update else {
        panic!("{update:?}")
    };
    assert_eq!(c2, call);
    assert_eq!(
        update.inside_remote,
        Some((
            "198.18.2.100:30000".parse().unwrap(),
            "198.18.2.100:30001".parse().unwrap()
        ))
    );
    let calls = lab.c.calls().unwrap();
    assert_eq!(calls.active(), 1);
    assert_eq!(
        calls.current(lab.now)[0].state,
        calls::CallState::Established
    );

    // BYE from alice inside the dialog: through E and C to call control; the media is closed.
    let mut bye = client_request("BYE", 2, "z9hG4bK-bye", Some("b9"));
    bye.splice(
        bye.iter().position(|&b| b == b'\n').unwrap() + 1..bye.iter().position(|&b| b == b'\n').unwrap() + 1,
        b"Route: <sip:expe.example.test:5061;transport=tls;lr>\r\nRoute: <sip:198.18.2.10:5060;transport=tcp;lr>\r\nRoute: <sip:198.18.2.20;lr>\r\n"
            .iter()
            .copied(),
    );
    lab.client_sends(&bye);
    let at_cc = parse(&last(&mut lab.to_call_control, "BYE went inside"));
    let routes: Vec<String> = at_cc.routes().map(|r| r.to_string()).collect();
    assert_eq!(
        routes,
        vec!["<sip:198.18.2.20;lr>"],
        "E's and C's routes consumed"
    );
    assert_eq!(lab.media.last(), Some(&CallAction::Close { call }));
    let calls = lab.c.calls().unwrap();
    assert_eq!(calls.active(), 0);
    let h: Vec<_> = calls.history().collect();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].ended.as_deref(), Some("BYE from outside"));
    assert!(h[0].talk_time.is_some());
    assert_eq!(calls.stats().audio_only, 1);
}

/// bob (inside) calls alice (outside): C offers alice SRTP with our key, alice's key in her
/// answer keys C's inbound side, and the dialog's requests from inside find alice by C's
/// Record-Route.
#[test]
fn inside_to_outside_call_offers_our_key_and_routes_in_dialog_requests() {
    let mut lab = Lab::with_calls(config(), open_ok);
    let (at_registrar, _) = lab.registers(1, 300, 300);
    let contact = at_registrar.contacts().next().unwrap().uri.to_string();
    let offer = sdp("198.18.2.100", "RTP/AVP", None, "");
    let invite = with_body(
        &format!(
            "INVITE {contact} SIP/2.0\r\n\
             Via: SIP/2.0/TCP 198.18.2.20:5060;branch=z9hG4bK-kinv;rport\r\n\
             Record-Route: <sip:198.18.2.20;lr>\r\n\
             Max-Forwards: 69\r\n\
             From: <sip:bob@example.test>;tag=b1\r\n\
             To: <sip:alice@example.test>\r\n\
             Call-ID: call-2@198.18.2.100\r\n\
             CSeq: 10 INVITE\r\n\
             Contact: <sip:bob@198.18.2.100:5060>\r\n"
        ),
        &offer,
    );
    lab.call_control_sends(InsideHop::Stream(3), &invite);
    let CallAction::Open { call, streams } = lab.media[0].clone() else {
        panic!("{:?}", lab.media)
    };
    assert_eq!(streams[0].suite.as_deref(), Some(DEFAULT_SUITE));
    assert_eq!(streams[0].peer_crypto, None);
    assert_eq!(
        streams[0].inside_remote.map(|r| r.0),
        Some("198.18.2.100:30000".parse().unwrap())
    );

    let at_alice = parse(&last(&mut lab.to_client, "INVITE reached alice"));
    let o = body_of(&at_alice);
    assert_eq!(o.media(0).unwrap().proto, "RTP/SAVP");
    assert_eq!(o.media(0).unwrap().port, 40000);
    assert_eq!(
        o.sections()[0].crypto().collect::<Vec<_>>(),
        vec![format!("1 {OUR_KEY}").as_str()]
    );
    let rr: Vec<String> = at_alice.record_routes().map(|r| r.to_string()).collect();
    assert_eq!(rr.len(), 3, "E, C, call control: {rr:?}");
    assert!(rr[0].contains("expe.example.test"));
    let c_route = rr[1].clone();

    // alice answers with her key: C's inbound side gets it; bob gets plain RTP at C.
    let mut ok = at_alice.response(200, "OK", Some("a7")).unwrap();
    for r in at_alice.record_routes() {
        ok.append_header("Record-Route", r.to_string().as_bytes())
            .unwrap();
    }
    ok.append_header("Contact", b"<sip:alice@10.0.0.5:50612;transport=tls;ob>")
        .unwrap();
    ok.append_header("Content-Type", b"application/sdp")
        .unwrap();
    ok.set_body(client_offer().into_bytes()).unwrap();
    lab.client_sends(&ok.to_bytes());
    let (hop, back) = last(&mut lab.to_inside, "200 reached bob");
    assert_eq!(hop, InsideHop::Stream(3));
    let back = parse(&back);
    let a = body_of(&back);
    assert_eq!(a.media(0).unwrap().proto, "RTP/AVP");
    assert_eq!(a.media(0).unwrap().port, 50000);
    assert_eq!(a.sections()[0].crypto().count(), 0);
    assert!(lab.media.contains(&CallAction::Update {
        call,
        update: calls::StreamUpdate {
            stream: 0,
            peer_crypto: Some(format!("1 {CLIENT_KEY}")),
            inside_remote: None,
        }
    }));

    // bob's BYE through call control: Route C (with the token), E; R-URI alice's Contact.
    let bye = format!(
        "BYE sip:alice@10.0.0.5:50612;transport=tls;ob SIP/2.0\r\n\
         Via: SIP/2.0/TCP 198.18.2.20:5060;branch=z9hG4bK-kbye;rport\r\n\
         Route: {c_route}\r\n\
         Route: <sip:expe.example.test:5061;transport=tls;lr>\r\n\
         Max-Forwards: 69\r\n\
         From: <sip:bob@example.test>;tag=b1\r\n\
         To: <sip:alice@example.test>;tag=a7\r\n\
         Call-ID: call-2@198.18.2.100\r\n\
         CSeq: 11 BYE\r\n\
         Content-Length: 0\r\n\r\n"
    );
    lab.call_control_sends(InsideHop::Stream(3), bye.as_bytes());
    let at_alice = parse(&last(&mut lab.to_client, "BYE reached alice"));
    assert_eq!(at_alice.method(), Some(&Method::Bye));
    assert_eq!(at_alice.routes().count(), 0, "C's and E's routes consumed");
    assert_eq!(
        at_alice.request_uri().unwrap().to_string(),
        "sip:alice@10.0.0.5:50612;transport=tls;ob",
        "a dialog's remote target is not rewritten"
    );
    assert_eq!(lab.media.last(), Some(&CallAction::Close { call }));
    assert_eq!(lab.c.calls().unwrap().active(), 0);
}

fn refused_with(lab: &mut Lab, invite: &[u8]) -> Message {
    lab.client_sends(invite);
    parse(&last(&mut lab.to_client, "answered"))
}

#[test]
fn unacceptable_offers_are_refused_and_nothing_is_opened() {
    let mut lab = Lab::with_calls(config(), open_ok);
    lab.registers(1, 300, 300);
    // Plain RTP from outside.
    let plain = sdp("198.18.1.10", "RTP/AVP", None, "");
    let r = refused_with(&mut lab, &client_invite(1, None, &plain));
    assert_eq!(r.status(), Some(488), "{r:?}");
    // SRTP with only a suite we do not do.
    let odd = sdp(
        "198.18.1.10",
        "RTP/SAVP",
        Some("1 F8_128_HMAC_SHA1_80 inline:AAAA"),
        "",
    );
    assert_eq!(
        refused_with(&mut lab, &client_invite(2, None, &odd)).status(),
        Some(488)
    );
    // A description that does not parse.
    let broken = "v=0\r\nthis is not sdp\r\n";
    assert_eq!(
        refused_with(&mut lab, &client_invite(3, None, broken)).status(),
        Some(400)
    );
    // A huge one (more lines than the SDP limits allow).
    let mut huge = client_offer();
    for i in 0..1000 {
        huge.push_str(&format!("a=x-filler:{i}\r\n"));
    }
    assert_eq!(
        refused_with(&mut lab, &client_invite(4, None, &huge)).status(),
        Some(400)
    );
    // No stream at all to carry.
    let bfcp = "v=0\r\no=- 1 1 IN IP4 198.18.1.10\r\ns=-\r\nc=IN IP4 198.18.1.10\r\nt=0 0\r\n\
                m=application 5070 UDP/BFCP *\r\n";
    assert_eq!(
        refused_with(&mut lab, &client_invite(5, None, bfcp)).status(),
        Some(488)
    );

    assert!(lab.media.is_empty(), "nothing opened: {:?}", lab.media);
    assert!(lab.to_call_control.is_empty() || lab.to_call_control.len() == 1);
    let calls = lab.c.calls().unwrap();
    assert_eq!(calls.active(), 0, "no call left behind");
    assert_eq!(calls.stats().rejected_sdp, 3);
    assert_eq!(calls.stats().rejected_malformed_sdp, 2);
}

#[test]
fn best_effort_carries_plain_rtp_outside() {
    let mut cfg = config();
    cfg.best_effort = true;
    let mut lab = Lab::with_calls(cfg, open_ok);
    lab.registers(1, 300, 300);
    let plain = sdp("198.18.1.10", "RTP/AVP", None, "");
    lab.client_sends(&client_invite(1, None, &plain));
    let CallAction::Open { streams, .. } = lab.media[0].clone() else {
        panic!()
    };
    assert_eq!(streams[0].suite, None, "a plain outside leg");
    let invite = parse(&last(&mut lab.to_call_control, "INVITE went inside"));
    assert_eq!(body_of(&invite).media(0).unwrap().proto, "RTP/AVP");
}

#[test]
fn call_limit_gives_503_with_retry_after_and_media_failure_gives_503() {
    let mut cfg = config();
    cfg.max_calls = 1;
    let mut lab = Lab::with_calls(cfg, open_ok);
    lab.registers(1, 300, 300);
    lab.client_sends(&client_invite(1, None, &client_offer()));
    assert!(lab.to_call_control.pop().is_some());
    let mut second = client_invite(1, None, &client_offer());
    let text = String::from_utf8(second.clone()).unwrap();
    second = text
        .replace("call-1@", "call-2@")
        .replace("inv1", "inv9")
        .into_bytes();
    let r = refused_with(&mut lab, &second);
    assert_eq!(r.status(), Some(503));
    assert_eq!(r.header("Retry-After"), Some(&b"10"[..]));
    assert_eq!(lab.c.calls().unwrap().stats().rejected_limit, 1);

    let mut lab = Lab::with_calls(config(), open_fails);
    lab.registers(1, 300, 300);
    let r = refused_with(&mut lab, &client_invite(1, None, &client_offer()));
    assert_eq!(r.status(), Some(503));
    assert!(r.header("Retry-After").is_some());
    let calls = lab.c.calls().unwrap();
    assert_eq!(calls.active(), 0);
    assert_eq!(calls.stats().media_failed, 1);
    assert!(lab
        .to_call_control
        .iter()
        .all(|m| !parse(m).is_request() || parse(m).method() != Some(&Method::Invite)));
}

#[test]
fn cancel_takes_the_invites_branch_and_487_closes_the_media() {
    let mut lab = Lab::with_calls(config(), open_ok);
    lab.registers(1, 300, 300);
    lab.client_sends(&client_invite(1, None, &client_offer()));
    let invite = parse(&last(&mut lab.to_call_control, "INVITE"));
    lab.client_sends(&client_request("CANCEL", 1, "z9hG4bK-inv1", None));
    let cancel = parse(&last(&mut lab.to_call_control, "CANCEL"));
    assert_eq!(cancel.method(), Some(&Method::Cancel));
    let branches = |m: &Message| {
        m.vias()
            .map(|v| v.branch().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        branches(&cancel),
        branches(&invite),
        "same branches at every hop"
    );
    let CallAction::Open { call, .. } = lab.media[0].clone() else {
        panic!()
    };
    lab.call_control_sends(
        InsideHop::Stream(1),
        &invite
            .response(487, "Request Terminated", Some("b9"))
            .unwrap()
            .to_bytes(),
    );
    let r = parse(&last(&mut lab.to_client, "487 reached alice"));
    assert_eq!(r.status(), Some(487));
    assert_eq!(lab.media.last(), Some(&CallAction::Close { call }));
    let calls = lab.c.calls().unwrap();
    assert_eq!(calls.active(), 0);
    assert_eq!(
        calls.history().next().unwrap().ended.as_deref(),
        Some("487 from inside")
    );
}

#[test]
fn unknown_dialogs_get_481_and_glare_491() {
    let mut lab = Lab::with_calls(config(), open_ok);
    lab.registers(1, 300, 300);
    // A BYE and a re-INVITE for a dialog C never saw.
    let r = refused_with(&mut lab, &client_request("BYE", 5, "z9hG4bK-x", Some("zz")));
    assert_eq!(r.status(), Some(481));
    let r = refused_with(&mut lab, &client_invite(6, Some("zz"), &client_offer()));
    assert_eq!(r.status(), Some(481));
    assert_eq!(lab.c.calls().unwrap().stats().rejected_unknown_dialog, 2);

    // A call, answered.
    lab.client_sends(&client_invite(1, None, &client_offer()));
    let invite = parse(&last(&mut lab.to_call_control, "INVITE"));
    let answer = sdp("198.18.2.100", "RTP/AVP", None, "");
    lab.call_control_sends(InsideHop::Stream(1), &inside_answer(&invite, 200, &answer));
    lab.to_client.clear();
    // bob re-INVITEs (hold) and, before it is answered, alice re-INVITEs too: 491 for alice.
    let contact = lab.c.bindings(1)[0].1.contact.uri.to_string();
    let rr = invite
        .record_routes()
        .map(|r| r.to_string())
        .collect::<Vec<_>>();
    let hold = with_body(
        &format!(
            "INVITE {contact} SIP/2.0\r\n\
             Via: SIP/2.0/TCP 198.18.2.20:5060;branch=z9hG4bK-khold;rport\r\n\
             Route: {}\r\nRoute: {}\r\n\
             Max-Forwards: 69\r\n\
             From: <sip:bob@example.test>;tag=b9\r\n\
             To: <sip:alice@example.test>;tag=a1\r\n\
             Call-ID: call-1@10.0.0.5\r\n\
             CSeq: 20 INVITE\r\n",
            rr[0], rr[1]
        ),
        &sdp("198.18.2.100", "RTP/AVP", None, "a=sendonly\r\n"),
    );
    lab.call_control_sends(InsideHop::Stream(1), &hold);
    let at_alice = parse(&last(&mut lab.to_client, "re-INVITE reached alice"));
    let held = body_of(&at_alice);
    assert!(
        held.sections()[0].has_attribute("sendonly"),
        "direction passes"
    );
    assert_eq!(held.media(0).unwrap().port, 40000, "same ports");
    let r = refused_with(&mut lab, &client_invite(2, Some("b9"), &client_offer()));
    assert_eq!(r.status(), Some(491));
    assert_eq!(lab.c.calls().unwrap().stats().rejected_glare, 1);
    assert_eq!(lab.c.calls().unwrap().active(), 1, "the call goes on");
}

#[test]
fn setup_timeout_and_media_inactivity_end_calls() {
    let mut cfg = config();
    cfg.setup_timeout = Duration::from_secs(60);
    let mut lab = Lab::with_calls(cfg, open_ok);
    lab.registers(1, 300, 300);
    lab.client_sends(&client_invite(1, None, &client_offer()));
    let CallAction::Open { call, .. } = lab.media[0].clone() else {
        panic!()
    };
    lab.now += Duration::from_secs(61);
    lab.c.expire(lab.now);
    let mut out = Vec::new();
    lab.c.drain_calls(&mut out);
    lab.pump_c(out);
    assert_eq!(lab.media.last(), Some(&CallAction::Close { call }));
    assert_eq!(lab.c.calls().unwrap().stats().setup_timeouts, 1);

    // An answered call whose media goes quiet.
    let mut text = String::from_utf8(client_invite(1, None, &client_offer())).unwrap();
    text = text.replace("call-1@", "call-3@").replace("inv1", "inv3");
    lab.client_sends(text.as_bytes());
    let invite = parse(&last(&mut lab.to_call_control, "INVITE"));
    let CallAction::Open { call, .. } = lab
        .media
        .iter()
        .rev()
        .find(|a| matches!(a, CallAction::Open { .. }))
        .unwrap()
        .clone()
    else {
        panic!()
    };
    let answer = sdp("198.18.2.100", "RTP/AVP", None, "");
    lab.call_control_sends(InsideHop::Stream(1), &inside_answer(&invite, 200, &answer));
    lab.to_client.clear();
    lab.to_call_control.clear();
    let mut out = Vec::new();
    lab.c.media_inactive(call, lab.now, &mut out);
    lab.pump_c(out);
    assert_eq!(lab.media.last(), Some(&CallAction::Close { call }));
    // C ends the dialog at both parties, each BYE in the other party's name.
    let to_alice = parse(&last(&mut lab.to_client, "BYE reached alice"));
    assert_eq!(to_alice.method(), Some(&Method::Bye));
    assert_eq!(
        to_alice.request_uri().unwrap().to_string(),
        "sip:alice@10.0.0.5:50612;transport=tls;ob"
    );
    assert_eq!(to_alice.from().tag(), Some("b9"));
    assert_eq!(to_alice.to().tag(), Some("a1"));
    assert!(to_alice.header("Reason").is_some());
    let to_bob = parse(&last(&mut lab.to_call_control, "BYE went inside"));
    assert_eq!(to_bob.method(), Some(&Method::Bye));
    assert_eq!(
        to_bob.request_uri().unwrap().to_string(),
        "sip:bob@198.18.2.100:5060"
    );
    assert_eq!(to_bob.from().tag(), Some("a1"));
    assert_eq!(to_bob.to().tag(), Some("b9"));
    assert!(to_bob.cseq().seq > 1);
    // Their answers end at C.
    let before = lab.c.stats().dropped_responses;
    lab.call_control_sends(
        InsideHop::Stream(1),
        &to_bob.response(200, "OK", None).unwrap().to_bytes(),
    );
    lab.client_sends(&to_alice.response(200, "OK", None).unwrap().to_bytes());
    assert!(lab.to_client.is_empty() && lab.to_inside.is_empty());
    assert_eq!(lab.c.stats().dropped_responses, before);
    assert_eq!(lab.c.stats().byes_sent, 2);
    let calls = lab.c.calls().unwrap();
    assert_eq!(calls.stats().media_timeouts, 1);
    assert_eq!(calls.active(), 0);
}

/// Early media (183 with a description, reliable: PRACK) and an UPDATE that moves the inside
/// party's media: each description is rewritten on its way and each move reaches the relay.
#[test]
fn early_media_prack_and_update_are_anchored() {
    let mut lab = Lab::with_calls(config(), open_ok);
    lab.registers(1, 300, 300);
    lab.client_sends(&client_invite(1, None, &client_offer()));
    let CallAction::Open { call, .. } = lab.media[0].clone() else {
        panic!("{:?}", lab.media)
    };
    let invite = parse(&last(&mut lab.to_call_control, "INVITE went inside"));

    // 183 Session Progress with bob's description, sent reliably.
    let early = sdp("198.18.2.100", "RTP/AVP", None, "");
    let mut r183 = parse(&inside_answer(&invite, 183, &early));
    r183.append_header("Require", b"100rel").unwrap();
    r183.append_header("RSeq", b"1").unwrap();
    lab.call_control_sends(InsideHop::Stream(1), &r183.to_bytes());
    let at_alice = parse(&last(&mut lab.to_client, "183 reached alice"));
    assert_eq!(at_alice.status(), Some(183));
    let e = body_of(&at_alice);
    assert_eq!(e.media(0).unwrap().proto, "RTP/SAVP");
    assert_eq!(e.media(0).unwrap().port, 40000);
    assert_eq!(
        lab.c.calls().unwrap().current(lab.now)[0].state,
        calls::CallState::Early
    );
    assert!(lab.media.iter().any(|a| matches!(a,
        CallAction::Update { call: c, update } if *c == call && update.inside_remote.is_some())));

    // alice's PRACK goes inside (a request in the early dialog C knows).
    let mut prack = client_request("PRACK", 2, "z9hG4bK-prack", Some("b9"));
    let at = prack.iter().position(|&b| b == b'\n').unwrap() + 1;
    prack.splice(at..at, b"RAck: 1 1 INVITE\r\n".iter().copied());
    lab.client_sends(&prack);
    let p = parse(&last(&mut lab.to_call_control, "PRACK went inside"));
    assert_eq!(p.method(), Some(&Method::Prack));

    // The 200 to the INVITE, then bob moves his media with an UPDATE.
    lab.call_control_sends(InsideHop::Stream(1), &inside_answer(&invite, 200, &early));
    let _ = last(&mut lab.to_client, "200 reached alice");
    let moved = sdp("198.18.2.101", "RTP/AVP", None, "").replace("30000", "31000");
    let contact = lab.c.bindings(1)[0].1.contact.uri.to_string();
    let rr = invite
        .record_routes()
        .map(|r| r.to_string())
        .collect::<Vec<_>>();
    let update = with_body(
        &format!(
            "UPDATE {contact} SIP/2.0\r\n\
             Via: SIP/2.0/TCP 198.18.2.20:5060;branch=z9hG4bK-kupd;rport\r\n\
             Route: {}\r\nRoute: {}\r\n\
             Max-Forwards: 69\r\n\
             From: <sip:bob@example.test>;tag=b9\r\n\
             To: <sip:alice@example.test>;tag=a1\r\n\
             Call-ID: call-1@10.0.0.5\r\n\
             CSeq: 30 UPDATE\r\n",
            rr[0], rr[1]
        ),
        &moved,
    );
    lab.call_control_sends(InsideHop::Stream(1), &update);
    let u = parse(&last(&mut lab.to_client, "UPDATE reached alice"));
    assert_eq!(u.method(), Some(&Method::Update));
    let d = body_of(&u);
    assert_eq!(
        d.media(0).unwrap().port,
        40000,
        "alice's side of the relay stays"
    );
    assert_eq!(
        d.sections()[0].crypto().next(),
        Some(format!("1 {OUR_KEY}").as_str()),
        "our key, under alice's tag"
    );
    assert_eq!(
        lab.media.last(),
        Some(&CallAction::Update {
            call,
            update: calls::StreamUpdate {
                stream: 0,
                peer_crypto: None,
                inside_remote: Some((
                    "198.18.2.101:31000".parse().unwrap(),
                    "198.18.2.101:31001".parse().unwrap()
                )),
            }
        })
    );
}

/// An offer with audio and video: two streams through the relay, the call counted as video;
/// a BFCP section beside them is refused on the other side (port 0), not carried.
#[test]
fn audio_video_and_bfcp_sections() {
    let mut lab = Lab::with_calls(config(), open_ok);
    lab.registers(1, 300, 300);
    let key = format!("1 {CLIENT_KEY}");
    let offer = format!(
        "{}m=video 30002 RTP/SAVP 96\r\na=rtpmap:96 H264/90000\r\na=crypto:{key}\r\n\
         m=application 5070 UDP/BFCP *\r\na=floorctrl:c-s\r\n",
        client_offer()
    );
    lab.client_sends(&client_invite(1, None, &offer));
    let CallAction::Open { streams, .. } = lab.media[0].clone() else {
        panic!("{:?}", lab.media)
    };
    let kinds: Vec<&str> = streams.iter().map(|s| s.media.as_str()).collect();
    assert_eq!(kinds, ["audio", "video"]);
    let invite = parse(&last(&mut lab.to_call_control, "INVITE went inside"));
    let o = body_of(&invite);
    let ports: Vec<u16> = (0..3).map(|i| o.media(i).unwrap().port).collect();
    assert_eq!(ports, [50000, 50002, 0]);
    assert_eq!(o.media(1).unwrap().proto, "RTP/AVP");
    let stats = lab.c.calls().unwrap().stats().clone();
    assert_eq!((stats.video, stats.audio_only), (1, 0));
}

/// Random damage to INVITEs with descriptions (and to their answers) never panics, and after
/// the set-up timeout every call C opened media for has had it closed: nothing leaks.
#[test]
fn random_offers_and_answers_never_panic_and_leave_nothing_open() {
    let mut lab = Lab::with_calls(config(), open_ok);
    lab.registers(1, 300, 300);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..2_000 {
        let text = String::from_utf8(client_invite(1, None, &client_offer()))
            .unwrap()
            .replace("call-1@", &format!("call-r{i}@"))
            .replace("inv1", &format!("r{i}"));
        let mut m = text.into_bytes();
        for _ in 0..(next() % 5) {
            let r = next();
            let at = (r as usize) % m.len();
            m[at] = (r >> 40) as u8;
        }
        lab.client_sends(&m);
        // Whatever reached call control gets an answer, damaged too, now and then.
        if let Some(inv) = lab.to_call_control.pop() {
            if let Ok(req) = Message::parse(&inv) {
                let mut a = inside_answer(&req, 200, &sdp("198.18.2.100", "RTP/AVP", None, ""));
                if next() % 2 == 0 {
                    let r = next();
                    let at = (r as usize) % a.len();
                    a[at] = (r >> 40) as u8;
                }
                let mut out = Vec::new();
                lab.c
                    .from_inside(InsideHop::Stream(1), &a, lab.now, &mut out);
                lab.pump_c(out);
            }
        }
        lab.to_client.clear();
        lab.to_inside.clear();
    }
    // Answered calls end by BYE or inactivity; the rest by the set-up timeout.
    let active: Vec<u64> = lab
        .c
        .calls()
        .unwrap()
        .current(lab.now)
        .iter()
        .map(|r| r.id)
        .collect();
    for id in active {
        let mut out = Vec::new();
        lab.c.media_inactive(id, lab.now, &mut out);
        lab.pump_c(out);
    }
    lab.now += Duration::from_secs(400);
    lab.c.expire(lab.now);
    let mut out = Vec::new();
    lab.c.drain_calls(&mut out);
    lab.pump_c(out);
    assert_eq!(lab.c.calls().unwrap().active(), 0);
    let opened: Vec<u64> = lab
        .media
        .iter()
        .filter_map(|a| match a {
            CallAction::Open { call, .. } => Some(*call),
            _ => None,
        })
        .collect();
    assert!(
        opened.len() > 100,
        "most damaged offers still parse: {}",
        opened.len()
    );
    for call in opened {
        assert!(
            lab.media.contains(&CallAction::Close { call }),
            "call {call} opened and never closed"
        );
    }
}

/// Call control on C's own address (another port): its Record-Route is not C's, so requests
/// in the dialog keep their Route to it.
#[test]
fn call_control_beside_c_keeps_its_route() {
    let mut lab = Lab::with_calls(config(), open_ok);
    let mut cfg = c_config(RegistrationMode::ContactRewrite);
    cfg.own = cfg.own.clone().on_ports([5060, 5061]);
    cfg.calls = Some(config());
    lab.c = CProxy::new(cfg);
    lab.registers(1, 300, 300);
    // (An INFO: a BYE for a dialog C never saw would get 481 from C.)
    let mut bye = client_request("INFO", 2, "z9hG4bK-info", Some("b9"));
    let at = bye.iter().position(|&b| b == b'\n').unwrap() + 1;
    bye.splice(
        at..at,
        b"Route: <sip:expe.example.test:5061;transport=tls;lr>\r\n\
          Route: <sip:198.18.2.10:5060;transport=tcp;lr>\r\n\
          Route: <sip:198.18.2.10:25160;lr>\r\n"
            .iter()
            .copied(),
    );
    lab.client_sends(&bye);
    let at_cc = parse(&last(&mut lab.to_call_control, "INFO went inside"));
    let routes: Vec<String> = at_cc.routes().map(|r| r.to_string()).collect();
    assert_eq!(routes, vec!["<sip:198.18.2.10:25160;lr>"]);
}
