//! C's media for calls: per stream, two legs on C's media plane joined in the relay.
//!
//! - the **outside leg** talks to E: it sends to E's multiplexed traversal pair (E's address on
//!   the traversal link, the pair and multiplex id E allocated), every datagram framed with that
//!   id, and accepts only what comes from there. It terminates SRTP: packets from the client are
//!   unprotected with the client's key (its `a=crypto`), packets to the client protected with
//!   ours, one fresh key per stream and call.
//! - the **inside leg** talks to the inside party in plain RTP: it sends where that party's SDP
//!   says and latches to the first packet from it until then.
//!
//! A call one of whose legs went quiet (the plane's inactivity events, checked against the legs'
//! counters: no RTP nor RTCP for `media.inactivity_seconds`) is reported to the driver, which
//! ends it with a BYE to each party.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use media::relay::engine::{Event, LatchPolicy, LegConfig};
use media::runtime::{LegPorts, LegRef, LegRequest, MediaPlane};
use media::sdes::CryptoAttribute;
use media::srtp::{Context, MasterKey, Policy, Suite};
use signaling::sip_edge::calls::{StreamOpen, StreamUpdate};
use signaling::sip_edge::driver::{CallMedia, StreamCounters};
use signaling::traversal::control::{MediaUsage, StreamAllocation};

/// One stream's legs and our key on the outside.
struct StreamLegs {
    /// The outside leg (side A of the plane's call; the inside leg is its peer).
    outside: LegRef,
    /// Our sending key, to build the outbound context again when the inbound one changes.
    ours: Option<CryptoAttribute>,
}

#[derive(Default)]
struct State {
    calls: HashMap<u64, Vec<StreamLegs>>,
    /// Plane call (leg's call number) → our call.
    by_plane_call: HashMap<u64, u64>,
    /// Calls one of whose legs reported inactivity, with when.
    quiet: HashMap<u64, Instant>,
}

/// C's media plane behind the SIP driver.
pub(crate) struct CMedia {
    plane: Arc<MediaPlane>,
    state: Arc<Mutex<State>>,
    inactivity: Duration,
}

/// Whether C's relay can use an `a=crypto` value: a suite it implements, key parameters and
/// session parameters it accepts (the SDES parser and policy decide).
pub(crate) fn accept_crypto(value: &str) -> bool {
    value
        .parse::<CryptoAttribute>()
        .ok()
        .is_some_and(|a| a.context(Policy::new(a.suite)).is_ok())
}

fn context_of(value: &str) -> Result<Context, String> {
    let a: CryptoAttribute = value
        .parse()
        .map_err(|e| format!("a=crypto {value:?}: {e}"))?;
    a.context(Policy::new(a.suite))
        .map_err(|e| format!("a=crypto: {e}"))
}

/// `<suite> <key-params>`: an attribute without its tag.
fn untagged(a: &CryptoAttribute) -> String {
    let s = a.to_string();
    match s.split_once(' ') {
        Some((_, rest)) => rest.to_owned(),
        None => s,
    }
}

