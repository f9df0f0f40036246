//! `cargo xtask setup`: everything `cargo +enzyme` needs, done idempotently.
//!
//! 1. LLVM 22 headers and FileCheck (Debian packages `llvm-22-dev`, `llvm-22-tools`).
//! 2. The backend `liboxidase_enzyme.so`, built with the stable toolchain.
//! 3. `target/enzyme-toolchain`: a hard-linked copy of the nightly toolchain (recreated when the
//!    nightly changes) with the backend *copied* in as `lib/rustlib/<host>/lib/libEnzyme-22.so`.
//!    rustc finds its sysroot from the real path of `librustc_driver`, which is why a copy is
//!    needed and a symlink farm is not. The original nightly's files are never written.
//! 4. `rustup toolchain link enzyme target/enzyme-toolchain`.
//! 5. Stale cargo probe caches (`.rustc_info.json`) of our `+enzyme` target dirs are deleted:
//!    cargo caches a failed probe (backend missing) and would keep failing.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{cmd, Paths};

/// Name of the rustup toolchain we create.
pub const TOOLCHAIN_NAME: &str = "enzyme";
/// The toolchain we copy.
const NIGHTLY: &str = "nightly";
/// LLVM major version of the backend; rustc looks for `libEnzyme-<major>.so`.
const LLVM_MAJOR: u32 = 22;
/// Files whose absence means the LLVM 22 packages are missing.
const LLVM_PROBES: &[&str] = &[
    "/usr/lib/llvm-22/include/llvm-c/Core.h",
    "/usr/lib/llvm-22/bin/FileCheck",
];
const LLVM_PACKAGES: &[&str] = &["llvm-22-dev", "llvm-22-tools"];
/// Cargo package and output file of the backend.
const BACKEND_PACKAGE: &str = "oxidase-enzyme";
const BACKEND_FILE: &str = "liboxidase_enzyme.so";
/// Stamp file inside the toolchain copy: the nightly's commit hash it was copied from.
const STAMP_FILE: &str = ".oxidase-nightly-commit";

/// What later steps need to know about the installed toolchain.
pub struct Toolchain {
    /// Host triple, e.g. `x86_64-unknown-linux-gnu` (passed as `--target` to keep host
    /// artifacts out of `-Zautodiff=Enable`).
    pub host: String,
}

pub fn setup(paths: &Paths) -> Result<Toolchain> {
    ensure_llvm_packages()?;
    let backend = build_backend(paths)?;
    let nightly = NightlyInfo::query()?;
    let dir = paths.target.join("enzyme-toolchain");
    ensure_toolchain_copy(&nightly, &dir)?;
    let changed = install_backend(&backend, &dir, &nightly)?;
    link_toolchain(&dir)?;
    clear_stale_caches(paths, changed)?;
    install_cargo_autodiff(paths)?;
    println!(
        "[setup] done: `cargo +{TOOLCHAIN_NAME}` uses {}",
        backend.display()
    );
    Ok(Toolchain { host: nightly.host })
}

// ---------------------------------------------------------------------------------------------
// 1. LLVM packages

