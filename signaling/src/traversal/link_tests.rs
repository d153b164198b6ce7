//! Two links, C and E, wired together on a virtual clock (quinn's `Pair`): every test drives the
//! real state machines through the bytes they write, with optional latency and a black hole per
//! direction.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::traversal::frame::{Frame, GoawayCode, ResetCode, StreamId, StreamKind};
use crate::traversal::peers::Rng;

struct Store;

impl Credentials for Store {
    fn check(&self, user: &str, password: &str) -> bool {
        user == "expc" && password == "right"
    }
}

struct Side {
    link: Link,
    events: Vec<Event>,
    /// Octets written toward the peer, with their arrival time.
    in_flight: VecDeque<(Instant, Vec<u8>)>,
    /// Drop everything this side writes.
    black_hole: bool,
    /// Report data consumed as soon as it is delivered.
    auto_consume: bool,
    received: HashMap<StreamId, Vec<u8>>,
}

impl Side {
    fn new(link: Link) -> Self {
        Self {
            link,
            events: Vec::new(),
            in_flight: VecDeque::new(),
            black_hole: false,
            auto_consume: true,
            received: HashMap::new(),
        }
    }

    fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    fn dead_reason(&self) -> Option<LinkError> {
        self.events.iter().find_map(|e| match e {
            Event::Dead { reason } => Some(*reason),
            _ => None,
        })
    }
}

struct Pair {
    now: Instant,
    latency: Duration,
    client: Side,
    server: Side,
}

fn config() -> LinkConfig {
    LinkConfig {
        probe_interval: Duration::from_secs(1),
        max_missed_acks: 3,
        auth_timeout: Duration::from_secs(5),
        drain_timeout: Duration::from_secs(10),
        ..LinkConfig::default()
    }
}

impl Pair {
    fn with(client: LinkConfig, server: LinkConfig, password: &str) -> Self {
        let now = Instant::now();
        Self {
            now,
            latency: Duration::ZERO,
            client: Side::new(Link::client(now, client, "expc", password).unwrap()),
            server: Side::new(Link::server(now, server, Arc::new(Store)).unwrap()),
        }
    }

    fn new() -> Self {
        Self::with(config(), config(), "right")
    }

    /// A pair that has completed authentication.
    fn up() -> Self {
        let mut pair = Self::new();
        pair.drive();
        assert_eq!(pair.client.link.state(), LinkState::Up);
        assert_eq!(pair.server.link.state(), LinkState::Up);
        pair.client.take_events();
        pair.server.take_events();
        pair
    }

    fn step_side(now: Instant, latency: Duration, side: &mut Side) -> bool {
        let mut progress = false;
        if side.link.poll_timeout().is_some_and(|t| t <= now) {
            side.link.handle_timeout(now);
            progress = true;
        }
        let mut buf = Vec::new();
        while side.link.poll_transmit(now, &mut buf) > 0 {}
        if !buf.is_empty() {
            progress = true;
            if !side.black_hole {
                side.in_flight.push_back((now + latency, buf));
            }
        }
        while let Some(event) = side.link.poll_event() {
            progress = true;
            if let Event::StreamData { id, data } = &event {
                side.received
                    .entry(*id)
                    .or_default()
                    .extend_from_slice(data);
                if side.auto_consume {
                    side.link.stream_consumed(*id, data.len());
                }
            }
            side.events.push(event);
        }
        progress
    }

