//! Calls through the edge in the netns lab, with real clients and real peers: SRTP outside,
//! RTP inside, media anchored in E's and C's relays, proven by the audio each side hears and by
//! packet captures.
//!
//! - Two remote baresip (alice on client-a, carol on client-b, TLS, SDES-SRTP mandatory) call
//!   each other through E → C → Kamailio → C → E (the call hairpins through C as two calls).
//!   Each sends its own tone from a WAV file; each hears the other's. alice holds and resumes
//!   (re-INVITEs through E and C), carol hangs up.
//! - A remote baresip (alice, SRTP) and an inside baresip (bob on the phone address, plain RTP,
//!   registered directly at Kamailio) call each other both ways, audio checked, hangup from each
//!   side.
//! - The capture of the internet link, its TLS read with the session keys the lab's E logs
//!   (`SSLKEYLOGFILE`), shows every description outside in `RTP/SAVP` with `a=crypto`.
//! - Captures on the internet link (client ↔ E) and on the DMZ's inside link (E ↔ C) never hold
//!   the tones' PCMU bytes, which the capture inside (C ↔ phone and Kamailio, which share the
//!   inside namespace, so its loopback) does: the
//!   clear media exists only inside; the inside's SDP says `RTP/AVP` only.
//! - After every call: no call at C, no media legs or ports held at E or C (`edge status`).
//! - linphonec as the second client implementation: a remote linphonec (carol, TLS, SRTP)
//!   and the inside baresip (bob) call each other both ways through E and C, audio checked.
//! - A remote client offering plain RTP is refused with 488, and nothing is held after.
//! - A remote client that goes silent mid-call (stopped: no RTP, no RTCP) has its call ended by
//!   C after the media inactivity timeout (8 s in the lab's C): a BYE to each party, counted.
//!
//! Needs root (the lab); says `SKIPPED` otherwise. The lab is one per machine: these tests take
//! it in turn with every other test that uses it (`tests::clients::Lab`).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unwrap failing is the test failing"
)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::audio::{mulaw_encode_all, write_tone_wav, Wav, G711_RATE};
use tests::clients::{
    Baresip, Capture, CaptureFile, ClientConfig, Lab, LabInfo, Linphone, LinphoneCallEvent,
    ScratchDir, SipClient, Transport,
};

const E_SIP_TLS: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 1, 1), 5061);
const E_NAME: &str = "expe.example.test";
const REGISTER: Duration = Duration::from_secs(20);
/// A call's signalling step through E, C and Kamailio.
const SIGNAL: Duration = Duration::from_secs(15);
/// How long audio flows in each phase of a call.
const TALK: Duration = Duration::from_secs(3);
const TONE_SECONDS: f64 = 40.0;

