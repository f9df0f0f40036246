//! Classification of call sites: what a callee means for differentiation.

use crate::rules::{self, Rule};
use oxidase_llvm::{intrinsic_name, Value};
use std::collections::{HashMap, HashSet};

/// How an allocator hands out memory (so the shadow can be allocated the same way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alloc {
    /// `__rust_alloc(size, align)`, `malloc(size)`: uninitialized memory.
    Uninit,
    /// `__rust_alloc_zeroed(size, align)`, `calloc(n, size)`: already zero.
    Zeroed,
    /// `__rust_realloc(ptr, old, align, new)`, `realloc(ptr, new)`.
    Realloc,
    /// `posix_memalign(out, align, size)`: the block's address is written to `out`.
    Out,
}

/// What a call does, as far as derivatives are concerned.
#[derive(Clone, Copy, Debug)]
pub enum CallKind {
    /// No effect on values or memory that matters (debug info, lifetimes, assumptions).
    Ignored,
    /// An intrinsic on integers or pointers only (overflow checks, `umin`, `ctpop`, ...), or a
    /// read-only comparison of bytes (`bcmp`, `memcmp`), or an adjoint's zero test
    /// ([`crate::zero_test`]).
    IntegerOnly,
    /// `llvm.memcpy` / `llvm.memmove`: (dst, src, len, volatile).
    MemTransfer,
    /// `llvm.memset`: (dst, byte, len, volatile).
    MemSet,
    /// A primitive with a derivative rule.
    Rule(&'static Rule),
    /// Allocation of fresh memory.
    Allocation(Alloc),
    /// Freeing memory: `__rust_dealloc(ptr, size, align)`, `free(ptr)`.
    Deallocation,
    /// A function with a body in the module: differentiated recursively.
    Defined(Value),
    /// A declaration without a body and without a rule.
    External(Value),
    /// `llvm.threadlocal.address(@g)`: the address of this thread's copy of `@g` (its shadow
    /// is the address of this thread's copy of `@g`'s shadow).
    ThreadLocal,
    /// A call through a function pointer.
    Indirect,
    /// Inline assembly.
    InlineAsm,
}

/// Intrinsics whose calls have no bearing on derivatives.
const IGNORED_INTRINSICS: &[&str] = &[
    "llvm.lifetime.start",
    "llvm.lifetime.end",
    "llvm.assume",
    "llvm.dbg.declare",
    "llvm.dbg.value",
    "llvm.dbg.assign",
    "llvm.dbg.label",
    "llvm.experimental.noalias.scope.decl",
    "llvm.invariant.start",
    "llvm.invariant.end",
    "llvm.sideeffect",
    "llvm.prefetch",
    "llvm.donothing",
    "llvm.trap",
    "llvm.debugtrap",
    "llvm.ubsantrap",
    "llvm.stacksave",
    "llvm.stackrestore",
    "llvm.is.constant",
    "llvm.pseudoprobe",
];

/// Functions known to never touch floating-point data reachable from their arguments (panics,
/// formatting entry points). Calls to them stay as they are even when an argument has a shadow.
fn is_inert_external(name: &str) -> bool {
    if matches!(name, "abort" | "__rust_alloc_error_handler" | "rust_begin_unwind" | "_Unwind_Resume") {
        return true;
    }
    // Every path below names one of these identifiers, which both manglings keep verbatim:
    // most calls are decided without demangling.
    const WORDS: &[&str] = &[
        "panicking", "unwrap_failed", "expect_failed", "handle_alloc_error", "handle_error", "capacity_overflow", "slice_",
        "len_mismatch_fail", "_print", "_eprint",
    ];
    if !WORDS.iter().any(|w| name.contains(w)) {
        return false;
    }
    let d = crate::error::demangle(name);
    d.starts_with("core::panicking::")
        || d.starts_with("std::panicking::")
        || d.starts_with("core::result::unwrap_failed")
        || d.starts_with("core::option::unwrap_failed")
        || d.starts_with("core::option::expect_failed")
        || d.starts_with("alloc::alloc::handle_alloc_error")
        || d.starts_with("alloc::raw_vec::handle_error")
        || d.starts_with("alloc::raw_vec::capacity_overflow")
        || d.starts_with("core::slice::index::slice_")
        || d.starts_with("core::slice::<impl [T]>::copy_from_slice::len_mismatch_fail")
        || d.starts_with("std::io::stdio::_print")
        || d.starts_with("std::io::stdio::_eprint")
}

/// Whether `call` is `llvm.memcpy`/`llvm.memmove` (any overload): a copy whose other side holds
/// the same bytes.
pub(crate) fn is_memory_copy(call: Value) -> bool {
    call.called_function().is_some_and(|f| {
        let id = f.intrinsic_id();
        id != 0 && matches!(intrinsic_name(id).as_str(), "llvm.memcpy" | "llvm.memmove" | "llvm.memcpy.inline")
    })
}

/// Classifies a call. `subst` maps parameters to the constants a derivative is specialized on, so
/// that a call through a `Const` function-pointer argument resolves to the function itself.
pub fn classify(call: Value, subst: &HashMap<Value, Value>) -> CallKind {
    let callee = resolve_callee(call.called_value(), subst);
    if callee.is_inline_asm() {
        return CallKind::InlineAsm;
    }
    if !callee.is_function() {
        return CallKind::Indirect;
    }
    let f = callee;
    // An adjoint's zero test ([`crate::zero_test`]): a flag from a float, no memory. The
    // modes that copy it handle it themselves.
    if crate::zero_test::is_zero_test(call) {
        return CallKind::IntegerOnly;
    }
    let id = f.intrinsic_id();
    if id != 0 {
        let base = intrinsic_name(id);
        if IGNORED_INTRINSICS.contains(&base.as_str()) {
            return CallKind::Ignored;
        }
        if base == "llvm.memcpy" || base == "llvm.memmove" || base == "llvm.memcpy.inline" {
            return CallKind::MemTransfer;
        }
        if base == "llvm.memset" || base == "llvm.memset.inline" {
            return CallKind::MemSet;
        }
        if base == "llvm.threadlocal.address" {
            return CallKind::ThreadLocal;
        }
        if let Some(rule) = rules::lookup(&base) {
            return CallKind::Rule(rule);
        }
        // Remaining intrinsics are differentiable only if they produce floats: one that maps
        // floats to integers or flags (`fptosi.sat`, `lround`, `is.fpclass`) is piecewise
        // constant and carries no derivative.
        let fty = call.called_function_type();
        let ret = fty.return_type();
        let floaty = ret.contains_float() || ret.contains_pointer() || (ret.is_void() && fty.param_types().iter().any(|t| t.contains_float()));
        return if floaty { CallKind::External(f) } else { CallKind::IntegerOnly };
    }
    let name = allocator_symbol(&f.name());
    match name.as_str() {
        // Read-only comparisons and lengths of bytes (a `HashMap` comparing keys, `==` on
        // slices): an integer result, piecewise constant, and no memory written.
        "bcmp" | "memcmp" | "strlen" | "strnlen" | "strcmp" | "strncmp" => return CallKind::IntegerOnly,
        // The tape's own chunk helpers (`tape::chunk_function`) behave as malloc and free.
        "__rust_alloc" | "malloc" | "aligned_alloc" | "__rdl_alloc" | "oxidase.tape.chunk" => {
            return CallKind::Allocation(Alloc::Uninit)
        }
        "posix_memalign" => return CallKind::Allocation(Alloc::Out),
        "__rust_alloc_zeroed" | "calloc" | "__rdl_alloc_zeroed" => return CallKind::Allocation(Alloc::Zeroed),
        "__rust_realloc" | "realloc" | "__rdl_realloc" => return CallKind::Allocation(Alloc::Realloc),
        "__rust_dealloc" | "free" | "__rdl_dealloc" | "oxidase.tape.unchunk" => return CallKind::Deallocation,
        _ => {}
    }
    if is_inert_external(&name) {
        return CallKind::Ignored;
    }
    if f.is_declaration() {
        if let Some(rule) = rules::lookup(&name) {
            return CallKind::Rule(rule);
        }
        return CallKind::External(f);
    }
    CallKind::Defined(f)
}

/// The function a call goes to when it is known from constants: the callee itself, a
/// parameter the derivative is specialized on (`subst`), or a function pointer loaded from a
/// constant table the derivative is specialized on or that is a global constant (the
/// `LocalKey` of a `thread_local!` holding its accessor, passed down by reference).
fn resolve_callee(callee: Value, subst: &HashMap<Value, Value>) -> Value {
    use oxidase_llvm::Opcode;
    if let Some(&c) = subst.get(&callee) {
        return c;
    }
    if !(callee.is_instruction() && callee.opcode() == Opcode::LLVMLoad && !callee.is_volatile()) {
        return callee;
    }
    let module = callee.parent_block().parent().global_parent();
    let (base, off) = crate::types::base_and_offset(module, callee.operand(0));
    let (Some(base), Some(off)) = (Some(base).map(|b| subst.get(&b).copied().unwrap_or(b)), off)
    else {
        return callee;
    };
    let Some(init) = base
        .is_global_variable()
        .then_some(base)
        .filter(|g| g.is_global_constant())
        .and_then(|g| g.initializer())
    else {
        return callee;
    };
    let mut found = HashSet::new();
    functions_at(module, init, 0, off, &mut found);
    match found.into_iter().collect::<Vec<_>>()[..] {
        [f] => f,
        _ => callee,
    }
}

/// Whether a derivative should be specialized on the constant `v` passed as an argument: a
/// function, or a constant table of functions (a vtable, a `thread_local!`'s `LocalKey`), so
/// that calls through it inside the callee go to known functions; or a null pointer (`None`
/// of an `Option<&mut T>`) or a constant dangling address (an empty `Vec`'s pointer, the
/// alignment made a pointer), which is its own shadow.
pub fn specializes_on(v: Value) -> bool {
    if v.is_function() || is_constant_address(v) {
        return true;
    }
    fn holds_function(c: Value, depth: u32) -> bool {
        c.is_function()
            || (depth < 4
                && c.is_constant()
                && !c.is_global_variable()
                && (c.ty().is_struct() || c.ty().is_array())
                && (0..c.num_operands()).any(|i| holds_function(c.operand(i), depth + 1)))
    }
    v.is_global_variable()
        && v.is_global_constant()
        && v.initializer().is_some_and(|i| holds_function(i, 0))
}

/// Whether a constant argument a derivative is specialized on has a shadow there: a
/// constant table (the global's shadow) or a null or dangling pointer (itself).
pub fn constant_has_shadow(c: Value) -> bool {
    c.is_global_variable() || is_constant_address(c)
}

/// A null pointer, or a pointer made from a constant integer (`inttoptr (i64 8 to ptr)`, the
/// dangling pointer of an empty `Vec`): never dereferenced, so its own shadow.
fn is_constant_address(v: Value) -> bool {
    v.ty().is_pointer() && v.is_constant() && (v.is_null_constant() || (v.is_int_to_ptr() && v.operand(0).is_constant()))
}

/// Possible targets of an indirect call: functions with a body and the call's function type
/// whose address is taken. A `dyn` method is loaded from its vtable at a constant offset, and
/// rustc marks that load `!invariant.load` (the memory is constant for the whole program): it can
/// only be a function at that offset of a constant table of the module. A call through a
/// pointer that is none of them cannot be differentiated (the derivative stops the program with
/// a message).
pub fn indirect_candidates(call: Value) -> Vec<Value> {
    use oxidase_llvm::{Opcode, ValueClass};
    let fty = call.called_function_type();
    let module = call.parent_block().parent().global_parent();
    let callee = call.called_value();
    let is_vtable_load =
        callee.is_instruction() && callee.opcode() == Opcode::LLVMLoad && callee.has_metadata("invariant.load");
    if let Some(off) = is_vtable_load.then(|| crate::types::base_and_offset(module, callee.operand(0)).1).flatten() {
        let mut found = HashSet::new();
        for g in oxidase_llvm::module::globals(module) {
            if let Some(init) = g.initializer().filter(|_| g.is_global_constant()) {
                functions_at(module, init, 0, off, &mut found);
            }
        }
        return oxidase_llvm::module::functions(module)
            .into_iter()
            .filter(|f| found.contains(f) && !f.is_declaration() && f.intrinsic_id() == 0 && f.function_type() == fty)
            .collect();
    }
    oxidase_llvm::module::functions(module)
        .into_iter()
        .filter(|f| !f.is_declaration() && f.intrinsic_id() == 0 && f.function_type() == fty)
        .filter(|&f| {
            f.users().into_iter().any(|u| {
                !matches!(u.class(), ValueClass::Instruction)
                    || !matches!(u.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke)
                    || u.called_value() != f
            })
        })
        .collect()
}

/// Functions in the constant `c` (at byte offset `at` of its global) at byte offset `want`.
fn functions_at(m: oxidase_llvm::llvm_sys::prelude::LLVMModuleRef, c: Value, at: i64, want: i64, out: &mut HashSet<Value>) {
    if c.is_function() {
        if want == at {
            out.insert(c);
        }
        return;
    }
    let ty = c.ty();
    if ty.is_struct() {
        for i in 0..ty.aggregate_len().min(c.num_operands()) {
            let off = oxidase_llvm::module::field_offset(m, ty, i) as i64;
            functions_at(m, c.operand(i), at + off, want, out);
        }
    } else if ty.is_array() && ty.element().is_pointer() {
        let size = oxidase_llvm::module::abi_size(m, ty.element()) as i64;
        for i in 0..c.num_operands() {
            functions_at(m, c.operand(i), at + i as i64 * size, want, out);
        }
    }
}

/// The allocator shim's symbol without rustc's mangling: newer rustc emits
/// `_RNvCs…_7___rustc12___rust_alloc` (demangled `__rustc::__rust_alloc`) for `__rust_alloc`.
pub(crate) fn allocator_symbol(name: &str) -> String {
    if name.starts_with("_R") && name.contains("___rustc") {
        let d = crate::error::demangle(name);
        if let Some(last) = d.strip_prefix("__rustc::") {
            return last.to_string();
        }
    }
    name.to_string()
}

/// The function of the same allocator family as `realloc_fn` (`__rust_realloc`, `__rdl_realloc`,
/// mangled or not) for `what` (`"alloc_zeroed"`, `"dealloc"`), declared if the module lacks it.
/// `None` for C's `realloc`, whose family has no sized deallocation.
pub fn allocator_sibling(m: oxidase_llvm::llvm_sys::prelude::LLVMModuleRef, realloc_fn: Value, what: &str) -> Option<Value> {
    use oxidase_llvm::module::{add_function, context_of, get_function};
    use oxidase_llvm::Type;
    let name = realloc_fn.name();
    let base = allocator_symbol(&name);
    let family = base.strip_suffix("_realloc")?; // "__rust" or "__rdl"
    let ident = format!("{family}_{what}");
    let sibling = if name.starts_with("_R") {
        // v0 mangling: the identifier is `<len>_<ident>` at the end of the symbol.
        let old = format!("{}_{}", base.len(), base);
        let prefix = name.strip_suffix(&old)?;
        format!("{prefix}{}_{ident}", ident.len())
    } else {
        ident
    };
    if let Some(f) = get_function(m, &sibling) {
        return Some(f);
    }
    let ctx = context_of(m);
    let (p, i64t) = (Type::ptr(ctx), Type::i64(ctx));
    let ty = match what {
        "alloc_zeroed" => Type::function(p, &[i64t, i64t], false),
        "dealloc" => Type::function(Type::void(ctx), &[p, i64t, i64t], false),
        _ => return None,
    };
    Some(add_function(m, &sibling, ty))
}
