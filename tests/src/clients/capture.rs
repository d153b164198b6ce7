//! Packet captures in the lab: `dumpcap` on one interface of a namespace writing a pcap file,
//! stopped by its pid, then read back with `tshark`.
//!
//! - [`Capture::start`] waits until dumpcap says `Capturing on …`, so that nothing sent after it
//!   returns is missed; [`Capture::stop`] ends it with SIGTERM (dumpcap then writes out what it
//!   holds and exits) and gives the [`CaptureFile`].
//! - [`CaptureFile::sdp`]: the SDP bodies tshark decodes (`-Y sdp`), with their `m=` lines,
//!   protocols (`RTP/AVP`, `RTP/SAVP`, …) and attributes. Only plain SIP can be decoded: SIP over
//!   TLS shows as TLS records, so look at SDP on a plain leg (UDP or TCP).
//! - [`CaptureFile::udp_datagrams`], [`CaptureFile::udp_payloads_containing`] and
//!   [`CaptureFile::udp_payloads_containing_any`]: the UDP payloads (`tshark -T fields -e
//!   udp.payload`, whatever tshark makes of the protocol above) and those holding a byte pattern
//!   (a run of a tone's PCMU bytes, say): to prove that clear media is on a link, or never is.
//!
//! Traffic between two addresses of one namespace (two clients and Kamailio inside, say) goes
//! over its `lo`, not over the interface that holds the addresses.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::process::{poll, tail, Proc, ScratchDir};

/// How long dumpcap may take to start capturing.
const START_LIMIT: Duration = Duration::from_secs(10);

/// What dumpcap prints once its capture runs.
const CAPTURING: &str = "Capturing on";

/// A running dumpcap. Dropping it stops it (the pcap stays in its directory until that is
/// dropped too).
#[derive(Debug)]
pub struct Capture {
    name: String,
    proc: Proc,
    file: PathBuf,
    dir: ScratchDir,
}

impl Capture {
    /// Starts `dumpcap -i INTERFACE -P -w DIR/NAME.pcap [-f FILTER]` in `namespace` (a capture
    /// filter in pcap-filter syntax, e.g. `udp or tcp port 5060`) and waits until it captures.
    pub fn start(
        namespace: &str,
        interface: &str,
        name: &str,
        filter: Option<&str>,
    ) -> Result<Capture, String> {
        let dir = ScratchDir::new(&format!("capture-{name}"))?;
        let file = dir.path().join(format!("{name}.pcap"));
        let mut args = vec![
            "-i".to_string(),
            interface.to_string(),
            "-P".to_string(),
            "-w".to_string(),
            file.display().to_string(),
        ];
        if let Some(f) = filter {
            args.extend(["-f".to_string(), f.to_string()]);
        }
        let label = format!("dumpcap {name} ({namespace} {interface})");
        let proc = Proc::spawn(
            &label,
            namespace,
            "dumpcap",
            &args,
            &[],
            &dir.path().join("dumpcap.log"),
        )?;
        let started = poll(START_LIMIT, Duration::from_millis(50), || {
            if proc.output().text().contains(CAPTURING) {
                Some(Ok(()))
            } else {
                proc.check_running().err().map(Err)
            }
        });
        match started {
            Some(Ok(())) => Ok(Capture {
                name: label,
                proc,
                file,
                dir,
            }),
            Some(Err(e)) => Err(e),
            None => Err(format!(
                "{label}: not capturing after {START_LIMIT:?}; output:\n{}",
                tail(&proc.output().text(), 20)
            )),
        }
    }

    /// The pcap file it writes.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Stops dumpcap (SIGTERM to its pid, SIGKILL after 3 s) and hands over the file.
    pub fn stop(mut self) -> Result<CaptureFile, String> {
        self.proc.stop(None, Duration::from_secs(3))?;
        if !self.file.exists() {
            return Err(format!(
                "{}: no {} after stopping; output:\n{}",
                self.name,
                self.file.display(),
                tail(&self.proc.output().text(), 20)
            ));
        }
        Ok(CaptureFile {
            path: self.file.clone(),
            log: self.proc.output().text(),
            keylog: None,
            _dir: Some(self.dir),
        })
    }
}

