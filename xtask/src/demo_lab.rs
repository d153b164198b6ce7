//! The second half of `cargo xtask demo`: the lab with the edge's E and C running, a real SIP
//! client registered through them, and a request from inside delivered back to it.
//!
//! 1. `lab up` (namespaces, firewalls, DNS, Kamailio, then E in `portico-dmz` and C in
//!    `portico-inside`, C's traversal link waited for); prints how to point a client at it.
//! 2. baresip in `portico-internet` (client-a, 198.18.1.10) registers `alice` over TLS to
//!    E's 198.18.1.1:5061, trusting the lab CA; E relays over the traversal link, C rewrites the
//!    Contact and registers it with Kamailio, which challenges (digest) and accepts.
//! 3. Kamailio's location table is shown (`kamcmd ul.dump`): alice's binding points at C.
//! 4. A MESSAGE from the inside phone (bob, 198.18.2.100) to `sip:alice@example.test` goes to
//!    Kamailio, which sends it to C, which sends it through E down alice's TLS flow; baresip
//!    answers 200.
//! 5. baresip stops (it unregisters).
//! 6. A call: alice (baresip outside, TLS, SRTP mandatory) calls bob (baresip on the inside
//!    phone's address, plain RTP, registered at Kamailio). Each sends a tone from a WAV file
//!    (alice 697 Hz, bob 1209 Hz); C's call status and relay counters are shown while they
//!    talk; alice hangs up; what each heard is analysed (the other's tone, not its own).
//! 7. The lab stays up for the reader, with the commands to look at it and
//!    `cargo xtask lab down` to end it.
//!
//! Any step that fails stops the demo with the reason and the end of the relevant log.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::lab;

const CLIENT_ADDR: &str = "198.18.1.10";
const E_SIP_TLS: &str = "198.18.1.1:5061";

fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

pub(crate) fn run(root: &Path) -> Result<(), String> {
    let opts = lab::LabOptions::for_workspace().map_err(|e| e.to_string())?;
    let info = lab::up(&opts).map_err(|e| e.to_string())?;
    lab::print_up(&info);
    let state = root.join("target").join("lab");
    let dir = state.join("demo-baresip");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let ca = state.join("tls").join("ca.pem");
    let config = format!(
        "poll_method epoll\n\
         sip_listen {CLIENT_ADDR}:0\n\
         net_interface {CLIENT_ADDR}\n\
         sip_cafile {ca}\n\
         module_path /usr/lib/baresip/modules\n\
         module g711.so\n\
         module srtp.so\n\
         module stdio.so\n\
         module_app account.so\n\
         module_app menu.so\n",
        ca = ca.display()
    );
    let accounts = format!(
        "<sip:alice@example.test;transport=tls>;auth_pass=alice-lab-pw;\
         outbound=\"sip:{E_SIP_TLS};transport=tls\";regint=120;mediaenc=srtp-mand\n"
    );
    fs::write(dir.join("config"), config).map_err(|e| e.to_string())?;
    fs::write(dir.join("accounts"), accounts).map_err(|e| e.to_string())?;
    let log = dir.join("baresip.log");
    let out = fs::File::create(&log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    println!();
    println!("demo: baresip registers alice over TLS to E ({E_SIP_TLS}) from {CLIENT_ADDR}");
    let mut child = Command::new("ip")
        .args(["netns", "exec", "portico-internet", "baresip", "-f"])
        .arg(&dir)
        // stdio (the console that shows incoming MESSAGEs) needs a pipe on stdin.
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("starting baresip (apt-get install baresip): {e}"))?;
    let result = check(&state, &log);
    if result.is_ok() {
        std::thread::sleep(Duration::from_millis(300));
        let text = fs::read_to_string(&log).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains("hello from inside")) {
            println!(
                "  baresip printed: {}",
                l.trim_matches(|c: char| c.is_control()).trim()
            );
        }
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
        let _ = child.wait();
    }
    result?;
    call(root)?;
    println!();
    println!("demo: done. The lab stays up: look at it with");
    println!("  cargo xtask lab status");
    println!("  ip netns exec portico-dmz {} status", edge_path(root));
    println!("  ip netns exec portico-inside {} status", edge_path(root));
    println!("and take it down with `cargo xtask lab down`.");
    Ok(())
}

fn edge_path(root: &Path) -> String {
    crate::target_dir(root)
        .join("debug")
        .join("edge")
        .display()
        .to_string()
}

