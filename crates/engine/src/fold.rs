//! Branches that constants decide, folded before a function is analysed.
//!
//! A dev build keeps Rust's compile-time specialization tests as calls. nalgebra and ndarray
//! pick their matrix-product path with `TypeId::of::<T>() == TypeId::of::<f32>()` (or
//! `R::is::<Dyn>()`): a call of `TypeId::of` that copies a constant into its `sret` result and
//! a call of `TypeId::eq` that compares the two. A release build folds them; a dev build
//! branches at run time, and the side that is never taken (`f32` kernels handed `f64` data,
//! `matrixmultiply` for a `Matrix3`) would be differentiated too, and refused.
//!
//! [`fold_constant_branches`] evaluates the condition of each conditional branch of a
//! function when it is the result of a call that only computes with constants: a small
//! interpreter runs the callee (and what it calls, a few levels deep) over constant globals
//! and over the caller's local variables whose only writer is a call of the same kind (the
//! `sret` result of `TypeId::of`). A condition found constant replaces the branch's operand,
//! which is exactly what it evaluates to, so the primal program is unchanged in meaning, and
//! the engine's traversal ([`live_successors`]) then skips the side never taken.
use crate::calls::{classify, CallKind};
use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::{abi_size, context_of, field_offset};
use oxidase_llvm::{Block, Opcode, Type, Value};
use std::collections::HashMap;

/// Replaces the condition of every conditional branch of `f` that evaluates to a constant by
/// that constant; the number of branches folded.
pub fn fold_constant_branches(m: LLVMModuleRef, f: Value) -> usize {
    let mut folded = 0;
    for b in f.blocks() {
        let Some(t) = b.terminator() else { continue };
        if t.opcode() != Opcode::LLVMBr || t.num_operands() != 3 {
            continue;
        }
        let c = t.operand(0);
        if c.is_constant() || !c.is_instruction() {
            continue;
        }
        let mut ev = Eval::new(m);
        if let Some(V::Int(v, _)) = ev.outer(c, 0) {
            let i1 = Type::i1(context_of(m));
            t.set_operand(0, i1.const_int((v & 1) as u64));
            folded += 1;
        }
    }
    folded
}

/// The successors of block `b` that control can reach: one for a branch on a constant.
pub fn live_successors(b: Block) -> Vec<Block> {
    match b.terminator() {
        Some(t) => live_targets(t),
        None => Vec::new(),
    }
}

/// The successors of the terminator `t` that control can reach.
pub fn live_targets(t: Value) -> Vec<Block> {
    let all = t.successors();
    if t.opcode() == Opcode::LLVMBr && t.num_operands() == 3 {
        if let Some(c) = t.operand(0).const_int_value() {
            // `br i1 c, then, else`: successor 0 is `then`.
            return vec![all[if c & 1 != 0 { 0 } else { 1 }]];
        }
    }
    all
}

/// How many instructions one evaluation may run, and how deep calls may nest.
const STEPS: u32 = 2000;
const DEPTH: u32 = 4;

#[derive(Clone, Copy, PartialEq, Debug)]
enum V {
    /// An integer (or an address known only as a number) of this many bits.
    Int(u128, u32),
    Ptr(Obj, i64),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Obj {
    /// A variable of a function being interpreted.
    Local(usize),
    /// A constant global.
    Global(Value),
    /// A local variable of the function whose branch is folded.
    Outer(Value),
}

#[derive(Default)]
struct Memory {
    bytes: Vec<Option<u8>>,
    /// Pointers stored at byte offsets.
    ptrs: HashMap<i64, V>,
}

struct Eval {
    m: LLVMModuleRef,
    mem: HashMap<Obj, Memory>,
    locals: usize,
    steps: u32,
}

impl Eval {
    fn new(m: LLVMModuleRef) -> Eval {
        Eval {
            m,
            mem: HashMap::new(),
            locals: 0,
            steps: 0,
        }
    }

