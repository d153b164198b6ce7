//! SIP through the edge: the first byte picks where the rest goes — the E↔C envelope reader in
//! chunks (whatever it yields must re-emit to the same octets), E's proxy as bytes from a
//! client flow or as an envelope from C, C's proxy as an envelope from E or bytes from call
//! control, or STUN framing. Both proxies first see a registration so that routing code runs.
//! C carries calls: a description in what arrives is checked and rewritten, and the media it
//! asks for is opened at once (a stand-in), so that held messages go on. Nothing may panic.
#![no_main]
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use signaling::sip::{Host, Transport};
use signaling::sip_edge::calls::{CallAction, CallsConfig, OpenedMedia, OpenedStream};
use signaling::sip_edge::{
    stun, CAction, CProxy, CProxyConfig, EProxy, EProxyConfig, Envelope, EnvelopeReader,
    InsideHop, Kind, OwnNames, RegistrationMode,
};

const REGISTER: &[u8] = b"REGISTER sip:example.test SIP/2.0\r\n\
Via: SIP/2.0/TLS 10.0.0.5:5061;branch=z9hG4bK-f1;rport\r\nMax-Forwards: 70\r\n\
From: <sip:alice@example.test>;tag=a\r\nTo: <sip:alice@example.test>\r\nCall-ID: f@x\r\n\
CSeq: 1 REGISTER\r\nContact: <sip:alice@10.0.0.5:5061;transport=tls>;+sip.instance=\"<urn:uuid:1>\"\r\n\
Expires: 60\r\nContent-Length: 0\r\n\r\n";

fn proxies(mode: RegistrationMode) -> (EProxy, CProxy, u64) {
    let mut e = EProxy::new(EProxyConfig {
        via_host: Host::Name("expe.example.test".into()),
        via_port: 5061,
        own: OwnNames::new([Host::Name("expe.example.test".into())]),
        registration_limit: 4,
        retry_after: Duration::from_secs(5),
        first_flow: 1,
    });
    let c = CProxy::new(CProxyConfig {
        mode,
        host: Host::Name("expc.example.test".into()),
        port: 5060,
        transport: Transport::Tcp,
        own: OwnNames::new([Host::Name("expc.example.test".into())]),
        max_bindings: 8,
        max_pending: 8,
        calls: Some(CallsConfig::new([198, 18, 2, 10].into(), |v| v.contains("AES_CM_128"))),
    });
    let flow = e.open_flow("198.18.1.10:5061".parse().unwrap_or_else(|_| unreachable!()));
    (e, c, flow)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mode = if sel & 0x80 == 0 {
        RegistrationMode::ContactRewrite
    } else {
        RegistrationMode::Path
    };
    let (mut e, mut c, flow) = proxies(mode);
    let mut eo = Vec::new();
    let mut co = Vec::new();
    e.from_client(flow, REGISTER, true, now, &mut eo);
    match sel % 6 {
        0 => {
            let mut r = EnvelopeReader::new();
            for chunk in rest.chunks(usize::from(sel % 7) + 1) {
                r.push(chunk);
                while let Ok(Some(env)) = r.next_envelope() {
                    let again = env.as_envelope().to_bytes();
                    let (back, used) = match Envelope::parse(&again) {
                        Ok(Some(x)) => x,
                        _ => panic!("an envelope read back does not parse"),
                    };
                    assert_eq!(used, again.len());
                    assert_eq!(back, env.as_envelope());
                }
            }
        }
        1 => e.from_client(flow, rest, sel & 0x40 != 0, now, &mut eo),
        2 => {
            let env = Envelope { kind: Kind::ToClient, flow, client: None, message: rest };
            e.from_c(env, now, &mut eo);
        }
        3 => {
            let env = Envelope {
                kind: Kind::FromClient,
                flow,
                client: Some("198.18.1.10:5061".parse().unwrap_or_else(|_| unreachable!())),
                message: rest,
            };
            c.from_e(env, now, &mut co);
        }
        4 => c.from_inside(InsideHop::Stream(1), rest, now, &mut co),
        _ => {
            if let stun::StunFrame::BindingRequest { len } = stun::frame(rest) {
                let mut out = Vec::new();
                stun::binding_success(&rest[..len], "[2001:db8::1]:5".parse().unwrap_or_else(|_| unreachable!()), &mut out);
                assert_eq!(stun::frame(&out), stun::StunFrame::Other { len: out.len() });
            }
        }
    }
    // Open what C asked for, as a driver would, and let the held messages go on.
    for _ in 0..4 {
        let opens: Vec<(u64, usize)> = co
            .drain(..)
            .filter_map(|a| match a {
                CAction::Call(CallAction::Open { call, streams }) => Some((call, streams.len())),
                _ => None,
            })
            .collect();
        for (call, n) in opens {
            let media = OpenedMedia {
                outside_address: [198, 18, 1, 1].into(),
                streams: (0..n)
                    .map(|k| OpenedStream {
                        outside_port: 40000 + 2 * k as u16,
                        inside_port: 50000 + 2 * k as u16,
                        our_crypto: Some("AES_CM_128_HMAC_SHA1_80 inline:AAAA".into()),
                    })
                    .collect(),
            };
            c.media_opened(call, Ok(media), now, &mut co);
        }
    }
    e.expire(now + Duration::from_secs(120));
    c.expire(now + Duration::from_secs(120));
    c.expire(now + Duration::from_secs(400));
});
