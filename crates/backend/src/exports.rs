//! Every C-ABI function rustc (or our C++ glue) resolves in `libEnzyme-22.so`.
//!
//! The data symbols live in [`crate::flags`]. Nothing here may unwind into C or C++: the pass
//! entry point catches panics, and the remaining functions are panic-free by construction
//! (no indexing, no unwraps on caller data).
#![allow(non_snake_case)]

use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use llvm_sys::prelude::{LLVMContextRef, LLVMModuleRef};

use crate::flags::{self, Flags};
use crate::typetree::{pointer_bytes, ConcreteType, TypeTree};

// ---- C++ side (cpp/pass_plugin.cpp) ----

extern "C" {
    fn oxidase_register_pass_pipeline(pass_builder: *mut c_void, augment: bool);
    fn oxidase_diagnose_error(module: LLVMModuleRef, msg: *const c_char);
    fn oxidase_diagnose_warning(module: LLVMModuleRef, msg: *const c_char);
}

/// `void registerEnzymeAndPassPipeline(llvm::PassBuilder&, bool augment)`: makes the pipeline
/// name "enzyme" parse to our module pass. Defined here, not in C++, because only Rust-defined
/// `#[no_mangle]` symbols are exported from a Rust cdylib.
///
/// # Safety
/// `pass_builder` must point to a live `llvm::PassBuilder` of rustc's LLVM.
#[no_mangle]
pub unsafe extern "C" fn registerEnzymeAndPassPipeline(pass_builder: *mut c_void, augment: bool) {
    oxidase_register_pass_pipeline(pass_builder, augment);
}

/// The module pass body, called from C++ with rustc's fat-LTO module. Returns whether the
/// module changed. Failures and panics become compile errors through LLVM's diagnostic handler.
///
/// # Safety
/// `module` must be a live module of rustc's LLVM.
#[no_mangle]
pub unsafe extern "C" fn oxidase_run_module_pass(module: LLVMModuleRef) -> bool {
    let result = catch_unwind(AssertUnwindSafe(|| {
        crate::adapter::run(module, &Flags::current())
    }));
    match result {
        Ok(Ok(changed)) => changed,
        Ok(Err(messages)) => {
            // One diagnostic for all messages: rustc's handler leaves DS_Error diagnostics to
            // LLVM's fallback, which prints `error: <msg>` and exits the process, so a second
            // report would never be seen.
            let text = if messages.is_empty() {
                "oxidase: autodiff failed".to_owned()
            } else {
                messages.join("\n")
            };
            report_error(module, &text);
            // Only reached if a handler returns: the module may be half-rewritten.
            true
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("unknown panic payload");
            report_error(
                module,
                &format!("oxidase internal error: {what}; please report"),
            );
            true
        }
    }
}

/// Reports `msg` as a compile error, printed as `error: <msg>`. With rustc this does not return:
/// LLVM's fallback handler exits the process with status 1 after printing.
///
/// # Safety
/// `module` must be a live module of rustc's LLVM.
pub unsafe fn report_error(module: LLVMModuleRef, msg: &str) {
    let text = c_string(msg);
    oxidase_diagnose_error(module, text.as_ptr())
}

/// Reports `msg` as a compiler warning (`warning: <msg>`).
///
/// # Safety
/// `module` must be a live module of rustc's LLVM.
pub unsafe fn report_warning(module: LLVMModuleRef, msg: &str) {
    let text = c_string(msg);
    oxidase_diagnose_warning(module, text.as_ptr())
}

fn c_string(msg: &str) -> CString {
    CString::new(msg.replace('\0', "\\0")).unwrap_or_default()
}

// ---- flags ----

/// Sets a bool switch; `flag` is the address of one of our data symbols (others are ignored).
#[no_mangle]
pub extern "C" fn EnzymeSetCLBool(flag: *mut c_void, value: u8) {
    flags::set_bool_at(flag, value);
}

/// Sets a string switch (only `EnzymeFunctionToAnalyze` exists). A null `value` clears it.
///
/// # Safety
/// `value` must be null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn EnzymeSetCLString(flag: *mut c_void, value: *const c_char) {
    let value = (!value.is_null()).then(|| CStr::from_ptr(value).to_string_lossy().into_owned());
    flags::set_string_at(flag, value);
}

