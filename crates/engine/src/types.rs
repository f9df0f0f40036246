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
    /// Floats of this type and integers (no pointers), e.g. an enum whose payload is a float in
    /// one variant and an integer in another. Reverse mode keeps integers out of the shadow of
    /// memory that may hold floats (`reverse::mirror_store`), so the shadow of such memory holds
    /// adjoints only and is moved like [`Contents::Floats`].
    FloatsAndIntegers(Type),
    /// No floats (integers and pointers).
    NoFloats,
    Unknown,
}

impl Contents {
    /// The float type when the shadow of such memory holds adjoints only (moved, not mirrored).
    pub fn float_type(self) -> Option<Type> {
        match self {
            Contents::Floats(t) | Contents::FloatsAndIntegers(t) => Some(t),
            _ => None,
        }
    }
}

/// What the `memcpy`/`memmove`/`memset` call `call` moves (its length, when constant, bounds
/// the bytes asked about).
pub fn copy_contents(m: LLVMModuleRef, call: Value) -> Contents {
    let args = call.call_args();
    let size = args[2].const_int_value().map(|n| n as u64);
    // A memset's second operand is the byte it writes: only the destination is asked.
    let src = if args[1].ty().is_pointer() { args[1] } else { args[0] };
    memory_contents(m, args[0], src, size)
}

/// What the `size` bytes at `a` and `b` hold (`None`: the whole objects), from the accesses
/// to those bytes ([`range_leaves`]).
///
/// For a copy from `b` to `a`, what `b`'s bytes are is asked first, following only the data
/// that flows *into* `b` (its stores and the copies into it): memory the bytes are copied to
/// may be a union that holds other types at other times (an enum payload copied into a
/// `Result<f64, E>`). Only when that finds no typed access are both sides asked as a whole.
pub fn memory_contents(m: LLVMModuleRef, a: Value, b: Value, size: Option<u64>) -> Contents {
    if a != b {
        if let Some(l) = range_leaves(m, b, size, true).filter(|l| !l.is_empty()) {
            return classify_leaves(&l);
        }
    }
    let mut leaves = Vec::new();
    for p in [a, b] {
        match range_leaves(m, p, size, false) {
            Some(l) => leaves.extend(l),
            None => return Contents::Unknown,
        }
    }
    classify_leaves(&leaves)
}

fn classify_leaves(leaves: &[Type]) -> Contents {
    let floats: Vec<Type> = leaves.iter().copied().filter(|t| t.is_float_or_float_vector()).collect();
    if floats.is_empty() {
        return if leaves.is_empty() { Contents::Unknown } else { Contents::NoFloats };
    }
    let scalar = |t: Type| if t.is_vector() { t.element() } else { t };
    let f0 = scalar(floats[0]);
    if !floats.iter().all(|&t| scalar(t) == f0) {
        return Contents::Unknown;
    }
    let ints_only = |t: &Type| t.is_int() || (t.is_vector() && t.element().is_int());
    if leaves.len() == floats.len() {
        Contents::Floats(f0)
    } else if leaves.iter().all(|t| t.is_float_or_float_vector() || ints_only(t)) {
        Contents::FloatsAndIntegers(f0)
    } else {
        Contents::Unknown
    }
}

/// The scalar types of every access to the `size` bytes at `p` (`None`: any offset), found as
/// [`may_hold_floats`] walks; `None` when the walk gave up. `inflow`: follow only the data that
/// flows into the memory (not copies out of it), up to the callers that filled it.
fn range_leaves(m: LLVMModuleRef, p: Value, size: Option<u64>, inflow: bool) -> Option<Vec<Type>> {
    let (root, off) = base_and_offset(m, p);
    let (lo, hi) = match (off, size) {
        (Some(o), Some(s)) => (o, o + s as i64),
        _ => (i64::MIN / 4, i64::MAX / 4),
    };
    let mut walk = FloatWalk::new(m, lo, hi);
    walk.collect = Some(Vec::new());
    walk.home = home_function(root);
    walk.inflow = inflow;
    walk.inflow_ups = if inflow { 8 } else { 0 };
    walk.visit(root, Some(0), true);
    if walk.found {
        return None;
    }
    let mut out = walk.collect.unwrap_or_default();
    out.retain(|t| !(t.is_int() && t.int_width() == 8));
    Some(out)
}

