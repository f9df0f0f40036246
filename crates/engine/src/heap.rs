//! Shadows of heap blocks, shared by both modes.
//!
//! A block the primal allocates gets a shadow from the same allocator family, zeroed. Rust's
//! allocator (`__rust_alloc`, …) is told every size, so a shadow is zeroed and resized by the
//! sizes the primal passes. C's allocator is not: `realloc(p, n)` never says how large `p` was,
//! which is what the grown tail of a shadow must be zeroed from. So every shadow block from the
//! C family is zeroed in its whole usable size (`malloc_usable_size`), and a `realloc` of one
//! zeroes from the old block's usable size on: the bytes past what the primal asked for are
//! always zero. Release builds inline std's `__rdl_*` into `RawVec`'s growth, which calls
//! `malloc`, `realloc`, `posix_memalign` and `free` directly.

use crate::tape::libc_function;
use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::context_of;
use oxidase_llvm::{Builder, IntPredicate, Type, Value};

/// Whether `call` calls C's allocator (`malloc`, `calloc`, `realloc`, `aligned_alloc`,
/// `posix_memalign`), whose blocks are zeroed in their usable size.
pub fn is_c_allocation(call: Value) -> bool {
    call.called_function().is_some_and(|f| matches!(f.name().as_str(), "malloc" | "calloc" | "realloc" | "aligned_alloc" | "posix_memalign"))
}

/// `malloc_usable_size(s)`.
pub fn usable_size(m: LLVMModuleRef, b: &Builder, s: Value) -> Value {
    let f = libc_function(m, "malloc_usable_size");
    b.call(f.function_type(), f, &[s])
}

/// Zeroes a fresh shadow block `s` from the C family in its whole usable size.
pub fn zero_c_block(m: LLVMModuleRef, b: &Builder, s: Value) {
    let n = usable_size(m, b, s);
    b.memset(s, Type::i8(context_of(m)).zero(), n, 1);
}

/// A zeroed shadow for the block `posix_memalign(out, align, size)` writes to `out`:
/// `aligned_alloc(align, size)` (freed by `free`, like the primal's).
pub fn aligned_shadow(m: LLVMModuleRef, b: &Builder, align: Value, size: Value) -> Value {
    let f = libc_function(m, "aligned_alloc");
    let s = b.call(f.function_type(), f, &[align, size]);
    zero_c_block(m, b, s);
    s
}

/// `realloc(s_old, n)` of a C shadow block (forward mode, which needs no old shadow): the
/// grown part is zeroed from the old usable size on.
pub fn realloc_in_place(m: LLVMModuleRef, b: &Builder, realloc: Value, s_old: Value, n: Value) -> Value {
    let old = usable_size(m, b, s_old);
    let s = b.call(realloc.function_type(), realloc, &[s_old, n]);
    let new = usable_size(m, b, s);
    let grows = b.icmp(IntPredicate::LLVMIntULT, old, new);
    let from = b.select(grows, old, new);
    let len = b.sub(new, from);
    let tail = b.gep(Type::i8(context_of(m)), s, &[from]);
    b.memset(tail, Type::i8(context_of(m)).zero(), len, 1);
    s
}

/// The bytes a C `realloc(old, n)` keeps from the old shadow `s_old`: `min(usable(s_old), n)`
/// (past the primal's old size the shadow is zero, see the module docs).
pub fn kept_bytes(m: LLVMModuleRef, b: &Builder, s_old: Value, n: Value) -> Value {
    let old = usable_size(m, b, s_old);
    let grows = b.icmp(IntPredicate::LLVMIntULT, old, n);
    b.select(grows, old, n)
}

/// A fresh zeroed C shadow block of `n` bytes (reverse mode's `realloc`, which keeps the old
/// shadow for the reverse sweep).
pub fn fresh_c_block(m: LLVMModuleRef, b: &Builder, n: Value) -> Value {
    let f = libc_function(m, "malloc");
    let s = b.call(f.function_type(), f, &[n]);
    zero_c_block(m, b, s);
    s
}
