//! The first end-to-end slice of MRA in the netns lab: real clients on the internet register
//! over TLS through the edge's E (DMZ) and C (inside) to Kamailio, and requests from inside
//! reach them back through C and E on the flow they registered on.
//!
//! - baresip (alice, client-a) and linphonec (carol, client-b) register over TLS to E's
//!   198.18.1.1:5061 trusting the lab CA; Kamailio's location table holds their Contacts
//!   rewritten to C (contact-rewrite mode, the default) with the token C routes by; a MESSAGE and
//!   an OPTIONS from the inside phone (bob) reach them and get 200; each re-registers; the
//!   admin API of E and C shows the flows and bindings; nothing from the DMZ opened a
//!   connection inside (nftables counter `dmz_new_dropped` stays 0).
//! - E is killed: C's link goes down and comes back when E is back; the client registers again
//!   and is reachable again. Then C runs in Path mode (RFC 3327): Kamailio keeps the client's own
//!   Contact with C's Path, and requests still reach the client.
//!
//! Needs root (the lab); says `SKIPPED` loudly otherwise. The lab is one per machine: these
//! tests take it in turn with every other test that uses it (`tests::clients::Lab`).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unwrap failing is the test failing"
)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tests::clients::{
    kamailio_contacts, Baresip, ClientConfig, Contact, Lab, LabInfo, Linphone, SipClient,
    SipRequest, Transport,
};

const E_SIP_TLS: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 1, 1), 5061);
const E_NAME: &str = "expe.example.test";
const C_ADDR: &str = "198.18.2.10:5060";
const REGISTERED: Duration = Duration::from_secs(20);

/// A client on the internet side registering through E over TLS, trusting the lab CA.
fn via_edge(info: &LabInfo, host: &str, user: &str, expires: u32) -> ClientConfig {
    let ca = info
        .ca_certificate
        .clone()
        .expect("lab.json names the lab CA");
    info.client(host, user, Transport::Tls)
        .unwrap()
        .tls(E_SIP_TLS, ca, E_NAME)
        .expires(expires)
}

fn contacts_of(info: &LabInfo, user: &str) -> Vec<Contact> {
    kamailio_contacts(info)
        .unwrap()
        .into_iter()
        .filter(|c| c.aor == user)
        .collect()
}