    fn deliver(now: Instant, from: &mut Side, to: &mut Side) -> bool {
        let mut progress = false;
        while from.in_flight.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, bytes)) = from.in_flight.pop_front() {
                to.link.handle_input(now, &bytes);
                progress = true;
            }
        }
        progress
    }

    fn step(&mut self) -> bool {
        let mut progress = Self::step_side(self.now, self.latency, &mut self.client);
        progress |= Self::step_side(self.now, self.latency, &mut self.server);
        progress |= Self::deliver(self.now, &mut self.client, &mut self.server);
        progress |= Self::deliver(self.now, &mut self.server, &mut self.client);
        progress
    }

    /// Runs at the current instant until nothing moves.
    fn drive(&mut self) {
        for _ in 0..100_000 {
            if !self.step() {
                return;
            }
        }
        panic!("pair did not settle");
    }

    fn next_wakeup(&self) -> Option<Instant> {
        [
            self.client.link.poll_timeout(),
            self.server.link.poll_timeout(),
            self.client.in_flight.front().map(|(t, _)| *t),
            self.server.in_flight.front().map(|(t, _)| *t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Advances the virtual clock by `d`, running every timer and delivery on the way.
    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.drive();
            match self.next_wakeup() {
                Some(t) if t <= end => self.now = self.now.max(t),
                _ => break,
            }
        }
        self.now = end;
        self.drive();
    }
}

fn bytes(frame: Frame<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    frame.emit_to_vec(&mut out).unwrap();
    out
}

fn transmit(link: &mut Link, now: Instant) -> Vec<u8> {
    let mut out = Vec::new();
    while link.poll_transmit(now, &mut out) > 0 {}
    out
}

fn parse_all(mut buf: &[u8]) -> Vec<Frame<'_>> {
    let mut frames = Vec::new();
    while let Ok(crate::traversal::frame::Parsed::Frame { frame, len }) =
        crate::traversal::frame::parse(buf, u16::MAX)
    {
        frames.push(frame);
        buf = &buf[len..];
    }
    frames
}

fn events(link: &mut Link) -> Vec<Event> {
    std::iter::from_fn(|| link.poll_event()).collect()
}

#[test]
fn authentication_succeeds() {
    let mut pair = Pair::new();
    assert_eq!(
        pair.client.link.open_stream(StreamKind::SIP),
        Err(OpenError::NotAuthenticated)
    );
    pair.drive();
    assert_eq!(
        pair.client.take_events(),
        [Event::Authenticated { user: None }]
    );
    assert_eq!(
        pair.server.take_events(),
        [Event::Authenticated {
            user: Some("expc".into())
        }]
    );
    assert_eq!(pair.server.link.user(), Some("expc"));
    assert_eq!(pair.client.link.peer_settings().max_streams, 256);
}

#[test]
fn wrong_password_kills_the_link_with_a_clear_reason() {
    let mut pair = Pair::with(config(), config(), "wrong");
    pair.drive();
    assert_eq!(pair.server.dead_reason(), Some(LinkError::AuthFailed));
    assert_eq!(pair.server.link.stats().auth_failures, 1);
    assert_eq!(
        pair.client.dead_reason(),
        Some(LinkError::PeerGoaway(GoawayCode::AUTH_FAILED))
    );
    assert!(pair.client.link.is_closed() && pair.server.link.is_closed());
    assert_eq!(
        pair.client.dead_reason().unwrap().to_string(),
        "closed by peer: AUTH_FAILED (user name or password refused)"
    );
}

#[test]
fn nothing_passes_before_authentication() {
    let now = Instant::now();
    let mut server = Link::server(now, config(), Arc::new(Store)).unwrap();
    server.handle_input(
        now,
        &bytes(Frame::Open {
            stream: StreamId(1),
            kind: StreamKind::SIP,
        }),
    );
    assert_eq!(
        events(&mut server),
        [Event::Dead {
            reason: LinkError::Protocol(ProtocolViolation::FrameBeforeAuth)
        }]
    );
    let out = transmit(&mut server, now);
    assert_eq!(
        parse_all(&out),
        [Frame::Goaway {
            code: GoawayCode::PROTOCOL_ERROR
        }]
    );

    // A client that gets a probe before AUTH_OK refuses it too.
    let mut client = Link::client(now, config(), "expc", "right").unwrap();
    client.handle_input(now, &bytes(Frame::Probe { seq: 1 }));
    assert_eq!(
        events(&mut client),
        [Event::Dead {
            reason: LinkError::Protocol(ProtocolViolation::FrameBeforeAuth)
        }]
    );
}

#[test]
fn authentication_times_out() {
    let mut pair = Pair::new();
    pair.client.black_hole = true;
    pair.run_for(Duration::from_secs(6));
    assert_eq!(pair.server.dead_reason(), Some(LinkError::AuthTimeout));
    assert_eq!(pair.client.dead_reason(), Some(LinkError::AuthTimeout));
}