impl CMedia {
    pub(crate) fn new(plane: MediaPlane, inactivity: Duration) -> Self {
        let plane = Arc::new(plane);
        let state = Arc::new(Mutex::new(State::default()));
        let (p, s) = (Arc::downgrade(&plane), Arc::downgrade(&state));
        std::thread::Builder::new()
            .name("c-media-events".into())
            .spawn(move || loop {
                let Some(plane) = p.upgrade() else { return };
                let ev = plane.next_event(Duration::from_millis(500));
                drop(plane);
                let Some(ev) = ev else { continue };
                let Some(state) = s.upgrade() else { return };
                if let Event::Inactive { .. } = ev.event {
                    if let Ok(mut st) = state.lock() {
                        if let Some(&call) = st.by_plane_call.get(&ev.leg.call()) {
                            st.quiet.entry(call).or_insert_with(Instant::now);
                        }
                    }
                }
            })
            .ok();
        Self {
            plane,
            state,
            inactivity,
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, String> {
        self.state
            .lock()
            .map_err(|_| "C's media state is poisoned".to_owned())
    }

    fn release_streams(&self, streams: &[StreamLegs]) {
        for s in streams {
            let _ = self.plane.release(s.outside);
        }
    }
}

impl CallMedia for CMedia {
    fn open(
        &self,
        call: u64,
        e_traversal: IpAddr,
        e: &[StreamAllocation],
        streams: &[StreamOpen],
    ) -> Result<Vec<(u16, Option<String>)>, String> {
        if self.lock()?.calls.contains_key(&call) {
            return Err(format!("call {call} is open already"));
        }
        let mut made: Vec<StreamLegs> = Vec::new();
        let mut out = Vec::new();
        for (s, a) in streams.iter().zip(e) {
            let result = (|| {
                let ours = match &s.suite {
                    Some(name) => {
                        let suite = Suite::from_sdes_name(name)
                            .ok_or_else(|| format!("unknown SRTP suite {name}"))?;
                        let key = MasterKey::random(suite).map_err(|e| e.to_string())?;
                        Some(CryptoAttribute::new(1, key, None))
                    }
                    None => None,
                };
                let srtp_out = match &ours {
                    Some(a) => Some(a.context(Policy::new(a.suite)).map_err(|e| e.to_string())?),
                    None => None,
                };
                let srtp_in = s.peer_crypto.as_deref().map(context_of).transpose()?;
                let mux = SocketAddr::new(e_traversal, a.mux_pair);
                let outside = LegRequest {
                    ports: LegPorts::Allocate { rtcp_mux: false },
                    leg: LegConfig {
                        mux_id: Some(a.mux_id),
                        signalled_rtp: Some(mux),
                        signalled_rtcp: Some(SocketAddr::new(
                            e_traversal,
                            a.mux_pair.saturating_add(1),
                        )),
                        latch: LatchPolicy::Fixed,
                        srtp_in,
                        srtp_out,
                        ..LegConfig::plain(0, None)
                    },
                };
                let mut inside_leg = LegConfig::plain(0, s.inside_remote.map(|r| r.0));
                inside_leg.signalled_rtcp = s.inside_remote.map(|r| r.1);
                // Inside, media may come from another address of the party than its SDP says
                // (a host with several addresses sends from its primary one): latch to the
                // first packet, as for a party whose address is not known yet.
                inside_leg.latch = LatchPolicy::FirstPacket;
                let inside = LegRequest {
                    ports: LegPorts::Allocate { rtcp_mux: false },
                    leg: inside_leg,
                };
                let legs = self
                    .plane
                    .allocate(outside, inside)
                    .map_err(|e| format!("C's relay: {e}"))?;
                let [o, i] = legs.legs;
                Ok::<_, String>((o.leg, i.rtp_port, ours))
            })();
            match result {
                Ok((outside, inside_port, ours)) => {
                    out.push((inside_port, ours.as_ref().map(untagged)));
                    made.push(StreamLegs { outside, ours });
                }
                Err(e) => {
                    self.release_streams(&made);
                    return Err(e);
                }
            }
        }
        let mut st = self.lock()?;
        for s in &made {
            st.by_plane_call.insert(s.outside.call(), call);
        }
        st.calls.insert(call, made);
        Ok(out)
    }

    fn update(&self, call: u64, update: &StreamUpdate) -> Result<(), String> {
        let (leg, ours) = {
            let st = self.lock()?;
            let s = st
                .calls
                .get(&call)
                .and_then(|c| c.get(update.stream))
                .ok_or_else(|| format!("no stream {} in call {call}", update.stream))?;
            (s.outside, s.ours.clone())
        };
        if let Some((rtp, rtcp)) = update.inside_remote {
            self.plane
                .update_remote(leg.peer(), Some(rtp), Some(rtcp))
                .map_err(|e| e.to_string())?;
        }
        if let Some(k) = &update.peer_crypto {
            let srtp_in = context_of(k)?;
            // The outbound context is built again from our key (same key, same stream): the
            // relay replaces both at once.
            let srtp_out = match &ours {
                Some(a) => Some(a.context(Policy::new(a.suite)).map_err(|e| e.to_string())?),
                None => None,
            };
            self.plane
                .update_keys(leg, Some(srtp_in), srtp_out)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn close(&self, call: u64) {
        let streams = match self.state.lock() {
            Ok(mut st) => {
                st.quiet.remove(&call);
                let s = st.calls.remove(&call).unwrap_or_default();
                for l in &s {
                    st.by_plane_call.remove(&l.outside.call());
                }
                s
            }
            Err(_) => return,
        };
        self.release_streams(&streams);
    }

    fn usage(&self) -> MediaUsage {
        let st = self.plane.plane_stats();
        MediaUsage {
            calls: self.state.lock().map_or(0, |s| s.calls.len()),
            legs: st.calls * 2,
            ports_in_use: st.ports_in_use,
        }
    }

    fn stream_counters(&self) -> Vec<StreamCounters> {
        let legs: Vec<(u64, usize, LegRef)> = match self.state.lock() {
            Ok(st) => st
                .calls
                .iter()
                .flat_map(|(call, s)| s.iter().enumerate().map(|(k, l)| (*call, k, l.outside)))
                .collect(),
            Err(_) => return Vec::new(),
        };
        let drops = |s: &media::relay::engine::LegStats| -> Vec<(String, u64)> {
            s.received
                .drops
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(r, n)| (format!("{r:?}"), n))
                .collect()
        };
        let mut out: Vec<StreamCounters> = legs
            .into_iter()
            .filter_map(|(call, stream, leg)| {
                let o = self.plane.stats(leg).ok()?;
                let i = self.plane.stats(leg.peer()).ok()?;
                Some(StreamCounters {
                    call,
                    stream,
                    outside_received: o.received.packets,
                    outside_sent: o.sent.packets,
                    outside_dropped: drops(&o),
                    inside_received: i.received.packets,
                    inside_sent: i.sent.packets,
                    inside_dropped: drops(&i),
                })
            })
            .collect();
        out.sort_by_key(|s| (s.call, s.stream));
        out
    }

    fn inactive_calls(&self) -> Vec<u64> {
        let candidates: Vec<(u64, Vec<LegRef>)> = match self.state.lock() {
            Ok(st) => st
                .quiet
                .keys()
                .filter_map(|c| {
                    st.calls
                        .get(c)
                        .map(|s| (*c, s.iter().map(|l| l.outside).collect()))
                })
                .collect(),
            Err(_) => return Vec::new(),
        };
        let now = Instant::now();
        let mut out = Vec::new();
        for (call, legs) in candidates {
            // Quiet when a leg received nothing (RTP or RTCP) for the timeout: a party is
            // gone. (A party on hold still sends RTCP.)
            let quiet = legs.iter().any(|l| {
                [*l, l.peer()].iter().any(|leg| {
                    self.plane.stats(*leg).is_ok_and(|s| {
                        s.received
                            .last_packet
                            .is_none_or(|t| now.saturating_duration_since(t) >= self.inactivity)
                    })
                })
            });
            // Reported once per inactivity event (the relay raises one per leg until packets
            // resume); a call that is not answered yet is left alone by the call layer.
            if let Ok(mut st) = self.state.lock() {
                st.quiet.remove(&call);
            }
            if quiet {
                out.push(call);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use media::relay::port_alloc::PortRange;
    use media::runtime::{BackendChoice, PlaneConfig};
    use std::net::UdpSocket;

    const CLIENT_KEY: &str =
        "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 0x00];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        p.extend_from_slice(&0x1111_2222u32.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn socket() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn media() -> CMedia {
        let mut cfg = PlaneConfig {
            backend: BackendChoice::Sockets,
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            cores: vec![None],
            ..PlaneConfig::default()
        };
        cfg.ports.range = PortRange::new(23400, 23499).unwrap();
        CMedia::new(MediaPlane::spawn(cfg).unwrap(), Duration::from_secs(30))
    }

    /// One stream end to end through C's two legs: E's side (a socket standing for E's mux
    /// pair) gets the opening keepalives, sends the client's SRTP framed with the mux id, and
    /// the inside party receives it as plain RTP; the inside party's RTP reaches E's side
    /// framed and protected with our key; close gives every port back.
    #[test]
    fn c_terminates_srtp_between_es_mux_pair_and_the_inside() {
        let m = media();
        let (e_rtp, e_rtcp, inside) = (socket(), socket(), socket());
        let e_port = e_rtp.local_addr().unwrap().port();
        // E's pair: RTP and RTCP on consecutive ports, so bind RTCP where the leg expects it.
        let e_rtcp_addr = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), e_port + 1);
        let e_rtcp = UdpSocket::bind(e_rtcp_addr).unwrap_or(e_rtcp);
        let alloc = [StreamAllocation {
            client_port: 40000,
            mux_pair: e_port,
            mux_id: 77,
        }];
        let open = [StreamOpen {
            media: "audio".into(),
            suite: Some("AES_CM_128_HMAC_SHA1_80".into()),
            peer_crypto: Some(CLIENT_KEY.into()),
            inside_remote: Some((inside.local_addr().unwrap(), inside.local_addr().unwrap())),
        }];
        let opened = m
            .open(9, IpAddr::from([127, 0, 0, 1]), &alloc, &open)
            .unwrap();
        let (inside_port, ours) = opened[0].clone();
        let ours = ours.expect("our key");
        assert!(accept_crypto(&format!("1 {ours}")), "{ours}");
        assert_eq!(m.usage().calls, 1);

        // The opening keepalive: the mux id alone, from C's leg.
        let mut buf = [0u8; 2048];
        let (n, c_leg) = e_rtp.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &77u32.to_be_bytes());
        let _ = e_rtcp;

        // Client → (E) → C: SRTP under the client's key, framed with 77.
        let mut client_tx = context_of(CLIENT_KEY).unwrap();
        let mut pkt = rtp(1, &[0x5a; 160]);
        let plain = pkt.clone();
        let len = pkt.len();
        pkt.resize(len + 64, 0);
        let n = client_tx.protect_rtp(&mut pkt, len).unwrap();
        let mut framed = 77u32.to_be_bytes().to_vec();
        framed.extend_from_slice(&pkt[..n]);
        e_rtp.send_to(&framed, c_leg).unwrap();
        let (n, from) = inside.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &plain[..], "plain RTP inside");
        assert_eq!(from.port(), inside_port);

        // Inside → C → E: framed with 77 and protected with our key.
        let back = rtp(2, &[0x33; 160]);
        inside
            .send_to(
                &back,
                SocketAddr::new(IpAddr::from([127, 0, 0, 1]), inside_port),
            )
            .unwrap();
        // (The opening keepalive is sent twice: skip the second.)
        let (n, from) = loop {
            let (n, from) = e_rtp.recv_from(&mut buf).unwrap();
            if n > 4 {
                break (n, from);
            }
        };
        assert_eq!(from, c_leg);
        assert_eq!(&buf[..4], &77u32.to_be_bytes());
        let mut rx = context_of(&format!("1 {ours}")).unwrap();
        let len = rx.unprotect_rtp(&mut buf[4..n]).unwrap();
        assert_eq!(&buf[4..4 + len], &back[..], "our key decrypts it");

        let counters = m.stream_counters();
        assert_eq!(counters.len(), 1);
        assert_eq!(
            (counters[0].outside_received, counters[0].inside_received),
            (1, 1)
        );

        // A new key from the client (a re-INVITE): the relay takes it.
        m.update(
            9,
            &StreamUpdate {
                stream: 0,
                peer_crypto: Some(
                    "2 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj"
                        .into(),
                ),
                inside_remote: None,
            },
        )
        .unwrap();
        assert!(m
            .update(
                9,
                &StreamUpdate {
                    stream: 3,
                    peer_crypto: None,
                    inside_remote: None
                }
            )
            .is_err());
        m.close(9);
        assert_eq!(m.usage(), MediaUsage::default());
        m.close(9);
        assert!(m
            .open(
                10,
                IpAddr::from([127, 0, 0, 1]),
                &alloc,
                &[StreamOpen {
                    media: "audio".into(),
                    suite: Some("NO_SUCH_SUITE".into()),
                    peer_crypto: None,
                    inside_remote: None,
                }]
            )
            .is_err());
        assert_eq!(
            m.usage(),
            MediaUsage::default(),
            "a failed open holds nothing"
        );
    }
}
