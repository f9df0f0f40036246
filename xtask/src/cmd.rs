//! Small helpers around `std::process::Command`.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// Environment that `cargo run` (or a rustup proxy) sets for xtask and that must not leak into
/// the cargo/rustc processes we start: they would pin the outer toolchain or its tools.
const SCRUBBED_ENV: &[&str] = &["RUSTUP_TOOLCHAIN", "RUSTC", "RUSTDOC", "CARGO"];

/// `rustup run <toolchain> cargo`: the same as `cargo +<toolchain>`, but independent of which
/// `cargo` comes first in `PATH`.
pub fn cargo(toolchain: &str) -> Command {
    let mut c = Command::new("rustup");
    c.args(["run", toolchain, "cargo"]);
    for var in SCRUBBED_ENV {
        c.env_remove(var);
    }
    c
}

/// `rustup run <toolchain> rustc`.
pub fn rustc(toolchain: &str) -> Command {
    let mut c = Command::new("rustup");
    c.args(["run", toolchain, "rustc"]);
    for var in SCRUBBED_ENV {
        c.env_remove(var);
    }
    c
}

/// The command as a shell-like line, with the environment variables it sets.
pub fn describe(c: &Command) -> String {
    let mut parts: Vec<String> = c
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_string_lossy(), v?.to_string_lossy())))
        .collect();
    parts.push(quote(c.get_program()));
    parts.extend(c.get_args().map(quote));
    parts.join(" ")
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_./=+:,@".contains(ch))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Run with inherited stdio; fail unless it exits 0.
pub fn run(c: &mut Command) -> Result<()> {
    let status = c
        .status()
        .with_context(|| format!("cannot start `{}`", describe(c)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(c));
    }
    Ok(())
}

/// Run and return stdout; fail (showing stderr) unless it exits 0.
pub fn capture(c: &mut Command) -> Result<String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start `{}`", describe(c)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}):\n{}",
            describe(c),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{}` printed non-UTF-8", describe(c)))
}

/// Is `program` an executable somewhere in `PATH`?
pub fn in_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            let p = dir.join(program);
            p.is_file()
                && std::fs::metadata(&p).is_ok_and(|m| {
                    use std::os::unix::fs::PermissionsExt;
                    m.permissions().mode() & 0o111 != 0
                })
        })
    })
}
