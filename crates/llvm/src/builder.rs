//! An instruction builder.

use crate::ir::{Block, IntPredicate, Opcode, RealPredicate, Type, Value};
use llvm_sys::core::*;
use llvm_sys::prelude::*;

const NONAME: *const std::os::raw::c_char = c"".as_ptr();

/// Owns an `LLVMBuilderRef`.
pub struct Builder {
    raw: LLVMBuilderRef,
    ctx: LLVMContextRef,
}

impl Drop for Builder {
    fn drop(&mut self) {
        unsafe { LLVMDisposeBuilder(self.raw) }
    }
}

impl Builder {
    pub fn new(ctx: LLVMContextRef) -> Builder {
        Builder { raw: unsafe { LLVMCreateBuilderInContext(ctx) }, ctx }
    }
    pub fn context(&self) -> LLVMContextRef {
        self.ctx
    }
    pub fn raw(&self) -> LLVMBuilderRef {
        self.raw
    }
    pub fn position_at_end(&self, b: Block) {
        unsafe { LLVMPositionBuilderAtEnd(self.raw, b.0) }
    }
    pub fn position_before(&self, inst: Value) {
        unsafe { LLVMPositionBuilderBefore(self.raw, inst.0) }
    }
    pub fn insert_block(&self) -> Block {
        Block(unsafe { LLVMGetInsertBlock(self.raw) })
    }
    /// Inserts an instruction created elsewhere (e.g. by `clone_instruction`).
    pub fn insert(&self, inst: Value) {
        unsafe { LLVMInsertIntoBuilder(self.raw, inst.0) }
    }