    /// A value of the function whose branch is folded.
    fn outer(&mut self, v: Value, depth: u32) -> Option<V> {
        if let Some(k) = constant(v) {
            return Some(k);
        }
        if v.is_global_variable() {
            return self.global(v).then_some(V::Ptr(Obj::Global(v), 0));
        }
        if !v.is_instruction() || depth > 8 {
            return None;
        }
        use Opcode::*;
        match v.opcode() {
            LLVMAlloca => self.outer_object(v).then_some(V::Ptr(Obj::Outer(v), 0)),
            LLVMCall | LLVMInvoke => {
                let CallKind::Defined(f) = classify(v, &HashMap::new()) else {
                    return None;
                };
                let args = v
                    .call_args()
                    .into_iter()
                    .map(|a| self.outer(a, depth + 1))
                    .collect::<Option<Vec<_>>>()?;
                self.call(f, &args, 0)?
            }
            LLVMTrunc | LLVMZExt | LLVMSExt | LLVMICmp | LLVMXor | LLVMAnd | LLVMOr => {
                let ops = v
                    .operands()
                    .into_iter()
                    .map(|o| self.outer(o, depth + 1))
                    .collect::<Option<Vec<_>>>()?;
                scalar(v, &ops)
            }
            _ => None,
        }
    }

    /// Loads the contents of the caller's variable `a` when its only writer is one call that
    /// returns into it (`sret`) and computes only with constants; every other use reads it.
    fn outer_object(&mut self, a: Value) -> bool {
        if self.mem.contains_key(&Obj::Outer(a)) {
            return true;
        }
        let mut writer = None;
        for u in a.users() {
            if !u.is_instruction() {
                return false;
            }
            match u.opcode() {
                Opcode::LLVMCall | Opcode::LLVMInvoke => {
                    let args = u.call_args();
                    match classify(u, &HashMap::new()) {
                        CallKind::Ignored => {}
                        CallKind::Defined(f)
                            if args.first() == Some(&a) && f.param_has_attribute(0, "sret") =>
                        {
                            if writer.replace(u).is_some() {
                                return false;
                            }
                        }
                        // A use that only reads it (the comparison being evaluated).
                        CallKind::Defined(f)
                            if args
                                .iter()
                                .enumerate()
                                .all(|(i, &x)| x != a || reads_only(f, i)) => {}
                        _ => return false,
                    }
                }
                _ => return false,
            }
        }
        let Some(w) = writer else { return false };
        let CallKind::Defined(f) = classify(w, &HashMap::new()) else {
            return false;
        };
        let size = abi_size(self.m, a.allocated_type()) as usize;
        let obj = self.fresh(size);
        let mut args = vec![V::Ptr(obj, 0)];
        for x in w.call_args().into_iter().skip(1) {
            match self.outer(x, 1) {
                Some(v) => args.push(v),
                None => return false,
            }
        }
        if self.call(f, &args, 0).is_none() {
            return false;
        }
        let mem = self.mem.remove(&obj).unwrap_or_default();
        self.mem.insert(Obj::Outer(a), mem);
        true
    }

    fn fresh(&mut self, size: usize) -> Obj {
        self.locals += 1;
        let o = Obj::Local(self.locals);
        self.mem.insert(
            o,
            Memory {
                bytes: vec![None; size],
                ptrs: HashMap::new(),
            },
        );
        o
    }

    /// The bytes of the constant global `g` (read-only memory).
    fn global(&mut self, g: Value) -> bool {
        if self.mem.contains_key(&Obj::Global(g)) {
            return true;
        }
        let Some(init) = g.initializer().filter(|_| g.is_global_constant()) else {
            return false;
        };
        let size = abi_size(self.m, g.global_value_type()) as usize;
        let mut mem = Memory {
            bytes: vec![None; size],
            ptrs: HashMap::new(),
        };
        if !serialize(self.m, init, 0, &mut mem, 0) {
            return false;
        }
        self.mem.insert(Obj::Global(g), mem);
        true
    }