fn ensure_llvm_packages() -> Result<()> {
    let missing: Vec<&str> = LLVM_PROBES
        .iter()
        .copied()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        println!("[setup] LLVM 22 headers and FileCheck present");
        return Ok(());
    }
    // The backend's C++ shim is compiled by the `cc` crate: make sure a C++ compiler comes too.
    let mut packages: Vec<&str> = LLVM_PACKAGES.to_vec();
    if !cmd::in_path("c++") && !cmd::in_path("g++") {
        packages.push("g++");
    }
    let install = format!(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y {}",
        packages.join(" ")
    );
    if !is_root()? {
        eprintln!("[setup] missing: {}", missing.join(", "));
        eprintln!("[setup] install the LLVM 22 packages, then run `cargo xtask setup` again:");
        eprintln!("    sudo apt-get update && sudo {install}");
        bail!("LLVM 22 packages are not installed");
    }
    println!(
        "[setup] missing {}: installing {}",
        missing.join(", "),
        packages.join(" ")
    );
    cmd::run(Command::new("apt-get").arg("update"))?;
    cmd::run(
        Command::new("apt-get")
            .args(["install", "-y"])
            .args(&packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    if let Some(p) = LLVM_PROBES.iter().find(|p| !Path::new(p).exists()) {
        bail!(
            "{p} is still missing after installing {}",
            packages.join(" ")
        );
    }
    Ok(())
}

fn is_root() -> Result<bool> {
    let uid = cmd::capture(Command::new("id").arg("-u"))?;
    Ok(uid.trim() == "0")
}

// ---------------------------------------------------------------------------------------------
// 2. Backend

fn build_backend(paths: &Paths) -> Result<PathBuf> {
    println!("[setup] building the backend ({BACKEND_PACKAGE}, release, stable)");
    let mut c = cmd::cargo("stable");
    c.args(["build", "--release", "-p", BACKEND_PACKAGE])
        .current_dir(&paths.root)
        .env("CARGO_TARGET_DIR", &paths.target);
    cmd::run(&mut c)?;
    let so = paths.target.join("release").join(BACKEND_FILE);
    if !so.is_file() {
        bail!(
            "the backend build succeeded but {} does not exist",
            so.display()
        );
    }
    Ok(so)
}

/// The stable route: `cargo-autodiff` in `$CARGO_HOME/bin`, and its link-time pass built for the
/// stable toolchain (it builds one per toolchain on first use; doing it here keeps that out of
/// the first user build).
fn install_cargo_autodiff(paths: &Paths) -> Result<()> {
    println!("[setup] building cargo-autodiff (release, stable)");
    let mut c = cmd::cargo("stable");
    c.args(["build", "--release", "-p", "cargo-autodiff"])
        .current_dir(&paths.root)
        .env("CARGO_TARGET_DIR", &paths.target);
    cmd::run(&mut c)?;
    let built = paths.target.join("release").join("cargo-autodiff");
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let bin = home.join("bin");
    std::fs::create_dir_all(&bin)?;
    let dest = bin.join("cargo-autodiff");
    let new_version = engine_line(&built).context("the built cargo-autodiff does not run")?;
    match dest.is_file().then(|| engine_line(&dest)) {
        None => {}
        Some(Ok(old)) if old == new_version => {}
        // Every `cargo autodiff` on this machine uses the installed binary: say so when a setup
        // (perhaps from another checkout) switches its engine.
        Some(old) => println!(
            "[setup] NOTE: {} changes engine for every `cargo autodiff` of this user:\n[setup]   was: {}\n[setup]   now: {new_version}",
            dest.display(),
            old.unwrap_or_else(|_| "an older cargo-autodiff (no --version)".into())
        ),
    }
    let tmp = bin.join(".cargo-autodiff.tmp");
    std::fs::copy(&built, &tmp).with_context(|| format!("copying {}", built.display()))?;
    std::fs::rename(&tmp, &dest)?;
    println!("[setup] installed {} ({new_version})", dest.display());
    // Passes of the layout before `oxidase/pass/` (one directory per key) are never used again.
    let legacy: Vec<PathBuf> = subdirs(&home.join("oxidase"))
        .into_iter()
        .filter(|d| d.join("oxidase-cc").is_file())
        .filter(|d| d.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.len() == 16 && n.chars().all(|c| c.is_ascii_hexdigit())))
        .collect();
    for d in &legacy {
        remove_dir_if_exists(d)?;
    }
    if !legacy.is_empty() {
        println!("[setup] removed {} link-time passes of the old layout from {}", legacy.len(), home.join("oxidase").display());
    }
    let mut c = cmd::cargo("stable");
    c.args(["autodiff", "prepare"]).current_dir(&paths.root);
    cmd::run(&mut c)?;
    Ok(())
}