/// Waits until Kamailio holds a contact of `user` for which `want` holds.
fn wait_contact(info: &LabInfo, user: &str, want: impl Fn(&Contact) -> bool) -> Contact {
    let deadline = Instant::now() + REGISTERED;
    loop {
        let all = contacts_of(info, user);
        if let Some(c) = all.iter().find(|c| want(c)) {
            return c.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no matching contact of {user} at Kamailio: {all:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn dmz_new_dropped() -> u64 {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            "portico-inside",
            "nft",
            "list",
            "counter",
            "inet",
        ])
        .args(["portico", "dmz_new_dropped"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in {text}"))
}

/// `cargo xtask lab ARGS…` (stop/start one edge role).
fn xtask_lab(args: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["run", "-q", "-p", "xtask", "--", "lab"])
        .args(args)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo xtask lab {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_link(info: &LabInfo, up: bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = info.edge_status("c").unwrap();
        let is_up = st["c"]["traversal"]["state"] == "up" && st["c"]["sip_stream"] == true;
        if is_up == up {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "C's link never went up={up}: {st:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn message_reaches(info: &LabInfo, client: &dyn SipClient, user: &str, text: &str) {
    let target = format!("sip:{user}@example.test");
    let sent = SipRequest::message(info, "phone", "bob", &target, text)
        .unwrap()
        .send()
        .unwrap();
    assert_eq!(sent.code, Some(200), "MESSAGE to {user}: {}", sent.output);
    client.wait_message(text, Duration::from_secs(10)).unwrap();
}

#[test]
fn clients_register_over_tls_through_e_and_c_and_are_reachable_from_inside() {
    let Some(lab) = Lab::up_or_skip().unwrap() else {
        return;
    };
    let info = lab.info();
    let before = dmz_new_dropped();

    let alice = Baresip::start(via_edge(info, "client_a", "alice", 60)).unwrap();
    alice.wait_registered(REGISTERED).unwrap();
    let contact = wait_contact(info, "alice", |c| c.address.contains(C_ADDR));
    assert!(
        contact.address.contains("x-portico-reg=")
            && contact.address.contains("orig-hostport=198.18.1.10:"),
        "the Contact Kamailio holds is C's, with the token and the client's address: {contact:?}"
    );
    assert!(contact
        .received
        .as_deref()
        .unwrap_or("")
        .contains("198.18.2.10"));

    let carol = Linphone::start(via_edge(info, "client_b", "carol", 60)).unwrap();
    carol.wait_registered(REGISTERED).unwrap();
    // (TLS connections leave from the namespace's first address whatever the client binds,
    // so both clients come from 198.18.1.10 as E sees them.)
    wait_contact(info, "carol", |c| {
        c.address.contains(C_ADDR) && c.address.contains("orig-hostport=198.18.1.")
    });

    // Requests from inside reach each client down its TLS flow, and come back answered.
    message_reaches(info, &alice, "alice", "hello alice, through C and E");
    message_reaches(info, &carol, "carol", "hello carol, through C and E");
    let options = SipRequest::options(info, "phone", "bob", "sip:alice@example.test")
        .unwrap()
        .tcp()
        .send()
        .unwrap();
    assert_eq!(options.code, Some(200), "{}", options.output);

    // What operators see.
    let e = info.edge_status("e").unwrap();
    assert_eq!(e["e"]["flows"], 2, "{e:#}");
    assert_eq!(e["e"]["registered_flows"], 2, "{e:#}");
    assert_eq!(e["e"]["traversal"]["sip_link"]["state"], "up");
    let c = info.edge_status("c").unwrap();
    assert_eq!(c["c"]["bindings"], 2, "{c:#}");
    assert_eq!(c["c"]["traversal"]["state"], "up");

    // Each re-registers (Kamailio grants 60 s; the clients refresh before that) through the
    // same flow, keeping one binding each at Kamailio.
    alice
        .wait_registrations(2, Duration::from_secs(90))
        .unwrap();
    carol
        .wait_registrations(2, Duration::from_secs(90))
        .unwrap();
    assert_eq!(
        contacts_of(info, "alice").len(),
        1,
        "{:#?}",
        contacts_of(info, "alice")
    );
    message_reaches(info, &alice, "alice", "still there after the refresh");

    assert_eq!(
        dmz_new_dropped(),
        before,
        "a connection from the DMZ to the inside was tried"
    );
}

#[test]
fn e_restarts_c_reconnects_clients_come_back_and_path_mode_routes_by_path() {
    let Some(lab) = Lab::up_or_skip().unwrap() else {
        return;
    };
    let info = lab.info();
    let before = dmz_new_dropped();
    let alice = Baresip::start(via_edge(info, "client_a", "alice", 60)).unwrap();
    alice.wait_registered(REGISTERED).unwrap();

    // E dies: C's link goes down; requests for alice fail fast meanwhile (no flow).
    xtask_lab(&["stop", "e"]);
    wait_link(info, false);
    let during = SipRequest::message(info, "phone", "bob", "sip:alice@example.test", "lost")
        .unwrap()
        .send()
        .unwrap();
    assert!(
        matches!(during.code, Some(c) if c >= 400),
        "while E is down: {}",
        during.output
    );
    // E is back: C reconnects by itself, alice registers again on a new flow.
    let seen = alice.registrations_seen();
    xtask_lab(&["start", "e"]);
    wait_link(info, true);
    alice
        .wait_registrations(seen + 1, Duration::from_secs(90))
        .unwrap();
    message_reaches(info, &alice, "alice", "after E came back");
    let c = info.edge_status("c").unwrap();
    assert!(
        c["c"]["traversal"]["counters"]["reconnects"]
            .as_u64()
            .unwrap()
            >= 1,
        "{c:#}"
    );

    // C in Path mode: Kamailio keeps alice's own Contact and C's Path.
    let lab_c = info.config_dir.join("edge").join("c.toml");
    let tls_dir = info.ca_certificate.clone().unwrap();
    let tls_dir = tls_dir.parent().unwrap();
    let text = std::fs::read_to_string(&lab_c)
        .unwrap()
        .replace(
            "registration = \"contact-rewrite\"",
            "registration = \"path\"",
        )
        .replace("../../target/lab/tls", &tls_dir.display().to_string());
    assert!(text.contains("registration = \"path\""));
    let dir = std::env::temp_dir().join(format!("portico-mra-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path_c = dir.join("c-path.toml");
    std::fs::write(&path_c, text).unwrap();
    drop(alice);
    xtask_lab(&["stop", "c"]);
    xtask_lab(&["start", "c", "--config", path_c.to_str().unwrap()]);
    let result = std::panic::catch_unwind(|| {
        let carol = Baresip::start(via_edge(info, "client_b", "carol", 60)).unwrap();
        carol.wait_registered(REGISTERED).unwrap();
        let contact = wait_contact(info, "carol", |c| c.path.is_some());
        assert!(
            contact.address.contains("198.18.1.") && !contact.address.contains(C_ADDR),
            "Path mode keeps the client's own Contact: {contact:?}"
        );
        assert!(
            contact.path.as_deref().unwrap().contains(C_ADDR),
            "the Path names C: {contact:?}"
        );
        message_reaches(info, &carol, "carol", "routed by the Path");
    });
    // Back to the lab's C whatever happened.
    xtask_lab(&["stop", "c"]);
    xtask_lab(&["start", "c"]);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    assert_eq!(
        dmz_new_dropped(),
        before,
        "a connection from the DMZ to the inside was tried"
    );
}
