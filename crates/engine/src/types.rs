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
/// an integer: it is a number where it comes from (`numeric_origin`), either memory is
/// declared as integers (dev builds, [`crate::declared`]), or neither memory holds floats.
pub fn integer_data(m: LLVMModuleRef, v: Value, p: Value) -> bool {
    if numeric_origin(v, 0) {
        return true;
    }
    let size = abi_size(m, v.ty());
    // Dev builds: the bytes belong to a variable (or come from one) declared as integers of
    // this width. Not bytes: a byte array is raw storage that may hold anything (a buffer
    // reinterpreted as floats).
    let declared = |q: Value| v.ty().is_int() && declared_ints(m, q, v.ty());
    if declared(p) || (v.is_instruction() && v.opcode() == Opcode::LLVMLoad && declared(v.operand(0))) {
        return true;
    }
    if may_hold_floats(m, p, size) {
        return false;
    }
    !(v.is_instruction() && v.opcode() == Opcode::LLVMLoad && may_hold_floats(m, v.operand(0), size))
}

/// Whether the integer `v` is a number by where it comes from: it takes part in integer
/// arithmetic ([`numeric`]); or it merges (phi, select) values that are all numbers, constants
/// beside them; or it is loaded from an address that the function also loads, at least as wide,
/// as a number (release builds split a `[usize; 2]` copied inside a struct into a byte and the
/// bytes after it, and load the first byte where the whole `usize` is compared elsewhere).
fn numeric_origin(v: Value, depth: u32) -> bool {
    use Opcode::*;
    if !v.ty().is_int() || depth > 6 {
        return false;
    }
    if numeric(v) {
        return true;
    }
    if !v.is_instruction() {
        return false;
    }
    match v.opcode() {
        LLVMPHI | LLVMSelect => {
            let ins: Vec<Value> = if v.opcode() == LLVMPHI {
                v.incoming().into_iter().map(|(x, _)| x).collect()
            } else {
                vec![v.operand(1), v.operand(2)]
            };
            let vars: Vec<Value> = ins.into_iter().filter(|x| !x.is_constant() && *x != v).collect();
            !vars.is_empty() && vars.iter().all(|&x| numeric_origin(x, depth + 1))
        }
        LLVMLoad => {
            let q = v.operand(0);
            let width = v.ty().int_width();
            q.users().into_iter().any(|u| {
                u != v
                    && u.is_instruction()
                    && u.opcode() == LLVMLoad
                    && u.operand(0) == q
                    && u.ty().is_int()
                    && u.ty().int_width() >= width
                    && numeric(u)
            })
        }
        _ => false,
    }
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
    /// Integers only, of this float type's size or smaller (no pointers). They may be floats
    /// moved as integers (LLVM moves `f64` elements of a sort, or `MaybeUninit<f64>`, as
    /// `i64`), so reverse mode moves their shadow like [`Contents::Floats`]: integer data has
    /// no derivative, and the shadow of integers is never read back in reverse mode (only
    /// pointers are).
    Integers(Type),
    /// No floats, and pointers (mirrored into the shadow).
    NoFloats,
    /// Floats beside pointers at offsets the declared type gives ([`copy_layout`]): a struct of
    /// scalars and pointers copied whole in a dev build. Reverse mode moves the floats' adjoints
    /// and mirrors the rest, part by part.
    Mixed,
    Unknown,
}

impl Contents {
    /// The float type when the shadow of such memory holds adjoints only (moved, not mirrored).
    pub fn float_type(self) -> Option<Type> {
        match self {
            Contents::Floats(t) | Contents::FloatsAndIntegers(t) | Contents::Integers(t) => Some(t),
            _ => None,
        }
    }

    /// Whether floats were seen in the memory (not only integers that may be floats).
    pub fn holds_floats(self) -> bool {
        matches!(self, Contents::Floats(_) | Contents::FloatsAndIntegers(_) | Contents::Mixed)
    }
}

/// What the `memcpy`/`memmove`/`memset` call `call` moves (its length, when constant, bounds
/// the bytes asked about).
pub fn copy_contents(m: LLVMModuleRef, call: Value) -> Contents {
    recorded_contents(call).unwrap_or_else(|| deduced_copy_contents(m, call))
}

/// Records on `clone`, a derivative's copy of the `memcpy`/`memmove` `call`, what `call`
/// moves ([`copy_contents`]) when that is definite, so that differentiating the derivative
/// again (reverse over reverse) knows it where the accesses and declared types the answer
/// came from are not around (the primal itself is left as it is).
pub(crate) fn record_copy_contents(call: Value, clone: Value) {
    let copies = call.called_function().is_some_and(|f| {
        let n = f.name();
        n.starts_with("llvm.memcpy") || n.starts_with("llvm.memmove")
    });
    if copies && call.num_operands() >= 3 {
        record_contents(clone, copy_contents(call.parent_block().parent().global_parent(), call));
    }
}