/// The first line of `cargo-autodiff --version`: version, engine, checkout it was built from.
fn engine_line(binary: &Path) -> Result<String> {
    let out = cmd::capture(Command::new(binary).arg("--version"))?;
    let line = out.lines().next().unwrap_or("").trim().to_string();
    if !line.starts_with("cargo-autodiff ") || !line.contains("engine ") {
        bail!("`{} --version` printed {line:?}", binary.display());
    }
    Ok(line)
}

// ---------------------------------------------------------------------------------------------
// 3. Toolchain copy

struct NightlyInfo {
    sysroot: PathBuf,
    commit: String,
    host: String,
    llvm_major: u32,
}

impl NightlyInfo {
    fn query() -> Result<NightlyInfo> {
        let vv = cmd::capture(cmd::rustc(NIGHTLY).arg("-vV")).with_context(|| {
            format!("the `{NIGHTLY}` toolchain is required: `rustup toolchain install {NIGHTLY}`")
        })?;
        let field = |name: &str| {
            vv.lines()
                .find_map(|l| {
                    l.strip_prefix(name)?
                        .strip_prefix(':')
                        .map(|v| v.trim().to_string())
                })
                .with_context(|| format!("`rustc +{NIGHTLY} -vV` has no `{name}:` line:\n{vv}"))
        };
        let commit = field("commit-hash")?;
        let host = field("host")?;
        let llvm = field("LLVM version")?;
        let llvm_major = llvm
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .with_context(|| format!("cannot parse LLVM version `{llvm}`"))?;
        let sysroot = cmd::capture(cmd::rustc(NIGHTLY).args(["--print", "sysroot"]))?;
        Ok(NightlyInfo {
            sysroot: PathBuf::from(sysroot.trim()),
            commit,
            host,
            llvm_major,
        })
    }
}

fn ensure_toolchain_copy(nightly: &NightlyInfo, dir: &Path) -> Result<()> {
    let stamp = dir.join(STAMP_FILE);
    match fs::read_to_string(&stamp) {
        Ok(s) if s.trim() == nightly.commit => {
            println!("[setup] toolchain copy up to date ({})", dir.display());
            return Ok(());
        }
        Ok(s) => println!(
            "[setup] nightly changed ({} -> {}): recreating the toolchain copy",
            s.trim(),
            nightly.commit
        ),
        Err(_) => println!("[setup] creating the toolchain copy {}", dir.display()),
    }
    if nightly.sysroot.as_os_str().is_empty() || !nightly.sysroot.join("bin").is_dir() {
        bail!("unexpected nightly sysroot `{}`", nightly.sysroot.display());
    }
    fs::create_dir_all(dir.parent().expect("toolchain dir has a parent"))?;
    // Build next to the final place and rename, so an interrupted copy is never mistaken for a
    // complete one. Removing a hard-linked tree only unlinks; the nightly is untouched.
    let tmp = dir.with_extension("tmp");
    remove_dir_if_exists(&tmp)?;
    let linked = Command::new("cp")
        .arg("-al")
        .arg(&nightly.sysroot)
        .arg(&tmp)
        .status();
    if !linked.as_ref().is_ok_and(|s| s.success()) {
        println!("[setup] `cp -al` failed (different file system?): copying instead");
        remove_dir_if_exists(&tmp)?;
        cmd::run(Command::new("cp").arg("-a").arg(&nightly.sysroot).arg(&tmp))?;
    }
    fs::write(tmp.join(STAMP_FILE), format!("{}\n", nightly.commit))?;
    remove_dir_if_exists(dir)?;
    fs::rename(&tmp, dir)
        .with_context(|| format!("renaming {} to {}", tmp.display(), dir.display()))?;
    Ok(())
}

