//! `edge`: the portico edge binary.
//!
//! Today it carries the media plane's SRTP engine only; the E and C roles, the admin API and the
//! rest of the CLI (`run`, `status`, `csr`, `doctor`, `relay`, `loadgen`) arrive with the issues
//! that build them. `edge srtp-demo` exercises what exists, for real.
#![forbid(unsafe_code)]

mod srtp_demo;

use std::process::ExitCode;

const USAGE: &str = "\
usage: edge <command> [options]

commands:
  srtp-demo [--packets N] [--size BYTES]
      For every SRTP suite: generate a master key, offer it as an SDES a=crypto line, parse the
      line back, key a sender and a receiver from it, and send N RTP packets of BYTES bytes
      (default 100000 packets of 172 bytes: G.711, 20 ms) through protect and unprotect,
      checking every packet arrives unchanged. Prints the wall time per packet.
  version
      Prints the version.
  help
      Prints this text.

The E and C roles (`edge run`) are not built yet.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "srtp-demo" => srtp_demo::Options::parse(rest).and_then(|o| srtp_demo::run(&o)),
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