/// The metadata kind under which [`copy_contents`] records what a copy moves.
const CONTENTS_KIND: &str = "oxidase.contents";

/// Records a definite answer on `call` (its clones carry it too).
fn record_contents(call: Value, c: Contents) {
    let ctx = call.ty().context();
    let i8t = Type::i8(ctx);
    let (tag, ty) = match c {
        Contents::Floats(t) => (0, Some(t)),
        Contents::FloatsAndIntegers(t) => (1, Some(t)),
        Contents::Integers(t) => (2, Some(t)),
        Contents::NoFloats => (3, None),
        Contents::Mixed | Contents::Unknown => return,
    };
    let mut values = vec![i8t.const_int(tag)];
    values.extend(ty.map(|t| t.poison()));
    call.set_metadata_values(CONTENTS_KIND, &values);
}

fn recorded_contents(call: Value) -> Option<Contents> {
    let ops = call.metadata_operands(CONTENTS_KIND);
    let tag = ops.first()?.const_int_value()?;
    let ty = ops.get(1).map(|v| v.ty());
    Some(match (tag, ty) {
        (0, Some(t)) => Contents::Floats(t),
        (1, Some(t)) => Contents::FloatsAndIntegers(t),
        (2, Some(t)) => Contents::Integers(t),
        (3, None) => Contents::NoFloats,
        _ => return None,
    })
}

fn deduced_copy_contents(m: LLVMModuleRef, call: Value) -> Contents {
    let args = call.call_args();
    let size = args[2].const_int_value().map(|n| n as u64);
    // One byte (a `bool`, a `u8` flag) holds neither a float nor a pointer.
    if size.is_some_and(|n| n < 2) {
        return Contents::NoFloats;
    }
    // A memset's second operand is the byte it writes: only the destination is asked.
    let src = if args[1].ty().is_pointer() { args[1] } else { args[0] };
    memory_contents(m, args[0], src, size)
}

/// What the `size` bytes at `a` and `b` hold (`None`: the whole objects), from the accesses
/// to those bytes (`range_leaves`).
///
/// For a copy from `b` to `a`, what `b`'s bytes are is asked first, following only the data
/// that flows *into* `b` (its stores and the copies into it): memory the bytes are copied to
/// may be a union that holds other types at other times (an enum payload copied into a
/// `Result<f64, E>`). Only when that finds no typed access are both sides asked as a whole.
pub fn memory_contents(m: LLVMModuleRef, a: Value, b: Value, size: Option<u64>) -> Contents {
    // A variable declared as floats only where the bytes are (a `Matrix3<f64>` moved in a dev
    // build) holds floats, whatever the walk over accesses through other pointers suggests.
    let declared_floats = [b, a].into_iter().find_map(|p| {
        let l = crate::declared::pointee_leaves(m, p, size)?;
        let t = *l.first()?;
        (t.is_float_or_float_vector() && l.iter().all(|&u| u == t)).then_some(t)
    });
    if let Some(t) = declared_floats {
        return Contents::Floats(if t.is_vector() { t.element() } else { t });
    }
    match accessed_contents(m, a, b, size) {
        // Dev builds: the declared type of the variables the pointers come from.
        Contents::Unknown => {
            let declared = [b, a]
                .into_iter()
                // Bytes only: raw storage (`[u8; N]`, `MaybeUninit<u8>`, a `*const u8` view of
                // a typed value) that may hold anything; the other side may say more.
                .find_map(|p| {
                    crate::declared::pointee_leaves(m, p, size)
                        .filter(|l| !l.iter().all(|t| t.is_int() && t.int_width() == 8))
                })
                .map_or(Contents::Unknown, |l| classify_leaves(&l, true));
            match (declared, size) {
                (Contents::Unknown, Some(n)) if [b, a].into_iter().any(|p| mixed_layout(m, p, n).is_some()) => Contents::Mixed,
                (c, _) => c,
            }
        }
        c => c,
    }
}

/// The declared layout of the `size` bytes at `p` when it holds floats beside other scalars.
fn mixed_layout(m: LLVMModuleRef, p: Value, size: u64) -> Option<Vec<(u64, u64, Type)>> {
    crate::declared::pointee_layout(m, p, size).filter(|l| {
        l.iter().any(|(_, _, t)| t.is_float_or_float_vector()) && l.iter().any(|(_, _, t)| !t.is_float_or_float_vector())
    })
}

/// The parts of a [`Contents::Mixed`] copy: `(byte offset, bytes, scalar type)` of each scalar.
pub fn copy_layout(m: LLVMModuleRef, call: Value) -> Option<Vec<(u64, u64, Type)>> {
    let args = call.call_args();
    let n = args[2].const_int_value()? as u64;
    mixed_layout(m, args[1], n).or_else(|| mixed_layout(m, args[0], n))
}

