//! The `edge` binary's traversal link refusing a C, over loopback (127.41.0.0/24, which no other
//! test uses): wrong credentials, a certificate from a CA E does not trust, a certificate without
//! the subject name E expects. Each refusal is in E's log with its reason, in E's `edge status`
//! (`last_error`, `auth_failures`, `refused`), and the refused C says why in its own log; then a
//! right C links up. Expired certificates are refused by the same verifier (the traversal driver's
//! own tests cover them: `signaling/tests/traversal_tls.rs`), and the edge refuses to start with
//! an expired certificate of its own (`edge/src/certs`).

#![expect(
    clippy::unwrap_used,
    reason = "test code: an unwrap failing is the test failing"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const E_IP: &str = "127.41.0.1";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The edge binary, built for this test (debug, as the tests).
fn edge() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", "edge"])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(status.success(), "cargo build -p edge");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    target.join("debug").join("edge")
}

struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    fn start(edge: &Path, config: &Path) -> Running {
        let log = config.with_extension("log");
        let out = fs::File::create(&log).unwrap();
        let child = Command::new(edge)
            .args(["run", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Running { child, log }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has a line holding every one of `words`; that line.
    fn wait_line(&self, words: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(l) = self
                .log()
                .lines()
                .find(|l| words.iter().all(|w| l.contains(w)))
            {
                return l.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {words:?} in {}:\n{}",
                self.log.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status(edge: &Path, admin: &str) -> Value {
    let out = Command::new(edge)
        .args(["status", "--admin", admin])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn e_config(dir: &Path) -> PathBuf {
    let text = format!(
        "role = \"e\"\ndomains = [\"example.test\"]\n[e]\nfqdn = \"expe.example.test\"\n\
         sip_tls = \"{E_IP}:5061\"\nhttps = \"{E_IP}:8443\"\nxmpp = \"{E_IP}:5222\"\n\
         traversal_sip = \"{E_IP}:7001\"\ntraversal_http = \"{E_IP}:2222\"\n\
         traversal_xmpp = \"{E_IP}:7400\"\nc_subject_names = [\"expc.example.test\"]\n\
         [[e.credentials]]\nusername = \"traversal\"\ninsecure_plaintext_password = \"right\"\n\
         [tls]\ngenerate = true\ndirectory = \"tls-e\"\n[admin]\naddress = \"{E_IP}:8080\"\n\
         [media]\nbind = \"{E_IP}\"\nrange = \"41002-41099\"\ntraversal_pairs = [41000]\n"
    );
    let p = dir.join("e.toml");
    fs::write(&p, text).unwrap();
    p
}

/// A C at 127.41.0.N with `fqdn`, `password`, and `tls` (a `[tls]` section body).
fn c_config(dir: &Path, n: u8, fqdn: &str, password: &str, tls: &str) -> PathBuf {
    let text = format!(
        "role = \"c\"\ndomains = [\"example.test\"]\n[c]\nfqdn = \"{fqdn}\"\n\
         peers = [\"{E_IP}:7001\"]\nusername = \"traversal\"\npassword = \"{password}\"\n\
         expected_e_subject = \"expe.example.test\"\nkeepalive_seconds = 5\n\
         reconnect_min_seconds = 1\nreconnect_max_seconds = 2\n\
         call_control = [{{ address = \"127.41.0.250:5060\", transport = \"tcp\" }}]\n\
         phone_security_profiles = []\nsip_listen = \"127.41.0.{n}:5060\"\n\
         [tls]\n{tls}\n[admin]\naddress = \"127.41.0.{n}:8080\"\n"
    );
    let p = dir.join(format!("c{n}.toml"));
    fs::write(&p, text).unwrap();
    p
}

fn wait_file(p: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !p.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn refused_traversal_handshakes_are_logged_with_their_reason() {
    let edge = edge();
    let dir = std::env::temp_dir().join(format!("portico-refusals-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let e = Running::start(&edge, &e_config(&dir));
    e.wait_line(&["admin API"]);
    let e_admin = format!("{E_IP}:8080");

    // 1. Wrong password.
    let c = Running::start(
        &edge,
        &c_config(
            &dir,
            2,
            "expc.example.test",
            "wrong",
            "generate = true\ndirectory = \"tls-e\"",
        ),
    );
    let line = e.wait_line(&["traversal refused", "auth-failed"]);
    // (C dials from the loopback's first address: the kernel's choice.)
    assert!(line.contains("127.0.0.1:"), "names the peer: {line}");
    c.wait_line(&["auth-failed"]);
    let st = status(&edge, &e_admin);
    let listener = &st["e"]["traversal"]["listener"];
    assert!(listener["auth_failures"].as_u64().unwrap() >= 1, "{st:#}");
    assert_eq!(listener["last_error"]["kind"], "auth-failed", "{st:#}");
    drop(c);

    // 2. A client certificate from a CA E does not trust (C trusts E's CA).
    let other = Running::start(
        &edge,
        &c_config(
            &dir,
            3,
            "expc.example.test",
            "right",
            "generate = true\ndirectory = \"tls-other\"",
        ),
    );
    wait_file(&dir.join("tls-other").join("c.key"));
    drop(other);
    let tls = format!(
        "ca = \"tls-e/ca.pem\"\ncertificate = \"{0}/c.pem\"\nkey = \"{0}/c.key\"",
        dir.join("tls-other").display()
    );
    let c = Running::start(
        &edge,
        &c_config(&dir, 4, "expc.example.test", "right", &tls),
    );
    let line = e.wait_line(&["traversal refused", "certificate-rejected"]);
    assert!(line.contains("127.0.0.1:"), "{line}");
    c.wait_line(&["c: traversal:"]);
    drop(c);

    // 3. Trusted, but without the subject name E expects.
    fs::create_dir_all(dir.join("tls-name")).unwrap();
    for f in ["ca.pem", "ca.key"] {
        fs::copy(dir.join("tls-e").join(f), dir.join("tls-name").join(f)).unwrap();
    }
    let c = Running::start(
        &edge,
        &c_config(
            &dir,
            5,
            "stranger.example.test",
            "right",
            "generate = true\ndirectory = \"tls-name\"",
        ),
    );
    let line = e.wait_line(&["traversal refused", "subject-name"]);
    assert!(
        line.contains("stranger.example.test") || line.contains("expc.example.test"),
        "{line}"
    );
    c.wait_line(&["c: traversal:"]);
    drop(c);
    let st = status(&edge, &e_admin);
    assert!(
        st["e"]["traversal"]["listener"]["refused"]
            .as_u64()
            .unwrap()
            >= 3,
        "{st:#}"
    );
    assert_eq!(
        st["e"]["traversal"]["listener"]["active_links"], 0,
        "{st:#}"
    );

    // The right C links up.
    let c = Running::start(
        &edge,
        &c_config(
            &dir,
            6,
            "expc.example.test",
            "right",
            "generate = true\ndirectory = \"tls-e\"",
        ),
    );
    c.wait_line(&["traversal link up"]);
    e.wait_line(&["SIP stream open"]);
    drop(c);
    drop(e);
    let _ = fs::remove_dir_all(&dir);
}
