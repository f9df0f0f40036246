//! Helpers that only move bytes, inlined before a function is analysed.
//!
//! A dev build keeps every `#[inline]` wrapper as a call, and passes SIMD vectors by pointer.
//! `core::arch`'s casts between vector types are such wrappers: `__m256i::as_i64x4` is
//! `load <4 x i64>` from its argument and `store` into its `sret` result. `matrixmultiply`'s
//! AVX kernels move `f64` vectors through them (`_mm256_permute2f128_pd` casts to `__m256i`,
//! shuffles 64-bit lanes, casts back), and a callee of this kind is shared by every caller,
//! whatever the bits it moves stand for (`f64` lanes in one caller, pairs of `f32` in another):
//! analysed alone, it cannot know the float type of its integers, and neither can the caller
//! that sees only a call. Inlined, the bits stay in one function, where the `bitcast`s at the
//! edges of their web say what they are ([`crate::bits`]).
//!
//! Only straight-line helpers of a few integer loads and stores, `bitcast`s and constant-offset
//! GEPs (and debug spills of their arguments) are inlined, at direct `call`s and at `invoke`s
//! (they cannot unwind): the program means exactly what it meant (the primal
//! function changes, as [`crate::fold`] changes it, in form only).
use oxidase_llvm::{Builder, Opcode, Value};
use std::collections::HashMap;

/// The most instructions a helper may have (its `ret` included).
const MAX_INSTRUCTIONS: usize = 12;

/// Whether `f` is a helper that only moves integers (or integer vectors) between the memory
/// its arguments point to, and returns what it loaded or was passed. Floats and pointers
/// moved by a helper have their own types, which every analysis follows across calls; only
/// integers need the caller's context to say what they are.
pub fn is_move_helper(f: Value) -> bool {
    use Opcode::*;
    if f.is_declaration() || crate::types::is_generated(f) {
        return false;
    }
    let blocks = f.blocks();
    let [b] = blocks.as_slice() else { return false };
    let insts = b.instructions();
    if insts.len() > MAX_INSTRUCTIONS {
        return false;
    }
    let int_like = crate::bits::int_like;
    // It moves integers (a helper returning a pointer it was given, `NonNull::as_ptr`, stays a
    // call: its derivative carries the pointer's shadow).
    let moves = insts.iter().any(|&i| i.opcode() == LLVMLoad);
    let returns = f.function_type().return_type();
    if !moves || !(returns.is_void() || int_like(returns)) {
        return false;
    }
    insts.iter().all(|&i| match i.opcode() {
        LLVMLoad => !i.is_volatile() && int_like(i.ty()),
        // A debug spill of an argument (dev builds): written, never read.
        LLVMStore if is_spill_slot(i.operand(1)) => true,
        LLVMStore => !i.is_volatile() && int_like(i.operand(0).ty()) && !i.operand(0).is_constant(),
        LLVMAlloca => is_spill_slot(i),
        LLVMBitCast | LLVMRet => true,
        LLVMGetElementPtr => (1..i.num_operands()).all(|k| i.operand(k).is_constant()),
        _ => false,
    })
}

/// Whether `v` is a stack slot that is only written (a dev build's debug spill of an argument,
/// read by the debugger alone): inlining leaves it and its stores out.
fn is_spill_slot(v: Value) -> bool {
    v.is_instruction()
        && v.opcode() == Opcode::LLVMAlloca
        && v.users().into_iter().all(|u| u.is_instruction() && u.opcode() == Opcode::LLVMStore && u.operand(1) == v && u.operand(0) != v)
}

/// Inlines every direct `call` in `f` of a helper that only moves bytes ([`is_move_helper`]);
/// the number of calls inlined.
pub fn inline_move_helpers(f: Value) -> usize {
    let mut sites = Vec::new();
    for b in f.blocks() {
        for i in b.instructions() {
            // An `invoke` of a helper that cannot unwind becomes a branch to its normal
            // destination; not where the unwind destination has phis, which would lose an
            // incoming edge.
            let invoke_ok = i.opcode() == Opcode::LLVMInvoke
                && i.unwind_dest().instructions().first().is_some_and(|f| f.opcode() != Opcode::LLVMPHI);
            if i.opcode() != Opcode::LLVMCall && !invoke_ok {
                continue;
            }
            let Some(callee) = i.called_function() else { continue };
            if callee != f && i.called_value() == callee && callee.params().len() == i.call_args().len() && is_move_helper(callee) {
                sites.push((i, callee));
            }
        }
    }
    if sites.is_empty() {
        return 0;
    }
    let b = Builder::new(oxidase_llvm::module::context_of(f.global_parent()));
    for &(call, callee) in &sites {
        b.position_before(call);
        let mut map: HashMap<Value, Value> = callee.params().into_iter().zip(call.call_args()).collect();
        let mut result = None;
        for inst in callee.blocks()[0].instructions() {
            if inst.opcode() == Opcode::LLVMRet {
                result = (inst.num_operands() == 1).then(|| inst.operand(0));
                break;
            }
            if is_spill_slot(inst) || inst.opcode() == Opcode::LLVMStore && is_spill_slot(inst.operand(1)) {
                continue;
            }
            let c = crate::emit::clone_at(&b, inst, |v| map.get(&v).copied().unwrap_or(v), &[]);
            map.insert(inst, c);
        }
        if let Some(r) = result {
            call.replace_all_uses_with(map.get(&r).copied().unwrap_or(r));
        }
        if call.opcode() == Opcode::LLVMInvoke {
            b.br(call.normal_dest());
        }
        call.erase();
    }
    sites.len()
}