fn remove_dir_if_exists(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Copy the backend into the toolchain copy. Returns whether the installed file changed.
fn install_backend(backend: &Path, dir: &Path, nightly: &NightlyInfo) -> Result<bool> {
    if nightly.llvm_major != LLVM_MAJOR {
        bail!(
            "the backend is built for LLVM {LLVM_MAJOR}, but `{NIGHTLY}` uses LLVM {}",
            nightly.llvm_major
        );
    }
    let libdir = dir
        .join("lib")
        .join("rustlib")
        .join(&nightly.host)
        .join("lib");
    let dest = libdir.join(format!("libEnzyme-{LLVM_MAJOR}.so"));
    let new = fs::read(backend).with_context(|| format!("reading {}", backend.display()))?;
    if fs::read(&dest).is_ok_and(|old| old == new) {
        println!("[setup] backend already installed ({})", dest.display());
        return Ok(false);
    }
    // Remove first: the old file may be a hard link shared with another tree. Writing into it
    // would change that tree too; a fresh file never does.
    match fs::remove_file(&dest) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("removing {}", dest.display()));
        }
        _ => {}
    }
    fs::create_dir_all(&libdir)?;
    fs::copy(backend, &dest)
        .with_context(|| format!("copying the backend to {}", dest.display()))?;
    println!("[setup] installed the backend as {}", dest.display());
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// 4. rustup link

fn link_toolchain(dir: &Path) -> Result<()> {
    // `rustup toolchain link` makes `$RUSTUP_HOME/toolchains/<name>` a symlink: a setup from
    // another checkout switches every `cargo +enzyme` of this user, so say so.
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")));
    if let Some(old) = rustup_home.and_then(|h| fs::read_link(h.join("toolchains").join(TOOLCHAIN_NAME)).ok()) {
        if fs::canonicalize(&old).ok() != fs::canonicalize(dir).ok() {
            println!(
                "[setup] NOTE: `{TOOLCHAIN_NAME}` changes for every `cargo +{TOOLCHAIN_NAME}` of this user: was {}, now {}",
                old.display(),
                dir.display()
            );
        }
    }
    // Re-linking an existing name just replaces the link, so this is idempotent.
    cmd::capture(
        Command::new("rustup")
            .args(["toolchain", "link", TOOLCHAIN_NAME])
            .arg(dir),
    )?;
    println!(
        "[setup] rustup toolchain `{TOOLCHAIN_NAME}` -> {}",
        dir.display()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 5. Stale cargo caches

fn clear_stale_caches(paths: &Paths, backend_changed: bool) -> Result<()> {
    if backend_changed {
        // Cargo does not know that the compiler's backend changed: binaries built by the old
        // backend would be reused (and tests would check the old engine). Every nightly-route
        // build directory of `cargo xtask test` goes; the stable route's pass path names its
        // engine, so cargo relinks those by itself.
        let nightly_dirs = [
            paths.examples_target.clone(),
            paths.e2e_target.clone(),
            paths.target.join("programs"),
            paths.target.join("gradbench-nightly"),
            paths.target.join("fuzz").join("target-nightly"),
        ];
        for dir in &nightly_dirs {
            if dir.exists() {
                remove_dir_if_exists(dir)?;
                println!("[setup] backend changed: removed {}", dir.display());
            }
        }
        return Ok(());
    }
    let mut stale = Vec::new();
    let probe = |dir: &Path, out: &mut Vec<PathBuf>| {
        let f = dir.join(".rustc_info.json");
        if f.is_file() {
            out.push(f);
        }
    };
    // examples/target/.rustc_info.json and examples/target/*/.rustc_info.json
    probe(&paths.examples_target, &mut stale);
    for sub in subdirs(&paths.examples_target) {
        probe(&sub, &mut stale);
    }
    // target/e2e/**/.rustc_info.json (a cargo target dir is at most a few levels down; deeper
    // levels are build outputs and are not walked)
    let mut todo = vec![(paths.e2e_target.clone(), 0)];
    while let Some((dir, depth)) = todo.pop() {
        probe(&dir, &mut stale);
        if depth < 3 {
            todo.extend(subdirs(&dir).into_iter().map(|d| (d, depth + 1)));
        }
    }
    for f in &stale {
        fs::remove_file(f).with_context(|| format!("removing {}", f.display()))?;
    }
    if !stale.is_empty() {
        println!(
            "[setup] removed {} cached cargo probe(s) (.rustc_info.json)",
            stale.len()
        );
    }
    Ok(())
}

/// Real subdirectories (symlinks are not followed).
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}
