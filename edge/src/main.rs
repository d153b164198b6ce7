//! `edge`: the portico edge binary.
//!
//! `edge run --config FILE` runs the E and C roles (SIP registration through the traversal
//! link; `edge status` reads the admin API). It also carries the media plane: `edge demo`
//! (the media plane on an embedded default, with
//! calls through it), `edge srtp-demo` (the SRTP engine, every suite),
//! `edge relay` (the media workers and their port range, driven through a control socket) and
//! `edge loadgen` (calls through such a relay, measured). The rest of the CLI (`csr`,
//! `doctor`) arrives with the issues that build it.
#![forbid(unsafe_code)]

mod admin;
mod c_media;
mod certs;
mod config;
mod demo;
mod e_media;
mod flood;
mod loadgen;
mod ng;
mod relay_cmd;
mod run;
mod sipload;
mod srtp_demo;
mod xdp;

use std::process::ExitCode;

const USAGE: &str = "\
usage: edge <command> [options]

commands:
  run --config FILE
      Runs the role the configuration names: e (DMZ: SIP over TLS for clients on 5061, the
      traversal listener C dials on 7001), c (inside: dials E, SIP to call control with
      contact-rewrite or Path registration) or all-in-one (both; C dials its own E over
      loopback). Lab certificates are made first when tls.generate = true. The admin API
      (admin.address) serves /status (JSON) and /metrics (Prometheus). Runs until killed.
      Every key of FILE is explained in edge/src/config.rs; examples in edge/config/.
  status [--admin ADDRESS:PORT | --config FILE]
      Prints the JSON status of a running edge (default admin address 127.0.0.1:8080): its
      traversal links with state and last failure, client flows, registrations, counters.
  demo [--calls N] [--seconds S]
      The media plane on an embedded default, on loopback: one media worker per CPU, the
      traversal pair 36000/36001, media range 40000-47999; then N calls (default 200) for S
      seconds (default 5) through it, the E's side multiplexed on the traversal pair (SRTP, GSO
      batches), the phones' side plain RTP, every packet checked. Fails unless all arrive.
  srtp-demo [--packets N] [--size BYTES]
      For every SRTP suite: generate a master key, offer it as an SDES a=crypto line, parse the
      line back, key a sender and a receiver from it, and send N RTP packets of BYTES bytes
      (default 100000 packets of 172 bytes: G.711, 20 ms) through protect and unprotect,
      checking every packet arrives unchanged. Prints the wall time per packet.
  relay [--control PATH] [--bind IP] [--cores N,N… | --workers N] [--backend auto|uring|sockets]
        [--range FIRST-LAST] [--quarantine SECONDS] [--mux-pairs P,P…] [--inactivity SECONDS]
        [--xdp IFACE[,IFACE…] [--xdp-mode auto|native|generic] [--xdp-rate PPS[:BURST]]
         [--no-steering]]
      Runs the media plane alone: one media worker per core (pinned), sharing the media port
      range (default 36002-59999; released pairs wait out the quarantine, default 2 s) and the
      multiplexed traversal pairs (RTP port of each; RTCP on the next). Driven through a Unix
      control socket that takes one JSON request per line (allocate, release, update, rekey,
      stats, info, ban, unban; see edge/src/relay_cmd.rs). Default control socket
      /run/portico-relay.sock, bind 127.0.0.1, one unpinned worker, backend auto. With --xdp
      the XDP program filters the media range at the named interfaces' drivers and steers each
      flow to its worker's CPU (needs pinned workers; --no-steering filters only); a per-source
      rate limit on the media range with --xdp-rate. Without CAP_BPF, or on a driver without
      XDP, the relay runs without it and says why.
  loadgen [--control PATH | --rtpengine IP:PORT] [--calls N] [--seconds S] [--pps N] [--size BYTES]
          [--suite NAME|plain] [--direction both|up|down] [--mux | --mux-pair P] [--core N]
          [--relay-ip IP] [--bind IP]
          [--no-verify] [--relay-pid PID] [--start-at UNIX_MS]
      Sets N calls up on an `edge relay` (ports from its media range) or on rtpengine through
      its ng port (default 100 calls, 10 s, 50 pps, 172 bytes, AES_CM_128_HMAC_SHA1_80), sends
      both directions (or only client to phone, up, or phone to client, down), and prints loss,
      reordering, jitter and one-way added latency percentiles as JSON; with --relay-pid, also
      the relay's CPU time during the traffic (set-up and teardown excluded). With --mux the
      outside legs are multiplexed on the relay's traversal pair (start it with --mux-pairs) and
      the client end sends to it in UDP GSO batches, as an E would (--mux-pair P: every call on
      the traversal pair P, as one E's pair carries them). --start-at starts the traffic
      at a wall-clock time, so that several generators send together.
  flood [--target IP] [--bind IP] [--range FIRST-LAST] [--seconds S] [--size BYTES] [--rtp]
        [--core N]
      Sends UDP as fast as one core can from one socket (one hot source) at the ports of the
      range (default 36002-59999 on 127.0.0.1, 5 s, 172-byte garbage; --rtp: RTP-shaped
      payloads), and prints the packets sent and the rate as JSON. For the XDP flood bench.
  sipload --target IP:PORT (--ca PEM [--server-name NAME] | --insecure) [--users N]
          [--first-user K] [--domain D] [--expires S] [--rate R] [--seconds T]
          [--refresh-rate R] [--password P] [--route URI] [--bind IP] [--timeout S]
          [--keepalive S] [--core N] [--connections per-user]
      REGISTER load over TLS, one connection per user as MRA phones have: user j connects at
      j/R s and registers userNNNNNN@D (default 100 users at 100/s, example.test, Expires
      3600); then holds T s (default 0), refreshing each binding at 50-80 % of the Expires
      granted, or with --refresh-rate at exactly R REGISTER/s over the held flows. Answers
      401/407 with MD5 Digest when --password is given. Prints registrations attempted,
      succeeded and failed by reason, REGISTER/s, latency percentiles, bindings held at the
      end and connection errors as JSON. `sipload gen-cert --dir DIR [--fqdn NAME]
      [--domain D]` makes the lab CA and an E certificate there (as [tls] generate does);
      `sipload check-config FILE` validates a configuration (for cargo xtask bench register).
  sipload calls --target IP:PORT (--ca PEM | --insecure) --registrar IP:PORT …
      Call load through an edge: remote callers over TLS (SDES-SRTP) call inside callees
      registered at the registrar (plain RTP), 50 packets/s each way; set-up latency, loss per
      direction and calls held as JSON (for cargo xtask bench calls; `sipload calls --help`
      lists every option).
  version
      Prints the version.
  help
      Prints this text.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "run" => run::Options::parse(rest).and_then(|o| run::run(&o)),
        "status" => admin::status_command(rest),
        "demo" => demo::Options::parse(rest).and_then(|o| demo::run(&o)),
        "srtp-demo" => srtp_demo::Options::parse(rest).and_then(|o| srtp_demo::run(&o)),
        "relay" => relay_cmd::Options::parse(rest).and_then(relay_cmd::run),
        "loadgen" => loadgen::Options::parse(rest)
            .and_then(|o| loadgen::run(&o))
            .map(|summary| println!("{summary:#}")),
        "sipload" => sipload::main(rest),
        "flood" => flood::Options::parse(rest)
            .and_then(|o| flood::run(&o))
            .map(|summary| println!("{summary:#}")),
        "version" | "--version" | "-V" => {
            println!("edge {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edge: {e}");
            ExitCode::from(2)
        }
    }
}
