//! Generates `include/inferencekey.h` with the pinned cbindgen, and a cffi-safe copy (no
//! preprocessor lines but integer `#define`s) at `target/header.h`, where maturin looks.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    // A build-id in the shared library ties it to its separate debug info (release/build.sh
    // strips the shipped library) and names it in core dumps. Not every linker adds one itself.
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--build-id=sha1");
    }

    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let version = env::var("CARGO_PKG_VERSION").expect("cargo sets it");
    config.after_includes = Some(format!("\n#define IK_VERSION \"{version}\""));
    let header = match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            let mut text = Vec::new();
            bindings.write(&mut text);
            String::from_utf8(text).expect("cbindgen writes UTF-8")
        }
        Err(e) => panic!("cbindgen failed: {e}"),
    };

    let public = crate_dir.join("../../include/inferencekey.h");
    write_if_changed(&public, &header);
    if let Some(target) = target_dir() {
        write_if_changed(&target.join("header.h"), &cffi_safe(&header));
    }
}

/// Keeps the mtime when nothing changed, so builds stay incremental.
fn write_if_changed(path: &Path, text: &str) {
    if fs::read_to_string(path).ok().as_deref() != Some(text) {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).expect("create header folder");
        }
        fs::write(path, text).expect("write header");
    }
}

/// cffi's `cdef` accepts declarations and integer `#define`s only.
fn cffi_safe(header: &str) -> String {
    let mut out = String::new();
    let mut in_cpp_block = false;
    for line in header.lines() {
        let t = line.trim_start();
        if t.starts_with("#ifdef __cplusplus") {
            in_cpp_block = true;
            continue;
        }
        if in_cpp_block {
            in_cpp_block = !t.starts_with("#endif");
            continue;
        }
        if t.starts_with('#') {
            let mut parts = t.split_whitespace();
            let is_int_define = parts.next() == Some("#define")
                && parts.next().is_some()
                && parts
                    .next()
                    .is_some_and(|v| v.trim_start_matches('-').parse::<i64>().is_ok());
            if !is_int_define {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The cargo target folder (`…/target`), found from OUT_DIR.
fn target_dir() -> Option<PathBuf> {
    if let Ok(dir) = env::var("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(dir));
    }
    let out = PathBuf::from(env::var("OUT_DIR").ok()?);
    out.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))
        .map(Path::to_path_buf)
}