    /// Runs `f` on `args`: `Some(result)` (`None` inside for `void`), or `None` when it does
    /// anything the interpreter does not model.
    fn call(&mut self, f: Value, args: &[V], depth: u32) -> Option<Option<V>> {
        if depth > DEPTH || f.is_declaration() || f.params().len() != args.len() {
            return None;
        }
        let mut vals: HashMap<Value, V> =
            f.params().into_iter().zip(args.iter().copied()).collect();
        let mut block = f.entry_block();
        let mut prev: Option<Block> = None;
        loop {
            let mut next = None;
            for i in block.instructions() {
                self.steps += 1;
                if self.steps > STEPS {
                    return None;
                }
                use Opcode::*;
                let get = |vals: &HashMap<Value, V>, x: Value| {
                    if x.is_global_variable() {
                        return Some(V::Ptr(Obj::Global(x), 0));
                    }
                    constant(x).or_else(|| vals.get(&x).copied())
                };
                match i.opcode() {
                    LLVMAlloca => {
                        let n = i.operand(0).const_int_value()?;
                        let size = abi_size(self.m, i.allocated_type()) as usize * n as usize;
                        let o = self.fresh(size);
                        vals.insert(i, V::Ptr(o, 0));
                    }
                    LLVMStore => {
                        let v = get(&vals, i.operand(0));
                        let p = get(&vals, i.operand(1))?;
                        let size = abi_size(self.m, i.operand(0).ty()) as usize;
                        self.write(p, v, size)?;
                    }
                    LLVMLoad => {
                        let p = get(&vals, i.operand(0))?;
                        let v = self.read(p, i.ty())?;
                        vals.insert(i, v);
                    }
                    LLVMGetElementPtr => {
                        let V::Ptr(o, off) = get(&vals, i.operand(0))? else {
                            return None;
                        };
                        let d = crate::types::gep_offset(self.m, i)?;
                        vals.insert(i, V::Ptr(o, off + d));
                    }
                    LLVMTrunc | LLVMZExt | LLVMSExt | LLVMICmp | LLVMXor | LLVMAnd | LLVMOr
                    | LLVMAdd | LLVMSub | LLVMSelect => {
                        let ops = i
                            .operands()
                            .into_iter()
                            .map(|o| get(&vals, o))
                            .collect::<Option<Vec<_>>>()?;
                        vals.insert(i, scalar(i, &ops)?);
                    }
                    LLVMPHI => {
                        let from = prev?;
                        let (v, _) = i.incoming().into_iter().find(|&(_, b)| b == from)?;
                        vals.insert(i, get(&vals, v)?);
                    }
                    LLVMCall | LLVMInvoke => {
                        let cargs = i.call_args();
                        match classify(i, &HashMap::new()) {
                            CallKind::Ignored => {}
                            CallKind::MemTransfer => {
                                let (d, s) = (get(&vals, cargs[0])?, get(&vals, cargs[1])?);
                                let n = cargs[2].const_int_value()?;
                                self.copy(d, s, n)?;
                            }
                            CallKind::MemSet => {
                                let d = get(&vals, cargs[0])?;
                                let (V::Int(byte, _), n) =
                                    (get(&vals, cargs[1])?, cargs[2].const_int_value()?)
                                else {
                                    return None;
                                };
                                for k in 0..n {
                                    self.write(offset(d, k)?, Some(V::Int(byte & 0xff, 8)), 1)?;
                                }
                            }
                            CallKind::Defined(g) => {
                                let a = cargs
                                    .iter()
                                    .map(|&x| get(&vals, x))
                                    .collect::<Option<Vec<_>>>()?;
                                if let Some(r) = self.call(g, &a, depth + 1)? {
                                    vals.insert(i, r);
                                }
                            }
                            _ => return None,
                        }
                        if i.opcode() == LLVMInvoke {
                            next = Some(i.normal_dest());
                        }
                    }
                    LLVMRet => {
                        return Some(if i.num_operands() == 0 {
                            None
                        } else {
                            Some(get(&vals, i.operand(0))?)
                        });
                    }
                    LLVMBr => {
                        let targets = i.successors();
                        next = Some(if i.num_operands() == 1 {
                            targets[0]
                        } else {
                            let V::Int(c, _) = get(&vals, i.operand(0))? else {
                                return None;
                            };
                            targets[if c & 1 != 0 { 0 } else { 1 }]
                        });
                    }
                    _ => return None,
                }
            }
            prev = Some(block);
            block = next?;
        }
    }

    fn memory(&mut self, o: Obj) -> Option<&mut Memory> {
        if let Obj::Global(g) = o {
            if !self.global(g) {
                return None;
            }
        }
        self.mem.get_mut(&o)
    }

