//! Type analysis of memory: what a byte range of an object holds (floats, integers, pointers),
//! deduced from every access to the object — in this function, in the functions it is passed
//! to, and in the callers that pass it — never guessed. Reverse mode needs it where memory is
//! moved without a type: `memcpy`, `memset`, `realloc`, and integers that may be float bits.

use crate::calls::{classify, CallKind};
use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::{abi_size, field_offset};
use oxidase_llvm::{Opcode, Type, Value};
use std::collections::{HashMap, HashSet};

/// Whether the integer `v`, stored through `p`, is integer data rather than float bits moved as
/// an integer: it is used in integer arithmetic, or neither memory holds floats.
pub fn integer_data(m: LLVMModuleRef, v: Value, p: Value) -> bool {
    use Opcode::*;
    let numeric_use = v.users().into_iter().any(|u| {
        u.is_instruction()
            && match u.opcode() {
                LLVMAdd | LLVMSub | LLVMMul | LLVMUDiv | LLVMSDiv | LLVMURem | LLVMSRem | LLVMShl | LLVMLShr
                | LLVMAShr | LLVMAnd | LLVMOr | LLVMXor | LLVMICmp | LLVMZExt | LLVMSExt | LLVMTrunc | LLVMSwitch
                | LLVMIntToPtr => true,
                LLVMGetElementPtr => u.operand(0) != v,
                _ => false,
            }
    });
    if numeric_use {
        return true;
    }
    let size = abi_size(m, v.ty());
    if may_hold_floats(m, p, size) {
        return false;
    }
    !(v.is_instruction() && v.opcode() == LLVMLoad && may_hold_floats(m, v.operand(0), size))
}

/// What a `memcpy`/`memset` moves, deduced from how the memory is accessed elsewhere in the
/// function (the type analysis this mode needs; never a guess).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contents {
    /// Only floats of this type.
    Floats(Type),
    /// No floats (integers and pointers).
    NoFloats,
    Unknown,
}

pub fn memory_contents(a: Value, b: Value) -> Contents {
    let mut leaves = Vec::new();
    for p in [a, b] {
        let root = strip_pointer(p);
        let mut seen = HashSet::new();
        collect_access_types(root, &mut leaves, &mut seen);
    }
    let floats: Vec<Type> = leaves.iter().copied().filter(|t| t.is_float_or_float_vector()).collect();
    if floats.is_empty() {
        return if leaves.is_empty() { Contents::Unknown } else { Contents::NoFloats };
    }
    let scalar = |t: Type| if t.is_vector() { t.element() } else { t };
    let f0 = scalar(floats[0]);
    if leaves.len() == floats.len() && floats.iter().all(|&t| scalar(t) == f0) {
        Contents::Floats(f0)
    } else {
        Contents::Unknown
    }
}

pub fn strip_pointer(mut p: Value) -> Value {
    while p.is_instruction() && matches!(p.opcode(), Opcode::LLVMGetElementPtr | Opcode::LLVMBitCast | Opcode::LLVMAddrSpaceCast) {
        p = p.operand(0);
    }
    p
}

fn scalar_leaves(ty: Type, out: &mut Vec<Type>) {
    if ty.is_aggregate() {
        for i in 0..ty.aggregate_len() {
            scalar_leaves(ty.field(i), out);
        }
    } else if !ty.is_void() {
        out.push(ty);
    }
}