/// [`memory_contents`] from the accesses the walk sees.
fn accessed_contents(m: LLVMModuleRef, a: Value, b: Value, size: Option<u64>) -> Contents {
    if a != b {
        if let Some((l, numeric)) = range_leaves(m, b, size, true, false).filter(|(l, _)| !l.is_empty()) {
            return classify_leaves(&l, numeric);
        }
    }
    // Then both sides as a whole; when neither is accessed with a type where the walk can
    // see it, the objects their pointers came from.
    for deep in [false, true] {
        let (mut leaves, mut numeric) = (Vec::new(), false);
        for p in [a, b] {
            match range_leaves(m, p, size, false, deep) {
                Some((l, n)) => {
                    leaves.extend(l);
                    numeric |= n;
                }
                None => return Contents::Unknown,
            }
        }
        if !leaves.is_empty() {
            return classify_leaves(&leaves, numeric);
        }
    }
    Contents::Unknown
}

/// Whether the loaded integer `v` is only moved: it is used, and every use stores it to
/// memory. A load nothing uses (a dev build reads a slice's length it never needs) moves
/// nothing and says nothing of what the bytes are.
pub fn only_moved(v: Value) -> bool {
    let users = v.users();
    v.is_instruction()
        && v.opcode() == Opcode::LLVMLoad
        && !users.is_empty()
        && users.into_iter().all(|u| u.is_instruction() && u.opcode() == Opcode::LLVMStore && u.operand(0) == v && u.operand(1) != v)
}

/// Whether the integer `v` is a number: computed by arithmetic, or used in arithmetic,
/// comparisons, as an index or an address. Floats moved as integers are only loaded and
/// stored.
fn numeric(v: Value) -> bool {
    use Opcode::*;
    let arith = |op: Opcode| {
        matches!(
            op,
            LLVMAdd | LLVMSub | LLVMMul | LLVMUDiv | LLVMSDiv | LLVMURem | LLVMSRem | LLVMShl | LLVMLShr | LLVMAShr
                | LLVMAnd | LLVMOr | LLVMXor | LLVMICmp | LLVMZExt | LLVMSExt | LLVMTrunc | LLVMPtrToInt | LLVMIntToPtr
                | LLVMSwitch
        )
    };
    if v.is_instruction() && arith(v.opcode()) {
        return true;
    }
    v.users().into_iter().any(|u| {
        u.is_instruction() && (arith(u.opcode()) || (u.opcode() == LLVMGetElementPtr && u.operand(0) != v))
    })
}

/// The float type whose bits an integer of type `ty` loaded from or stored to `p` moves: the
/// memory there holds floats of one type of that size, and otherwise only integers of that
/// size (which may be the same floats moved as integers, as LLVM moves `f64` elements in a
/// sort or a copy).
///
/// `moved`: the integer is only moved (a load whose every use stores it): then memory holding
/// only integers of that size that take part in no arithmetic counts as floats too (floats
/// moved as integers, as `memcpy` treats such memory, see [`Contents::Integers`]).
pub fn float_bits_in_memory(m: LLVMModuleRef, p: Value, ty: Type, moved: bool) -> Option<Type> {
    if !ty.is_int() || !matches!(ty.int_width(), 16 | 32 | 64) {
        return None;
    }
    // A dev build declares what the bytes are: integers there (a struct's `usize` field read
    // and passed on) are integers, whatever the walk finds at offsets it cannot tell apart.
    if declared_ints(m, p, ty) {
        return None;
    }
    let size = abi_size(m, ty);
    // ... and floats there (a `Matrix1<f64>` that a call returned as an `i64`) are floats.
    if let Some(l) = crate::declared::pointee_leaves(m, p, Some(size)) {
        if let [t] = l.as_slice() {
            if t.is_float_or_float_vector() && abi_size(m, *t) == size {
                return Some(*t);
            }
        }
    }
    let (leaves, numeric) = range_leaves(m, p, Some(size), false, false)?;
    let float = match leaves.iter().copied().find(|t| t.is_float_or_float_vector()) {
        Some(f) => f,
        // Integers of this size only, never numbers: floats only moved (as `memcpy` treats
        // them, see `Contents::Integers`).
        None if moved && !numeric && !leaves.is_empty() => match classify_leaves(&leaves, false) {
            Contents::Integers(f) => f,
            _ => return None,
        },
        None => return None,
    };
    let fits = |t: &Type| *t == float || (t.is_int() && abi_size(m, *t) == size);
    (abi_size(m, float) == size && leaves.iter().all(fits)).then_some(float)
}

/// Whether the bytes at `p` belong to a variable declared with integers of `ty`'s width
/// exactly there (dev builds, [`crate::declared`]).
fn declared_ints(m: LLVMModuleRef, p: Value, ty: Type) -> bool {
    let width = ty.int_width();
    crate::declared::pointee_leaves(m, p, Some(abi_size(m, ty)))
        .is_some_and(|l| l.iter().all(|t| t.is_int() && t.int_width() == width))
}

