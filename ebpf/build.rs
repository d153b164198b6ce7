//! Builds the XDP program (`bpf/portico_xdp.c`) with clang into `$OUT_DIR/portico_xdp.o`, which
//! `src/program.rs` embeds.
//!
//! - `CLANG`: the compiler to run (default `clang` on `PATH`).
//! - `PORTICO_XDP_CFLAGS`: extra words for clang, e.g. `-DPORTICO_MAX_IPV6_EXT=6` to override a
//!   constant of `bpf/constants.h`.
//!
//! Without clang, or without the libbpf headers, the build fails saying which Debian package to
//! install.

use std::env;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

/// The sources: any change rebuilds the object.
const SOURCES: &[&str] = &[
    "bpf/portico_xdp.c",
    "bpf/constants.h",
    "bpf/structs.h",
    "bpf/maps.h",
    "bpf/helpers.h",
    "bpf/parse.h",
];

/// Stops the build with `msg` (cargo shows a build script's stderr when it fails).
fn fail(msg: &str) -> ! {
    eprintln!("\nerror: {msg}\n");
    exit(1);
}

fn main() {
    for s in SOURCES {
        println!("cargo:rerun-if-changed={s}");
    }
    println!("cargo:rerun-if-env-changed=CLANG");
    println!("cargo:rerun-if-env-changed=PORTICO_XDP_CFLAGS");

    let Some(out_dir) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        fail("OUT_DIR is not set: build.rs must be run by cargo");
    };
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_owned());

    // eBPF objects follow the byte order of the machine that loads them.
    let target = match env::var("CARGO_CFG_TARGET_ENDIAN").as_deref() {
        Ok("big") => "bpfeb",
        _ => "bpfel",
    };
    let mut cmd = Command::new(&clang);
    cmd.args([
        "-O2", "-g", "-target", target, "-Wall", "-Wextra", "-Werror",
    ]);
    cmd.arg("-std=gnu11");
    // <linux/types.h> includes <asm/types.h>, which Debian keeps in the multiarch directory.
    if let Ok(arch) = env::var("CARGO_CFG_TARGET_ARCH") {
        let multiarch = PathBuf::from(format!("/usr/include/{arch}-linux-gnu"));
        if multiarch.is_dir() {
            cmd.arg("-I").arg(multiarch);
        }
    }
    if let Ok(extra) = env::var("PORTICO_XDP_CFLAGS") {
        cmd.args(extra.split_whitespace());
    }
    let object = out_dir.join("portico_xdp.o");
    cmd.arg("-c")
        .arg(Path::new("bpf").join("portico_xdp.c"))
        .arg("-o")
        .arg(&object);

    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) if e.kind() == ErrorKind::NotFound => fail(&format!(
            "`{clang}` not found on PATH. The XDP program (ebpf/bpf/portico_xdp.c) is C built with \
             clang -target bpf. Install the Debian packages `clang` (the compiler) and \
             `libbpf-dev` (the <bpf/bpf_helpers.h> headers): apt-get install clang libbpf-dev \
             (or set CLANG to a clang binary)."
        )),
        Err(e) => fail(&format!("running `{clang}` failed: {e}")),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if stderr.contains("bpf/bpf_helpers.h") || stderr.contains("bpf/bpf_endian.h") {
            fail(&format!(
                "the libbpf headers are missing (bpf/bpf_helpers.h): install the Debian package \
                 `libbpf-dev` (apt-get install libbpf-dev).\n{stderr}"
            ));
        }
        if stderr.contains("linux/bpf.h") || stderr.contains("asm/types.h") {
            fail(&format!(
                "the Linux UAPI headers are missing (linux/bpf.h, asm/types.h): install the Debian \
                 package `linux-libc-dev` (apt-get install linux-libc-dev).\n{stderr}"
            ));
        }
        fail(&format!(
            "clang failed to build ebpf/bpf/portico_xdp.c ({}):\n{stderr}",
            output.status
        ));
    }
    if !stderr.trim().is_empty() {
        for line in stderr.lines() {
            println!("cargo:warning={line}");
        }
    }
}