fn collect_access_types(p: Value, out: &mut Vec<Type>, seen: &mut HashSet<Value>) {
    if !seen.insert(p) {
        return;
    }
    if p.is_instruction() && p.opcode() == Opcode::LLVMAlloca {
        scalar_leaves(p.allocated_type(), out);
        out.retain(|t| !(t.is_int() && t.int_width() == 8));
    }
    if p.is_argument() {
        // A parameter: what the callers pass there is the same memory.
        let f = p.parent_function();
        if let Some(i) = f.params().iter().position(|&q| q == p) {
            for site in f.users() {
                if site.is_instruction()
                    && matches!(site.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke)
                    && site.called_value() == f
                {
                    if let Some(&a) = site.call_args().get(i) {
                        collect_access_types(strip_pointer(a), out, seen);
                    }
                }
            }
        }
    }
    for u in p.users() {
        if !u.is_instruction() {
            continue;
        }
        match u.opcode() {
            Opcode::LLVMLoad => scalar_leaves(u.ty(), out),
            Opcode::LLVMStore if u.operand(1) == p => scalar_leaves(u.operand(0).ty(), out),
            Opcode::LLVMGetElementPtr if u.operand(0) == p => {
                let src = u.gep_source_type();
                if !(src.is_int() && src.int_width() == 8) {
                    scalar_leaves(src, out);
                }
                collect_access_types(u, out, seen);
            }
            Opcode::LLVMBitCast | Opcode::LLVMAddrSpaceCast => collect_access_types(u, out, seen),
            // Passed to a function with a body: how that function accesses it counts too.
            Opcode::LLVMCall | Opcode::LLVMInvoke => {
                let Some(callee) = u.called_function() else { continue };
                let args = u.call_args();
                let Some(i) = args.iter().position(|&a| a == p) else { continue };
                if let CallKind::MemTransfer = classify(u, &HashMap::new()) {
                    // A copy: what is copied from/to the other side has the same layout.
                    let other = if i == 0 { args[1] } else { args[0] };
                    collect_access_types(strip_pointer(other), out, seen);
                } else if !callee.is_declaration() && i < callee.params().len() {
                    collect_access_types(callee.param(i as u32), out, seen);
                }
            }
            _ => {}
        }
    }
}
/// The object a pointer points into and the constant byte offset into it (`None` when some
/// index is not a constant).
pub fn base_and_offset(m: LLVMModuleRef, mut p: Value) -> (Value, Option<i64>) {
    let mut off = Some(0i64);
    while p.is_instruction() {
        match p.opcode() {
            Opcode::LLVMGetElementPtr => {
                off = match (off, gep_offset(m, p)) {
                    (Some(a), Some(b)) => Some(a + b),
                    _ => None,
                };
                p = p.operand(0);
            }
            Opcode::LLVMBitCast | Opcode::LLVMAddrSpaceCast => p = p.operand(0),
            _ => break,
        }
    }
    (p, off)
}

/// The byte offset a GEP with constant indices adds.
fn gep_offset(m: LLVMModuleRef, gep: Value) -> Option<i64> {
    let mut ty = gep.gep_source_type();
    let n = gep.num_operands();
    let first = gep.operand(1).const_int_value()?;
    let mut off = first * abi_size(m, ty) as i64;
    for i in 2..n {
        let idx = gep.operand(i).const_int_value()?;
        if ty.is_struct() {
            off += field_offset(m, ty, idx as u32) as i64;
            ty = ty.field(idx as u32);
        } else {
            ty = ty.element();
            off += idx * abi_size(m, ty) as i64;
        }
    }
    Some(off)
}

/// Float leaves of `ty` with their byte offsets.
fn float_leaves(m: LLVMModuleRef, ty: Type, at: i64, out: &mut Vec<(i64, u64)>) {
    if ty.is_float_or_float_vector() {
        out.push((at, abi_size(m, ty)));
    } else if ty.is_struct() {
        for i in 0..ty.aggregate_len() {
            float_leaves(m, ty.field(i), at + field_offset(m, ty, i) as i64, out);
        }
    } else if ty.is_array() {
        let e = ty.element();
        if e.contains_float() {
            let sz = abi_size(m, e) as i64;
            for k in 0..ty.array_len() as i64 {
                float_leaves(m, e, at + k * sz, out);
            }
        }
    }
}

/// Whether the `size` bytes at `p` may hold floats: some access to the same object at an
/// overlapping (or unknown) offset reads or writes a float.
pub fn may_hold_floats(m: LLVMModuleRef, p: Value, size: u64) -> bool {
    let (root, off) = base_and_offset(m, p);
    let Some(off) = off else { return true };
    let mut walk = FloatWalk { m, lo: off, hi: off + size as i64, seen: HashSet::new(), budget: 20_000, found: false };
    walk.visit(root, Some(0), true);
    walk.found
}