/// One SDP body tshark decoded in a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpSeen {
    /// The frame number in the capture.
    pub frame: u64,
    /// The IP source and destination of the packet.
    pub src: String,
    /// See `src`.
    pub dst: String,
    /// The SIP request line (`INVITE sip:… SIP/2.0`) or status line (`SIP/2.0 200 OK`) it came in.
    pub start_line: String,
    /// The `m=` values (`audio 20000 RTP/AVP 0 8 101`).
    pub media: Vec<String>,
    /// The transport protocol of each `m=` line (`RTP/AVP`, `RTP/SAVP`, …).
    pub protocols: Vec<String>,
    /// The media-level `a=` values (`rtpmap:0 PCMU/8000`, `sendonly`, `crypto:…`).
    pub attributes: Vec<String>,
}

impl SdpSeen {
    /// Whether a media-level attribute is `attr` exactly (`sendonly`) or starts with `attr:`.
    pub fn has_attribute(&self, attr: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a == attr || a.strip_prefix(attr).is_some_and(|r| r.starts_with(':')))
    }
}

/// One UDP datagram of a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpDatagram {
    /// The frame number in the capture.
    pub frame: u64,
    /// `address:port` of the sender.
    pub src: String,
    /// `address:port` of the receiver.
    pub dst: String,
    /// Everything after the UDP header.
    pub payload: Vec<u8>,
}

/// A UDP datagram whose payload holds a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpHit {
    /// The frame number in the capture.
    pub frame: u64,
    /// `address:port` of the sender.
    pub src: String,
    /// `address:port` of the receiver.
    pub dst: String,
    /// Which of the patterns looked for (0 when there was one).
    pub pattern: usize,
    /// Where in the UDP payload the pattern starts.
    pub offset: usize,
}

/// A finished pcap file, read with `tshark`.
#[derive(Debug)]
pub struct CaptureFile {
    path: PathBuf,
    log: String,
    /// A TLS key log (NSS format) tshark decrypts TLS with.
    keylog: Option<PathBuf>,
    /// The capture's scratch directory, removed (or kept) with this.
    _dir: Option<ScratchDir>,
}

/// `tshark -n [-o tls.keylog_file:KEYLOG] -r FILE ARGS…`: its stdout, or `Err` with its
/// stderr.
fn tshark(file: &Path, keylog: Option<&Path>, args: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n");
    if let Some(k) = keylog {
        cmd.arg("-o")
            .arg(format!("tls.keylog_file:{}", k.display()));
    }
    let out = cmd
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .map_err(|e| format!("starting tshark (Debian package tshark): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "tshark -r {} {} failed ({}):\n{}",
            file.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("tshark wrote something not UTF-8: {e}"))
}

/// The values of `field` in one packet of `tshark -T json -e …` output.
fn json_values(layers: &Value, field: &str) -> Vec<String> {
    match layers.get(field) {
        Some(Value::Array(values)) => values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Reads `tshark -T json` output of the SDP fields into [`SdpSeen`]s.
fn parse_sdp_json(text: &str) -> Result<Vec<SdpSeen>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let packets: Value = serde_json::from_str(text).map_err(|e| format!("tshark's JSON: {e}"))?;
    let packets = packets.as_array().ok_or("tshark's JSON is not a list")?;
    Ok(packets
        .iter()
        .filter_map(|p| p.get("_source")?.get("layers"))
        .map(|layers| {
            let first = |f: &str| {
                json_values(layers, f)
                    .into_iter()
                    .next()
                    .unwrap_or_default()
            };
            let start_line = match first("sip.Request-Line") {
                s if s.is_empty() => first("sip.Status-Line"),
                s => s,
            };
            SdpSeen {
                frame: first("frame.number").parse().unwrap_or(0),
                src: first("ip.src"),
                dst: first("ip.dst"),
                start_line,
                media: json_values(layers, "sdp.media"),
                protocols: json_values(layers, "sdp.media.proto"),
                attributes: json_values(layers, "sdp.media_attr"),
            }
        })
        .collect())
}

/// Decodes tshark's hex of a bytes field (`0a1b…`, or with `:` between bytes).
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex.bytes().filter(|&b| b != b':').collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

/// The first place in `haystack` where one of `patterns` starts: (pattern, offset).
fn find_any(haystack: &[u8], patterns: &[Vec<u8>]) -> Option<(usize, usize)> {
    let mut by_len: HashMap<usize, HashMap<&[u8], usize>> = HashMap::new();
    for (i, p) in patterns.iter().enumerate() {
        by_len
            .entry(p.len())
            .or_default()
            .entry(p.as_slice())
            .or_insert(i);
    }
    (0..=haystack.len()).find_map(|at| {
        by_len.iter().find_map(|(&len, set)| {
            let window = haystack.get(at..at + len)?;
            set.get(window).map(|&i| (i, at))
        })
    })
}

/// The datagrams of `tshark -T fields` lines (frame, ip.src, udp.srcport, ip.dst, udp.dstport,
/// udp.payload; tab-separated). A datagram with no payload has an empty one.
fn parse_udp_fields(text: &str) -> Vec<UdpDatagram> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            Some(UdpDatagram {
                frame: f.first()?.parse().ok()?,
                src: format!("{}:{}", f.get(1)?, f.get(2)?),
                dst: format!("{}:{}", f.get(3)?, f.get(4)?),
                payload: decode_hex(f.get(5).copied().unwrap_or_default())?,
            })
        })
        .collect()
}

