//! `cargo autodiff <command> [args]`: runs `cargo <command>` so that `oxidase::autodiff`
//! derivatives are generated at link time.
//!
//! It adds to the rustc flags `-Clinker-plugin-lto` (rustc emits LLVM bitcode) and
//! `-Clinker=<oxidase-cc>` (the link-time pass), a ThinLTO cache under the target directory, and
//! `--target <host>` so that build scripts and proc macros are built normally; it builds the
//! `dev` and `release` profiles (and those inheriting from them) with fat LTO. `-Z
//! autodiff=<flags>` takes nightly's flags (`PrintPerf`, `PrintSteps`, `PrintAA`,
//! `PrintTAFn=<name>`); their reports are shown as linker warnings.
//!
//! The pass links the toolchain's own libLLVM, so it is built on first use for each toolchain,
//! from sources packed into this binary (`pack`): they are unpacked into
//! `$CARGO_HOME/oxidase/src/<engine>/` and the pass is kept in `$CARGO_HOME/oxidase/pass/<key>/`
//! (`<engine>` hashes the sources, `<key>` the engine and `rustc -vV`). Nothing is read from the
//! checkout this binary was built from, and binaries of different engines share nothing.
//! `OXIDASE_SRC=<checkout>` builds the pass from a source tree instead (engine development).
//!
//! `cargo autodiff prepare` only builds the pass and prints its path; `cargo autodiff --version`
//! says which engine is used.

mod pack;

use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo autodiff <build|run|test|bench|check|…> [-Z autodiff=<flags>] [cargo args]
       cargo autodiff prepare        build the link-time pass for this toolchain and print its path
       cargo autodiff --version      the engine used, where its sources and this toolchain's pass are";

/// The engine packed into this binary (a hash of the pass's sources).
const ENGINE: &str = env!("OXIDASE_ENGINE");
/// The checkout this binary was built from (for `--version` only: nothing is read there).
const BUILT_FROM: &str = env!("OXIDASE_BUILT_FROM");
static PACKED_SOURCES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pass-sources.bin"));

/// `$CARGO_HOME/oxidase`.
fn oxidase_home() -> Result<PathBuf, String> {
    Ok(std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?
        .join("oxidase"))
}

/// The source tree the pass is built from and the engine's identity: `OXIDASE_SRC` (hashed now),
/// or the packed sources, unpacked into `$CARGO_HOME/oxidase/src/<engine>/` when missing.
fn sources(home: &Path) -> Result<(PathBuf, String), String> {
    if let Some(dir) = std::env::var_os("OXIDASE_SRC").map(PathBuf::from) {
        let files = pack::collect(&dir).map_err(|e| format!("OXIDASE_SRC={}: {e}", dir.display()))?;
        return Ok((dir, format!("{} (OXIDASE_SRC)", pack::id(&files))));
    }
    let dir = home.join("src").join(ENGINE);
    if dir.join("Cargo.toml").is_file() {
        return Ok((dir, ENGINE.to_string()));
    }
    let files = pack::unpack(PACKED_SOURCES).map_err(|e| e.to_string())?;
    // Unpack beside the final place and rename: a concurrent `cargo autodiff` sees all or nothing.
    let tmp = home.join("src").join(format!(".{ENGINE}.{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        for (path, data) in &files {
            let dest = tmp.join(path);
            std::fs::create_dir_all(dest.parent().unwrap())?;
            std::fs::write(dest, data)?;
        }
        Ok(())
    };
    write().map_err(|e| format!("cannot unpack the pass's sources into {}: {e}", tmp.display()))?;
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another process got there first.
        let _ = std::fs::remove_dir_all(&tmp);
        if !dir.join("Cargo.toml").is_file() {
            return Err(format!("cannot unpack the pass's sources into {}", dir.display()));
        }
    }
    Ok((dir, ENGINE.to_string()))
}

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "autodiff") {
        args.remove(0);
    }
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: cargo autodiff: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(mut args: Vec<OsString>) -> Result<ExitCode, String> {
    let Some(command) = args.first().cloned() else {
        eprintln!("{USAGE}");
        return Ok(ExitCode::FAILURE);
    };
    if command == "-h" || command == "--help" {
        println!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    }
    if command == "-V" || command == "--version" {
        print_version()?;
        return Ok(ExitCode::SUCCESS);
    }
    args.remove(0);
    let flags = take_autodiff_flags(&mut args)?;
    let toolchain = Toolchain::probe()?;
    let pass = ensure_pass(&toolchain)?;
    if command == "prepare" {
        println!("{}", pass.display());
        return Ok(ExitCode::SUCCESS);
    }

    let target_dir = target_dir()?;
    let mut rustflags = inherited_rustflags();
    rustflags.push("-Clinker-plugin-lto".into());
    rustflags.push(format!("-Clinker={}", pass.display()));
    rustflags.push("-Clinker-flavor=gcc".into());
    // rustc's own (pre-link) pipeline should hand the engine scalar code: vectorizing happens
    // after differentiation anyway, in the linker's LTO pipeline, which these flags leave alone.
    rustflags.push("-Cno-vectorize-loops".into());
    rustflags.push("-Cno-vectorize-slp".into());
    rustflags.push(format!("-Clink-arg=-Wl,--thinlto-cache-dir={}", target_dir.join("oxidase-thinlto").display()));
    if !flags.is_empty() {
        rustflags.push(format!("-Clink-arg=--oxidase-autodiff={}", flags.join(",")));
        rustflags.push("-Wlinker-messages".into());
    }

    let mut cargo_args: Vec<OsString> = vec![command.clone()];
    let user_sets_target = args.iter().any(|a| a == "--target" || a.to_string_lossy().starts_with("--target="));
    let program_args = args.iter().position(|a| a == "--").map(|i| args.split_off(i)).unwrap_or_default();
    cargo_args.extend(args);
    if !user_sets_target {
        cargo_args.push("--target".into());
        cargo_args.push(toolchain.host.clone().into());
    }
    cargo_args.extend(program_args);

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut c = Command::new(cargo);
    c.args(&cargo_args).env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\u{1f}")).env_remove("RUSTFLAGS");
    // Fat LTO, as `std::autodiff` needs too: it hands the pass the bodies of std's non-generic
    // functions (a `Vec`'s growth and drop), which are otherwise native code in std's rlibs. An
    // `lto` a user sets through the environment is kept; the profiles' own setting is overridden.
    for profile in ["DEV", "RELEASE"] {
        let key = format!("CARGO_PROFILE_{profile}_LTO");
        if std::env::var_os(&key).is_none() {
            c.env(key, "fat");
        }
    }
    let err = c.exec();
    Err(format!("cannot run cargo: {err}"))
}

