//! Calls between real clients registered directly at the lab's Kamailio (no edge), through
//! `tests::clients`, with audio checked end to end:
//!
//! - Two baresip from the inside phone address (alice over TCP, bob over UDP), plain RTP: alice
//!   calls bob, bob answers; each sends its own tone from a WAV file (alice 697 Hz, bob 1209 Hz)
//!   and each side's recording of what it received holds the other's tone and not its own; alice
//!   holds and resumes with re-INVITEs (`a=sendonly`, then `a=sendrecv`); bob hangs up. A capture
//!   on the inside namespace's `lo` (the clients and Kamailio share the namespace) shows SDP with
//!   `RTP/AVP` only and both tones' PCMU bytes in UDP payloads: the capture helpers find clear
//!   media when it is there.
//! - baresip (alice, UDP) and linphonec (carol, TCP), both with mandatory SDES-SRTP: alice calls
//!   carol, carol answers and hangs up; carol calls alice, who answers by herself, and alice
//!   hangs up. Each recording holds the other's tone; the capture shows `RTP/SAVP` with
//!   `a=crypto` in every SDP and neither tone's PCMU bytes in any UDP payload (what the edge
//!   tests assert of the outside link).
//!
//! The lab is one per machine: each test holds it through `Lab::up` (a file lock), bringing it up
//! and down unless it was up already. Without root each test says `SKIPPED` and passes.

use std::time::{Duration, Instant};

use tests::audio::{pcmu_frame_runs, write_tone_wav, Wav};
use tests::clients::{
    Baresip, Capture, Lab, Linphone, LinphoneCallEvent, ScratchDir, SipClient, Transport,
};

/// Registration over a local link is quick; this only bounds a hang.
const REGISTER: Duration = Duration::from_secs(15);
/// A call's signalling step (ringing, answer, re-INVITE, BYE) over a local link.
const SIGNAL: Duration = Duration::from_secs(10);
/// How long audio flows in each phase of a call.
const TALK: Duration = Duration::from_secs(3);
/// Longer than any call here: baresip ends a call when its source file runs out.
const TONE_SECONDS: f64 = 40.0;
/// The two sides' tones (DTMF 1's pair: far apart, neither a harmonic of the other).
const ALICE_HZ: f64 = 697.0;
const BOB_HZ: f64 = 1209.0;