    fn write(&mut self, p: V, v: Option<V>, size: usize) -> Option<()> {
        let V::Ptr(o, off) = p else { return None };
        if matches!(o, Obj::Global(_) | Obj::Outer(_)) {
            return None; // read-only here
        }
        let mem = self.memory(o)?;
        let at = usize::try_from(off).ok()?;
        if at + size > mem.bytes.len() {
            return None;
        }
        mem.ptrs
            .retain(|&k, _| k + 8 <= off || k >= off + size as i64);
        match v {
            Some(V::Int(x, _)) => {
                for k in 0..size {
                    mem.bytes[at + k] = Some((x >> (8 * k)) as u8);
                }
            }
            Some(ptr @ V::Ptr(..)) => {
                mem.bytes[at..at + size].fill(None);
                mem.ptrs.insert(off, ptr);
            }
            None => mem.bytes[at..at + size].fill(None),
        }
        Some(())
    }

    fn read(&mut self, p: V, ty: Type) -> Option<V> {
        let V::Ptr(o, off) = p else { return None };
        let size = abi_size(self.m, ty) as usize;
        let mem = self.memory(o)?;
        if ty.is_pointer() {
            if let Some(&v) = mem.ptrs.get(&off) {
                return Some(v);
            }
        } else if !ty.is_int() || !ty.int_width().is_multiple_of(8) && ty.int_width() != 1 {
            return None;
        }
        let at = usize::try_from(off).ok()?;
        let mut x = 0u128;
        for k in 0..size.min(16) {
            let b = (*mem.bytes.get(at + k)?)?;
            x |= (b as u128) << (8 * k);
        }
        let width = if ty.is_pointer() { 64 } else { ty.int_width() };
        Some(V::Int(mask(x, width), width))
    }