/// Removes `-Z autodiff=<flags>` / `-Zautodiff=<flags>` and returns the flags. `Enable` is
/// accepted (nightly needs it; here it is implied).
fn take_autodiff_flags(args: &mut Vec<OsString>) -> Result<Vec<String>, String> {
    let mut flags = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].to_string_lossy().into_owned();
        let value = if a == "-Z" && args.get(i + 1).is_some_and(|n| n.to_string_lossy().starts_with("autodiff=")) {
            let v = args[i + 1].to_string_lossy().into_owned();
            args.drain(i..i + 2);
            v
        } else if let Some(v) = a.strip_prefix("-Z").filter(|v| v.starts_with("autodiff=")) {
            let v = v.to_string();
            args.remove(i);
            v
        } else {
            i += 1;
            continue;
        };
        for f in value.trim_start_matches("autodiff=").split(',').filter(|f| !f.is_empty()) {
            match f.split('=').next().unwrap_or("") {
                "Enable" => {}
                "PrintPerf" | "PrintSteps" | "PrintAA" | "PrintTA" | "PrintTAFn" | "PrintModBefore" | "PrintModAfter" | "LooseTypes" | "Inline" => {
                    flags.push(f.to_string())
                }
                other => return Err(format!("unknown -Z autodiff flag `{other}`")),
            }
        }
    }
    Ok(flags)
}

/// RUSTFLAGS the user already has (encoded form first, as cargo reads them).
fn inherited_rustflags() -> Vec<String> {
    if let Ok(enc) = std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        return enc.split('\u{1f}').filter(|s| !s.is_empty()).map(str::to_string).collect();
    }
    std::env::var("RUSTFLAGS").map(|s| s.split_whitespace().map(str::to_string).collect()).unwrap_or_default()
}

fn target_dir() -> Result<PathBuf, String> {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(d));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let manifest = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Ok(manifest.parent().unwrap_or(Path::new(".")).join("target"))
}

/// The rustc cargo will use.
struct Toolchain {
    rustc: OsString,
    version: String,
    host: String,
    sysroot: PathBuf,
}

impl Toolchain {
    fn probe() -> Result<Toolchain, String> {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let run = |args: &[&str]| -> Result<String, String> {
            let out = Command::new(&rustc).args(args).output().map_err(|e| format!("cannot run rustc: {e}"))?;
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).into_owned());
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let version = run(&["-vV"])?;
        let host = version
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .ok_or("`rustc -vV` names no host")?
            .to_string();
        let sysroot = PathBuf::from(run(&["--print", "sysroot"])?.trim());
        Ok(Toolchain { rustc, version, host, sysroot })
    }
}

