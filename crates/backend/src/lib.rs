//! `oxidase-enzyme`: the oxidase automatic-differentiation engine packaged as rustc's autodiff
//! backend.
//!
//! Built as a cdylib and installed as `<sysroot>/lib/rustlib/<host>/lib/libEnzyme-22.so`,
//! nightly rustc with `-Zautodiff=Enable` dlopens it and resolves the symbols Enzyme would
//! export (`/work/shared/docs/NIGHTLY-BACKEND.md` lists them):
//! - [`exports`]: every C-ABI function (pass registration, flag setters, type-tree API) and
//!   the module-pass entry point called from the C++ glue in `cpp/pass_plugin.cpp`;
//! - [`flags`]: the data symbols behind `-Zautodiff=Print…` and friends, and a [`flags::Flags`]
//!   snapshot of them;
//! - [`typetree`]: Enzyme-compatible type trees for the type-tree API (unused by this nightly);
//! - [`adapter`]: finds rustc's `__enzyme_*` calls and drives the engine.
//!
//! The library links against the toolchain's own libLLVM, so the module rustc hands over is
//! manipulated through the same LLVM that owns it.

// Unused crates are not linked, and with them their native libraries: this keeps rustc's
// libLLVM (linked by oxidase-llvm's build script) on the link line even while nothing else
// here calls into oxidase-llvm.
use oxidase_llvm as _;

pub mod adapter;
pub mod exports;
pub mod flags;
pub mod typetree;
