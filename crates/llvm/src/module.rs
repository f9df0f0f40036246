//! Contexts and modules: parsing, printing, verification, lookup.

use crate::ir::{Type, Value};
use crate::{cstring, take_message};
use llvm_sys::analysis::{LLVMVerifierFailureAction, LLVMVerifyFunction, LLVMVerifyModule};
use llvm_sys::core::*;
use llvm_sys::prelude::*;

/// An owned LLVM context (tests and tools; inside rustc the context belongs to rustc).
pub struct Context(LLVMContextRef);

impl Context {
    pub fn new() -> Context {
        Context(unsafe { LLVMContextCreate() })
    }
    pub fn raw(&self) -> LLVMContextRef {
        self.0
    }
    /// Discards the names of values and blocks created from now on, as rustc's context does.
    pub fn discard_value_names(&self) {
        unsafe { LLVMContextSetDiscardValueNames(self.0, 1) }
    }
    /// Gives up ownership (e.g. to a JIT).
    pub fn into_raw(self) -> LLVMContextRef {
        let c = self.0;
        std::mem::forget(self);
        c
    }
    /// Parses textual IR into a module owned by this context.
    pub fn parse_ir(&self, text: &str, name: &str) -> Result<OwnedModule, String> {
        unsafe {
            let name = cstring(name);
            let buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(text.as_ptr() as *const _, text.len(), name.as_ptr());
            let mut m = std::ptr::null_mut();
            let mut err = std::ptr::null_mut();
            // LLVMParseIRInContext2 does not take ownership of the buffer.
            let failed = llvm_sys::ir_reader::LLVMParseIRInContext2(self.0, buf, &mut m, &mut err) != 0;
            LLVMDisposeMemoryBuffer(buf);
            if failed {
                return Err(take_message(err));
            }
            Ok(OwnedModule(m))
        }
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        unsafe { LLVMContextDispose(self.0) }
    }
}

/// A module this code owns (disposed on drop unless released).
pub struct OwnedModule(LLVMModuleRef);

impl OwnedModule {
    /// Takes ownership of a module created elsewhere.
    pub(crate) fn from_raw(m: LLVMModuleRef) -> OwnedModule {
        OwnedModule(m)
    }
    pub fn raw(&self) -> LLVMModuleRef {
        self.0
    }
    /// Gives up ownership (e.g. to a JIT).
    pub fn into_raw(self) -> LLVMModuleRef {
        let m = self.0;
        std::mem::forget(self);
        m
    }
}

impl Drop for OwnedModule {
    fn drop(&mut self) {
        unsafe { LLVMDisposeModule(self.0) }
    }
}

/// Helpers over a borrowed module reference.
pub fn context_of(m: LLVMModuleRef) -> LLVMContextRef {
    unsafe { LLVMGetModuleContext(m) }
}

pub fn print_module(m: LLVMModuleRef) -> String {
    take_message(unsafe { LLVMPrintModuleToString(m) })
}

pub fn verify_module(m: LLVMModuleRef) -> Result<(), String> {
    let mut msg = std::ptr::null_mut();
    let bad = unsafe { LLVMVerifyModule(m, LLVMVerifierFailureAction::LLVMReturnStatusAction, &mut msg) };
    let text = take_message(msg);
    if bad != 0 {
        Err(text)
    } else {
        Ok(())
    }
}

pub fn function_is_valid(f: Value) -> bool {
    unsafe { LLVMVerifyFunction(f.0, LLVMVerifierFailureAction::LLVMReturnStatusAction) == 0 }
}

pub fn get_function(m: LLVMModuleRef, name: &str) -> Option<Value> {
    let n = cstring(name);
    let f = unsafe { LLVMGetNamedFunction(m, n.as_ptr()) };
    (!f.is_null()).then_some(Value(f))
}

pub fn get_global(m: LLVMModuleRef, name: &str) -> Option<Value> {
    let n = cstring(name);
    let g = unsafe { LLVMGetNamedGlobal(m, n.as_ptr()) };
    (!g.is_null()).then_some(Value(g))
}

