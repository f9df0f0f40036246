//! Enzyme's command-line switches, as rustc sees them.
//!
//! rustc looks these data symbols up by name, keeps their addresses, and passes the addresses back
//! to [`EnzymeSetCLBool`](crate::exports::EnzymeSetCLBool) /
//! [`EnzymeSetCLString`](crate::exports::EnzymeSetCLString) (`-Zautodiff=PrintTA` etc., see
//! NIGHTLY-BACKEND.md). It never reads the bool flags itself, but it does read
//! `EnzymeMaxTypeDepth` as a `u32`. The engine never touches the statics: it gets a [`Flags`]
//! snapshot from [`Flags::current`].
#![allow(non_upper_case_globals)]

use std::ffi::c_void;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Mutex;

/// `-Zautodiff=PrintPerf`.
#[no_mangle]
pub static EnzymePrintPerf: AtomicU8 = AtomicU8::new(0);
/// `-Zautodiff=PrintAA`.
#[no_mangle]
pub static EnzymePrintActivity: AtomicU8 = AtomicU8::new(0);
/// `-Zautodiff=PrintTA` (and `PrintTAFn=`).
#[no_mangle]
pub static EnzymePrintType: AtomicU8 = AtomicU8::new(0);
/// `-Zautodiff=PrintSteps`.
#[no_mangle]
pub static EnzymePrint: AtomicU8 = AtomicU8::new(0);
/// rustc always sets this to 0.
#[no_mangle]
pub static EnzymeStrictAliasing: AtomicU8 = AtomicU8::new(0);
/// `-Zautodiff=Inline`.
#[no_mangle]
pub static EnzymeInline: AtomicU8 = AtomicU8::new(0);
/// rustc always sets this to 1.
#[no_mangle]
pub static RustTypeRules: AtomicU8 = AtomicU8::new(0);
/// `-Zautodiff=LooseTypes`.
#[no_mangle]
pub static looseTypeAnalysis: AtomicU8 = AtomicU8::new(0);
/// Maximum type-tree path length. rustc reads it as a `u32`, so it must be one.
#[no_mangle]
pub static EnzymeMaxTypeDepth: AtomicU32 = AtomicU32::new(6);
/// `-Zautodiff=PrintTAFn=<name>`: the function name as written in the source, not mangled.
#[no_mangle]
pub static EnzymeFunctionToAnalyze: StringFlag = StringFlag::new();

/// A string-valued switch. rustc only passes its address back to `EnzymeSetCLString`, so its
/// layout is ours to choose.
pub struct StringFlag(Mutex<Option<String>>);

impl StringFlag {
    pub const fn new() -> Self {
        StringFlag(Mutex::new(None))
    }
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    pub fn set(&self, value: Option<String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = value;
    }
}

impl Default for StringFlag {
    fn default() -> Self {
        Self::new()
    }
}

/// All bool switches, for address lookup in [`set_bool_at`].
fn bool_flags() -> [&'static AtomicU8; 8] {
    [
        &EnzymePrintPerf,
        &EnzymePrintActivity,
        &EnzymePrintType,
        &EnzymePrint,
        &EnzymeStrictAliasing,
        &EnzymeInline,
        &RustTypeRules,
        &looseTypeAnalysis,
    ]
}

/// Sets the bool switch at `addr`. Returns false (and changes nothing) for an unknown address.
pub fn set_bool_at(addr: *const c_void, value: u8) -> bool {
    match bool_flags()
        .into_iter()
        .find(|f| std::ptr::eq(*f as *const AtomicU8 as *const c_void, addr))
    {
        Some(flag) => {
            flag.store(value, Ordering::Relaxed);
            true
        }
        None => false,
    }
}

/// Sets the string switch at `addr`. Returns false (and changes nothing) for an unknown address.
pub fn set_string_at(addr: *const c_void, value: Option<String>) -> bool {
    if std::ptr::eq(
        &EnzymeFunctionToAnalyze as *const StringFlag as *const c_void,
        addr,
    ) {
        EnzymeFunctionToAnalyze.set(value);
        true
    } else {
        false
    }
}

/// A snapshot of every switch, handed to the adapter for one pass run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub print_perf: bool,
    pub print_activity: bool,
    pub print_type: bool,
    /// `PrintSteps` (Enzyme's `EnzymePrint`).
    pub print_steps: bool,
    pub inline: bool,
    pub loose_types: bool,
    pub strict_aliasing: bool,
    pub rust_type_rules: bool,
    pub type_depth: u32,
    pub function_to_analyze: Option<String>,
}

impl Flags {
    /// Reads the exported statics.
    pub fn current() -> Flags {
        let b = |f: &AtomicU8| f.load(Ordering::Relaxed) != 0;
        Flags {
            print_perf: b(&EnzymePrintPerf),
            print_activity: b(&EnzymePrintActivity),
            print_type: b(&EnzymePrintType),
            print_steps: b(&EnzymePrint),
            inline: b(&EnzymeInline),
            loose_types: b(&looseTypeAnalysis),
            strict_aliasing: b(&EnzymeStrictAliasing),
            rust_type_rules: b(&RustTypeRules),
            type_depth: EnzymeMaxTypeDepth.load(Ordering::Relaxed),
            function_to_analyze: EnzymeFunctionToAnalyze.get(),
        }
    }
}