    fn copy(&mut self, d: V, s: V, n: i64) -> Option<()> {
        let (V::Ptr(so, soff), V::Ptr(..)) = (s, d) else {
            return None;
        };
        let mem = self.memory(so)?;
        let at = usize::try_from(soff).ok()?;
        let bytes: Vec<Option<u8>> = mem.bytes.get(at..at + n as usize)?.to_vec();
        let ptrs: Vec<(i64, V)> = mem
            .ptrs
            .iter()
            .filter(|&(&k, _)| k >= soff && k < soff + n)
            .map(|(&k, &v)| (k - soff, v))
            .collect();
        for (k, b) in bytes.into_iter().enumerate() {
            self.write(offset(d, k as i64)?, b.map(|b| V::Int(b as u128, 8)), 1)?;
        }
        for (k, v) in ptrs {
            self.write(offset(d, k)?, Some(v), 8)?;
        }
        Some(())
    }
}

/// Whether `f` only reads the memory its parameter `i` points to: loads from it, copies from
/// it, and its address kept only in a local nothing reads (a dev build's debug spill).
fn reads_only(f: Value, i: usize) -> bool {
    fn only_reads(p: Value, depth: u32) -> bool {
        use Opcode::*;
        depth < 6
            && p.users().into_iter().all(|u| {
                u.is_instruction()
                    && match u.opcode() {
                        LLVMLoad => true,
                        LLVMGetElementPtr => u.operand(0) == p && only_reads(u, depth + 1),
                        LLVMStore => {
                            u.operand(0) == p
                                && u.operand(1) != p
                                && crate::activity::is_write_only(u.operand(1))
                        }
                        LLVMCall => {
                            let args = u.call_args();
                            match classify(u, &HashMap::new()) {
                                CallKind::Ignored => true,
                                CallKind::MemTransfer => args[1] == p && args[0] != p,
                                _ => false,
                            }
                        }
                        _ => false,
                    }
            })
    }
    !f.is_declaration() && f.params().get(i).is_some_and(|&p| only_reads(p, 0))
}

fn offset(p: V, k: i64) -> Option<V> {
    match p {
        V::Ptr(o, off) => Some(V::Ptr(o, off + k)),
        V::Int(..) => None,
    }
}

fn mask(x: u128, width: u32) -> u128 {
    if width >= 128 {
        x
    } else {
        x & ((1u128 << width) - 1)
    }
}

/// A constant integer, null pointer or integer address.
fn constant(v: Value) -> Option<V> {
    if !v.is_constant() || v.is_global_variable() || v.is_function() {
        return None;
    }
    let ty = v.ty();
    if ty.is_int() {
        let w = ty.int_width();
        if w > 64 {
            return v.is_null_constant().then_some(V::Int(0, w));
        }
        return v
            .const_int_value()
            .map(|x| V::Int(mask(x as u64 as u128, w), w));
    }
    if ty.is_pointer() {
        if v.is_null_constant() {
            return Some(V::Int(0, 64));
        }
        if v.const_expr_opcode() == Some(Opcode::LLVMIntToPtr) {
            return v
                .operand(0)
                .const_int_value()
                .map(|x| V::Int(x as u64 as u128, 64));
        }
    }
    None
}

/// Writes the constant `c` at byte `at` of `mem`.
fn serialize(m: LLVMModuleRef, c: Value, at: usize, mem: &mut Memory, depth: u32) -> bool {
    if depth > 8 {
        return false;
    }
    let ty = c.ty();
    let size = abi_size(m, ty) as usize;
    if at + size > mem.bytes.len() {
        return false;
    }
    if c.is_null_constant() {
        mem.bytes[at..at + size].fill(Some(0));
        return true;
    }
    if c.is_undef() {
        return true;
    }
    if ty.is_pointer() && (c.is_global_variable() || c.is_function()) {
        mem.ptrs.insert(at as i64, V::Ptr(Obj::Global(c), 0));
        return true;
    }
    if let Some(V::Int(x, _)) = constant(c) {
        for k in 0..size {
            mem.bytes[at + k] = Some((x >> (8 * k.min(15))) as u8);
        }
        return true;
    }
    if ty.is_struct() {
        for i in 0..ty.aggregate_len() {
            let Some(e) = c.aggregate_element(i) else {
                return false;
            };
            if !serialize(m, e, at + field_offset(m, ty, i) as usize, mem, depth + 1) {
                return false;
            }
        }
        return true;
    }
    if ty.is_array() && ty.aggregate_len() <= 4096 {
        let es = abi_size(m, ty.element()) as usize;
        for i in 0..ty.aggregate_len() {
            let Some(e) = c.aggregate_element(i) else {
                return false;
            };
            if !serialize(m, e, at + i as usize * es, mem, depth + 1) {
                return false;
            }
        }
        return true;
    }
    false
}

/// Integer arithmetic and comparisons on known values.
fn scalar(i: Value, ops: &[V]) -> Option<V> {
    use oxidase_llvm::IntPredicate::*;
    use Opcode::*;
    let w = if i.ty().is_int() {
        i.ty().int_width()
    } else {
        0
    };
    let int = |k: usize| match ops.get(k) {
        Some(V::Int(x, w)) => Some((*x, *w)),
        _ => None,
    };
    Some(match i.opcode() {
        LLVMTrunc | LLVMZExt => V::Int(mask(int(0)?.0, w), w),
        LLVMSExt => {
            let (x, from) = int(0)?;
            let neg = from > 0 && (x >> (from - 1)) & 1 == 1;
            let ext = if neg && from < 128 {
                x | (!0u128 << from)
            } else {
                x
            };
            V::Int(mask(ext, w), w)
        }
        LLVMXor => V::Int(int(0)?.0 ^ int(1)?.0, w),
        LLVMAnd => V::Int(int(0)?.0 & int(1)?.0, w),
        LLVMOr => V::Int(int(0)?.0 | int(1)?.0, w),
        LLVMAdd => V::Int(mask(int(0)?.0.wrapping_add(int(1)?.0), w), w),
        LLVMSub => V::Int(mask(int(0)?.0.wrapping_sub(int(1)?.0), w), w),
        LLVMSelect => {
            let (c, _) = int(0)?;
            if c & 1 != 0 {
                ops[1]
            } else {
                ops[2]
            }
        }
        LLVMICmp => {
            let r = match (ops[0], ops[1], i.icmp_predicate()) {
                (V::Int(a, _), V::Int(b, _), p) => match p {
                    LLVMIntEQ => a == b,
                    LLVMIntNE => a != b,
                    LLVMIntULT => a < b,
                    LLVMIntULE => a <= b,
                    LLVMIntUGT => a > b,
                    LLVMIntUGE => a >= b,
                    _ => return None,
                },
                (V::Ptr(a, x), V::Ptr(b, y), LLVMIntEQ) if a == b => x == y,
                (V::Ptr(a, x), V::Ptr(b, y), LLVMIntNE) if a == b => x != y,
                _ => return None,
            };
            V::Int(r as u128, 1)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxidase_llvm::module::{self, Context};

    /// A dev build's `TypeId::of::<A>() == TypeId::of::<B>()`: two `sret` calls copying
    /// constants, compared by a function that loads both.
    const TYPE_TEST: &str = r#"
@id.f64 = private unnamed_addr constant <{ ptr, ptr }> <{ ptr inttoptr (i64 11 to ptr), ptr inttoptr (i64 22 to ptr) }>, align 8
@id.f32 = private unnamed_addr constant <{ ptr, ptr }> <{ ptr inttoptr (i64 11 to ptr), ptr inttoptr (i64 33 to ptr) }>, align 8
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
define internal void @of_f64(ptr sret([16 x i8]) %0) {
  call void @llvm.memcpy.p0.p0.i64(ptr %0, ptr @id.f64, i64 16, i1 false)
  ret void
}
define internal void @of_f32(ptr sret([16 x i8]) %0) {
  call void @llvm.memcpy.p0.p0.i64(ptr %0, ptr @id.f32, i64 16, i1 false)
  ret void
}
define internal zeroext i1 @eq(ptr %0, ptr %1) {
  %spill = alloca [8 x i8], align 8
  store ptr %0, ptr %spill, align 8
  %a = alloca [16 x i8], align 8
  %b = alloca [16 x i8], align 8
  call void @llvm.memcpy.p0.p0.i64(ptr %a, ptr %0, i64 16, i1 false)
  %x = load i128, ptr %a, align 8
  call void @llvm.memcpy.p0.p0.i64(ptr %b, ptr %1, i64 16, i1 false)
  %y = load i128, ptr %b, align 8
  %r = icmp eq i128 %x, %y
  ret i1 %r
}
define double @pick(double %v, ptr %p) {
entry:
  %t = alloca [16 x i8], align 8
  %u = alloca [16 x i8], align 8
  call void @of_f64(ptr sret([16 x i8]) %t)
  call void @ATTR(ptr sret([16 x i8]) %u)
  %same = call i1 @eq(ptr %t, ptr %u)
  br i1 %same, label %yes, label %no
yes:
  ret double %v
no:
  %w = load double, ptr %p
  %d = fmul double %v, %w
  ret double %d
}
define double @runtime(double %v, i1 %c) {
entry:
  br i1 %c, label %yes, label %no
yes:
  ret double %v
no:
  ret double 0.0
}
"#;

    fn folded(other: &str) -> (usize, Vec<usize>, usize) {
        let ctx = Context::new();
        let owned = ctx
            .parse_ir(&TYPE_TEST.replace("ATTR", other), "t")
            .unwrap();
        let m = owned.raw();
        let pick = module::get_function(m, "pick").unwrap();
        let n = fold_constant_branches(m, pick);
        let live: Vec<usize> = live_successors(pick.entry_block())
            .iter()
            .map(|b| b.instructions().len())
            .collect();
        let runtime = module::get_function(m, "runtime").unwrap();
        (n, live, fold_constant_branches(m, runtime))
    }

    /// Equal type ids take the `then` side, different ones the `else` side; a branch on a
    /// run-time value is left alone.
    #[test]
    fn type_id_comparisons_are_folded() {
        let (n, live, runtime) = folded("of_f64");
        assert_eq!(
            (n, live, runtime),
            (1, vec![1], 0),
            "same type: only `yes` (one instruction) is live"
        );
        let (n, live, runtime) = folded("of_f32");
        assert_eq!(
            (n, live, runtime),
            (1, vec![3], 0),
            "different types: only `no` (three instructions) is live"
        );
    }

    /// A comparison whose operand is written by something the interpreter does not model (a
    /// store of a run-time value) is not folded.
    #[test]
    fn unknown_contents_are_not_folded() {
        let ctx = Context::new();
        let ir = TYPE_TEST.replace("ATTR", "of_f64").replace(
            "  %same = call i1 @eq(ptr %t, ptr %u)",
            "  store double %v, ptr %u\n  %same = call i1 @eq(ptr %t, ptr %u)",
        );
        let owned = ctx.parse_ir(&ir, "t").unwrap();
        let m = owned.raw();
        let pick = module::get_function(m, "pick").unwrap();
        assert_eq!(fold_constant_branches(m, pick), 0);
        assert_eq!(live_successors(pick.entry_block()).len(), 2);
    }
}