/// `--version`: this binary's engine, where it came from, and the pass for the current toolchain.
fn print_version() -> Result<(), String> {
    println!("cargo-autodiff {} (engine {ENGINE}, built from {BUILT_FROM})", env!("CARGO_PKG_VERSION"));
    let home = oxidase_home()?;
    let (src, engine) = sources(&home)?;
    if engine != ENGINE {
        println!("engine used: {engine}");
    }
    println!("sources: {}", src.display());
    let tc = Toolchain::probe()?;
    let pass = pass_path(&home, &tc, &engine);
    let state = if pass.is_file() { "" } else { " (built on first use)" };
    println!("pass for {}: {}{state}", tc.version.lines().next().unwrap_or("this rustc"), pass.display());
    Ok(())
}

/// Where the pass of `engine` for toolchain `tc` is kept.
fn pass_path(home: &Path, tc: &Toolchain, engine: &str) -> PathBuf {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    tc.version.hash(&mut h);
    engine.hash(&mut h);
    home.join("pass").join(format!("{:016x}", h.finish())).join("oxidase-cc")
}

/// The link-time pass for this toolchain, built when missing.
fn ensure_pass(tc: &Toolchain) -> Result<PathBuf, String> {
    let home = oxidase_home()?;
    let (src, engine) = sources(&home)?;
    let pass = pass_path(&home, tc, &engine);
    if pass.is_file() {
        return Ok(pass);
    }
    eprintln!(
        "    oxidase: building the link-time pass (engine {engine}) for {}",
        tc.version.lines().next().unwrap_or("this toolchain")
    );
    let llvm_lib = tc.sysroot.join("lib");
    // One build directory per source tree: cargo tells crates apart by name and version, not
    // by path, so switching `OXIDASE_SRC` between checkouts in one directory would link a crate
    // compiled from the other checkout whenever its sources look older.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    src.canonicalize().unwrap_or_else(|_| src.clone()).hash(&mut h);
    let build_dir = home.join("build").join(format!("{:016x}", h.finish()));
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--quiet", "-p", "oxidase-linker", "--bins", "--manifest-path"])
        .arg(src.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&build_dir)
        .env("RUSTC", &tc.rustc)
        .env("OXIDASE_LLVM_LIB_DIR", &llvm_lib)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the link-time pass from {} failed", src.display()));
    }
    std::fs::create_dir_all(pass.parent().unwrap()).map_err(|e| e.to_string())?;
    // `oxidase-cc` runs `oxidase-pass` from its own directory: install it last, so that its
    // presence (checked above) means both are there.
    for bin in ["oxidase-pass", "oxidase-cc"] {
        let dest = pass.with_file_name(bin);
        let tmp = dest.with_extension(format!("tmp{}", std::process::id()));
        std::fs::copy(build_dir.join("release").join(bin), &tmp).map_err(|e| format!("cannot install {bin}: {e}"))?;
        std::fs::rename(&tmp, &dest).map_err(|e| format!("cannot install {bin}: {e}"))?;
    }
    Ok(pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autodiff_flags_are_taken_from_the_arguments() {
        let mut args: Vec<OsString> = ["--release", "-Z", "autodiff=Enable,PrintPerf", "-Zautodiff=PrintTAFn=f", "--", "x"]
            .iter()
            .map(OsString::from)
            .collect();
        let flags = take_autodiff_flags(&mut args).unwrap();
        assert_eq!(flags, vec!["PrintPerf", "PrintTAFn=f"]);
        assert_eq!(args, ["--release", "--", "x"].iter().map(OsString::from).collect::<Vec<_>>());
        assert!(take_autodiff_flags(&mut vec!["-Zautodiff=Banana".into()]).is_err());
    }

    #[test]
    fn packed_sources_round_trip_and_name_only_the_pass_crates() {
        let files = pack::unpack(PACKED_SOURCES).unwrap();
        assert_eq!(pack::id(&files), ENGINE);
        assert_eq!(pack::unpack(&pack::pack(&files)).unwrap(), files);
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert!(paths.contains(&"crates/engine/src/lib.rs") && paths.contains(&"Cargo.lock"));
        assert!(paths.iter().all(|p| !p.contains("/tests/")), "{paths:?}");
        let manifest = std::str::from_utf8(&files.iter().find(|(p, _)| p == "Cargo.toml").unwrap().1).unwrap();
        assert!(manifest.contains(r#"members = ["crates/llvm", "crates/engine", "crates/linker"]"#), "{manifest}");
        assert!(!manifest.contains("default-members") && !manifest.contains("exclude"), "{manifest}");
        assert!(manifest.contains("[workspace.dependencies]"), "{manifest}");
    }

    #[test]
    fn a_multi_line_members_array_is_replaced() {
        let m = "[workspace]\nmembers = [\n  \"a\",\n  \"b\",\n]\nexclude = [\"x\"]\n[profile.dev]\nopt-level = 1\n";
        let out = pack::workspace_manifest(m);
        assert_eq!(out, "[workspace]\nmembers = [\"crates/llvm\", \"crates/engine\", \"crates/linker\"]\n[profile.dev]\nopt-level = 1\n");
    }
}
