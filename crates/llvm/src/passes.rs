//! Running LLVM's new-pass-manager pipelines from Rust.

use crate::ir::Value;
use crate::{cstring, error_message};
use llvm_sys::prelude::*;
use llvm_sys::target_machine::*;
use llvm_sys::transforms::pass_builder::*;

/// Which loop transformations the pipeline may use.
#[derive(Clone, Copy, Debug, Default)]
pub struct PipelineOptions {
    /// Loop vectorization and interleaving.
    pub vectorize: bool,
    /// Straight-line (SLP) vectorization.
    pub slp: bool,
    pub unroll: bool,
    pub verify_each: bool,
}

/// A target machine for the module's triple, so that pipelines get the real cost model
/// (per-function `target-cpu` / `target-features` attributes still take precedence).
pub struct TargetMachine(LLVMTargetMachineRef);

impl TargetMachine {
    /// Returns `None` if the module's target is not registered in this process.
    pub fn for_module(m: LLVMModuleRef) -> Option<TargetMachine> {
        unsafe {
            let triple = llvm_sys::core::LLVMGetTarget(m);
            let triple_owned;
            let triple = if triple.is_null() || *triple == 0 {
                triple_owned = LLVMGetDefaultTargetTriple();
                triple_owned as *const _
            } else {
                triple
            };
            let mut target = std::ptr::null_mut();
            let mut err = std::ptr::null_mut();
            if LLVMGetTargetFromTriple(triple, &mut target, &mut err) != 0 {
                crate::take_message(err);
                return None;
            }
            let cpu = c"generic";
            let tm = LLVMCreateTargetMachine(
                target,
                triple,
                cpu.as_ptr(),
                c"".as_ptr(),
                LLVMCodeGenOptLevel::LLVMCodeGenLevelAggressive,
                LLVMRelocMode::LLVMRelocPIC,
                LLVMCodeModel::LLVMCodeModelDefault,
            );
            (!tm.is_null()).then_some(TargetMachine(tm))
        }
    }
    pub fn raw(&self) -> LLVMTargetMachineRef {
        self.0
    }
}

impl Drop for TargetMachine {
    fn drop(&mut self) {
        unsafe { LLVMDisposeTargetMachine(self.0) }
    }
}

fn options(opts: PipelineOptions) -> LLVMPassBuilderOptionsRef {
    unsafe {
        let o = LLVMCreatePassBuilderOptions();
        LLVMPassBuilderOptionsSetLoopVectorization(o, opts.vectorize as i32);
        LLVMPassBuilderOptionsSetSLPVectorization(o, opts.slp as i32);
        LLVMPassBuilderOptionsSetLoopInterleaving(o, opts.vectorize as i32);
        LLVMPassBuilderOptionsSetLoopUnrolling(o, opts.unroll as i32);
        LLVMPassBuilderOptionsSetVerifyEach(o, opts.verify_each as i32);
        o
    }
}

/// Runs a textual pipeline (e.g. `default<O3>`) over the whole module.
pub fn run_on_module(m: LLVMModuleRef, pipeline: &str, opts: PipelineOptions) -> Result<(), String> {
    let tm = TargetMachine::for_module(m);
    let p = cstring(pipeline);
    unsafe {
        let o = options(opts);
        let err = LLVMRunPasses(m, p.as_ptr(), tm.as_ref().map_or(std::ptr::null_mut(), |t| t.raw()), o);
        LLVMDisposePassBuilderOptions(o);
        error_message(err)
    }
}

/// Runs a function pipeline (e.g. `sroa,instcombine`) over one function.
pub fn run_on_function(f: Value, pipeline: &str, opts: PipelineOptions) -> Result<(), String> {
    let tm = TargetMachine::for_module(f.global_parent());
    let p = cstring(pipeline);
    unsafe {
        let o = options(opts);
        let err = LLVMRunPassesOnFunction(f.0, p.as_ptr(), tm.as_ref().map_or(std::ptr::null_mut(), |t| t.raw()), o);
        LLVMDisposePassBuilderOptions(o);
        error_message(err)
    }
}

/// Sets LLVM command-line options of this process (e.g. `-vectorize-slp=false`). They are global
/// to the process: use only for switches no pipeline option exposes.
pub fn set_llvm_options(args: &[&str]) {
    let owned: Vec<std::ffi::CString> =
        std::iter::once("oxidase").chain(args.iter().copied()).map(|a| std::ffi::CString::new(a).unwrap()).collect();
    let ptrs: Vec<*const std::os::raw::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    unsafe { llvm_sys::support::LLVMParseCommandLineOptions(ptrs.len() as i32, ptrs.as_ptr(), std::ptr::null()) }
}