// ---- type trees: `*mut TypeTree` is the opaque `CTypeTreeRef` ----

fn max_depth() -> usize {
    flags::EnzymeMaxTypeDepth.load(Ordering::Relaxed) as usize
}

/// Applies `f` to the tree behind `tt`, ignoring null.
unsafe fn with_tree(tt: *mut TypeTree, f: impl FnOnce(&mut TypeTree)) {
    if let Some(tree) = tt.as_mut() {
        f(tree);
    }
}

#[no_mangle]
pub extern "C" fn EnzymeNewTypeTree() -> *mut TypeTree {
    Box::into_raw(Box::new(TypeTree::new()))
}

/// `{[]:ct}`. The context is unused: float types are named, not LLVM types.
#[no_mangle]
pub extern "C" fn EnzymeNewTypeTreeCT(ct: u32, _ctx: LLVMContextRef) -> *mut TypeTree {
    Box::into_raw(Box::new(TypeTree::from_root(ConcreteType::from_c(ct))))
}

/// A copy of `tt` (an empty tree for null).
///
/// # Safety
/// `tt` must be null or a tree from this library.
#[no_mangle]
pub unsafe extern "C" fn EnzymeNewTypeTreeTR(tt: *mut TypeTree) -> *mut TypeTree {
    Box::into_raw(Box::new(tt.as_ref().cloned().unwrap_or_default()))
}

/// # Safety
/// `tt` must be null or a tree from this library, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn EnzymeFreeTypeTree(tt: *mut TypeTree) {
    if !tt.is_null() {
        drop(Box::from_raw(tt));
    }
}

/// `dst |= src`; returns whether `dst` changed.
///
/// # Safety
/// Both must be null or trees from this library.
#[no_mangle]
pub unsafe extern "C" fn EnzymeMergeTypeTree(dst: *mut TypeTree, src: *mut TypeTree) -> bool {
    if dst == src {
        return false;
    }
    match (dst.as_mut(), src.as_ref()) {
        (Some(dst), Some(src)) => dst.merge(src),
        _ => false,
    }
}

/// `tt = tt.Only(x)`.
///
/// # Safety
/// `tt` must be null or a tree from this library.
#[no_mangle]
pub unsafe extern "C" fn EnzymeTypeTreeOnlyEq(tt: *mut TypeTree, x: i64) {
    with_tree(tt, |t| *t = t.only(x, max_depth()));
}

/// `tt = tt.Data0()`.
///
/// # Safety
/// `tt` must be null or a tree from this library.
#[no_mangle]
pub unsafe extern "C" fn EnzymeTypeTreeData0Eq(tt: *mut TypeTree) {
    with_tree(tt, |t| *t = t.data0());
}

/// `tt = tt.ShiftIndices(dl, offset, max_size, add_offset)`; the data layout supplies the
/// pointer size.
///
/// # Safety
/// `tt` must be null or a tree from this library; `data_layout` null or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn EnzymeTypeTreeShiftIndiciesEq(
    tt: *mut TypeTree,
    data_layout: *const c_char,
    offset: i64,
    max_size: i64,
    add_offset: u64,
) {
    let ptr = if data_layout.is_null() {
        8
    } else {
        pointer_bytes(&CStr::from_ptr(data_layout).to_string_lossy())
    };
    with_tree(tt, |t| {
        *t = t.shift_indices(ptr, offset, max_size, add_offset as i64)
    });
}

/// Or-in `ct` at the path `indices[..len]` (ignored beyond `EnzymeMaxTypeDepth`).
///
/// # Safety
/// `tt` must be null or a tree from this library; `indices` must hold `len` values.
#[no_mangle]
pub unsafe extern "C" fn EnzymeTypeTreeInsertEq(
    tt: *mut TypeTree,
    indices: *const i64,
    len: usize,
    ct: u32,
    _ctx: LLVMContextRef,
) {
    let path: &[i64] = if len == 0 || indices.is_null() {
        &[]
    } else {
        std::slice::from_raw_parts(indices, len)
    };
    if path.len() <= max_depth() {
        with_tree(tt, |t| {
            t.insert(path, ConcreteType::from_c(ct));
        });
    }
}