fn check(state: &Path, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("200 OK")) {
            println!("  baresip: {}", line.trim());
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "baresip did not register in 20 s; its log:\n{}\nE's log:\n{}\nC's log:\n{}",
                tail(log, 20),
                tail(&state.join("logs").join("edge-e.log"), 10),
                tail(&state.join("logs").join("edge-c.log"), 10)
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let ctl = format!("unix:{}", state.join("run").join("kamailio_ctl").display());
    let dump = Command::new("kamcmd")
        .args(["-s", &ctl, "ul.dump"])
        .output()
        .map_err(|e| format!("kamcmd: {e}"))?;
    let dump = String::from_utf8_lossy(&dump.stdout);
    println!("demo: Kamailio's location table (kamcmd ul.dump):");
    for l in dump.lines().filter(|l| {
        let t = l.trim_start();
        t.starts_with("AoR:") || t.starts_with("Address:") || t.starts_with("Received:")
    }) {
        println!("  {}", l.trim());
    }
    println!("demo: bob sends a MESSAGE from inside (198.18.2.100) to sip:alice@example.test");
    let sent = Command::new("ip")
        .args(["netns", "exec", "portico-inside", "python3"])
        .arg(
            state
                .join("..")
                .join("..")
                .join("lab")
                .join("clients")
                .join("send-message.py"),
        )
        .args([
            "--bind",
            "198.18.2.100",
            "--auth",
            "bob",
            "bob-lab-pw",
            "198.18.2.20:5060",
            "sip:alice@example.test",
            "hello from inside, through C and E",
        ])
        .output()
        .map_err(|e| format!("send-message.py: {e}"))?;
    let text = String::from_utf8_lossy(&sent.stdout);
    for l in text.lines() {
        println!("  {l}");
    }
    if !sent.status.success() {
        return Err(format!(
            "the MESSAGE did not get a 2xx:\n{text}{}",
            String::from_utf8_lossy(&sent.stderr)
        ));
    }
    Ok(())
}

/// Step 6: a call from alice outside to bob inside, with tones both ways.
fn call(root: &Path) -> Result<(), String> {
    use tests::audio::write_tone_wav;
    use tests::audio::Wav;
    use tests::clients::{Baresip, LabInfo, ScratchDir, SipClient, Transport};

    const SIGNAL: Duration = Duration::from_secs(15);
    let info = LabInfo::load(&root.join("target").join("lab").join("lab.json"))?;
    let dir = ScratchDir::new("demo-call")?;
    let (a_wav, b_wav) = (dir.path().join("alice.wav"), dir.path().join("bob.wav"));
    write_tone_wav(&a_wav, 697.0, 30.0)?;
    write_tone_wav(&b_wav, 1209.0, 30.0)?;
    let ca = info
        .ca_certificate
        .clone()
        .ok_or("lab.json names no lab CA")?;
    let e: std::net::SocketAddrV4 = E_SIP_TLS.parse().map_err(|e| format!("{e}"))?;
    println!();
    println!(
        "demo: a call. alice (outside, TLS, SRTP) calls bob (inside phone 198.18.2.100, plain RTP)"
    );
    let mut alice = Baresip::start(
        info.client("client_a", "alice", Transport::Tls)?
            .tls(e, ca, "expe.example.test")
            .srtp_mandatory()
            .audio_in(&a_wav),
    )?;
    let mut bob = Baresip::start(
        info.client("phone", "bob", Transport::Tcp)?
            .audio_in(&b_wav)
            .auto_answer(),
    )?;
    alice.wait_registered(SIGNAL)?;
    bob.wait_registered(SIGNAL)?;
    alice.dial("sip:bob@example.test")?;
    alice.wait_event("CALL_ESTABLISHED", SIGNAL)?;
    println!("  established; alice sends 697 Hz, bob 1209 Hz");
    std::thread::sleep(Duration::from_secs(3));
    let status = Command::new("ip")
        .args(["netns", "exec", "portico-inside"])
        .arg(edge_path(root))
        .args(["status", "--admin", "127.0.0.1:8080"])
        .output()
        .map_err(|e| format!("edge status: {e}"))?;
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&status.stdout) {
        for c in v["c"]["calls"]["current"].as_array().into_iter().flatten() {
            let text = |k: &str| c[k].as_str().unwrap_or("?").to_owned();
            println!(
                "  C: call {} {} -> {} ({}, caller {}), {} stream(s)",
                c["id"],
                text("from"),
                text("to"),
                text("state"),
                text("caller"),
                c["streams"]
            );
        }
        for s in v["c"]["media"]["streams"].as_array().into_iter().flatten() {
            println!(
                "  C's relay: from E (SRTP, decrypted) {} packets, to E {} ; from inside (RTP) {}, to inside {}",
                s["outside"]["received"], s["outside"]["sent"], s["inside"]["received"], s["inside"]["sent"]
            );
        }
    }
    alice.hangup()?;
    alice.wait_event("CALL_CLOSED", SIGNAL)?;
    bob.wait_event("CALL_CLOSED", SIGNAL)?;
    let heard = |who: &Baresip| -> Result<Wav, String> { Wav::read(&who.received_audio(SIGNAL)?) };
    let (a, b) = (heard(&alice)?, heard(&bob)?);
    let (a_got, b_got) = (a.tone(1209.0), b.tone(697.0));
    println!(
        "  alice heard bob's 1209 Hz for {:.1} s (strength {:.3}); bob heard alice's 697 Hz for {:.1} s (strength {:.3})",
        a_got.seconds_with_tone, a_got.strength, b_got.seconds_with_tone, b_got.strength
    );
    alice.stop()?;
    bob.stop()?;
    if a_got.strength < 0.8 || b_got.strength < 0.8 {
        return Err("the call's audio did not come through both ways".into());
    }
    Ok(())
}