/// The datagrams of `datagrams` holding one of `patterns` (the first found in each).
fn hits(datagrams: Vec<UdpDatagram>, patterns: &[Vec<u8>]) -> Vec<UdpHit> {
    datagrams
        .into_iter()
        .filter_map(|d| {
            let (pattern, offset) = find_any(&d.payload, patterns)?;
            Some(UdpHit {
                frame: d.frame,
                src: d.src,
                dst: d.dst,
                pattern,
                offset,
            })
        })
        .collect()
}

impl CaptureFile {
    /// A pcap or pcapng file made elsewhere.
    pub fn open(path: &Path) -> Result<CaptureFile, String> {
        if !path.exists() {
            return Err(format!("no capture file {}", path.display()));
        }
        Ok(CaptureFile {
            path: path.to_path_buf(),
            log: String::new(),
            keylog: None,
            _dir: None,
        })
    }

    /// The same read with the TLS session keys in `keylog` (NSS key log format, as
    /// `SSLKEYLOGFILE` writes it): SIP over TLS is decoded, its SDP included.
    pub fn with_tls_keys(mut self, keylog: &Path) -> CaptureFile {
        self.keylog = Some(keylog.to_path_buf());
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What dumpcap printed (its packet counts at the end).
    pub fn log(&self) -> &str {
        &self.log
    }

    /// The number of packets in it.
    pub fn packets(&self) -> Result<usize, String> {
        Ok(tshark(
            &self.path,
            self.keylog.as_deref(),
            &["-T", "fields", "-e", "frame.number"],
        )?
        .lines()
        .count())
    }

    /// Every SDP body tshark decodes in it (SIP over UDP or TCP; not over TLS), in order.
    pub fn sdp(&self) -> Result<Vec<SdpSeen>, String> {
        let mut args = vec!["-Y", "sdp", "-T", "json"];
        for f in [
            "frame.number",
            "ip.src",
            "ip.dst",
            "sip.Request-Line",
            "sip.Status-Line",
            "sdp.media",
            "sdp.media.proto",
            "sdp.media_attr",
        ] {
            args.extend(["-e", f]);
        }
        parse_sdp_json(&tshark(&self.path, self.keylog.as_deref(), &args)?)
    }

    /// The distinct `m=` protocols seen in SDP ([`CaptureFile::sdp`]), in the order first seen.
    pub fn sdp_protocols(&self) -> Result<Vec<String>, String> {
        let mut seen: Vec<String> = Vec::new();
        for p in self.sdp()?.into_iter().flat_map(|s| s.protocols) {
            if !seen.contains(&p) {
                seen.push(p);
            }
        }
        Ok(seen)
    }

    /// Every UDP datagram in it, in order (the first UDP header of a frame: not the copy an
    /// ICMP error quotes after its own).
    pub fn udp_datagrams(&self) -> Result<Vec<UdpDatagram>, String> {
        let mut args = vec!["-Y", "udp", "-T", "fields", "-E", "occurrence=f"];
        for f in [
            "frame.number",
            "ip.src",
            "udp.srcport",
            "ip.dst",
            "udp.dstport",
            "udp.payload",
        ] {
            args.extend(["-e", f]);
        }
        Ok(parse_udp_fields(&tshark(
            &self.path,
            self.keylog.as_deref(),
            &args,
        )?))
    }

    /// The UDP datagrams whose payload (everything after the UDP header, whatever it carries)
    /// holds `pattern`.
    pub fn udp_payloads_containing(&self, pattern: &[u8]) -> Result<Vec<UdpHit>, String> {
        self.udp_payloads_containing_any(&[pattern.to_vec()])
    }

    /// The UDP datagrams whose payload holds any of `patterns` (the runs of a tone's PCMU
    /// frames, [`crate::audio::pcmu_frame_runs`], say), with which one.
    pub fn udp_payloads_containing_any(&self, patterns: &[Vec<u8>]) -> Result<Vec<UdpHit>, String> {
        Ok(hits(self.udp_datagrams()?, patterns))
    }

    /// Whether any UDP payload holds `pattern` ([`CaptureFile::udp_payloads_containing`]).
    pub fn udp_payload_contains(&self, pattern: &[u8]) -> Result<bool, String> {
        Ok(!self.udp_payloads_containing(pattern)?.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdp_from_tshark_json() {
        let json = r#"[{"_index":"packets-2024","_type":"doc","_score":null,"_source":{"layers":{
            "frame.number":["7"],"ip.src":["198.18.2.20"],"ip.dst":["198.18.2.100"],
            "sip.Request-Line":["INVITE sip:bob@198.18.2.100:5070 SIP/2.0"],
            "sdp.media":["audio 20000 RTP/AVP 0 8 101"],"sdp.media.proto":["RTP/AVP"],
            "sdp.media_attr":["rtpmap:0 PCMU/8000","sendonly"]}}}]"#;
        let got = parse_sdp_json(json).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].frame, 7);
        assert_eq!(
            got[0].start_line,
            "INVITE sip:bob@198.18.2.100:5070 SIP/2.0"
        );
        assert_eq!(got[0].protocols, vec!["RTP/AVP"]);
        assert!(got[0].has_attribute("sendonly"));
        assert!(got[0].has_attribute("rtpmap"));
        assert!(!got[0].has_attribute("rtp"));
        assert!(parse_sdp_json("\n").unwrap().is_empty());
    }

    #[test]
    fn udp_payload_search() {
        let text = "1\t198.18.2.100\t20000\t198.18.2.100\t20002\t80000001ffaa5533\n\
                    2\t198.18.2.100\t20002\t198.18.2.100\t20000\t80:00:00:02:aa:55:33:00\n\
                    3\t198.18.2.100\t5060\t198.18.2.20\t5060\t\n";
        let datagrams = parse_udp_fields(text);
        assert_eq!(datagrams.len(), 3);
        assert!(datagrams[2].payload.is_empty());
        let found = hits(datagrams.clone(), &[vec![0xaa, 0x55, 0x33]]);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].offset, 5);
        assert_eq!(found[1].src, "198.18.2.100:20002");
        assert_eq!(found[1].offset, 4);
        assert!(hits(datagrams.clone(), &[vec![0x12, 0x34]]).is_empty());
        let any = hits(datagrams, &[vec![0x12, 0x34], vec![0x00, 0x02], vec![0xff]]);
        assert_eq!(
            any.iter()
                .map(|h| (h.frame, h.pattern, h.offset))
                .collect::<Vec<_>>(),
            vec![(1, 2, 4), (2, 1, 2)]
        );
        assert_eq!(decode_hex("0a1"), None);
    }
}