pub fn strip_pointer(mut p: Value) -> Value {
    while p.is_instruction() && matches!(p.opcode(), Opcode::LLVMGetElementPtr | Opcode::LLVMBitCast | Opcode::LLVMAddrSpaceCast) {
        p = p.operand(0);
    }
    p
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

/// Scalar leaves of `ty` (floats, integers, pointers, vectors of them) with their byte offsets
/// and sizes.
fn typed_leaves(m: LLVMModuleRef, ty: Type, at: i64, out: &mut Vec<(i64, u64, Type)>) {
    if ty.is_struct() {
        for i in 0..ty.aggregate_len() {
            typed_leaves(m, ty.field(i), at + field_offset(m, ty, i) as i64, out);
        }
    } else if ty.is_array() {
        let e = ty.element();
        let sz = abi_size(m, e) as i64;
        let n = ty.array_len() as i64;
        if e.is_int() && e.int_width() == 8 {
            // A byte array (rustc's untyped stack slots) says nothing of what it holds.
            return;
        }
        for k in 0..n.min(64) {
            typed_leaves(m, e, at + k * sz, out);
        }
        if n > 64 {
            // Long arrays: one leaf stands for the rest (a float if the element holds one).
            let mut one = Vec::new();
            typed_leaves(m, e, 0, &mut one);
            let rest = one.iter().map(|l| l.2).find(|t| t.is_float_or_float_vector()).or(one.first().map(|l| l.2));
            if let Some(t) = rest {
                out.push((at + 64 * sz, ((n - 64) * sz) as u64, t));
            }
        }
    } else if !ty.is_void() {
        out.push((at, abi_size(m, ty), ty));
    }
}

/// Whether the `size` bytes at `p` may hold floats: some access to the same object at an
/// overlapping (or unknown) offset reads or writes a float.
pub fn may_hold_floats(m: LLVMModuleRef, p: Value, size: u64) -> bool {
    let (root, off) = base_and_offset(m, p);
    let Some(off) = off else { return true };
    let mut walk = FloatWalk::new(m, off, off + size as i64);
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
    /// Set when floats are found (or, collecting, when the walk gave up).
    found: bool,
    /// Collect the scalar type of every access in the range instead of stopping at a float.
    collect: Option<Vec<Type>>,
    /// The function of the queried pointer: its parameters, however reached (e.g. as the other
    /// side of a copy), stand for what its callers pass.
    home: Option<Value>,
    /// Follow only copies into the memory, not copies out of it.
    inflow: bool,
    /// How many more parameters reached on the way (not the queried pointer's own callers) may
    /// be followed up to their callers when following the data in.
    inflow_ups: u32,
}

/// A function the engine generated (a derivative or a runtime helper).
fn is_generated(f: Value) -> bool {
    let n = f.name();
    n.contains(".oxidase.") || n.starts_with("oxidase.")
}

fn home_function(p: Value) -> Option<Value> {
    if p.is_argument() {
        Some(p.parent_function())
    } else if p.is_instruction() {
        Some(p.parent_block().parent())
    } else {
        None
    }
}

impl FloatWalk {
    /// A walk asking whether the bytes `lo..hi` of an object may hold floats.
    fn new(m: LLVMModuleRef, lo: i64, hi: i64) -> FloatWalk {
        FloatWalk {
            m,
            lo,
            hi,
            seen: HashSet::new(),
            budget: 20_000,
            found: false,
            collect: None,
            home: None,
            inflow: false,
            inflow_ups: 0,
        }
    }

    /// An access of type `ty` at offset `at` (relative to the object) if known.
    fn access(&mut self, ty: Type, at: Option<i64>) {
        let mut leaves = Vec::new();
        typed_leaves(self.m, ty, 0, &mut leaves);
        for (o, sz, t) in leaves {
            let hit = match at {
                None => true,
                Some(a) => a + o < self.hi && a + o + sz as i64 > self.lo,
            };
            if !hit {
                continue;
            }
            match &mut self.collect {
                Some(c) => {
                    if !c.contains(&t) {
                        c.push(t);
                    }
                }
                None if t.is_float_or_float_vector() => self.found = true,
                None => {}
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
        // Following the data into the memory leads up to the callers that filled it (Rust
        // functions are monomorphic: their callers pass memory of the same type).
        let inflow_up = q.is_argument() && self.inflow && !up && Some(q.parent_function()) != self.home && self.inflow_ups > 0;
        if inflow_up {
            self.inflow_ups -= 1;
        }
        if q.is_argument() && (up || inflow_up || Some(q.parent_function()) == self.home) {
            // What the callers pass here is the same object.
            let f = q.parent_function();
            if let Some(i) = f.params().iter().position(|&x| x == q) {
                for site in f.users() {
                    // Derivatives generated earlier pass shadows beside primals: their
                    // accesses say nothing of the primal's types.
                    if site.is_instruction()
                        && matches!(site.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke)
                        && site.called_value() == f
                        && !is_generated(site.parent_block().parent())
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
                        // An indirect call: nothing is known of how it uses the memory. For
                        // "may it hold floats" that means yes; a list of access types is
                        // left as found elsewhere, as for an external function.
                        if self.collect.is_none() {
                            self.found = true;
                        }
                        continue;
                    };
                    match classify(u, &HashMap::new()) {
                        CallKind::MemTransfer => {
                            if self.inflow && i == 1 {
                                continue;
                            }
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
                        _ if !callee.is_declaration() && i < callee.params().len() && !is_generated(callee) => {
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