/// Whether the `ty`-sized bytes at `p` hold a pointer where the function accesses them (an
/// integer load of them reads an address).
pub fn holds_pointer(m: LLVMModuleRef, p: Value, ty: Type) -> bool {
    let size = abi_size(m, ty);
    range_leaves(m, p, Some(size), false, false)
        .is_some_and(|(l, _)| l.iter().any(|t| t.is_pointer()))
}

fn classify_leaves(leaves: &[Type], numeric: bool) -> Contents {
    let floats: Vec<Type> = leaves.iter().copied().filter(|t| t.is_float_or_float_vector()).collect();
    if floats.is_empty() {
        if leaves.is_empty() {
            return Contents::Unknown;
        }
        if numeric || leaves.iter().any(|t| t.contains_pointer()) {
            return Contents::NoFloats;
        }
        let ctx = leaves[0].context();
        let narrow = leaves.iter().all(|t| t.is_int() && t.int_width() <= 32);
        return Contents::Integers(if narrow { Type::f32(ctx) } else { Type::f64(ctx) });
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
/// [`may_hold_floats`] walks, and whether an integer access there takes part in arithmetic;
/// `None` when the walk gave up. `inflow`: follow only the data that flows into the memory (not
/// copies out of it), up to the callers that filled it.
///
/// `deep`: also look for the objects `p` may point into through accessors that return a
/// pointer into their argument, stack slots and callers ([`object_roots`]), at any offset.
fn range_leaves(m: LLVMModuleRef, p: Value, size: Option<u64>, inflow: bool, deep: bool) -> Option<(Vec<Type>, bool)> {
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
    if deep || root.is_instruction() && matches!(root.opcode(), Opcode::LLVMPHI | Opcode::LLVMSelect) {
        // A pointer that is one of several objects (a merge sort's source and scratch
        // buffers), or that came from another object: what any of them holds at an unknown
        // offset.
        walk.lo = i64::MIN / 4;
        walk.hi = i64::MAX / 4;
        let mut roots = Vec::new();
        object_roots(m, root, deep, &mut roots, &mut HashSet::new());
        for r in roots {
            walk.visit(r, None, true);
        }
    }
    walk.visit(root, Some(0), true);
    if walk.found {
        return None;
    }
    let mut out = walk.collect.unwrap_or_default();
    out.retain(|t| !(t.is_int() && t.int_width() == 8));
    Some((out, walk.numeric_ints))
}

/// Whether the integer `v` is an address loaded as an integer from a stack slot where a
/// pointer is stored (type punning of a dev build: a struct of one pointer moved as `i64`).
/// So is the integer a function returns when that is such an address (the accessor returning
/// the struct, and the accessors calling it).
pub fn punned_address(m: LLVMModuleRef, v: Value) -> bool {
    punned_address_rec(m, v, 0, &mut HashMap::new())
}

/// [`punned_address`] at `depth` levels of loads and calls, memoized per (value, depth): the
/// values stored into a slot are loads from slots whose stores are loads again (a tape's
/// length, updated by every push and pop), so the plain recursion branches at every level.
fn punned_address_rec(m: LLVMModuleRef, v: Value, depth: u32, memo: &mut HashMap<(Value, u32), bool>) -> bool {
    if !(v.ty().is_int() && v.ty().int_width() == 64 && v.is_instruction()) || depth > 6 {
        return false;
    }
    if let Some(&r) = memo.get(&(v, depth)) {
        return r;
    }
    let r = punned_address_here(m, v, depth, memo);
    memo.insert((v, depth), r);
    r
}

fn punned_address_here(m: LLVMModuleRef, v: Value, depth: u32, memo: &mut HashMap<(Value, u32), bool>) -> bool {
    match v.opcode() {
        Opcode::LLVMLoad => {
            let (slot, off) = base_and_offset(m, v.operand(0));
            if !(slot.is_instruction() && slot.opcode() == Opcode::LLVMAlloca && off.is_some()) {
                return false;
            }
            // A variable declared with floats there holds float bits, not an address.
            if declared_float_at(m, v.operand(0)) {
                return false;
            }
            let off = off.expect("checked above");
            stores_at(m, slot, off, false).iter().any(|x| x.ty().is_pointer())
                // ... or where another such address was stored as an integer and copied.
                || stores_at(m, slot, off, true)
                    .into_iter()
                    .any(|x| x != v && x.ty().is_int() && punned_address_rec(m, x, depth + 1, memo))
        }
        Opcode::LLVMCall | Opcode::LLVMInvoke => {
            let Some(f) = v.called_function().filter(|f| !f.is_declaration()) else {
                return false;
            };
            if crate::declared::returns_floats(m, f) {
                return false;
            }
            f.blocks()
                .into_iter()
                .filter_map(|b| b.terminator())
                .filter(|t| t.opcode() == Opcode::LLVMRet && t.num_operands() == 1)
                .any(|t| punned_address_rec(m, t.operand(0), depth + 1, memo))
        }
        _ => false,
    }
}

/// Whether the 8 bytes at `p` belong to a variable declared with a float there.
pub fn declared_float_at(m: LLVMModuleRef, p: Value) -> bool {
    crate::declared::pointee_leaves(m, p, Some(8))
        .is_some_and(|l| l.iter().any(|t| t.is_float_or_float_vector()))
}

/// The values this function stores at byte `off` of the stack slot `slot`: directly, through
/// constant GEPs, and, with `through_copies`, into memory copied there (not in callees).
fn stores_at(m: LLVMModuleRef, slot: Value, off: i64, through_copies: bool) -> Vec<Value> {
    let mut out = Vec::new();
    // (object, the wanted byte's offset in it)
    let mut work = vec![(slot, off)];
    let mut seen = HashSet::new();
    while let Some((p, want)) = work.pop() {
        if !seen.insert((p, want)) || seen.len() > 64 {
            continue;
        }
        for u in p.users() {
            if !u.is_instruction() {
                continue;
            }
            match u.opcode() {
                Opcode::LLVMStore if u.operand(1) == p && want == 0 => out.push(u.operand(0)),
                Opcode::LLVMGetElementPtr if u.operand(0) == p => {
                    if let Some(g) = gep_offset(m, u) {
                        work.push((u, want - g));
                    }
                }
                Opcode::LLVMCall if through_copies && crate::calls::is_memory_copy(u) && u.call_args()[0] == p => {
                    let len = u.call_args()[2].const_int_value();
                    if want >= 0 && len.is_some_and(|n| want < n) {
                        work.push((u.call_args()[1], want));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The pointer loads from the stack slot `slot` at byte offset `off` (any offset when unknown).
fn slot_loads(m: LLVMModuleRef, slot: Value, off: Option<i64>) -> Vec<Value> {
    slot_accesses(m, slot, off).into_iter().filter(|a| a.opcode() == Opcode::LLVMLoad).collect()
}

/// The pointers stored into the stack slot `slot` at byte offset `off` (any when unknown).
fn slot_stores(m: LLVMModuleRef, slot: Value, off: Option<i64>) -> Vec<Value> {
    slot_accesses(m, slot, off).into_iter().filter(|a| a.opcode() == Opcode::LLVMStore).map(|st| st.operand(0)).collect()
}

/// The loads and stores of pointers at byte offset `off` of the stack slot `slot` (any offset
/// when unknown), through constant GEPs, copies of the object (`memcpy`, a by-value move in dev
/// builds) and the functions it is passed to.
fn slot_accesses(m: LLVMModuleRef, slot: Value, off: Option<i64>) -> Vec<Value> {
    let mut out = Vec::new();
    // Breadth first: the object's own accesses before those of copies and callees.
    let mut work = std::collections::VecDeque::from([(slot, Some(0i64))]);
    let mut seen = HashSet::new();
    while let Some((p, at)) = work.pop_front() {
        if !seen.insert(p) || seen.len() > 256 {
            continue;
        }
        let here = off.is_none() || at.is_none() || at == off;
        for u in p.users() {
            if !u.is_instruction() {
                continue;
            }
            match u.opcode() {
                Opcode::LLVMLoad if here && u.ty().is_pointer() => out.push(u),
                Opcode::LLVMStore if here && u.operand(1) == p && u.operand(0).ty().is_pointer() => out.push(u),
                Opcode::LLVMGetElementPtr if u.operand(0) == p => {
                    let o = match (at, gep_offset(m, u)) {
                        (Some(a), Some(g)) => Some(a + g),
                        _ => None,
                    };
                    work.push_back((u, o));
                }
                Opcode::LLVMCall | Opcode::LLVMInvoke => {
                    let Some(f) = u.called_function() else { continue };
                    if crate::calls::is_memory_copy(u) {
                        // The other side holds the same fields at the same offsets.
                        for (mine, other) in [(0, 1), (1, 0)] {
                            if u.operand(mine) == p {
                                work.push_back((u.operand(other), at));
                            }
                        }
                    } else if !f.is_declaration() && !is_generated(f) {
                        for (i, &a) in u.call_args().iter().enumerate() {
                            if a == p && i < f.params().len() {
                                work.push_back((f.param(i as u32), at));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Whether `f` returns a pointer into its parameter `i` (the parameter itself, through GEPs
/// and casts, alone or as the first field of a returned pair such as a slice).
fn returns_param(f: Value, i: usize) -> bool {
    let p = f.param(i as u32);
    let ret = f.function_type().return_type();
    if !ret.contains_pointer() {
        return false;
    }
    f.blocks().into_iter().filter_map(|b| b.terminator()).filter(|t| t.opcode() == Opcode::LLVMRet && t.num_operands() == 1).any(|t| {
        let mut v = t.operand(0);
        // `{ ptr, len }` built by insertvalues: the pointer inserted at index 0.
        while v.is_instruction() && v.opcode() == Opcode::LLVMInsertValue {
            if v.operand(1).ty().is_pointer() {
                v = v.operand(1);
                break;
            }
            v = v.operand(0);
        }
        strip_pointer(v) == p
    })
}

/// The objects the pointer `p` may point into: through phis and selects; with `deep`, also
/// through accessors returning a pointer into their argument (`as_ptr`, `index`), values kept
/// in stack slots (dev builds), and what callers pass for a parameter. Rust's pointers are
/// typed: every object found this way holds the same type where `p` points.
fn object_roots(m: LLVMModuleRef, p: Value, deep: bool, out: &mut Vec<Value>, seen: &mut HashSet<Value>) {
    let (p, _) = base_and_offset(m, p);
    if !seen.insert(p) || seen.len() > 64 {
        return;
    }
    // A constant address that is no global (`inttoptr (i64 8 to ptr)`, the dangling pointer of
    // every empty `Vec<f64>` and `Vec<usize>` alike) points to no object: its users all over
    // the module say nothing about this one.
    if p.is_constant() && !p.is_global_variable() {
        return;
    }
    if !out.contains(&p) {
        out.push(p);
    }
    if p.is_instruction() && matches!(p.opcode(), Opcode::LLVMPHI | Opcode::LLVMSelect) {
        for o in crate::activity::data_operands(p) {
            object_roots(m, o, deep, out, seen);
        }
        return;
    }
    if !deep {
        return;
    }
    if p.is_argument() {
        let f = p.parent_function();
        let Some(i) = f.params().iter().position(|&x| x == p) else { return };
        for site in f.users() {
            if site.is_instruction()
                && matches!(site.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke)
                && site.called_value() == f
                && !is_generated(site.parent_block().parent())
            {
                if let Some(&a) = site.call_args().get(i) {
                    object_roots(m, a, deep, out, seen);
                }
            }
        }
        return;
    }
    if !p.is_instruction() {
        return;
    }
    let call = match p.opcode() {
        Opcode::LLVMExtractValue if p.indices() == [0] => Some(p.operand(0)),
        Opcode::LLVMCall | Opcode::LLVMInvoke => Some(p),
        _ => None,
    };
    if let Some(c) = call.filter(|c| c.is_instruction() && matches!(c.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke)) {
        if let Some(callee) = c.called_function().filter(|f| !f.is_declaration() && !is_generated(*f)) {
            let args = c.call_args();
            for j in 0..args.len().min(callee.params().len()) {
                if args[j].ty().is_pointer() && returns_param(callee, j) {
                    object_roots(m, args[j], deep, out, seen);
                }
            }
        }
    }
    if p.opcode() == Opcode::LLVMLoad {
        let (slot, off) = base_and_offset(m, p.operand(0));
        if slot.is_instruction() && slot.opcode() == Opcode::LLVMAlloca {
            for v in slot_stores(m, slot, off) {
                object_roots(m, v, deep, out, seen);
            }
        }
        // The same field of the same object loaded elsewhere (a `Vec`'s or `VecDeque`'s buffer
        // pointer read again in `push`, `grow`, `shrink`): a Rust field has one type, so what
        // those pointers access is what this one points to.
        if let Some(off) = off {
            let mut objects = Vec::new();
            object_roots(m, slot, deep, &mut objects, &mut HashSet::new());
            for object in objects {
                for sibling in slot_loads(m, object, Some(off)).into_iter().take(32) {
                    // Counted as roots themselves, not followed further: they are many.
                    if seen.insert(sibling) && !out.contains(&sibling) {
                        out.push(sibling);
                    }
                }
            }
        }
    }
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
pub(crate) fn gep_offset(m: LLVMModuleRef, gep: Value) -> Option<i64> {
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
    /// An integer access to the bytes takes part in arithmetic (a counter, a length): the
    /// integers there are numbers, not floats moved as integers.
    numeric_ints: bool,
    /// The function of the queried pointer: its parameters, however reached (e.g. as the other
    /// side of a copy), stand for what its callers pass.
    home: Option<Value>,
    /// Follow only copies into the memory, not copies out of it.
    inflow: bool,
    /// How many more parameters reached on the way (not the queried pointer's own callers) may
    /// be followed up to their callers when following the data in.
    inflow_ups: u32,
    /// Pointers still to visit (the walk is iterative: dev builds make it long).
    work: Vec<(Value, Option<i64>, bool)>,
    /// Parameters of callees the object is passed to (see `visit_one`).
    passed_to: HashSet<Value>,
    /// Values stored into the object: whether each is an address moved as an integer.
    punned: HashMap<Value, bool>,
}

/// A function the engine generated (a derivative or a runtime helper).
pub fn is_generated(f: Value) -> bool {
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
            numeric_ints: false,
            home: None,
            inflow: false,
            inflow_ups: 0,
            work: Vec::new(),
            passed_to: HashSet::new(),
            punned: HashMap::new(),
        }
    }

    /// An access of type `ty` at offset `at` (relative to the object) if known.
    fn access(&mut self, ty: Type, at: Option<i64>) -> bool {
        let mut leaves = Vec::new();
        typed_leaves(self.m, ty, 0, &mut leaves);
        let mut any = false;
        for (o, sz, t) in leaves {
            let hit = match at {
                None => true,
                Some(a) => a + o < self.hi && a + o + sz as i64 > self.lo,
            };
            if !hit {
                continue;
            }
            any = true;
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
        any
    }

    /// Visits the users of `q`, a pointer `rel` bytes into the object. `up`: `q` may be a
    /// parameter whose callers pass the object. Only the chain of callers of the queried
    /// pointer is walked up: a callee reached from the object, or memory the object is copied
    /// to, has other callers passing other memory.
    fn visit(&mut self, q: Value, rel: Option<i64>, up: bool) {
        self.work.push((q, rel, up));
        while let Some((q, rel, up)) = self.work.pop() {
            if self.found {
                self.work.clear();
                return;
            }
            self.visit_one(q, rel, up);
        }
    }

    /// Looks at the users of one pointer; pointers found on the way go to `work`.
    fn visit_one(&mut self, q: Value, rel: Option<i64>, up: bool) {
        // Every offset queried: where a pointer lies in the object does not matter (and
        // following offsets through copies that shift them would not end).
        let rel = if self.lo <= i64::MIN / 8 && self.hi >= i64::MAX / 8 { None } else { rel };
        if self.found || !self.seen.insert((q, rel, up)) {
            return;
        }
        if self.budget == 0 {
            self.found = true;
            return;
        }
        self.budget -= 1;
        if q.is_instruction() && q.opcode() == Opcode::LLVMAlloca {
            // A stack slot that lies wholly outside the queried bytes (reached through copies
            // at an offset: a value copied into an enum after its tag, then back) holds none
            // of them. Without this, copies between slots that shift the bytes each round
            // would be followed forever at ever new offsets.
            let size = abi_size(self.m, q.allocated_type()) as i64;
            if rel.is_some_and(|r| r >= self.hi || r + size <= self.lo) {
                return;
            }
            self.access(q.allocated_type(), rel);
        }
        // Following the data into the memory leads up to the callers that filled it (Rust
        // functions are monomorphic: their callers pass memory of the same type).
        // Not a callee's parameter the object is passed to: the callee's other callers pass
        // other objects, whose data never flows into this one.
        let inflow_up = q.is_argument()
            && self.inflow
            && !up
            && Some(q.parent_function()) != self.home
            && self.inflow_ups > 0
            && !self.passed_to.contains(&q);
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
                            self.work.push((aroot, r, true));
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
                Opcode::LLVMLoad => {
                    if self.access(u.ty(), rel) && u.ty().is_int() && numeric(u) {
                        self.numeric_ints = true;
                    }
                }
                Opcode::LLVMStore if u.operand(1) == q => {
                    let v = u.operand(0);
                    // An address read as an integer from where a pointer was stored (a dev
                    // build moving a struct of one pointer as an `i64`) is a pointer here too.
                    let m = self.m;
                    let punned = *self.punned.entry(v).or_insert_with(|| punned_address(m, v));
                    let ty = if punned {
                        Type::ptr(v.ty().context())
                    } else {
                        v.ty()
                    };
                    if self.access(ty, rel) && ty.is_int() && numeric(v) {
                        self.numeric_ints = true;
                    }
                }
                // The pointer kept in a stack slot (dev builds): its loads from there are it.
                Opcode::LLVMStore if u.operand(0) == q => {
                    let (slot, off) = base_and_offset(self.m, u.operand(1));
                    if slot.is_instruction() && slot.opcode() == Opcode::LLVMAlloca {
                        for l in slot_loads(self.m, slot, off) {
                            self.work.push((l, rel, false));
                        }
                    }
                }
                Opcode::LLVMGetElementPtr if u.operand(0) == q => {
                    let r = match (rel, gep_offset(self.m, u)) {
                        (Some(r), Some(o)) => Some(r + o),
                        _ => None,
                    };
                    self.work.push((u, r, false));
                }
                Opcode::LLVMBitCast | Opcode::LLVMAddrSpaceCast => self.work.push((u, rel, false)),
                // The pointer of a returned `{ ptr, len }` (see `returns_param`).
                Opcode::LLVMExtractValue if u.ty().is_pointer() => self.work.push((u, None, false)),
                Opcode::LLVMPHI | Opcode::LLVMSelect => self.work.push((u, None, false)),
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
                            self.work.push((oroot, r, false));
                        }
                        CallKind::Ignored | CallKind::IntegerOnly | CallKind::MemSet | CallKind::Deallocation => {}
                        _ if !callee.is_declaration() && i < callee.params().len() && !is_generated(callee) => {
                            self.passed_to.insert(callee.param(i as u32));
                            self.work.push((callee.param(i as u32), rel, false));
                            // A pointer into the object handed back (`as_mut_ptr`,
                            // `as_uninit_slice_mut`): its uses are the object's too.
                            if returns_param(callee, i) {
                                self.work.push((u, None, false));
                            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use oxidase_llvm::module::{self, Context};

    /// Copies whose contents only the accesses elsewhere tell: floats stored into the source,
    /// integers that may be float bits, integers that are numbers, pointers beside integers,
    /// and bytes nothing types.
    const COPIES: &str = r#"
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
define void @copies(double %x, i64 %n, ptr %p, ptr %out) {
  %f = alloca [16 x i8], align 8
  store double %x, ptr %f
  %f1 = getelementptr i8, ptr %f, i64 8
  store double %x, ptr %f1
  %fd = alloca [16 x i8], align 8
  call void @llvm.memcpy.p0.p0.i64(ptr %fd, ptr %f, i64 16, i1 false)
  %i = alloca [8 x i8], align 8
  %bits = load i64, ptr %p
  store i64 %bits, ptr %i
  %id = alloca [8 x i8], align 8
  call void @llvm.memcpy.p0.p0.i64(ptr %id, ptr %i, i64 8, i1 false)
  %s = alloca [8 x i8], align 8
  %sum = add i64 %n, 1
  store i64 %sum, ptr %s
  %sd = alloca [8 x i8], align 8
  call void @llvm.memcpy.p0.p0.i64(ptr %sd, ptr %s, i64 8, i1 false)
  %v = alloca [16 x i8], align 8
  store ptr %p, ptr %v
  %v1 = getelementptr i8, ptr %v, i64 8
  store i64 %n, ptr %v1
  %vd = alloca [16 x i8], align 8
  call void @llvm.memcpy.p0.p0.i64(ptr %vd, ptr %v, i64 16, i1 false)
  %u = alloca [16 x i8], align 8
  call void @llvm.memcpy.p0.p0.i64(ptr %out, ptr %u, i64 16, i1 false)
  ret void
}
"#;

    #[test]
    fn copy_contents_from_the_accesses_to_the_copied_bytes() {
        let ctx = Context::new();
        let owned = ctx.parse_ir(COPIES, "t").unwrap();
        let m = owned.raw();
        let f = module::get_function(m, "copies").unwrap();
        let copies: Vec<Value> = f
            .blocks()
            .into_iter()
            .flat_map(|b| b.instructions())
            .filter(|i| i.opcode() == oxidase_llvm::Opcode::LLVMCall)
            .collect();
        let got: Vec<Contents> = copies.iter().map(|&c| copy_contents(m, c)).collect();
        let double = Type::f64(module::context_of(m));
        assert_eq!(got[0], Contents::Floats(double), "two doubles stored into the source");
        assert!(matches!(got[1], Contents::Integers(_)), "an integer read from memory may be float bits: {:?}", got[1]);
        assert_eq!(got[2], Contents::NoFloats, "an integer sum is a number");
        assert_eq!(got[3], Contents::NoFloats, "a pointer beside an integer");
        assert_eq!(got[4], Contents::Unknown, "bytes nothing writes or reads");
    }
}

#[cfg(test)]
mod recorded_tests {
    use super::*;
    use oxidase_llvm::module;

    /// What a copy moves is recorded on a derivative's copy of it, where the accesses it was
    /// deduced from are not around.
    #[test]
    fn copy_contents_travel_with_clones() {
        let ctx = module::Context::new();
        let m = ctx
            .parse_ir(
                r#"
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
define void @f(ptr %d, ptr %s) {
  %v = load double, ptr %s
  store double %v, ptr %d
  call void @llvm.memcpy.p0.p0.i64(ptr %d, ptr %s, i64 8, i1 false)
  ret void
}
"#,
                "copies",
            )
            .unwrap();
        let f = module::get_function(m.raw(), "f").unwrap();
        let call = f.blocks()[0].instructions().into_iter().find(|i| i.opcode() == Opcode::LLVMCall).unwrap();
        let double = |c: Option<Contents>| matches!(c, Some(Contents::Floats(t)) if t.kind() == oxidase_llvm::TypeKind::LLVMDoubleTypeKind);
        assert!(double(Some(copy_contents(m.raw(), call))));
        let clone = call.clone_instruction();
        let b = oxidase_llvm::Builder::new(module::context_of(m.raw()));
        b.position_before(call);
        b.insert(clone);
        record_copy_contents(call, clone);
        assert!(double(recorded_contents(clone)));
        // The primal is left as it is.
        assert!(recorded_contents(call).is_none());
    }
}
