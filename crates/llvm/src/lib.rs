//! A thin, safe layer over the LLVM-C API.
//!
//! Everything in oxidase talks to LLVM through this crate instead of raw FFI. Handles
//! (`Value`, `Type`, `Block`, …) are `Copy` newtypes around LLVM pointers, like LLVM's own C++
//! API: they are valid as long as the module that owns them lives, and the engine never outlives
//! the module it transforms. The wrappers keep `unsafe` in one place and give the engine names
//! that explain themselves (`value.ty()`, `inst.opcode()`, `builder.fmul(..)`).
//!
//! The crate links against the nightly toolchain's own libLLVM (see `build.rs`): inside rustc the
//! backend uses the LLVM that is already loaded, and tests use the very same library.

// Module and context references (`LLVMModuleRef`, `LLVMContextRef`) are opaque handles with the
// same validity contract as `Value`: passing one on to LLVM is what this crate is for.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

pub mod bitcode;
pub mod builder;
pub mod debuginfo;
pub mod ir;
pub mod jit;
pub mod module;
pub mod passes;

pub use builder::Builder;
pub use ir::*;
pub use llvm_sys;
pub use module::{Context, OwnedModule};

use std::ffi::{CStr, CString};

/// Converts an LLVM-owned (pointer, length) string into a Rust string.
pub(crate) fn str_from_raw(ptr: *const std::os::raw::c_char, len: usize) -> String {
    if ptr.is_null() {
        return String::new();
    }
    let bytes = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
    // Names are ASCII nearly always: validate in one pass, convert only what is not UTF-8.
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Takes ownership of an LLVM "message" string (to be freed with LLVMDisposeMessage).
pub(crate) fn take_message(ptr: *mut std::os::raw::c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    let s = unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned();
    unsafe { llvm_sys::core::LLVMDisposeMessage(ptr) };
    s
}

pub(crate) fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap()
}

/// Consumes an `LLVMErrorRef`, returning its message.
pub(crate) fn error_message(err: llvm_sys::error::LLVMErrorRef) -> Result<(), String> {
    if err.is_null() {
        return Ok(());
    }
    let msg = unsafe { llvm_sys::error::LLVMGetErrorMessage(err) };
    let s = unsafe { CStr::from_ptr(msg) }.to_string_lossy().into_owned();
    unsafe { llvm_sys::error::LLVMDisposeErrorMessage(msg) };
    Err(s)
}