/// Enzyme's text form; free with `EnzymeTypeTreeToStringFree`.
///
/// # Safety
/// `tt` must be null or a tree from this library.
#[no_mangle]
pub unsafe extern "C" fn EnzymeTypeTreeToString(tt: *mut TypeTree) -> *const c_char {
    let text = tt
        .as_ref()
        .map_or_else(|| "{}".to_owned(), TypeTree::to_string);
    c_string(&text).into_raw()
}

/// # Safety
/// `s` must be null or a string from `EnzymeTypeTreeToString`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn EnzymeTypeTreeToStringFree(s: *const c_char) {
    if !s.is_null() {
        drop(CString::from_raw(s as *mut c_char));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::*;

    unsafe fn text(tt: *mut TypeTree) -> String {
        let s = EnzymeTypeTreeToString(tt);
        let out = CStr::from_ptr(s).to_str().unwrap().to_owned();
        EnzymeTypeTreeToStringFree(s);
        out
    }

    #[test]
    fn type_tree_c_api_round_trip() {
        unsafe {
            let ctx = std::ptr::null_mut();
            // rustc's pattern for `&f64`: {[]:Double}.Only(-1) merged into {[-1]:Pointer}.Only(-1)...
            let f = EnzymeNewTypeTreeCT(5, ctx);
            EnzymeTypeTreeOnlyEq(f, 0);
            let p = EnzymeNewTypeTreeCT(2, ctx);
            assert!(EnzymeMergeTypeTree(p, f));
            assert!(!EnzymeMergeTypeTree(p, f));
            EnzymeTypeTreeOnlyEq(p, -1);
            assert_eq!(text(p), "{[-1]:Pointer, [-1,0]:Float@double}");

            let copy = EnzymeNewTypeTreeTR(p);
            EnzymeTypeTreeData0Eq(copy);
            assert_eq!(text(copy), "{[]:Pointer, [0]:Float@double}");
            assert_eq!(text(p), "{[-1]:Pointer, [-1,0]:Float@double}");

            let path = [16i64, 0];
            EnzymeTypeTreeInsertEq(copy, path.as_ptr(), path.len(), 1, ctx);
            let dl = c"e-m:e-i64:64-f80:128-n8:16:32:64-S128";
            EnzymeTypeTreeShiftIndiciesEq(copy, dl.as_ptr(), 16, 8, 4);
            assert_eq!(text(copy), "{[]:Pointer, [4,0]:Integer}");

            assert_eq!(text(std::ptr::null_mut()), "{}");
            for t in [f, p, copy] {
                EnzymeFreeTypeTree(t);
            }
            EnzymeFreeTypeTree(std::ptr::null_mut());
        }
    }

    /// One test for all flag statics: tests run in parallel and these are process-wide.
    #[test]
    fn flag_setters_write_only_known_addresses() {
        let addr = |f: &'static std::sync::atomic::AtomicU8| f as *const _ as *mut c_void;
        EnzymeSetCLBool(addr(&EnzymeStrictAliasing), 0);
        EnzymeSetCLBool(addr(&RustTypeRules), 1);
        EnzymeSetCLBool(addr(&EnzymePrintType), 1);
        EnzymeSetCLBool(addr(&looseTypeAnalysis), 1);
        let mut unrelated = 0u8;
        EnzymeSetCLBool(&mut unrelated as *mut u8 as *mut c_void, 1);
        assert_eq!(unrelated, 0);
        unsafe {
            EnzymeSetCLString(
                &EnzymeFunctionToAnalyze as *const _ as *mut c_void,
                c"sq".as_ptr(),
            );
            EnzymeSetCLString(&mut unrelated as *mut u8 as *mut c_void, c"other".as_ptr());
        }
        // rustc reads this one as a u32.
        let depth = unsafe { *(&EnzymeMaxTypeDepth as *const _ as *const u32) };
        assert_eq!(depth, 6);

        let f = Flags::current();
        assert!(f.rust_type_rules && f.print_type && f.loose_types);
        assert!(
            !f.strict_aliasing && !f.print_perf && !f.print_activity && !f.print_steps && !f.inline
        );
        assert_eq!(f.type_depth, 6);
        assert_eq!(f.function_to_analyze.as_deref(), Some("sq"));
    }
}
