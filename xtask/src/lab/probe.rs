//! Small checks the lab runs inside its namespaces: a SIP OPTIONS over UDP (RFC 3261 §11) and a
//! DNS query (RFC 1035, SRV records RFC 2782).
//!
//! A socket belongs to the network namespace of the process that opens it, and this crate has no
//! `setns` (no unsafe code, no extra dependency), so the lab runs its own binary inside a
//! namespace: `ip netns exec NS xtask lab probe …` ([`in_namespace`]). That subcommand is
//! internal; it prints one line and exits 0 when it got an answer.
//!
//! ```text
//! cargo xtask lab probe sip-options BIND_ADDR DEST_ADDR:PORT   → "SIP/2.0 200 OK"
//! cargo xtask lab probe dns SERVER_ADDR:PORT NAME srv|a        → "NOERROR target:port …"
//! ```

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::{Command, ExitCode};
use std::time::Duration;

use super::LabError;

/// How long one try waits for an answer; a probe tries three times.
const TRY_TIMEOUT: Duration = Duration::from_millis(700);

fn io_err(what: &str) -> impl FnOnce(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// A number that differs between probes (the pid and the clock), for tags, branches and ids.
fn nonce() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    t ^ std::process::id().rotate_left(16)
}

/// The OPTIONS request a probe sends from `local` to `to`.
pub(crate) fn options_request(local: SocketAddrV4, to: SocketAddrV4, n: u32) -> String {
    format!(
        "OPTIONS sip:{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-lab-{n:08x};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:lab-probe@{domain}>;tag=lab{n:08x}\r\n\
         To: <sip:{to}>\r\n\
         Call-ID: lab-probe-{n:08x}@{ip}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n",
        domain = super::plan::DOMAIN,
        ip = local.ip(),
    )
}

/// The status line and code of a SIP response whose Call-ID is `call_id`; `None` for anything
/// else (a request, another transaction, garbage).
pub(crate) fn sip_status(response: &[u8], call_id: &str) -> Option<(u16, String)> {
    let text = std::str::from_utf8(response).ok()?;
    let mut lines = text.split("\r\n");
    let status = lines.next()?;
    let code = status.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()?;
    let ours = lines.take_while(|l| !l.is_empty()).any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            let name = name.trim();
            (name.eq_ignore_ascii_case("call-id") || name == "i") && value.trim() == call_id
        })
    });
    ours.then(|| (code, status.to_string()))
}

/// Sends an OPTIONS from `bind` (port chosen by the kernel) to `to` and returns the final
/// response's status line.
pub(crate) fn sip_options(bind: Ipv4Addr, to: SocketAddrV4) -> Result<(u16, String), String> {
    let sock = UdpSocket::bind((bind, 0)).map_err(io_err("binding the probe socket"))?;
    sock.set_read_timeout(Some(TRY_TIMEOUT))
        .map_err(io_err("setting a timeout"))?;
    let local = match sock.local_addr().map_err(io_err("local address"))? {
        std::net::SocketAddr::V4(a) => a,
        std::net::SocketAddr::V6(a) => return Err(format!("bound to IPv6 {a}")),
    };
    let n = nonce();
    let request = options_request(local, to, n);
    let call_id = format!("lab-probe-{n:08x}@{}", local.ip());
    let mut buf = [0u8; 4096];
    for _ in 0..3 {
        sock.send_to(request.as_bytes(), to)
            .map_err(io_err("sending OPTIONS"))?;
        loop {
            match sock.recv_from(&mut buf) {
                Ok((len, _)) => {
                    let got = buf.get(..len).unwrap_or_default();
                    match sip_status(got, &call_id) {
                        // A provisional answer: wait on for the final one.
                        Some((code, _)) if code < 200 => continue,
                        Some(answer) => return Ok(answer),
                        None => continue,
                    }
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    break
                }
                // ICMP port unreachable comes back as ECONNREFUSED on the next receive.
                Err(e) => return Err(format!("no answer from {to}: {e}")),
            }
        }
    }
    Err(format!("no answer from {to} in 3 tries"))
}

// ---------------------------------------------------------------------------------------------
// DNS

pub(crate) const TYPE_A: u16 = 1;
pub(crate) const TYPE_SRV: u16 = 33;

/// The RCODE names of RFC 1035 §4.1.1.
pub(crate) fn rcode_name(rcode: u8) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "RCODE?",
    }
}

/// A DNS answer: the response code and the answer records this lab uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DnsAnswer {
    pub(crate) rcode: u8,
    /// SRV records: (priority, weight, port, target).
    pub(crate) srv: Vec<(u16, u16, u16, String)>,
    pub(crate) a: Vec<Ipv4Addr>,
}

impl std::fmt::Display for DnsAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", rcode_name(self.rcode))?;
        for (prio, weight, port, target) in &self.srv {
            write!(f, " {target}:{port} (priority {prio} weight {weight})")?;
        }
        for a in &self.a {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

/// A query for `name` of type `qtype`, class IN, recursion desired, id `id`.
pub(crate) fn dns_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..=63).contains(l))
            .ok_or(format!("{name}: a label of {} bytes", label.len()))?;
        q.push(len);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    Ok(q)
}