#[test]
fn both_ends_open_streams_and_data_flows_both_ways() {
    let mut pair = Pair::up();
    let c = pair.client.link.open_stream(StreamKind::SIP).unwrap();
    let e = pair.server.link.open_stream(StreamKind::HTTP).unwrap();
    assert_eq!((c, e), (StreamId(1), StreamId(2)));
    pair.client
        .link
        .send(c, b"REGISTER sip:example.com SIP/2.0\r\n")
        .unwrap();
    pair.server
        .link
        .send(e, b"GET /cucm-uds/version HTTP/1.1\r\n")
        .unwrap();
    pair.drive();
    assert!(pair.server.events.contains(&Event::StreamOpened {
        id: c,
        kind: StreamKind::SIP
    }));
    assert!(pair.client.events.contains(&Event::StreamOpened {
        id: e,
        kind: StreamKind::HTTP
    }));
    // Answers on the streams the other end opened.
    pair.server.link.send(c, b"SIP/2.0 200 OK\r\n").unwrap();
    pair.client.link.send(e, b"HTTP/1.1 200 OK\r\n").unwrap();
    pair.client.link.close(c).unwrap();
    pair.client.link.close(e).unwrap();
    pair.server.link.close(c).unwrap();
    pair.server.link.close(e).unwrap();
    pair.drive();
    assert_eq!(
        pair.server.received[&c],
        b"REGISTER sip:example.com SIP/2.0\r\n"
    );
    assert_eq!(pair.client.received[&c], b"SIP/2.0 200 OK\r\n");
    assert_eq!(
        pair.client.received[&e],
        b"GET /cucm-uds/version HTTP/1.1\r\n"
    );
    assert_eq!(pair.server.received[&e], b"HTTP/1.1 200 OK\r\n");
    for side in [&pair.client, &pair.server] {
        assert!(side.events.contains(&Event::StreamClosed { id: c }));
        assert!(side.events.contains(&Event::StreamClosed { id: e }));
        assert_eq!(side.link.open_streams(), 0, "finished both ways: gone");
    }
    assert_eq!(
        pair.client.link.send(c, b"late"),
        Err(StreamError::UnknownStream)
    );
}