    // ---- float arithmetic ----
    pub fn fadd(&self, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildFAdd(self.raw, a.0, b.0, NONAME) })
    }
    pub fn fsub(&self, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildFSub(self.raw, a.0, b.0, NONAME) })
    }
    pub fn fmul(&self, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildFMul(self.raw, a.0, b.0, NONAME) })
    }
    pub fn fdiv(&self, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildFDiv(self.raw, a.0, b.0, NONAME) })
    }
    pub fn fneg(&self, a: Value) -> Value {
        Value(unsafe { LLVMBuildFNeg(self.raw, a.0, NONAME) })
    }
    pub fn fcmp(&self, p: RealPredicate, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildFCmp(self.raw, p, a.0, b.0, NONAME) })
    }
    pub fn icmp(&self, p: IntPredicate, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildICmp(self.raw, p, a.0, b.0, NONAME) })
    }
    pub fn select(&self, c: Value, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildSelect(self.raw, c.0, a.0, b.0, NONAME) })
    }
    pub fn add(&self, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildAdd(self.raw, a.0, b.0, NONAME) })
    }
    pub fn and(&self, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildAnd(self.raw, a.0, b.0, NONAME) })
    }
    pub fn sub(&self, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildSub(self.raw, a.0, b.0, NONAME) })
    }
    pub fn udiv(&self, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildUDiv(self.raw, a.0, b.0, NONAME) })
    }
    /// `udiv exact`: the caller knows `b` divides `a` (poison otherwise), so a later
    /// multiplication by `b` folds away.
    pub fn udiv_exact(&self, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildExactUDiv(self.raw, a.0, b.0, NONAME) })
    }
    pub fn urem(&self, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildURem(self.raw, a.0, b.0, NONAME) })
    }
    pub fn mul(&self, a: Value, b: Value) -> Value {
        Value(unsafe { LLVMBuildMul(self.raw, a.0, b.0, NONAME) })
    }
    pub fn cast(&self, op: Opcode, v: Value, ty: Type) -> Value {
        Value(unsafe { LLVMBuildCast(self.raw, op, v.0, ty.0, NONAME) })
    }
    pub fn sitofp(&self, v: Value, ty: Type) -> Value {
        Value(unsafe { LLVMBuildSIToFP(self.raw, v.0, ty.0, NONAME) })
    }
    pub fn bitcast(&self, v: Value, ty: Type) -> Value {
        Value(unsafe { LLVMBuildBitCast(self.raw, v.0, ty.0, NONAME) })
    }

    // ---- aggregates and vectors ----
    pub fn extract_value(&self, agg: Value, idx: u32) -> Value {
        Value(unsafe { LLVMBuildExtractValue(self.raw, agg.0, idx, NONAME) })
    }
    pub fn insert_value(&self, agg: Value, v: Value, idx: u32) -> Value {
        Value(unsafe { LLVMBuildInsertValue(self.raw, agg.0, v.0, idx, NONAME) })
    }
    pub fn extract_element(&self, vec: Value, idx: Value) -> Value {
        Value(unsafe { LLVMBuildExtractElement(self.raw, vec.0, idx.0, NONAME) })
    }
    pub fn insert_element(&self, vec: Value, v: Value, idx: Value) -> Value {
        Value(unsafe { LLVMBuildInsertElement(self.raw, vec.0, v.0, idx.0, NONAME) })
    }

    // ---- memory ----
    pub fn alloca(&self, ty: Type) -> Value {
        Value(unsafe { LLVMBuildAlloca(self.raw, ty.0, NONAME) })
    }
    pub fn array_alloca(&self, ty: Type, n: Value) -> Value {
        Value(unsafe { LLVMBuildArrayAlloca(self.raw, ty.0, n.0, NONAME) })
    }
    /// A load of `ty` from `ptr`. A vector is loaded with the alignment of its elements, not its
    /// own: code built here addresses memory laid out like the program's (shadows), which
    /// vector code reads unaligned (`_mm256_loadu_pd`); assuming the vector's own alignment
    /// would fault there.
    pub fn load(&self, ty: Type, ptr: Value) -> Value {
        let l = Value(unsafe { LLVMBuildLoad2(self.raw, ty.0, ptr.0, NONAME) });
        if let Some(a) = element_alignment(ty) {
            l.set_alignment(a);
        }
        l
    }
    /// A store of `v` through `ptr`; a vector with the alignment of its elements (see
    /// [`Builder::load`]).
    pub fn store(&self, v: Value, ptr: Value) -> Value {
        let s = Value(unsafe { LLVMBuildStore(self.raw, v.0, ptr.0) });
        if let Some(a) = element_alignment(v.ty()) {
            s.set_alignment(a);
        }
        s
    }
    pub fn gep(&self, elem_ty: Type, ptr: Value, indices: &[Value]) -> Value {
        let mut idx: Vec<_> = indices.iter().map(|v| v.0).collect();
        Value(unsafe { LLVMBuildGEP2(self.raw, elem_ty.0, ptr.0, idx.as_mut_ptr(), idx.len() as u32, NONAME) })
    }
    pub fn inbounds_gep(&self, elem_ty: Type, ptr: Value, indices: &[Value]) -> Value {
        let mut idx: Vec<_> = indices.iter().map(|v| v.0).collect();
        Value(unsafe {
            LLVMBuildInBoundsGEP2(self.raw, elem_ty.0, ptr.0, idx.as_mut_ptr(), idx.len() as u32, NONAME)
        })
    }
    pub fn memcpy(&self, dst: Value, dst_align: u32, src: Value, src_align: u32, size: Value) -> Value {
        Value(unsafe { LLVMBuildMemCpy(self.raw, dst.0, dst_align, src.0, src_align, size.0) })
    }
    pub fn memmove(&self, dst: Value, dst_align: u32, src: Value, src_align: u32, size: Value) -> Value {
        Value(unsafe { LLVMBuildMemMove(self.raw, dst.0, dst_align, src.0, src_align, size.0) })
    }
    pub fn memset(&self, ptr: Value, val: Value, len: Value, align: u32) -> Value {
        Value(unsafe { LLVMBuildMemSet(self.raw, ptr.0, val.0, len.0, align) })
    }

    // ---- control flow ----
    pub fn phi(&self, ty: Type) -> Value {
        Value(unsafe { LLVMBuildPhi(self.raw, ty.0, NONAME) })
    }
    pub fn br(&self, dest: Block) -> Value {
        Value(unsafe { LLVMBuildBr(self.raw, dest.0) })
    }
    /// `switch v, default [case → block ...]`.
    pub fn switch(&self, v: Value, default: Block, cases: &[(Value, Block)]) -> Value {
        let sw = unsafe { LLVMBuildSwitch(self.raw, v.0, default.0, cases.len() as u32) };
        for (c, b) in cases {
            unsafe { LLVMAddCase(sw, c.0, b.0) };
        }
        Value(sw)
    }
    pub fn cond_br(&self, c: Value, t: Block, e: Block) -> Value {
        Value(unsafe { LLVMBuildCondBr(self.raw, c.0, t.0, e.0) })
    }
    pub fn ret(&self, v: Value) -> Value {
        Value(unsafe { LLVMBuildRet(self.raw, v.0) })
    }
    pub fn ret_void(&self) -> Value {
        Value(unsafe { LLVMBuildRetVoid(self.raw) })
    }
    pub fn unreachable(&self) -> Value {
        Value(unsafe { LLVMBuildUnreachable(self.raw) })
    }
    pub fn call(&self, fn_ty: Type, callee: Value, args: &[Value]) -> Value {
        let mut a: Vec<_> = args.iter().map(|v| v.0).collect();
        Value(unsafe { LLVMBuildCall2(self.raw, fn_ty.0, callee.0, a.as_mut_ptr(), a.len() as u32, NONAME) })
    }
    pub fn invoke(&self, fn_ty: Type, callee: Value, args: &[Value], normal: Block, unwind: Block) -> Value {
        let mut a: Vec<_> = args.iter().map(|v| v.0).collect();
        Value(unsafe {
            LLVMBuildInvoke2(
                self.raw,
                fn_ty.0,
                callee.0,
                a.as_mut_ptr(),
                a.len() as u32,
                normal.0,
                unwind.0,
                NONAME,
            )
        })
    }
}

/// The natural alignment of a vector type's elements (`None` for other types, which keep their
/// ABI alignment).
fn element_alignment(ty: Type) -> Option<u32> {
    use llvm_sys::LLVMTypeKind::*;
    if !ty.is_vector() {
        return None;
    }
    let e = ty.element();
    Some(match e.kind() {
        LLVMHalfTypeKind | LLVMBFloatTypeKind => 2,
        LLVMFloatTypeKind => 4,
        LLVMDoubleTypeKind | LLVMPointerTypeKind => 8,
        LLVMIntegerTypeKind => (e.int_width() / 8).clamp(1, 16).next_power_of_two(),
        _ => 16,
    })
}