/// The value, or a panic with the harness's message (readable, unlike `Result`'s `Debug`).
fn must<T>(r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn baresip_calls_baresip_through_kamailio_with_audio_hold_and_resume() {
    let Some(lab) = must(Lab::up_or_skip()) else {
        return;
    };
    let started = Instant::now();
    let info = lab.info();
    let inside = &must(info.host("phone")).namespace;

    let media = must(ScratchDir::new("calls-tones"));
    let alice_wav = media.path().join("alice-697.wav");
    let bob_wav = media.path().join("bob-1209.wav");
    let alice_tone = must(write_tone_wav(&alice_wav, ALICE_HZ, TONE_SECONDS));
    let bob_tone = must(write_tone_wav(&bob_wav, BOB_HZ, TONE_SECONDS));

    let capture = must(Capture::start(inside, "lo", "inside-lo", None));
    let mut alice = must(Baresip::start(
        must(info.client("phone", "alice", Transport::Tcp)).audio_in(&alice_wav),
    ));
    let mut bob = must(Baresip::start(
        must(info.client("phone", "bob", Transport::Udp)).audio_in(&bob_wav),
    ));
    must(alice.wait_registered(REGISTER));
    must(bob.wait_registered(REGISTER));

    // alice calls bob; bob answers.
    must(alice.dial("sip:bob@example.test"));
    let incoming = must(bob.wait_event("CALL_INCOMING", SIGNAL));
    assert!(
        incoming.peer.starts_with("sip:alice@example.test"),
        "{incoming:?}"
    );
    must(bob.answer());
    let established = must(alice.wait_event("CALL_ESTABLISHED", SIGNAL));
    assert!(
        established.peer.starts_with("sip:bob@example.test"),
        "{established:?}"
    );
    must(bob.wait_event("CALL_ESTABLISHED", SIGNAL));
    // The offer/answer of the INVITE itself.
    must(bob.wait_event("CALL_REMOTE_SDP", SIGNAL));
    must(alice.wait_event("CALL_REMOTE_SDP", SIGNAL));
    std::thread::sleep(TALK);

    // Hold and resume: a re-INVITE each, through Kamailio's Record-Route.
    must(alice.hold());
    let offer = must(bob.wait_event("CALL_REMOTE_SDP", SIGNAL));
    assert_eq!(offer.param, "offer", "{offer:?}");
    let answer = must(alice.wait_event("CALL_REMOTE_SDP", SIGNAL));
    assert_eq!(answer.param, "answer", "{answer:?}");
    std::thread::sleep(Duration::from_secs(1));
    must(alice.resume());
    must(bob.wait_event("CALL_REMOTE_SDP", SIGNAL));
    must(alice.wait_event("CALL_REMOTE_SDP", SIGNAL));
    std::thread::sleep(TALK);

    // bob hangs up; both sides see the call close, and their recordings are finished.
    must(bob.hangup());
    must(bob.wait_event("CALL_CLOSED", SIGNAL));
    let closed = must(alice.wait_event("CALL_CLOSED", SIGNAL));
    eprintln!("alice: call closed ({})", closed.param);

    // What each side recorded: baresip 1.0 records received audio only up to the hold (see
    // `Baresip::received_audio`), so this is the first talk phase.
    let alice_heard = Wav::read(&must(alice.received_audio(SIGNAL)));
    let bob_heard = Wav::read(&must(bob.received_audio(SIGNAL)));
    let (alice_heard, bob_heard) = (must(alice_heard), must(bob_heard));
    let checks = [
        ("alice", &alice_heard, BOB_HZ, ALICE_HZ),
        ("bob", &bob_heard, ALICE_HZ, BOB_HZ),
    ];
    for (who, heard, other, own) in checks {
        let (got, echo) = (heard.tone(other), heard.tone(own));
        eprintln!(
            "{who} received {:?} at {} Hz: the other's tone {got:?}, its own {echo:?}",
            heard.duration(),
            heard.sample_rate
        );
        assert!(
            got.strength > 0.8 && got.seconds_with_tone > 2.0,
            "{who} did not hear the other side's {other} Hz tone: {got:?}"
        );
        assert!(echo.strength < 0.1, "{who} heard its own tone: {echo:?}");
    }

    // What went over the inside: SDP in plain RTP, a hold and a resume, and both tones in clear
    // before the hold and after the resume.
    must(alice.stop());
    must(bob.stop());
    let pcap = must(capture.stop());
    let sdp = must(pcap.sdp());
    let protocols = must(pcap.sdp_protocols());
    assert_eq!(protocols, vec!["RTP/AVP".to_string()], "{sdp:#?}");
    let hold_at = sdp
        .iter()
        .position(|s| s.has_attribute("sendonly"))
        .unwrap_or_else(|| panic!("no a=sendonly offer in the capture: {sdp:#?}"));
    let resume = sdp[hold_at..]
        .iter()
        .find(|s| s.has_attribute("sendrecv"))
        .unwrap_or_else(|| panic!("no a=sendrecv after the hold: {sdp:#?}"));
    let (hold_frame, resume_frame) = (sdp[hold_at].frame, resume.frame);
    for (who, tone) in [("alice", &alice_tone), ("bob", &bob_tone)] {
        let hits = must(pcap.udp_payloads_containing_any(&pcmu_frame_runs(tone, 40)));
        let before = hits.iter().filter(|h| h.frame < hold_frame).count();
        let after = hits.iter().filter(|h| h.frame > resume_frame).count();
        eprintln!(
            "{who}'s tone in {} UDP payloads ({before} before the hold, {after} after the \
             resume), first {:?}",
            hits.len(),
            hits.first()
        );
        assert!(
            before >= 100 && after >= 100,
            "{who}'s PCMU frames: {before} datagrams before the hold (frame {hold_frame}), \
             {after} after the resume (frame {resume_frame}) in {}",
            pcap.path().display()
        );
    }
    eprintln!("call test done in {:?}", started.elapsed());
}

#[test]
fn baresip_and_linphonec_call_each_other_in_mandatory_srtp() {
    let Some(lab) = must(Lab::up_or_skip()) else {
        return;
    };
    let started = Instant::now();
    let info = lab.info();
    let inside = &must(info.host("phone")).namespace;

    let media = must(ScratchDir::new("calls-tones"));
    let alice_wav = media.path().join("alice-697.wav");
    let carol_wav = media.path().join("carol-1209.wav");
    let alice_tone = must(write_tone_wav(&alice_wav, ALICE_HZ, TONE_SECONDS));
    let carol_tone = must(write_tone_wav(&carol_wav, BOB_HZ, TONE_SECONDS));

    let capture = must(Capture::start(inside, "lo", "inside-lo", None));
    let mut alice = must(Baresip::start(
        must(info.client("phone", "alice", Transport::Udp))
            .audio_in(&alice_wav)
            .srtp_mandatory()
            .auto_answer(),
    ));
    let mut carol = must(Linphone::start(
        must(info.client("phone", "carol", Transport::Tcp))
            .audio_in(&carol_wav)
            .srtp_mandatory(),
    ));
    must(alice.wait_registered(REGISTER));
    must(carol.wait_registered(REGISTER));

    // Call 1: alice calls carol, carol answers, carol hangs up.
    must(alice.dial("sip:carol@example.test"));
    let incoming = must(carol.wait_call(LinphoneCallEvent::Incoming, SIGNAL));
    assert!(incoming.contains("sip:alice@example.test"), "{incoming}");
    must(carol.answer());
    must(alice.wait_event("CALL_ESTABLISHED", SIGNAL));
    must(carol.wait_call(LinphoneCallEvent::StreamsRunning, SIGNAL));
    std::thread::sleep(TALK);
    must(carol.terminate());
    must(carol.wait_call(LinphoneCallEvent::Ended, SIGNAL));
    must(alice.wait_event("CALL_CLOSED", SIGNAL));
    let alice_heard_1 = must(Wav::read(&must(alice.received_audio(SIGNAL))));
    let carol_heard = must(Wav::read(&must(carol.received_audio(SIGNAL))));

    // Call 2: carol calls alice, who answers by herself; alice hangs up.
    must(carol.call("sip:alice@example.test"));
    // Answering by itself, baresip 1.0 reports no CALL_INCOMING: the call is established at once.
    let answered = must(alice.wait_event("CALL_ESTABLISHED", SIGNAL));
    assert!(
        answered.peer.starts_with("sip:carol@example.test"),
        "{answered:?}"
    );
    must(carol.wait_call(LinphoneCallEvent::StreamsRunning, SIGNAL));
    std::thread::sleep(TALK);
    must(alice.hangup());
    must(alice.wait_event("CALL_CLOSED", SIGNAL));
    must(carol.wait_call(LinphoneCallEvent::Ended, SIGNAL));
    let alice_heard_2 = must(Wav::read(&must(alice.received_audio(SIGNAL))));
    assert_eq!(alice.audio_dumps(true).len(), 2, "one recording per call");

    for (who, heard, other, own) in [
        ("alice (call 1)", &alice_heard_1, BOB_HZ, ALICE_HZ),
        ("alice (call 2)", &alice_heard_2, BOB_HZ, ALICE_HZ),
        ("carol (call 1)", &carol_heard, ALICE_HZ, BOB_HZ),
    ] {
        let (got, echo) = (heard.tone(other), heard.tone(own));
        eprintln!(
            "{who} received {:?} at {} Hz: the other's tone {got:?}, its own {echo:?}",
            heard.duration(),
            heard.sample_rate
        );
        assert!(
            got.strength > 0.8 && got.seconds_with_tone > 2.0,
            "{who} did not hear the other side's {other} Hz tone: {got:?}"
        );
        assert!(echo.strength < 0.1, "{who} heard its own tone: {echo:?}");
    }

    // On the wire: SDES-SRTP offered and answered, and neither tone in clear anywhere.
    must(alice.stop());
    must(carol.stop());
    let pcap = must(capture.stop());
    let sdp = must(pcap.sdp());
    assert_eq!(
        must(pcap.sdp_protocols()),
        vec!["RTP/SAVP".to_string()],
        "{sdp:#?}"
    );
    assert!(
        sdp.len() >= 4 && sdp.iter().all(|s| s.has_attribute("crypto")),
        "every offer and answer has a=crypto: {sdp:#?}"
    );
    let srtp_packets = must(pcap.udp_datagrams())
        .iter()
        .filter(|d| d.payload.len() > 160)
        .count();
    assert!(srtp_packets >= 400, "{srtp_packets} media-sized datagrams");
    for (who, tone) in [("alice", &alice_tone), ("carol", &carol_tone)] {
        let hits = must(pcap.udp_payloads_containing_any(&pcmu_frame_runs(tone, 40)));
        assert!(
            hits.is_empty(),
            "{who}'s tone in clear in {} datagrams of {}: {:?}",
            hits.len(),
            pcap.path().display(),
            hits.first()
        );
    }
    eprintln!("SRTP call test done in {:?}", started.elapsed());
}