struct FloatWalk {
    m: LLVMModuleRef,
    /// The queried byte range, relative to the object's start.
    lo: i64,
    hi: i64,
    seen: HashSet<(Value, Option<i64>, bool)>,
    /// Nodes left to visit; running out counts as finding floats (conservative).
    budget: u32,
    found: bool,
}

impl FloatWalk {
    /// An access of type `ty` at offset `at` (relative to the object) if known.
    fn access(&mut self, ty: Type, at: Option<i64>) {
        let mut leaves = Vec::new();
        float_leaves(self.m, ty, 0, &mut leaves);
        for (o, sz) in leaves {
            let hit = match at {
                None => true,
                Some(a) => a + o < self.hi && a + o + sz as i64 > self.lo,
            };
            if hit {
                self.found = true;
            }
        }
    }

    /// Visits the users of `q`, a pointer `rel` bytes into the object. `up`: `q` may be a
    /// parameter whose callers pass the object. Only the chain of callers of the queried
    /// pointer is walked up: a callee reached from the object, or memory the object is copied
    /// to, has other callers passing other memory.
    fn visit(&mut self, q: Value, rel: Option<i64>, up: bool) {
        if self.found || !self.seen.insert((q, rel, up)) {
            return;
        }
        if self.budget == 0 {
            self.found = true;
            return;
        }
        self.budget -= 1;
        if q.is_instruction() && q.opcode() == Opcode::LLVMAlloca {
            self.access(q.allocated_type(), rel);
        }
        if q.is_argument() && up {
            // What the callers pass here is the same object.
            let f = q.parent_function();
            if let Some(i) = f.params().iter().position(|&x| x == q) {
                for site in f.users() {
                    if site.is_instruction()
                        && matches!(site.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke)
                        && site.called_value() == f
                    {
                        if let Some(&a) = site.call_args().get(i) {
                            let (aroot, aoff) = base_and_offset(self.m, a);
                            let r = match (rel, aoff) {
                                (Some(r), Some(o)) => Some(r - o),
                                _ => None,
                            };
                            self.visit(aroot, r, true);
                        }
                    }
                }
            }
        }
        for u in q.users() {
            if self.found {
                return;
            }
            if !u.is_instruction() {
                continue;
            }
            match u.opcode() {
                Opcode::LLVMLoad => self.access(u.ty(), rel),
                Opcode::LLVMStore if u.operand(1) == q => self.access(u.operand(0).ty(), rel),
                Opcode::LLVMGetElementPtr if u.operand(0) == q => {
                    let r = match (rel, gep_offset(self.m, u)) {
                        (Some(r), Some(o)) => Some(r + o),
                        _ => None,
                    };
                    self.visit(u, r, false);
                }
                Opcode::LLVMBitCast | Opcode::LLVMAddrSpaceCast => self.visit(u, rel, false),
                Opcode::LLVMPHI | Opcode::LLVMSelect => self.visit(u, None, false),
                Opcode::LLVMCall | Opcode::LLVMInvoke => {
                    let args = u.call_args();
                    let Some(i) = args.iter().position(|&a| a == q) else { continue };
                    let Some(callee) = u.called_function() else {
                        self.found = true;
                        continue;
                    };
                    match classify(u, &HashMap::new()) {
                        CallKind::MemTransfer => {
                            // Bytes at q + x are bytes at other + x.
                            let other = if i == 0 { args[1] } else { args[0] };
                            let (oroot, ooff) = base_and_offset(self.m, other);
                            let r = match (rel, ooff) {
                                (Some(r), Some(o)) => Some(r - o),
                                _ => None,
                            };
                            self.visit(oroot, r, false);
                        }
                        CallKind::Ignored | CallKind::IntegerOnly | CallKind::MemSet | CallKind::Deallocation => {}
                        _ if !callee.is_declaration() && i < callee.params().len() => {
                            self.visit(callee.param(i as u32), rel, false)
                        }
                        // An external function: nothing is known of how it uses the memory.
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
}