#[test]
fn many_streams_interleave_and_arrive_intact() {
    let mut pair = Pair::up();
    let mut sent = HashMap::new();
    let mut rng = Rng::new(7);
    for i in 0..40u32 {
        let (from, to) = if i % 2 == 0 {
            (&mut pair.client.link, "c")
        } else {
            (&mut pair.server.link, "e")
        };
        let id = from.open_stream(StreamKind(100)).unwrap();
        let len = 300_000 + (rng.next_u64() % 100_000) as usize;
        let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let mut at = 0;
        // More than send_buffer: queue what fits, the rest after transmission.
        while at < data.len() {
            match from.send(id, &data[at..]) {
                Ok(n) => at += n,
                Err(StreamError::Blocked) => break,
                Err(e) => panic!("{e}"),
            }
        }
        sent.insert(id, (to, data, at));
    }
    // Feed the rest as StreamWritable events arrive.
    for _ in 0..10_000 {
        pair.drive();
        let mut more = false;
        for (id, (_, data, at)) in sent.iter_mut() {
            let link = if id.is_client_initiated() {
                &mut pair.client.link
            } else {
                &mut pair.server.link
            };
            while *at < data.len() {
                match link.send(*id, &data[*at..]) {
                    Ok(n) => {
                        *at += n;
                        more = true;
                    }
                    Err(StreamError::Blocked) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            if *at == data.len() && link.close(*id).is_ok() {
                more = true;
            }
        }
        if !more {
            break;
        }
    }
    pair.drive();
    for (id, (_, data, at)) in &sent {
        assert_eq!(*at, data.len());
        let receiver = if id.is_client_initiated() {
            &pair.server
        } else {
            &pair.client
        };
        assert_eq!(receiver.received[id].len(), data.len(), "{id}");
        assert!(receiver.received[id] == *data, "{id} intact");
    }
    // Data of different streams interleaved on the wire: the first 40 data events at E come from
    // more than one stream.
    let first: std::collections::HashSet<_> = pair
        .server
        .events
        .iter()
        .filter_map(|e| match e {
            Event::StreamData { id, .. } => Some(*id),
            _ => None,
        })
        .take(40)
        .collect();
    assert!(
        first.len() > 10,
        "round robin across streams: {}",
        first.len()
    );
    assert!(pair
        .client
        .events
        .iter()
        .any(|e| matches!(e, Event::StreamWritable { .. })));
    assert_eq!(pair.client.link.stats().flow_control_resets, 0);
    assert_eq!(pair.server.link.stats().flow_control_resets, 0);
}

#[test]
fn probes_measure_rtt_and_keep_the_link_up() {
    let mut pair = Pair::up();
    pair.latency = Duration::from_millis(25);
    pair.run_for(Duration::from_secs(10));
    for side in [&pair.client, &pair.server] {
        assert_eq!(side.link.state(), LinkState::Up);
        let stats = side.link.stats();
        assert!(stats.probes_sent >= 9, "{stats:?}");
        assert!(stats.acks_received >= 9, "{stats:?}");
        assert_eq!(stats.rtt, Some(Duration::from_millis(50)));
    }
}

#[test]
fn a_link_that_misses_n_acks_is_dead() {
    let mut pair = Pair::up();
    let t0 = pair.now;
    // E goes silent (its acks and probes are lost); C keeps writing.
    pair.server.black_hole = true;
    pair.run_for(Duration::from_millis(3_900));
    assert_eq!(pair.client.link.state(), LinkState::Up);
    pair.run_for(Duration::from_millis(100));
    assert_eq!(
        pair.client.dead_reason(),
        Some(LinkError::ProbeTimeout { missed: 3 })
    );
    assert_eq!(pair.now - t0, Duration::from_secs(4), "(N+1) intervals");
    // E, whose probes are lost too, comes to the same conclusion at the same time (or hears C's
    // GOAWAY(PROBE_TIMEOUT) first).
    assert!(matches!(
        pair.server.dead_reason(),
        Some(
            LinkError::ProbeTimeout { missed: 3 }
                | LinkError::PeerGoaway(GoawayCode::PROBE_TIMEOUT)
        )
    ));
}

#[test]
fn one_late_ack_is_forgiven() {
    let mut pair = Pair::up();
    pair.latency = Duration::from_millis(600);
    // RTT 1.2 s > 1 s interval: every probe misses, but an ack arrives before N misses.
    pair.run_for(Duration::from_secs(1));
    pair.latency = Duration::from_millis(10);
    pair.run_for(Duration::from_secs(10));
    assert_eq!(pair.client.link.state(), LinkState::Up);
}

#[test]
fn oversized_frame_kills_the_link_with_frame_size() {
    let mut pair = Pair::up();
    let mut header = vec![0x00, 0, 0, 0, 0, 0, 0, 1];
    header[2..4].copy_from_slice(&(16385u16).to_be_bytes());
    pair.server.link.handle_input(pair.now, &header);
    let ev = events(&mut pair.server.link);
    assert_eq!(
        ev,
        [Event::Dead {
            reason: LinkError::Malformed(FrameError::TooLarge {
                len: 16385,
                max: 16384
            })
        }]
    );
    assert_eq!(
        parse_all(&transmit(&mut pair.server.link, pair.now)),
        [Frame::Goaway {
            code: GoawayCode::FRAME_SIZE
        }]
    );
}

#[test]
fn senders_respect_the_peers_max_payload() {
    let server = LinkConfig {
        max_payload: 1024,
        ..config()
    };
    let mut pair = Pair::with(config(), server, "right");
    pair.drive();
    let id = pair.client.link.open_stream(StreamKind::SIP).unwrap();
    pair.client.link.send(id, &[7u8; 10_000]).unwrap();
    let out = transmit(&mut pair.client.link, pair.now);
    let frames = parse_all(&out);
    assert!(frames.iter().all(|f| match f {
        Frame::Data { payload, .. } => payload.len() <= 1024,
        _ => true,
    }));
    pair.server.link.handle_input(pair.now, &out);
    assert_eq!(pair.server.link.state(), LinkState::Up);
}

#[test]
fn too_many_streams_are_refused() {
    let server = LinkConfig {
        max_streams: 2,
        ..config()
    };
    let mut pair = Pair::with(config(), server, "right");
    pair.drive();
    pair.client.link.open_stream(StreamKind::SIP).unwrap();
    pair.client.link.open_stream(StreamKind::SIP).unwrap();
    assert_eq!(
        pair.client.link.open_stream(StreamKind::SIP),
        Err(OpenError::TooManyStreams),
        "C knows E's limit"
    );
    pair.drive();
    // A C that ignores the limit gets RESET(REFUSED); the link stays up.
    let now = pair.now;
    pair.server.link.handle_input(
        now,
        &bytes(Frame::Open {
            stream: StreamId(5),
            kind: StreamKind::SIP,
        }),
    );
    assert_eq!(pair.server.link.state(), LinkState::Up);
    assert_eq!(pair.server.link.stats().streams_refused, 1);
    assert_eq!(
        parse_all(&transmit(&mut pair.server.link, now)),
        [Frame::Reset {
            stream: StreamId(5),
            code: ResetCode::REFUSED
        }]
    );
    // Late data for the refused stream is discarded quietly.
    pair.server.link.handle_input(
        now,
        &bytes(Frame::Data {
            stream: StreamId(5),
            payload: b"x",
        }),
    );
    assert_eq!(pair.server.link.state(), LinkState::Up);
}

#[test]
fn exceeding_the_window_resets_the_stream_and_is_counted() {
    let server = LinkConfig {
        stream_window: 4096,
        ..config()
    };
    let mut pair = Pair::with(config(), server, "right");
    pair.drive();
    pair.server.take_events();
    let now = pair.now;
    let mut wire = bytes(Frame::Open {
        stream: StreamId(1),
        kind: StreamKind::SIP,
    });
    wire.extend(bytes(Frame::Data {
        stream: StreamId(1),
        payload: &[1u8; 4000],
    }));
    wire.extend(bytes(Frame::Data {
        stream: StreamId(1),
        payload: &[2u8; 200],
    }));
    pair.server.link.handle_input(now, &wire);
    let ev = events(&mut pair.server.link);
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert_eq!(
        ev[2],
        Event::StreamReset {
            id: StreamId(1),
            code: ResetCode::FLOW_CONTROL,
            by: ResetBy::Local
        }
    );
    assert_eq!(pair.server.link.stats().flow_control_resets, 1);
    assert_eq!(pair.server.link.state(), LinkState::Up);
    assert_eq!(pair.server.link.open_streams(), 0);
}

#[test]
fn a_slow_reader_holds_the_sender_to_the_window() {
    let server = LinkConfig {
        stream_window: 4096,
        ..config()
    };
    let client = LinkConfig {
        send_buffer: 8192,
        ..config()
    };
    let mut pair = Pair::with(client, server, "right");
    pair.drive();
    pair.server.auto_consume = false;
    let id = pair.client.link.open_stream(StreamKind::HTTP).unwrap();
    assert_eq!(pair.client.link.send(id, &[9u8; 20_000]), Ok(8192));
    assert_eq!(
        pair.client.link.send(id, b"more"),
        Err(StreamError::Blocked)
    );
    pair.drive();
    assert_eq!(pair.server.received[&id].len(), 4096, "exactly one window");
    // Consuming half the window grants credit.
    pair.server.link.stream_consumed(id, 2048);
    pair.drive();
    assert_eq!(pair.server.received[&id].len(), 6144);
    assert!(pair.client.events.contains(&Event::StreamWritable { id }));
    pair.server.auto_consume = true;
    pair.server.link.stream_consumed(id, 4096);
    pair.drive();
    assert_eq!(pair.server.received[&id].len(), 8192);
    assert_eq!(pair.server.link.stats().flow_control_resets, 0);
}

#[test]
fn peer_reset_ends_the_stream_and_late_frames_are_discarded() {
    let mut pair = Pair::up();
    let id = pair.client.link.open_stream(StreamKind::XMPP).unwrap();
    pair.client.link.send(id, b"<stream:stream>").unwrap();
    pair.drive();
    pair.server.link.reset(id, ResetCode::CANCEL).unwrap();
    pair.client.link.send(id, b"crossing the reset").unwrap();
    pair.drive();
    assert!(pair.client.events.contains(&Event::StreamReset {
        id,
        code: ResetCode::CANCEL,
        by: ResetBy::Peer
    }));
    assert_eq!(pair.client.link.open_streams(), 0);
    assert_eq!(pair.server.link.state(), LinkState::Up);
    assert_eq!(pair.client.link.state(), LinkState::Up);
}

#[test]
fn stream_id_misuse_is_a_protocol_error() {
    let cases: [(Vec<u8>, ProtocolViolation); 3] = [
        (
            bytes(Frame::Data {
                stream: StreamId(9),
                payload: b"x",
            }),
            ProtocolViolation::UnknownStream,
        ),
        (
            bytes(Frame::Open {
                stream: StreamId(2),
                kind: StreamKind::SIP,
            }),
            ProtocolViolation::WrongParity,
        ),
        (
            [
                bytes(Frame::Open {
                    stream: StreamId(3),
                    kind: StreamKind::SIP,
                }),
                bytes(Frame::Open {
                    stream: StreamId(1),
                    kind: StreamKind::SIP,
                }),
            ]
            .concat(),
            ProtocolViolation::StreamIdReused,
        ),
    ];
    for (wire, violation) in cases {
        let mut pair = Pair::up();
        pair.server.link.handle_input(pair.now, &wire);
        assert_eq!(
            events(&mut pair.server.link).last(),
            Some(&Event::Dead {
                reason: LinkError::Protocol(violation)
            })
        );
    }
}

#[test]
fn graceful_goaway_drains_then_closes() {
    let mut pair = Pair::up();
    let id = pair.client.link.open_stream(StreamKind::SIP).unwrap();
    pair.drive();
    let now = pair.now;
    pair.client.link.goaway(now, GoawayCode::NO_ERROR);
    pair.drive();
    assert!(pair.server.events.contains(&Event::GoingAway));
    assert_eq!(pair.client.link.state(), LinkState::Draining);
    assert_eq!(pair.server.link.state(), LinkState::Draining);
    assert_eq!(
        pair.client.link.open_stream(StreamKind::SIP),
        Err(OpenError::Draining)
    );
    assert_eq!(
        pair.server.link.open_stream(StreamKind::SIP),
        Err(OpenError::Draining)
    );
    // The open stream still works.
    pair.server.link.send(id, b"SIP/2.0 200 OK\r\n").unwrap();
    pair.server.link.close(id).unwrap();
    pair.client.link.close(id).unwrap();
    pair.drive();
    assert_eq!(pair.client.received[&id], b"SIP/2.0 200 OK\r\n");
    assert_eq!(pair.client.dead_reason(), Some(LinkError::Drained));
    assert_eq!(pair.server.dead_reason(), Some(LinkError::Drained));
}

#[test]
fn drain_times_out() {
    let mut pair = Pair::up();
    pair.client.link.open_stream(StreamKind::SIP).unwrap();
    pair.drive();
    let now = pair.now;
    pair.client.link.goaway(now, GoawayCode::NO_ERROR);
    pair.run_for(Duration::from_secs(11));
    assert_eq!(pair.client.dead_reason(), Some(LinkError::DrainTimeout));
}

#[test]
fn immediate_goaway_and_eof() {
    let mut pair = Pair::up();
    let now = pair.now;
    pair.server.link.goaway(now, GoawayCode::SHUTDOWN);
    pair.drive();
    assert_eq!(
        pair.server.dead_reason(),
        Some(LinkError::LocalGoaway(GoawayCode::SHUTDOWN))
    );
    assert_eq!(
        pair.client.dead_reason(),
        Some(LinkError::PeerGoaway(GoawayCode::SHUTDOWN))
    );
    let mut pair = Pair::up();
    pair.client.link.handle_eof(now);
    assert_eq!(
        events(&mut pair.client.link),
        [Event::Dead {
            reason: LinkError::ConnectionLost
        }]
    );
    assert_eq!(pair.client.link.poll_timeout(), None);
}

#[test]
fn bad_configuration_is_refused() {
    let now = Instant::now();
    let small = LinkConfig {
        max_payload: 512,
        ..config()
    };
    assert_eq!(
        Link::client(now, small, "u", "p").err(),
        Some(ConfigError::MaxPayloadTooSmall)
    );
    assert_eq!(
        Link::client(now, config(), "", "p").err(),
        Some(ConfigError::BadCredentials)
    );
    assert_eq!(
        Link::client(now, config(), "u", &"p".repeat(256)).err(),
        Some(ConfigError::BadCredentials)
    );
}

/// Random octets at every stage of a link never panic and leave it in a consistent state.
#[test]
fn garbage_input_never_panics() {
    let mut rng = Rng::new(0xdead_beef);
    for round in 0..2_000 {
        let mut pair = Pair::up();
        if round % 2 == 0 {
            // Streams in flight, in both directions.
            let c = pair.client.link.open_stream(StreamKind::SIP).unwrap();
            pair.client.link.send(c, b"hello").unwrap();
            pair.drive();
        }
        let target = if round % 3 == 0 {
            &mut pair.client.link
        } else {
            &mut pair.server.link
        };
        let now = pair.now;
        for _ in 0..(rng.next_u64() % 8) {
            let len = (rng.next_u64() % 256) as usize;
            let mut junk: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            // Half the time, a plausible header so that frame handlers see odd but valid frames.
            if len >= 8 && rng.next_u64().is_multiple_of(2) {
                const TYPES: [u8; 10] = [0, 1, 2, 3, 4, 0x10, 0x11, 0x20, 0x21, 0x30];
                junk[0] = TYPES[(rng.next_u64() % 10) as usize];
                let plen = (rng.next_u64() % (len as u64 - 7)) as u16;
                junk[2..4].copy_from_slice(&plen.to_be_bytes());
                junk[4..8].copy_from_slice(&((rng.next_u64() % 6) as u32).to_be_bytes());
            }
            target.handle_input(now, &junk);
            let _ = transmit(target, now);
            let _ = events(target);
            target.handle_timeout(now + Duration::from_secs(rng.next_u64() % 20));
        }
        // Still usable or cleanly dead; never both.
        let _ = transmit(target, now);
        let _ = target.open_stream(StreamKind::SIP);
        assert!(!(target.is_closed() && target.open_streams() > 0));
        pair.drive();
    }
    // A fresh server with nothing but garbage.
    for _ in 0..2_000 {
        let now = Instant::now();
        let mut server = Link::server(now, config(), Arc::new(Store)).unwrap();
        let len = (rng.next_u64() % 64) as usize;
        let junk: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        server.handle_input(now, &junk);
        assert_ne!(server.state(), LinkState::Up);
        let _ = transmit(&mut server, now);
    }
}

#[test]
fn input_split_anywhere_parses_the_same() {
    let mut pair = Pair::up();
    let id = pair.client.link.open_stream(StreamKind::SIP).unwrap();
    pair.client.link.send(id, &[5u8; 3000]).unwrap();
    pair.client.link.close(id).unwrap();
    let wire = transmit(&mut pair.client.link, pair.now);
    for cut in [1, 3, 7, 8, 9, 100, 1500] {
        let mut server = Pair::up().server.link;
        let now = Instant::now();
        for chunk in wire.chunks(cut) {
            server.handle_input(now, chunk);
        }
        let ev = events(&mut server);
        let total: usize = ev
            .iter()
            .map(|e| match e {
                Event::StreamData { data, .. } => data.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(total, 3000, "cut {cut}");
        assert!(ev.contains(&Event::StreamClosed { id }));
    }
}
