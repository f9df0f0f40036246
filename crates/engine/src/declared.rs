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

/// The scalar types (LLVM's) of the memory `p` points to, from the declared type of the
/// variable `p` comes from; `None` when no variable describes it or its type has parts that
/// cannot be read (an enum's variants).
pub fn pointee_leaves(m: LLVMModuleRef, p: Value) -> Option<Vec<Type>> {
    let (base, off) = base_and_offset(m, p);
    let pointee = declared_pointee(base)?;
    let mut out = Vec::new();
    leaves(m, pointee, &mut out, 0)?;
    // A pointer into the middle of an element (`off` not a multiple of it) still points at the
    // same kinds of scalars; the offset is not needed to say which kinds.
    let _ = off;
    (!out.is_empty()).then_some(out)
}

/// The declared type of what `base` points to.
fn declared_pointee(base: Value) -> Option<DiNode> {
    // The pointer itself described (`#dbg_value`), or a slot it is stored to (a parameter
    // spilled in dev builds), or a slot it is loaded from.
    if let Some(t) = variable_type(base) {
        return pointee_of(t);
    }
    if base.is_argument() || base.is_instruction() {
        for u in base.users() {
            if u.is_instruction() && u.opcode() == Opcode::LLVMStore && u.operand(0) == base {
                if let Some(t) = slot_part(u.operand(1)) {
                    return pointee_of(t);
                }
            }
        }
    }
    if base.is_instruction() && base.opcode() == Opcode::LLVMLoad {
        return pointee_of(slot_part(base.operand(0))?);
    }
    None
}

/// The declared type of the part of a variable's slot that `at` points to (`slot + k`).
fn slot_part(at: Value) -> Option<DiNode> {
    let f = if at.is_instruction() { at.parent_block().parent() } else if at.is_argument() { at.parent_function() } else { return None };
    let (slot, off) = base_and_offset(f.global_parent(), at);
    let off = off?;
    let t = variable_type(slot)?;
    part_at(t, off * 8)
}

/// The type of the variable a debug record describes `v` with.
fn variable_type(v: Value) -> Option<DiNode> {
    let f = if v.is_argument() {
        v.parent_function()
    } else if v.is_instruction() {
        v.parent_block().parent()
    } else {
        return None;
    };
    for b in f.blocks() {
        for i in b.instructions() {
            for (described, var) in i.debug_variables() {
                if described == v {
                    return var.variable_type();
                }
            }
        }
    }
    None
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
                    // An enum's variants: their payloads overlap in ways not read here.
                    tag::VARIANT_PART => return None,
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
