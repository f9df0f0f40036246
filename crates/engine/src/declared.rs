//! Types declared by debug information (dev builds): what the memory behind a pointer holds,
//! read from the Rust type of the variable the pointer comes from. rustc describes every
//! variable of an unoptimized build (`#dbg_declare` of the stack slot it lives in), so this
//! answers where the memory type analysis ([`crate::types`]) cannot see an access: a generic
//! sort's merge copying `T`s it never reads as `T` in that function, a `VecDeque` moving its
//! ring buffer. Only a pointer that *is* such a variable (or is loaded from one) is answered;
//! the answer is the variable's declared type, never a guess.

use crate::types::base_and_offset;
use oxidase_llvm::debuginfo::{tag, DiNode};
use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::{Opcode, Type, Value};

/// The scalar types (LLVM's) of the `size` bytes (all of them when `None`) that `p` points to,
/// from the declared type of the variable `p` comes from; `None` when no variable describes it
/// or the part has pieces that cannot be read. An enum holds what any of its variants holds.
pub fn pointee_leaves(m: LLVMModuleRef, p: Value, size: Option<u64>) -> Option<Vec<Type>> {
    let (base, off) = base_and_offset(m, p);
    let part = memory_part(m, base, off, size, 0)?;
    let mut out = Vec::new();
    leaves(m, part, &mut out, 0)?;
    (!out.is_empty()).then_some(out)
}

/// The scalar types of the declared type `t` (`None` when it has parts that cannot be read).
pub fn type_leaves(m: LLVMModuleRef, t: DiNode) -> Option<Vec<Type>> {
    let mut out = Vec::new();
    leaves(m, t, &mut out, 0)?;
    Some(out)
}

/// Whether the function `f` is declared to return a value holding floats (a `Matrix1<f64>`
/// that a dev build returns as an `i64`).
pub fn returns_floats(m: LLVMModuleRef, f: Value) -> bool {
    f.subprogram()
        .and_then(|sp| sp.return_type())
        .and_then(|t| type_leaves(m, t))
        .is_some_and(|l| l.iter().any(|t| t.is_float_or_float_vector()))
}

/// The float type `f` is declared to return when its result is exactly one float (or float
/// vector) of `size` bytes: a `Matrix1<f64>` that a dev build returns as an `i64` returns `f64`.
pub fn returned_float(m: LLVMModuleRef, f: Value, size: u64) -> Option<Type> {
    let l = f.subprogram()?.return_type().and_then(|t| type_leaves(m, t))?;
    match l.as_slice() {
        [t] if t.is_float_or_float_vector() && oxidase_llvm::module::abi_size(m, *t) == size => Some(*t),
        _ => None,
    }
}

