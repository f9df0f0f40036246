//! In-process execution of IR through LLVM's ORC LLJIT (used by the test suites).

use crate::module::{Context, OwnedModule};
use crate::{cstring, error_message};
use llvm_sys::orc2::lljit::*;
use llvm_sys::orc2::*;

extern "C" {
    fn LLVMInitializeX86TargetInfo();
    fn LLVMInitializeX86Target();
    fn LLVMInitializeX86TargetMC();
    fn LLVMInitializeX86AsmPrinter();
}

/// Registers the native (x86-64) target once per process.
pub fn initialize_native_target() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| unsafe {
        LLVMInitializeX86TargetInfo();
        LLVMInitializeX86Target();
        LLVMInitializeX86TargetMC();
        LLVMInitializeX86AsmPrinter();
    });
}

/// A JIT holding one module; symbols of the host process (libm, libc) resolve automatically.
pub struct Jit {
    raw: LLVMOrcLLJITRef,
}

impl Jit {
    /// Takes ownership of the module and of the context it lives in.
    pub fn new(ctx: Context, module: OwnedModule) -> Result<Jit, String> {
        initialize_native_target();
        unsafe {
            let mut jit = std::ptr::null_mut();
            error_message(LLVMOrcCreateLLJIT(&mut jit, std::ptr::null_mut()))?;
            let jd = LLVMOrcLLJITGetMainJITDylib(jit);
            let prefix = LLVMOrcLLJITGetGlobalPrefix(jit);
            let mut gen = std::ptr::null_mut();
            error_message(LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
                &mut gen,
                prefix,
                None,
                std::ptr::null_mut(),
            ))?;
            LLVMOrcJITDylibAddGenerator(jd, gen);
            let tsctx = LLVMOrcCreateNewThreadSafeContextFromLLVMContext(ctx.into_raw());
            let tsm = LLVMOrcCreateNewThreadSafeModule(module.into_raw(), tsctx);
            LLVMOrcDisposeThreadSafeContext(tsctx);
            error_message(LLVMOrcLLJITAddLLVMIRModule(jit, jd, tsm))?;
            Ok(Jit { raw: jit })
        }
    }

    /// The address of a compiled function.
    pub fn lookup(&self, name: &str) -> Result<u64, String> {
        let n = cstring(name);
        let mut addr = 0;
        unsafe { error_message(LLVMOrcLLJITLookup(self.raw, &mut addr, n.as_ptr()))? };
        Ok(addr)
    }
}

impl Drop for Jit {
    fn drop(&mut self) {
        unsafe {
            LLVMOrcDisposeLLJIT(self.raw);
        }
    }
}