fn must<T>(r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// Waits until neither E nor C holds a call, a leg or a port (releases cross the traversal
/// link and the relays' control channels: not instant).
fn nothing_held(info: &LabInfo) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (e, c) = (
            info.edge_status("e").unwrap(),
            info.edge_status("c").unwrap(),
        );
        let held = [
            &e["e"]["media"]["calls"],
            &e["e"]["media"]["legs"],
            &e["e"]["media"]["ports_in_use"],
            &c["c"]["media"]["calls"],
            &c["c"]["media"]["legs"],
            &c["c"]["media"]["ports_in_use"],
            &c["c"]["calls"]["active"],
        ];
        if held.iter().all(|v| v.as_u64() == Some(0)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "media still held after the call: E {:#} C media {:#} calls {:#}",
            e["e"]["media"],
            c["c"]["media"],
            c["c"]["calls"]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A remote client through E over TLS with mandatory SRTP, sending `wav`.
fn remote(info: &LabInfo, host: &str, user: &str, wav: &PathBuf) -> ClientConfig {
    let ca = info
        .ca_certificate
        .clone()
        .expect("lab.json names the lab CA");
    info.client(host, user, Transport::Tls)
        .unwrap()
        .tls(E_SIP_TLS, ca, E_NAME)
        .expires(300)
        .srtp_mandatory()
        .audio_in(wav)
}

/// A tone and the WAV file that carries it.
struct Tone {
    hz: f64,
    wav: PathBuf,
    samples: Vec<i16>,
}

fn tone(dir: &ScratchDir, hz: f64) -> Tone {
    let wav = dir.path().join(format!("tone-{hz}.wav"));
    let samples = must(write_tone_wav(&wav, hz, TONE_SECONDS));
    Tone { hz, wav, samples }
}

/// 40 PCMU bytes a sender of this tone puts in an RTP packet (from its 51st 20 ms frame).
fn pcmu_run(t: &Tone) -> Vec<u8> {
    let frame = (G711_RATE / 50) as usize;
    mulaw_encode_all(&t.samples[50 * frame..50 * frame + 40])
}

/// What `who` received in its last call holds `other`'s tone for a good part and not `own`.
fn heard(who: &Baresip, name: &str, other: &Tone, own: &Tone) {
    let wav = Wav::read(&must(who.received_audio(SIGNAL))).unwrap();
    let got = wav.tone(other.hz);
    let echo = wav.tone(own.hz);
    eprintln!("{name} heard {got:?}; own tone {echo:?}");
    assert!(
        got.strength > 0.8 && got.seconds_with_tone > 2.0,
        "{name} did not hear the {} Hz tone: {got:?}",
        other.hz
    );
    assert!(echo.strength < 0.1, "{name} heard its own tone: {echo:?}");
}

/// The captures outside never carry either tone in clear; the inside one does (when `inside`).
fn clear_media_only_inside(
    outside: &[&CaptureFile],
    inside: Option<&CaptureFile>,
    tones: &[&Tone],
) {
    for t in tones {
        let run = pcmu_run(t);
        for cap in outside {
            let n = must(cap.packets());
            assert!(
                n > 100,
                "{}: only {n} packets captured",
                cap.path().display()
            );
            let hits = must(cap.udp_payloads_containing(&run));
            assert!(
                hits.is_empty(),
                "{} Hz tone in clear in {}: {hits:?}",
                t.hz,
                cap.path().display()
            );
        }
        if let Some(cap) = inside {
            assert!(
                !must(cap.udp_payloads_containing(&run)).is_empty(),
                "{} Hz tone not found in clear inside ({}): the outside check proves nothing",
                t.hz,
                cap.path().display()
            );
        }
    }
}

/// The SIP clients and E exchanged on the internet link (TLS, read with E's session keys):
/// every description says `RTP/SAVP` and carries `a=crypto`.
fn outside_sdp_is_srtp(info: &LabInfo, internet: CaptureFile) -> CaptureFile {
    let keylog = info.json().unwrap()["edge"]["e"]["tls_keylog"]
        .as_str()
        .map(PathBuf::from)
        .expect("lab.json names E's TLS key log");
    let internet = internet.with_tls_keys(&keylog);
    let sdp = must(internet.sdp());
    assert!(
        sdp.len() >= 2,
        "no offer and answer decoded from the internet link (TLS keys in {}): {sdp:#?}",
        keylog.display()
    );
    assert_eq!(
        must(internet.sdp_protocols()),
        vec!["RTP/SAVP".to_string()],
        "{sdp:#?}"
    );
    assert!(
        sdp.iter().all(|s| s.has_attribute("crypto")),
        "a description outside without a=crypto: {sdp:#?}"
    );
    eprintln!(
        "internet link: {} descriptions decoded, all RTP/SAVP with a=crypto",
        sdp.len()
    );
    internet
}

/// Captures of the internet link and the DMZ's inside link (E's side of both), and of the
/// inside (C, call control and the phone share the inside namespace: its loopback).
fn captures() -> (Capture, Capture, Capture) {
    (
        must(Capture::start(
            "portico-dmz",
            "to-internet",
            "internet-link",
            Some("udp or tcp port 5061"),
        )),
        must(Capture::start(
            "portico-dmz",
            "to-inside",
            "dmz-inside-link",
            Some("udp"),
        )),
        must(Capture::start(
            "portico-inside",
            "lo",
            "inside-link",
            Some("udp or tcp port 5060"),
        )),
    )
}

#[test]
fn remote_clients_call_each_other_through_e_and_c_with_srtp_outside() {
    let Some(lab) = must(Lab::up_or_skip()) else {
        return;
    };
    let info = lab.info();
    let dir = must(ScratchDir::new("mra-calls-remote"));
    let (a_tone, c_tone) = (tone(&dir, 697.0), tone(&dir, 1209.0));
    let (internet, dmz, inside) = captures();

    let mut alice = must(Baresip::start(remote(
        info,
        "client_a",
        "alice",
        &a_tone.wav,
    )));
    let mut carol = must(Baresip::start(remote(
        info,
        "client_b",
        "carol",
        &c_tone.wav,
    )));
    must(alice.wait_registered(REGISTER));
    must(carol.wait_registered(REGISTER));

    must(alice.dial("sip:carol@example.test"));
    let incoming = must(carol.wait_event("CALL_INCOMING", SIGNAL));
    assert!(incoming.peer.contains("alice@example.test"), "{incoming:?}");
    must(carol.answer());
    must(alice.wait_event("CALL_ESTABLISHED", SIGNAL));
    must(carol.wait_event("CALL_ESTABLISHED", SIGNAL));

    // While it goes on: two calls at C (the hairpin), two streams held at E.
    let c = info.edge_status("c").unwrap();
    assert_eq!(c["c"]["calls"]["active"], 2, "{:#}", c["c"]["calls"]);
    let e = info.edge_status("e").unwrap();
    assert_eq!(e["e"]["media"]["calls"], 2, "{:#}", e["e"]["media"]);
    std::thread::sleep(TALK);
    let c = info.edge_status("c").unwrap();
    eprintln!(
        "C's streams while talking: {:#}",
        c["c"]["media"]["streams"]
    );

    // Hold and resume through E and C.
    must(alice.hold());
    must(carol.wait_event("CALL_REMOTE_SDP", SIGNAL));
    std::thread::sleep(Duration::from_secs(1));
    must(alice.resume());
    must(carol.wait_event("CALL_REMOTE_SDP", SIGNAL));
    std::thread::sleep(TALK);

    must(carol.hangup());
    must(carol.wait_event("CALL_CLOSED", SIGNAL));
    must(alice.wait_event("CALL_CLOSED", SIGNAL));
    heard(&alice, "alice", &c_tone, &a_tone);
    heard(&carol, "carol", &a_tone, &c_tone);
    nothing_held(info);
    let c = info.edge_status("c").unwrap();
    let history = c["c"]["calls"]["history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .take(2)
            .all(|h| h["ended"].as_str().unwrap_or("").starts_with("BYE")),
        "{history:#?}"
    );

    must(alice.stop());
    must(carol.stop());
    let (internet, dmz, inside) = (must(internet.stop()), must(dmz.stop()), must(inside.stop()));
    // The hairpin's inside legs run between C's own ports (no wire), so the inside link carries
    // only signalling: the SDP there is plain RTP.
    let protocols = must(inside.sdp_protocols());
    assert_eq!(
        protocols,
        vec!["RTP/AVP".to_string()],
        "{:#?}",
        must(inside.sdp())
    );
    let internet = outside_sdp_is_srtp(info, internet);
    clear_media_only_inside(&[&internet, &dmz], None, &[&a_tone, &c_tone]);
}

#[test]
fn remote_and_inside_clients_call_both_ways_with_media_translated_at_c() {
    let Some(lab) = must(Lab::up_or_skip()) else {
        return;
    };
    let info = lab.info();
    let dir = must(ScratchDir::new("mra-calls-inside"));
    let (a_tone, b_tone) = (tone(&dir, 697.0), tone(&dir, 1209.0));
    let (internet, dmz, inside) = captures();

    let mut alice = must(Baresip::start(remote(
        info,
        "client_a",
        "alice",
        &a_tone.wav,
    )));
    let mut bob = must(Baresip::start(
        must(info.client("phone", "bob", Transport::Tcp)).audio_in(&b_tone.wav),
    ));
    must(alice.wait_registered(REGISTER));
    must(bob.wait_registered(REGISTER));

    // Outside → inside; alice hangs up.
    must(alice.dial("sip:bob@example.test"));
    must(bob.wait_event("CALL_INCOMING", SIGNAL));
    must(bob.answer());
    must(alice.wait_event("CALL_ESTABLISHED", SIGNAL));
    std::thread::sleep(TALK);
    must(alice.hangup());
    must(alice.wait_event("CALL_CLOSED", SIGNAL));
    must(bob.wait_event("CALL_CLOSED", SIGNAL));
    heard(&alice, "alice", &b_tone, &a_tone);
    heard(&bob, "bob", &a_tone, &b_tone);
    nothing_held(info);

    // Inside → outside; bob hangs up.
    must(bob.dial("sip:alice@example.test"));
    must(alice.wait_event("CALL_INCOMING", SIGNAL));
    must(alice.answer());
    must(bob.wait_event("CALL_ESTABLISHED", SIGNAL));
    std::thread::sleep(TALK + Duration::from_secs(1));
    must(bob.hangup());
    must(bob.wait_event("CALL_CLOSED", SIGNAL));
    must(alice.wait_event("CALL_CLOSED", SIGNAL));
    heard(&alice, "alice", &b_tone, &a_tone);
    heard(&bob, "bob", &a_tone, &b_tone);
    nothing_held(info);

    must(alice.stop());
    must(bob.stop());
    let (internet, dmz, inside) = (must(internet.stop()), must(dmz.stop()), must(inside.stop()));
    let protocols = must(inside.sdp_protocols());
    assert_eq!(
        protocols,
        vec!["RTP/AVP".to_string()],
        "{:#?}",
        must(inside.sdp())
    );
    let internet = outside_sdp_is_srtp(info, internet);
    clear_media_only_inside(&[&internet, &dmz], Some(&inside), &[&a_tone, &b_tone]);
    // Both calls in each node's history: one component on E, three on C.
    let (e, c) = (
        info.edge_status("e").unwrap(),
        info.edge_status("c").unwrap(),
    );
    for (node, history, components) in [
        ("E", &e["e"]["calls"]["history"], 1),
        ("C", &c["c"]["calls"]["history"], 3),
    ] {
        let h = history.as_array().unwrap();
        assert!(
            h.len() >= 2
                && h.iter().take(2).all(|r| r["components"] == components
                    && r["duration_s"].as_f64().unwrap_or(0.0) > 2.0),
            "{node}'s history: {h:#?}"
        );
    }
}

#[test]
fn a_remote_offer_in_plain_rtp_is_refused_with_488_and_nothing_is_held() {
    let Some(lab) = must(Lab::up_or_skip()) else {
        return;
    };
    let info = lab.info();
    let dir = must(ScratchDir::new("mra-calls-plain"));
    let a_tone = tone(&dir, 697.0);
    let ca = info.ca_certificate.clone().expect("lab CA");
    // alice without SRTP: her offer is RTP/AVP.
    let mut alice = must(Baresip::start(
        info.client("client_a", "alice", Transport::Tls)
            .unwrap()
            .tls(E_SIP_TLS, ca, E_NAME)
            .expires(300)
            .audio_in(&a_tone.wav),
    ));
    let mut bob = must(Baresip::start(must(info.client(
        "phone",
        "bob",
        Transport::Tcp,
    ))));
    must(alice.wait_registered(REGISTER));
    must(bob.wait_registered(REGISTER));
    let before = info.edge_status("c").unwrap()["c"]["calls"]["counters"]
        ["portico_c_calls_rejected_total{reason=\"sdp\"}"]
        .as_u64()
        .unwrap_or(0);
    must(alice.dial("sip:bob@example.test"));
    let closed = must(alice.wait_event("CALL_CLOSED", SIGNAL));
    assert!(closed.param.contains("488"), "{closed:?}");
    let c = info.edge_status("c").unwrap();
    assert_eq!(
        c["c"]["calls"]["counters"]["portico_c_calls_rejected_total{reason=\"sdp\"}"]
            .as_u64()
            .unwrap_or(0),
        before + 1,
        "{:#}",
        c["c"]["calls"]
    );
    assert!(
        bob.events().iter().all(|e| e.kind != "CALL_INCOMING"),
        "the refused call reached bob"
    );
    nothing_held(info);
    must(alice.stop());
    must(bob.stop());
}

#[test]
fn a_call_whose_remote_party_goes_silent_is_ended_with_bye_on_both_sides() {
    let Some(lab) = must(Lab::up_or_skip()) else {
        return;
    };
    let info = lab.info();
    let dir = must(ScratchDir::new("mra-calls-silent"));
    let (a_tone, b_tone) = (tone(&dir, 697.0), tone(&dir, 1209.0));
    let mut alice = must(Baresip::start(remote(
        info,
        "client_a",
        "alice",
        &a_tone.wav,
    )));
    let mut bob = must(Baresip::start(
        must(info.client("phone", "bob", Transport::Tcp)).audio_in(&b_tone.wav),
    ));
    must(alice.wait_registered(REGISTER));
    must(bob.wait_registered(REGISTER));
    let timeouts = |c: &Value| {
        c["c"]["calls"]["counters"]["portico_c_calls_timeouts_total{kind=\"media\"}"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = timeouts(&info.edge_status("c").unwrap());

    must(alice.dial("sip:bob@example.test"));
    must(bob.wait_event("CALL_INCOMING", SIGNAL));
    must(bob.answer());
    must(alice.wait_event("CALL_ESTABLISHED", SIGNAL));
    std::thread::sleep(Duration::from_secs(2));

    // alice's phone freezes: nothing more from her, RTP nor RTCP.
    let pid = alice.pid().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let closed = bob.wait_event("CALL_CLOSED", Duration::from_secs(30));
    assert!(Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    let closed = must(closed);
    eprintln!("bob: call closed ({})", closed.param);
    // alice gets her BYE once she runs again.
    must(alice.wait_event("CALL_CLOSED", SIGNAL));
    nothing_held(info);
    let c = info.edge_status("c").unwrap();
    assert_eq!(timeouts(&c), before + 1, "{:#}", c["c"]["calls"]);
    let last = &c["c"]["calls"]["history"][0];
    assert_eq!(last["ended"], "media inactivity", "{last:#}");
    must(alice.stop());
    must(bob.stop());
}

#[test]
fn remote_linphonec_and_inside_baresip_call_each_other_through_the_edge() {
    let Some(lab) = must(Lab::up_or_skip()) else {
        return;
    };
    let info = lab.info();
    let dir = must(ScratchDir::new("mra-calls-linphone"));
    let (c_tone, b_tone) = (tone(&dir, 697.0), tone(&dir, 1209.0));
    let mut carol = must(Linphone::start(remote(
        info,
        "client_b",
        "carol",
        &c_tone.wav,
    )));
    let mut bob = must(Baresip::start(
        must(info.client("phone", "bob", Transport::Tcp))
            .audio_in(&b_tone.wav)
            .auto_answer(),
    ));
    must(carol.wait_registered(REGISTER));
    must(bob.wait_registered(REGISTER));

    // carol (outside) calls bob (inside, answering by himself); carol hangs up.
    must(carol.call("sip:bob@example.test"));
    must(bob.wait_event("CALL_ESTABLISHED", SIGNAL));
    must(carol.wait_call(LinphoneCallEvent::StreamsRunning, SIGNAL));
    std::thread::sleep(TALK);
    let c = info.edge_status("c").unwrap();
    eprintln!("C's streams: {:#}", c["c"]["media"]["streams"]);
    must(carol.terminate());
    must(carol.wait_call(LinphoneCallEvent::Ended, SIGNAL));
    must(bob.wait_event("CALL_CLOSED", SIGNAL));
    heard(&bob, "bob", &c_tone, &b_tone);
    let carol_heard = Wav::read(&must(carol.received_audio(SIGNAL))).unwrap();
    let got = carol_heard.tone(b_tone.hz);
    eprintln!("carol heard {got:?}");
    assert!(
        got.strength > 0.8 && got.seconds_with_tone > 2.0,
        "carol did not hear bob's tone: {got:?}"
    );
    nothing_held(info);

    // bob calls carol; carol answers; bob hangs up.
    must(bob.dial("sip:carol@example.test"));
    must(carol.wait_call(LinphoneCallEvent::Incoming, SIGNAL));
    must(carol.answer());
    must(carol.wait_call(LinphoneCallEvent::StreamsRunning, SIGNAL));
    must(bob.wait_event("CALL_ESTABLISHED", SIGNAL));
    std::thread::sleep(TALK);
    must(bob.hangup());
    must(bob.wait_event("CALL_CLOSED", SIGNAL));
    must(carol.wait_call(LinphoneCallEvent::Ended, SIGNAL));
    heard(&bob, "bob", &c_tone, &b_tone);
    nothing_held(info);
    must(carol.stop());
    must(bob.stop());
}
