//! The `cc`-style command line rustc gives its linker: response files, our own options, inputs.

use std::ffi::OsString;
use std::path::PathBuf;

/// Our option, passed by `cargo autodiff` as `-Clink-arg=--oxidase-autodiff=<flags>`; removed
/// before the real linker runs. The flags are those of `-Z autodiff=` (comma-separated).
pub const FLAG_PREFIX: &str = "--oxidase-autodiff=";

pub struct CommandLine {
    /// The arguments for the real linker, response files expanded, our options removed.
    pub args: Vec<OsString>,
    /// `-Z autodiff=` flags.
    pub autodiff_flags: Vec<String>,
}

impl CommandLine {
    pub fn parse(raw: Vec<OsString>) -> Result<CommandLine, String> {
        let mut args = Vec::new();
        for a in raw {
            match a.to_str().and_then(|s| s.strip_prefix('@')) {
                Some(file) => {
                    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read response file {file}: {e}"))?;
                    args.extend(split_response_file(&text).into_iter().map(OsString::from));
                }
                None => args.push(a),
            }
        }
        let mut autodiff_flags = Vec::new();
        args.retain(|a| match a.to_str().and_then(|s| s.strip_prefix(FLAG_PREFIX)) {
            Some(flags) => {
                autodiff_flags.extend(flags.split(',').filter(|f| !f.is_empty()).map(str::to_string));
                false
            }
            None => true,
        });
        Ok(CommandLine { args, autodiff_flags })
    }

    /// The output file (`-o <path>`).
    pub fn output(&self) -> Option<PathBuf> {
        let i = self.args.iter().position(|a| a == "-o")?;
        self.args.get(i + 1).map(PathBuf::from)
    }

    /// Indices of arguments that name input files: objects and archives.
    pub fn inputs(&self) -> Vec<(usize, PathBuf)> {
        let mut out = Vec::new();
        let mut skip_next = false;
        for (i, a) in self.args.iter().enumerate() {
            if skip_next {
                skip_next = false;
                continue;
            }
            let s = a.to_string_lossy();
            if s == "-o" || s == "-L" || s == "-l" || s == "-z" || s == "-Xlinker" {
                skip_next = true;
                continue;
            }
            if s.starts_with('-') {
                continue;
            }
            let p = PathBuf::from(a);
            if p.is_file() {
                out.push((i, p));
            }
        }
        out
    }
}

/// GCC response-file syntax: whitespace-separated, with `'`/`"` quoting and `\` escapes.
fn split_response_file(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_arg = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_arg = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_arg = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_arg {
                    out.push(std::mem::take(&mut cur));
                    in_arg = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_arg = true;
            }
        }
    }
    if in_arg {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_files_are_split_like_gcc() {
        assert_eq!(split_response_file("a 'b c' \"d\\\"e\" f\\ g\n"), vec!["a", "b c", "d\"e", "f g"]);
    }

    #[test]
    fn our_flags_are_taken_out() {
        let cl = CommandLine::parse(vec!["-o".into(), "x".into(), "--oxidase-autodiff=PrintPerf,PrintSteps".into()]).unwrap();
        assert_eq!(cl.autodiff_flags, vec!["PrintPerf", "PrintSteps"]);
        assert_eq!(cl.args, vec![OsString::from("-o"), OsString::from("x")]);
        assert_eq!(cl.output(), Some(PathBuf::from("x")));
    }
}
