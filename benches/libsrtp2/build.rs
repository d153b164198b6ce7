//! Builds the C shim over the installed libsrtp2 (Debian: libsrtp2-dev) and links both.
fn main() {
    println!("cargo:rerun-if-changed=src/shim.c");
    let lib = match pkg_config::Config::new()
        .cargo_metadata(false)
        .probe("libsrtp2")
    {
        Ok(lib) => lib,
        Err(e) => {
            eprintln!(
                "libsrtp2 not found through pkg-config ({e}); install libsrtp2-dev and pkg-config"
            );
            std::process::exit(1);
        }
    };
    let mut build = cc::Build::new();
    build.file("src/shim.c").opt_level(2);
    for p in &lib.include_paths {
        build.include(p);
    }
    build.compile("srtp2shim");
    // After the static shim, so the linker sees the shim's references first.
    for p in &lib.link_paths {
        println!("cargo:rustc-link-search=native={}", p.display());
    }
    for l in &lib.libs {
        println!("cargo:rustc-link-lib={l}");
    }
}