/// Whether the global `g`'s declared Rust type is known and holds no pointers (a scratch
/// buffer of numbers, such as `matrixmultiply`'s thread-local mask buffer).
/// Without debug information (a release build), every access to it must be visible and hold
/// no pointer: loads and stores of numbers through `llvm.threadlocal.address` of it, its
/// GEPs, phis and selects, `memset`s, the functions its address is passed to (their accesses
/// through that parameter, in turn), and the address aligned as an integer (`ptrtoint`,
/// arithmetic, `inttoptr`), but never stored or handed to code without a body.
pub fn global_holds_no_pointers(m: LLVMModuleRef, g: Value) -> bool {
    use crate::calls::{classify, CallKind};
    if let Some(ty) = g.global_debug_variable().and_then(|v| v.variable_type()) {
        let mut out = Vec::new();
        return leaves(m, ty, &mut out, 0).is_some() && !out.is_empty() && out.iter().all(|t| !t.contains_pointer());
    }
    let none = std::collections::HashMap::new();
    let mut work: Vec<Value> = Vec::new();
    for u in g.users() {
        if !(u.is_instruction() && u.opcode() == Opcode::LLVMCall && matches!(classify(u, &none), CallKind::ThreadLocal)) {
            return false;
        }
        // Derivatives generated earlier keep the address on their tape: their accesses are
        // the primal's.
        if !crate::types::is_generated(u.parent_block().parent()) {
            work.push(u);
        }
    }
    let mut seen = std::collections::HashSet::new();
    while let Some(p) = work.pop() {
        if !seen.insert(p) {
            continue;
        }
        if seen.len() > 4096 {
            return false;
        }
        let address_as_int = p.ty().is_int();
        for u in p.users() {
            if !u.is_instruction() {
                return false;
            }
            let ok = match u.opcode() {
                _ if address_as_int => match u.opcode() {
                    // Alignment arithmetic on the address, and the aligned pointer.
                    Opcode::LLVMAdd
                    | Opcode::LLVMSub
                    | Opcode::LLVMAnd
                    | Opcode::LLVMOr
                    | Opcode::LLVMSelect
                    | Opcode::LLVMPHI
                    | Opcode::LLVMIntToPtr => {
                        work.push(u);
                        true
                    }
                    // An offset (the padding up to the alignment) applied to the address,
                    // whose GEP is followed from the address itself.
                    Opcode::LLVMGetElementPtr => u.operand(0) != p,
                    Opcode::LLVMICmp | Opcode::LLVMURem | Opcode::LLVMSRem | Opcode::LLVMTrunc => true,
                    _ => false,
                },
                Opcode::LLVMLoad => !u.ty().contains_pointer(),
                Opcode::LLVMStore => u.operand(1) == p && u.operand(0) != p && !u.operand(0).ty().contains_pointer(),
                Opcode::LLVMGetElementPtr | Opcode::LLVMPHI | Opcode::LLVMSelect | Opcode::LLVMBitCast | Opcode::LLVMPtrToInt => {
                    work.push(u);
                    true
                }
                Opcode::LLVMICmp => true,
                Opcode::LLVMCall | Opcode::LLVMInvoke => match classify(u, &none) {
                    CallKind::Ignored | CallKind::MemSet => true,
                    _ => {
                        // Passed to a function with a body: its accesses through that parameter.
                        let args = u.call_args();
                        match u.called_function() {
                            Some(f) if !f.is_declaration() && u.called_value() == f && !crate::types::is_generated(f) => {
                                let params = f.params();
                                let mut all = true;
                                for (i, &a) in args.iter().enumerate() {
                                    if a == p {
                                        match params.get(i) {
                                            Some(&q) => work.push(q),
                                            None => all = false,
                                        }
                                    }
                                }
                                all
                            }
                            _ => false,
                        }
                    }
                },
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// The scalars of the `size` bytes `p` points to with their byte offsets and sizes, when a
/// variable's declared type describes exactly those bytes (a struct of floats beside pointers
/// copied whole); `None` for a part with an enum (its variants overlap) or of another size.
pub fn pointee_layout(m: LLVMModuleRef, p: Value, size: u64) -> Option<Vec<(u64, u64, Type)>> {
    let (base, off) = base_and_offset(m, p);
    let part = strip(memory_part(m, base, off, Some(size), 0)?)?;
    if part.size_bits() != size * 8 {
        return None;
    }
    let mut out = Vec::new();
    layout(m, part, 0, &mut out, 0)?;
    Some(out)
}

/// The scalars of `t` placed at byte offset `at`.
fn layout(m: LLVMModuleRef, t: DiNode, at: u64, out: &mut Vec<(u64, u64, Type)>, depth: u32) -> Option<()> {
    if depth > 24 || out.len() > 4096 {
        return None;
    }
    let t = strip(t)?;
    match t.tag() {
        tag::STRUCTURE | tag::UNION => {
            if t.tag() == tag::UNION || t.members().iter().any(|m| m.tag() == tag::VARIANT_PART) {
                return None;
            }
            for mem in t.members() {
                if mem.tag() == tag::MEMBER && mem.size_bits() > 0 {
                    if mem.offset_bits() % 8 != 0 {
                        return None;
                    }
                    layout(m, mem.base_type()?, at + mem.offset_bits() / 8, out, depth + 1)?;
                }
            }
        }
        tag::ARRAY => {
            let elem = strip(t.base_type()?)?;
            let es = elem.size_bits() / 8;
            if es == 0 {
                return Some(());
            }
            // An array of bytes is raw storage that may hold anything.
            if es == 1 && t.size_bits() > 8 {
                return None;
            }
            for i in 0..(t.size_bits() / 8) / es {
                layout(m, elem, at + i * es, out, depth + 1)?;
            }
        }
        _ => {
            let mut l = Vec::new();
            leaves(m, t, &mut l, depth + 1)?;
            let bytes = t.size_bits() / 8;
            match l[..] {
                [] => {}
                [ty] if bytes > 0 => out.push((at, bytes, ty)),
                _ => return None,
            }
        }
    }
    Some(())
}

/// The declared type of the part at `base + off`; where no variable describes `base`, the bytes' type is
/// asked of where they were copied from (a temporary slot filled by `memcpy` from a variable,
/// as dev builds move values).
fn memory_part(m: LLVMModuleRef, base: Value, off: Option<i64>, size: Option<u64>, depth: u32) -> Option<DiNode> {
    if let Some(l) = declared_part(base, off, size) {
        return Some(l);
    }
    if depth >= 8 || !(base.is_instruction() && base.opcode() == Opcode::LLVMAlloca) {
        return None;
    }
    let (off, size) = (off?, size? as i64);
    for (dst, d) in std::iter::once((base, 0)).chain(base.users().into_iter().filter_map(|u| {
        (u.is_instruction() && u.opcode() == Opcode::LLVMGetElementPtr && u.operand(0) == base)
            .then(|| base_and_offset(m, u))
            .and_then(|(b, o)| (b == base).then_some((u, o?)))
    })) {
        for c in dst.users() {
            if !(c.is_instruction() && c.opcode() == Opcode::LLVMCall && c.operand(0) == dst && crate::calls::is_memory_copy(c)) {
                continue;
            }
            let Some(n) = c.operand(2).const_int_value() else { continue };
            if d <= off && off + size <= d + n as i64 {
                let (src, so) = base_and_offset(m, c.operand(1));
                if let Some(l) = memory_part(m, src, so.map(|so| so + off - d), Some(size as u64), depth + 1) {
                    return Some(l);
                }
            }
        }
    }
    None
}

/// The part at `base + off` of the declared type of the variable `base` comes from.
fn declared_part(base: Value, off: Option<i64>, size: Option<u64>) -> Option<DiNode> {
    let (pointee, whole) = declared_pointee(base)?;
    let size_bits = size.map(|s| s as i64 * 8);
    let part = match off {
        Some(off) => {
            let t = strip(pointee)?;
            let tb = t.size_bits() as i64;
            let bits = off * 8;
            // A variable's own slot is only read inside it; a pointer to elements may be advanced
            // over whole elements (`ptr.add(i)`).
            let bits = if whole {
                if bits < 0 || (tb > 0 && bits >= tb) {
                    return None;
                }
                bits
            } else if tb > 0 {
                bits.rem_euclid(tb)
            } else {
                bits
            };
            narrow(t, bits, size_bits)?
        }
        // An unknown offset into the memory: any of its parts.
        None => pointee,
    };
    Some(part)
}

/// The smallest part of `t` that holds the bits `[bits, bits + size)` (to the end of the part
/// that starts there when `size` is unknown); `t` itself when the span crosses its parts.
fn narrow(t: DiNode, bits: i64, size: Option<i64>) -> Option<DiNode> {
    let t = strip(t)?;
    let tb = t.size_bits() as i64;
    if bits == 0 && size.is_none_or(|s| s >= tb) {
        return Some(t);
    }
    let fits = |o: i64, s: i64| o <= bits && bits + size.unwrap_or(s - (bits - o)) <= o + s && bits < o + s.max(1);
    match t.tag() {
        tag::STRUCTURE | tag::UNION => {
            if t.members().iter().any(|m| m.tag() == tag::VARIANT_PART) {
                return Some(t);
            }
            for mem in t.members() {
                if mem.tag() != tag::MEMBER {
                    continue;
                }
                let (o, s) = (mem.offset_bits() as i64, mem.size_bits() as i64);
                if s > 0 && fits(o, s) {
                    return narrow(mem.base_type()?, bits - o, size);
                }
            }
            Some(t)
        }
        tag::ARRAY => {
            let elem = strip(t.base_type()?)?;
            let es = elem.size_bits() as i64;
            if es > 0 && fits(bits - bits.rem_euclid(es), es) {
                narrow(elem, bits.rem_euclid(es), size)
            } else {
                Some(t)
            }
        }
        _ => Some(t),
    }
}

/// The declared type of what `base` points to, and whether `base` is the address of a variable
/// itself (rather than a pointer to elements, which may be advanced).
fn declared_pointee(base: Value) -> Option<(DiNode, bool)> {
    // The address a variable lives at (`#dbg_declare`, rustc's way in dev builds, a by-reference
    // parameter included).
    if let Some(t) = variable_at(base) {
        return Some((t, true));
    }
    // A function's `sret` parameter, or a slot passed as a callee's: the declared return type.
    if let Some(t) = returned_into(base) {
        return Some((t, true));
    }
    // The pointer itself described (`#dbg_value`), or a slot it is stored to (a parameter
    // spilled in dev builds), or a slot it is loaded from.
    if let Some(t) = variable_type(base) {
        return pointee_of(t).map(|t| (t, false));
    }
    if base.is_argument() || base.is_instruction() {
        for u in base.users() {
            if u.is_instruction() && u.opcode() == Opcode::LLVMStore && u.operand(0) == base {
                if let Some(t) = slot_part(u.operand(1)) {
                    return pointee_of(t).map(|t| (t, false));
                }
            }
        }
    }
    if base.is_instruction() && base.opcode() == Opcode::LLVMLoad {
        return pointee_of(slot_part(base.operand(0))?).map(|t| (t, false));
    }
    None
}

/// The declared type of the part of a variable's slot that `at` points to (`slot + k`).
fn slot_part(at: Value) -> Option<DiNode> {
    let f = if at.is_instruction() { at.parent_block().parent() } else if at.is_argument() { at.parent_function() } else { return None };
    let (slot, off) = base_and_offset(f.global_parent(), at);
    let off = off?;
    let t = variable_at(slot)?;
    part_at(t, off * 8)
}

/// The instructions of the function `v` belongs to.
fn function_instructions(v: Value) -> Option<Vec<Value>> {
    let f = if v.is_argument() {
        v.parent_function()
    } else if v.is_instruction() {
        v.parent_block().parent()
    } else {
        return None;
    };
    Some(f.blocks().into_iter().flat_map(|b| b.instructions()).collect())
}

/// The type of the variable whose value `v` is (`#dbg_value(v, var, !DIExpression())`).
fn variable_type(v: Value) -> Option<DiNode> {
    recorded_variable(v, false)
}

/// The declared return type of the function whose result is written to `v`: `v` is its `sret`
/// parameter, or a slot the current function passes as a callee's `sret` argument.
fn returned_into(v: Value) -> Option<DiNode> {
    if v.is_argument() {
        let f = v.parent_function();
        let i = f.params().iter().position(|&q| q == v)?;
        return if f.param_has_attribute(i as u32, "sret") { f.subprogram()?.return_type() } else { None };
    }
    if !(v.is_instruction() && v.opcode() == Opcode::LLVMAlloca) {
        return None;
    }
    v.users().into_iter().find_map(|u| {
        if !(u.is_instruction() && matches!(u.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke)) {
            return None;
        }
        let callee = u.called_function()?;
        let i = u.call_args().iter().position(|&a| a == v)?;
        if callee.is_declaration() || !callee.param_has_attribute(i as u32, "sret") {
            return None;
        }
        callee.subprogram()?.return_type()
    })
}

/// The type of the variable that lives whole at the address `v` (`#dbg_declare(ptr v, var,
/// !DIExpression())`).
fn variable_at(v: Value) -> Option<DiNode> {
    recorded_variable(v, true)
}

/// The type of the variable a record of `v`'s function with an empty expression describes `v`
/// as: its address (`declare`) or its value.
fn recorded_variable(v: Value, declare: bool) -> Option<DiNode> {
    function_instructions(v)?
        .into_iter()
        .flat_map(|i| i.debug_records())
        .find(|r| r.value == v && r.declare == declare && r.plain())
        .and_then(|r| r.variable.variable_type())
}

/// `t` without typedefs and qualifiers.
fn strip(mut t: DiNode) -> Option<DiNode> {
    for _ in 0..32 {
        match t.tag() {
            tag::TYPEDEF | tag::CONST | tag::VOLATILE | tag::MEMBER => t = t.base_type()?,
            _ => return Some(t),
        }
    }
    None
}

/// The pointer-like part of `t` at bit offset `bits` (a fat pointer's data half).
fn part_at(t: DiNode, bits: i64) -> Option<DiNode> {
    let t = strip(t)?;
    match t.tag() {
        tag::POINTER | tag::REFERENCE if bits == 0 => Some(t),
        tag::STRUCTURE | tag::UNION => {
            for mem in t.members() {
                if mem.tag() != tag::MEMBER {
                    continue;
                }
                let (o, s) = (mem.offset_bits() as i64, mem.size_bits() as i64);
                if o <= bits && bits < o + s.max(1) {
                    if let Some(p) = part_at(mem.base_type()?, bits - o) {
                        return Some(p);
                    }
                }
            }
            None
        }
        _ => None,
    }
}

/// What a pointer-like type points to: through references, raw pointers, slices' `data_ptr`
/// and single-pointer wrappers (`NonNull`, `Unique`, `&[T]`).
fn pointee_of(t: DiNode) -> Option<DiNode> {
    let t = strip(t)?;
    match t.tag() {
        tag::POINTER | tag::REFERENCE => t.base_type(),
        tag::STRUCTURE => {
            let members: Vec<DiNode> = t.members().into_iter().filter(|m| m.tag() == tag::MEMBER && m.size_bits() > 0).collect();
            let data = members.iter().find(|m| m.string_operand(2).as_deref() == Some("data_ptr")).or(match &members[..] {
                [only] => Some(only),
                _ => None,
            })?;
            pointee_of(data.base_type()?)
        }
        _ => None,
    }
}

/// The scalar leaves of the declared type `t`; `None` for a part that cannot be read.
fn leaves(m: LLVMModuleRef, t: DiNode, out: &mut Vec<Type>, depth: u32) -> Option<()> {
    if depth > 24 || out.len() > 4096 {
        return None;
    }
    let ctx = oxidase_llvm::module::context_of(m);
    let t = strip(t)?;
    match t.tag() {
        tag::BASE => {
            let bits = t.size_bits();
            let ty = match (t.type_name().as_str(), bits) {
                (_, 0) => return Some(()),
                ("f64", _) => Type::f64(ctx),
                ("f32", _) => Type::f32(ctx),
                (name, _) if name.starts_with('f') && name[1..].chars().all(|c| c.is_ascii_digit()) => return None,
                (_, b) => Type::int(ctx, b as u32),
            };
            push(out, ty);
        }
        tag::POINTER | tag::REFERENCE | tag::SUBROUTINE => push(out, Type::ptr(ctx)),
        tag::ENUMERATION => push(out, Type::int(ctx, t.size_bits().max(8) as u32)),
        tag::ARRAY => {
            if t.size_bits() > 0 {
                leaves(m, t.base_type()?, out, depth + 1)?;
            }
        }
        tag::STRUCTURE | tag::UNION => {
            for mem in t.members() {
                match mem.tag() {
                    tag::MEMBER => leaves(m, mem.base_type()?, out, depth + 1)?,
                    // An enum: what any of its variants holds, and its tag (a niche is a field
                    // of a variant already).
                    tag::VARIANT_PART => {
                        if let Some(d) = mem.discriminator() {
                            leaves(m, d.base_type()?, out, depth + 1)?;
                        }
                        for v in mem.members() {
                            if v.tag() == tag::MEMBER {
                                leaves(m, v.base_type()?, out, depth + 1)?;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => return None,
    }
    Some(())
}

fn push(out: &mut Vec<Type>, t: Type) {
    if !out.contains(&t) {
        out.push(t);
    }
}
