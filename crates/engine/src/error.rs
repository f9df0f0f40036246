//! Diagnostics: what the engine cannot differentiate, said in the user's terms.

use oxidase_llvm::Value;
use std::fmt;

/// Demangles a Rust symbol (`_RNv…`, `_ZN…`) into a readable path; other names pass through.
pub fn demangle(symbol: &str) -> String {
    // Call classification asks for the same names over and over (every call site a type walk
    // visits): demangling them each time dominated the analysis of large dev-build modules.
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<String, String>> = Default::default();
    }
    if let Some(d) = CACHE.with(|c| c.borrow().get(symbol).cloned()) {
        return d;
    }
    let d = match rustc_demangle::try_demangle(symbol) {
        Ok(d) => format!("{d:#}"),
        Err(_) => symbol.to_string(),
    };
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 1 << 16 {
            c.clear();
        }
        c.insert(symbol.to_string(), d.clone());
    });
    d
}

/// Something the engine refuses to differentiate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdError {
    /// The Rust function (demangled) whose code contains the construct.
    pub function: String,
    /// What in that function could not be handled.
    pub construct: String,
    /// How the user can get around it.
    pub hint: String,
    /// `file:line:col` of the construct when debug info has it.
    pub location: Option<String>,
}

impl AdError {
    pub fn new(function: Value, construct: impl Into<String>, hint: impl Into<String>) -> AdError {
        AdError { function: demangle(&function.name()), construct: construct.into(), hint: hint.into(), location: None }
    }

    /// Attaches the instruction's debug location, if any.
    pub fn at(mut self, inst: Value) -> AdError {
        if inst.is_instruction() {
            if let Some((file, line, col)) = inst.debug_loc() {
                self.location = Some(format!("{file}:{line}:{col}"));
            }
        }
        self
    }
}

impl fmt::Display for AdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "autodiff cannot differentiate `{}`: {}", self.function, self.construct)?;
        if let Some(loc) = &self.location {
            write!(f, " (at {loc})")?;
        }
        write!(f, "\n  = help: {}", self.hint)
    }
}

impl std::error::Error for AdError {}

/// A short, single-line rendering of an instruction for diagnostics.
pub fn describe(inst: Value) -> String {
    let text = inst.print();
    let line = text.trim().lines().next().unwrap_or("").to_string();
    // Strip metadata attachments; they only add noise.
    let line = match line.find(", !") {
        Some(i) => line[..i].to_string(),
        None => line,
    };
    if line.len() > 160 {
        format!("{}…", &line[..160])
    } else {
        line
    }
}

/// How messages name the parameter `p` of an LLVM function: the Rust argument's name where debug
/// information has it (dev builds: the slot it is spilled to carries a `#dbg_declare`), as
/// `` argument `out` ``; otherwise its LLVM position and IR.
pub fn describe_param(p: Value) -> String {
    match param_name(p) {
        Some(name) => format!("argument `{name}`"),
        None => {
            let f = p.parent_function();
            let k = f.params().iter().position(|&q| q == p).map_or(0, |k| k + 1);
            format!("parameter {k} of the compiled function (`{}`; Rust argument names appear with debug info, e.g. in dev builds)", describe(p))
        }
    }
}

/// The Rust name of the parameter `p`, from debug records describing it or a slot it is stored to.
pub fn param_name(p: Value) -> Option<String> {
    let f = p.parent_function();
    let mut described = vec![p];
    for u in p.users() {
        if u.is_instruction() && u.opcode() == oxidase_llvm::Opcode::LLVMStore && u.operand(0) == p {
            described.push(crate::types::strip_pointer(u.operand(1)));
        }
    }
    for b in f.blocks() {
        for i in b.instructions() {
            if let Some(name) = i.debug_variables().into_iter().find(|(v, _)| described.contains(v)).and_then(|(_, var)| var.variable_name()) {
                return Some(name);
            }
        }
    }
    // rustc's own names when it keeps them: `x.0`, `x.1` for the halves of a slice `x`.
    let n = p.name();
    let base = match n.rsplit_once('.') {
        Some((b, k)) if k.chars().all(|c| c.is_ascii_digit()) => b.to_string(),
        _ => n,
    };
    (!base.is_empty() && !base.chars().all(|c| c.is_ascii_digit())).then_some(base)
}

/// What a call to the external function `name` means in Rust terms, for the constructs that
/// are refused as a whole (construct, hint); `None` for any other function.
pub fn external_in_rust_terms(name: &str) -> Option<(String, String)> {
    let threads = ["pthread_create", "clone", "clone3", "thrd_create"];
    if threads.contains(&name) || name.starts_with("std::thread::") && name.contains("spawn") {
        return Some((
            format!("parallel code: a thread is started (`{name}`; `std::thread::spawn`/`scope`, rayon) with differentiated data"),
            "parallel code is not differentiated yet: differentiate the work of each thread (call the derivative inside the thread) and combine the results, or run this part sequentially".to_string(),
        ));
    }
    if name == "syscall" || name.starts_with("pthread_") || name.starts_with("sem_") {
        return Some((
            format!("a system call (`{name}`: thread synchronization, futexes, the OS interface) reached with differentiated data"),
            "parallel and system code is not differentiated yet: keep threads, locks and OS calls out of the differentiated function (or their data Const)".to_string(),
        ));
    }
    None
}