fn u16_at(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// Reads a (possibly compressed, RFC 1035 §4.1.4) name at `at`; returns it and the offset after
/// it in the record.
fn read_name(msg: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    for _ in 0..64 {
        let len = *msg.get(at)?;
        match len {
            0 => {
                return Some((labels.join("."), end.unwrap_or(at + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let ptr = usize::from(u16_at(msg, at)? & 0x3fff);
                end.get_or_insert(at + 2);
                at = ptr;
            }
            l if l & 0xc0 == 0 => {
                let label = msg.get(at + 1..at + 1 + usize::from(l))?;
                labels.push(String::from_utf8_lossy(label).into_owned());
                at += 1 + usize::from(l);
            }
            _ => return None,
        }
    }
    None
}

/// Parses the response to query `id`.
pub(crate) fn parse_dns(msg: &[u8], id: u16) -> Result<DnsAnswer, String> {
    let bad = || format!("malformed DNS response ({} bytes)", msg.len());
    if u16_at(msg, 0) != Some(id) {
        return Err("a DNS response to another query".into());
    }
    let flags = u16_at(msg, 2).ok_or_else(bad)?;
    if flags & 0x8000 == 0 {
        return Err("a DNS query, not a response".into());
    }
    let rcode = (flags & 0x000f) as u8;
    let qdcount = u16_at(msg, 4).ok_or_else(bad)?;
    let ancount = u16_at(msg, 6).ok_or_else(bad)?;
    let mut at = 12;
    for _ in 0..qdcount {
        at = read_name(msg, at).ok_or_else(bad)?.1 + 4;
    }
    let mut answer = DnsAnswer {
        rcode,
        ..DnsAnswer::default()
    };
    for _ in 0..ancount {
        let (_, after) = read_name(msg, at).ok_or_else(bad)?;
        let rtype = u16_at(msg, after).ok_or_else(bad)?;
        let rdlen = usize::from(u16_at(msg, after + 8).ok_or_else(bad)?);
        let rdata = after + 10;
        let rd = msg.get(rdata..rdata + rdlen).ok_or_else(bad)?;
        match rtype {
            TYPE_A if rdlen == 4 => answer.a.push(Ipv4Addr::new(rd[0], rd[1], rd[2], rd[3])),
            TYPE_SRV if rdlen >= 7 => {
                let (prio, weight, port) = (
                    u16_at(msg, rdata).ok_or_else(bad)?,
                    u16_at(msg, rdata + 2).ok_or_else(bad)?,
                    u16_at(msg, rdata + 4).ok_or_else(bad)?,
                );
                let (target, _) = read_name(msg, rdata + 6).ok_or_else(bad)?;
                answer.srv.push((prio, weight, port, target));
            }
            _ => {}
        }
        at = rdata + rdlen;
    }
    Ok(answer)
}

/// Asks `server` for `name` of type `qtype` over UDP.
pub(crate) fn dns(server: SocketAddrV4, name: &str, qtype: u16) -> Result<DnsAnswer, String> {
    let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(io_err("binding"))?;
    sock.set_read_timeout(Some(TRY_TIMEOUT))
        .map_err(io_err("setting a timeout"))?;
    let id = (nonce() & 0xffff) as u16;
    let query = dns_query(id, name, qtype)?;
    let mut buf = [0u8; 1500];
    for _ in 0..3 {
        sock.send_to(&query, server)
            .map_err(io_err("sending the query"))?;
        match sock.recv_from(&mut buf) {
            Ok((len, from)) if from == std::net::SocketAddr::V4(server) => {
                return parse_dns(buf.get(..len).unwrap_or_default(), id);
            }
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                continue
            }
            Err(e) => return Err(format!("no answer from {server}: {e}")),
        }
    }
    Err(format!("no answer from {server} in 3 tries"))
}

/// `lab probe …`, run inside a namespace by [`in_namespace`].
pub(crate) fn cli(args: &[String]) -> Result<ExitCode, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let line = match args.as_slice() {
        ["sip-options", bind, to] => {
            let bind = bind.parse().map_err(|_| format!("bad address {bind}"))?;
            let to = to.parse().map_err(|_| format!("bad address:port {to}"))?;
            sip_options(bind, to).map(|(_, status)| status)
        }
        ["dns", server, name, kind] => {
            let server = server
                .parse()
                .map_err(|_| format!("bad address:port {server}"))?;
            let qtype = match *kind {
                "srv" => TYPE_SRV,
                "a" => TYPE_A,
                k => return Err(format!("unknown record type {k} (srv, a)")),
            };
            dns(server, name, qtype).map(|a| a.to_string())
        }
        _ => return Err(
            "usage: lab probe sip-options BIND DEST:PORT | lab probe dns SERVER:PORT NAME srv|a"
                .into(),
        ),
    };
    match line {
        Ok(l) => {
            println!("{l}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Runs `xtask lab probe ARGS…` inside `namespace`; its one line of output, or why it failed.
pub(crate) fn in_namespace(namespace: &str, args: &[&str]) -> Result<String, LabError> {
    let exe = std::env::current_exe().map_err(|source| LabError::Io {
        what: "finding the xtask binary".into(),
        source,
    })?;
    let exe = exe.to_string_lossy().into_owned();
    let mut all = vec!["netns", "exec", namespace, exe.as_str(), "lab", "probe"];
    all.extend_from_slice(args);
    let out = Command::new("ip")
        .args(&all)
        .output()
        .map_err(|source| LabError::Io {
            what: "starting `ip netns exec`".into(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() {
        Ok(text)
    } else {
        Err(LabError::Command {
            command: format!("ip {}", all.join(" ")),
            status: out.status.code(),
            stderr: format!("{text} {}", String::from_utf8_lossy(&out.stderr).trim()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_status_lines_are_matched_to_the_probe() {
        let ok = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.18.2.100:4000\r\ni: lab-probe-1@x\r\n\
                   Content-Length: 0\r\n\r\n";
        assert_eq!(
            sip_status(ok, "lab-probe-1@x"),
            Some((200, "SIP/2.0 200 OK".into()))
        );
        assert_eq!(sip_status(ok, "lab-probe-2@x"), None);
        let long = b"SIP/2.0 401 Unauthorized\r\nCall-ID:  c \r\n\r\n";
        assert_eq!(sip_status(long, "c").map(|s| s.0), Some(401));
        assert_eq!(
            sip_status(b"OPTIONS sip:x SIP/2.0\r\nCall-ID: c\r\n\r\n", "c"),
            None
        );
        assert_eq!(sip_status(b"SIP/2.0 2", "c"), None);
        assert_eq!(sip_status(&[0xff, 0xfe], "c"), None);
    }

    #[test]
    fn the_options_request_is_well_formed() {
        let local = "198.18.2.100:40000".parse().unwrap();
        let to = "198.18.2.20:5060".parse().unwrap();
        let r = options_request(local, to, 0xabc);
        assert!(r.starts_with("OPTIONS sip:198.18.2.20:5060 SIP/2.0\r\n"));
        assert!(
            r.contains("Via: SIP/2.0/UDP 198.18.2.100:40000;branch=z9hG4bK-lab-00000abc;rport\r\n")
        );
        assert!(r.contains("Call-ID: lab-probe-00000abc@198.18.2.100\r\n"));
        assert!(r.ends_with("Content-Length: 0\r\n\r\n"));
    }

    /// A response as dnsmasq sends it: the question, then an SRV answer whose owner name points
    /// back at the question (compression, RFC 1035 §4.1.4) and whose target is spelled out.
    fn srv_response(id: u16) -> Vec<u8> {
        let mut m = dns_query(id, "_collab-edge._tls.example.test", TYPE_SRV).unwrap();
        m[2] = 0x85; // QR, AA, RD
        m[3] = 0x80; // RA, NOERROR
        m[7] = 1; // ANCOUNT
        m.extend_from_slice(&[0xc0, 12]); // name: pointer to the question
        m.extend_from_slice(&TYPE_SRV.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 0]); // class IN, TTL 0
        let target = b"\x04expe\x07example\x04test\x00";
        let rdlen = 6 + target.len() as u16;
        m.extend_from_slice(&rdlen.to_be_bytes());
        m.extend_from_slice(&[0, 10, 0, 10, 0x20, 0xfb]); // 10 10 8443
        m.extend_from_slice(target);
        m
    }

    #[test]
    fn dns_queries_and_answers() {
        let q = dns_query(0x1234, "a.bc", TYPE_A).unwrap();
        assert_eq!(
            q,
            [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 2, b'b', b'c', 0, 0, 1, 0, 1]
        );
        assert!(dns_query(1, "a..b", TYPE_A).is_err());
        let r = parse_dns(&srv_response(7), 7).unwrap();
        assert_eq!(r.rcode, 0);
        assert_eq!(r.srv, [(10, 10, 8443, "expe.example.test".to_string())]);
        assert_eq!(
            r.to_string(),
            "NOERROR expe.example.test:8443 (priority 10 weight 10)"
        );
        assert!(parse_dns(&srv_response(7), 8).is_err());
        // Truncated anywhere: an error, never a panic.
        let full = srv_response(7);
        for n in 0..full.len() {
            let _ = parse_dns(&full[..n], 7);
        }
        // NXDOMAIN without answers.
        let mut nx = dns_query(9, "_cisco-uds._tcp.example.test", TYPE_SRV).unwrap();
        nx[2] = 0x85;
        nx[3] = 0x83;
        let r = parse_dns(&nx, 9).unwrap();
        assert_eq!((rcode_name(r.rcode), r.srv.len()), ("NXDOMAIN", 0));
        // A pointer loop ends.
        let mut looped = dns_query(3, "x", TYPE_A).unwrap();
        looped[2] = 0x80;
        looped[7] = 1;
        let at = looped.len() as u8;
        looped.extend_from_slice(&[0xc0, at]);
        assert!(parse_dns(&looped, 3).is_err());
    }
}
