// The only C++ in oxidase: the glue rustc's new pass manager needs.
//
// rustc's fat-LTO optimizer calls `registerEnzymeAndPassPipeline(PB, false)` and then
// `PB.parsePassPipeline(MPM, "enzyme")`. Both take C++ objects (llvm::PassBuilder,
// llvm::ModulePassManager), which the LLVM-C API cannot reach, so this file registers a
// module pass whose body immediately hands the module to Rust as an `LLVMModuleRef`.
// Everything else (the AD engine, diagnostics text, flags) lives on the Rust side.
//
// Built by build.rs with -fno-rtti -fno-exceptions (rustc's libLLVM exports no typeinfo)
// against Debian's llvm-22-dev headers, and linked only against rustc's own libLLVM, which
// also provides the libstdc++ symbols and operator new/delete used here.

#include "llvm-c/Types.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Passes/PassBuilder.h"

using namespace llvm;

// Defined in Rust (src/exports.rs). Returns true if the module was changed.
// It never unwinds: the Rust side catches panics and reports them as diagnostics.
extern "C" bool oxidase_run_module_pass(LLVMModuleRef M);

namespace {

// The pass itself: a thin trampoline into Rust.
struct OxidasePass : PassInfoMixin<OxidasePass> {
  PreservedAnalyses run(Module &M, ModuleAnalysisManager &) {
    // We cannot tell which analyses the engine's edits invalidate, so a change
    // invalidates everything; no change preserves everything.
    return oxidase_run_module_pass(wrap(&M)) ? PreservedAnalyses::none()
                                             : PreservedAnalyses::all();
  }
  // Run even under optnone / opt-bisect: without the pass the `__enzyme_*` marker
  // calls would survive to link time as undefined symbols.
  static bool isRequired() { return true; }
};

// Reports a message through the context's diagnostic handler. rustc's handler does
// not take generic diagnostics, so LLVM's fallback prints them as `error:`/`warning:`/
// `note:`/`remark:` on stderr, and for DS_Error then calls exit(1): an error report
// does not return. The Twine must outlive the DiagnosticInfoGeneric, which stores
// only a reference to it.
void diagnose(LLVMModuleRef M, const char *Msg, DiagnosticSeverity Sev) {
  Twine Text(Msg);
  unwrap(M)->getContext().diagnose(DiagnosticInfoGeneric(Text, Sev));
}

} // namespace

extern "C" {

// Called from the Rust-exported `registerEnzymeAndPassPipeline` (a symbol defined only
// here would not be exported from the Rust cdylib). `augment` mirrors Enzyme's
// signature; rustc always passes false and there is nothing extra to augment with.
void oxidase_register_pass_pipeline(void *PassBuilderPtr, bool /*augment*/) {
  auto &PB = *static_cast<PassBuilder *>(PassBuilderPtr);
  PB.registerPipelineParsingCallback(
      [](StringRef Name, ModulePassManager &MPM,
         ArrayRef<PassBuilder::PipelineElement>) {
        if (Name != "enzyme")
          return false;
        MPM.addPass(OxidasePass());
        return true;
      });
}

void oxidase_diagnose_error(LLVMModuleRef M, const char *Msg) {
  diagnose(M, Msg, DS_Error);
}
void oxidase_diagnose_warning(LLVMModuleRef M, const char *Msg) {
  diagnose(M, Msg, DS_Warning);
}
// Notes and remarks print as `note:` / `remark:` with this rustc; a handler that
// filters remarks may drop the latter.
void oxidase_diagnose_remark(LLVMModuleRef M, const char *Msg) {
  diagnose(M, Msg, DS_Remark);
}
void oxidase_diagnose_note(LLVMModuleRef M, const char *Msg) {
  diagnose(M, Msg, DS_Note);
}

} // extern "C"