pub fn add_function(m: LLVMModuleRef, name: &str, ty: Type) -> Value {
    let n = cstring(name);
    Value(unsafe { LLVMAddFunction(m, n.as_ptr(), ty.0) })
}

pub fn add_global(m: LLVMModuleRef, ty: Type, name: &str) -> Value {
    let n = cstring(name);
    Value(unsafe { LLVMAddGlobal(m, ty.0, n.as_ptr()) })
}

/// A private constant global holding `text`'s bytes (not NUL-terminated), named `name`;
/// reused when the module has it already.
pub fn string_constant(m: LLVMModuleRef, name: &str, text: &str) -> Value {
    if let Some(g) = get_global(m, name) {
        return g;
    }
    let init = unsafe { LLVMConstStringInContext2(context_of(m), text.as_ptr() as *const _, text.len(), 1) };
    let g = add_global(m, Value(init).ty(), name);
    set_initializer(g, Value(init));
    set_global_constant(g, true);
    unsafe { LLVMSetLinkage(g.0, llvm_sys::LLVMLinkage::LLVMPrivateLinkage) };
    g
}

/// Makes a global thread-local (one copy per thread).
pub fn set_thread_local(g: Value) {
    unsafe { LLVMSetThreadLocal(g.0, 1) }
}

/// Makes a global thread-local with the storage model `mode`.
pub fn set_thread_local_mode(g: Value, mode: llvm_sys::LLVMThreadLocalMode) {
    unsafe { LLVMSetThreadLocalMode(g.0, mode) }
}

pub fn set_initializer(g: Value, v: Value) {
    unsafe { LLVMSetInitializer(g.0, v.0) }
}

pub fn set_global_constant(g: Value, c: bool) {
    unsafe { LLVMSetGlobalConstant(g.0, c as i32) }
}

pub fn functions(m: LLVMModuleRef) -> Vec<Value> {
    let mut out = Vec::new();
    let mut f = unsafe { LLVMGetFirstFunction(m) };
    while !f.is_null() {
        out.push(Value(f));
        f = unsafe { LLVMGetNextFunction(f) };
    }
    out
}

pub fn globals(m: LLVMModuleRef) -> Vec<Value> {
    let mut out = Vec::new();
    let mut g = unsafe { LLVMGetFirstGlobal(m) };
    while !g.is_null() {
        out.push(Value(g));
        g = unsafe { LLVMGetNextGlobal(g) };
    }
    out
}

pub fn data_layout(m: LLVMModuleRef) -> String {
    let p = unsafe { LLVMGetDataLayoutStr(m) };
    if p.is_null() {
        return String::new();
    }
    unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// ABI size in bytes of `ty` under the module's data layout.
pub fn abi_size(m: LLVMModuleRef, ty: Type) -> u64 {
    unsafe {
        let dl = llvm_sys::target::LLVMGetModuleDataLayout(m);
        llvm_sys::target::LLVMABISizeOfType(dl, ty.0)
    }
}

/// Offset in bytes of struct field `i`.
pub fn field_offset(m: LLVMModuleRef, struct_ty: Type, i: u32) -> u64 {
    unsafe {
        let dl = llvm_sys::target::LLVMGetModuleDataLayout(m);
        llvm_sys::target::LLVMOffsetOfElement(dl, struct_ty.0, i)
    }
}

pub fn abi_alignment(m: LLVMModuleRef, ty: Type) -> u32 {
    unsafe {
        let dl = llvm_sys::target::LLVMGetModuleDataLayout(m);
        llvm_sys::target::LLVMABIAlignmentOfType(dl, ty.0)
    }
}

/// Deletes every block of `f`, leaving a declaration (its uses inside are replaced by poison
/// first, so that blocks can go in any order).
pub fn clear_body(f: Value) {
    for b in f.blocks() {
        for i in b.instructions() {
            if !i.ty().is_void() {
                i.replace_all_uses_with(i.ty().poison());
            }
        }
    }
    for b in f.blocks() {
        b.delete();
    }
}
