//! Read access to debug-information metadata (`DILocalVariable`, `DIType`s): dev builds
//! describe every variable's Rust type, which the engine reads for names in messages and for
//! the types of untyped copies.

use llvm_sys::core::*;
use llvm_sys::debuginfo::*;
use llvm_sys::prelude::*;

/// A debug-information node (a variable or a type), valid while its module lives.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct DiNode {
    md: LLVMMetadataRef,
    ctx: LLVMContextRef,
}

/// DWARF tags of the type nodes rustc emits.
pub mod tag {
    pub const ARRAY: u16 = 0x01;
    pub const ENUMERATION: u16 = 0x04;
    pub const MEMBER: u16 = 0x0d;
    pub const POINTER: u16 = 0x0f;
    pub const REFERENCE: u16 = 0x10;
    pub const STRUCTURE: u16 = 0x13;
    pub const SUBROUTINE: u16 = 0x15;
    pub const TYPEDEF: u16 = 0x16;
    pub const UNION: u16 = 0x17;
    pub const BASE: u16 = 0x24;
    pub const CONST: u16 = 0x26;
    pub const VOLATILE: u16 = 0x35;
    pub const VARIANT_PART: u16 = 0x33;
}

impl DiNode {
    pub(crate) fn new(md: LLVMMetadataRef, ctx: LLVMContextRef) -> DiNode {
        DiNode { md, ctx }
    }

    /// The DWARF tag (see [`tag`]).
    pub fn tag(self) -> u16 {
        unsafe { LLVMGetDINodeTag(self.md) }
    }

    pub fn is_type(self) -> bool {
        use LLVMMetadataKind::*;
        matches!(
            unsafe { LLVMGetMetadataKind(self.md) },
            LLVMDIBasicTypeMetadataKind | LLVMDIDerivedTypeMetadataKind | LLVMDICompositeTypeMetadataKind | LLVMDISubroutineTypeMetadataKind
        )
    }

    /// Size in bits (types).
    pub fn size_bits(self) -> u64 {
        unsafe { LLVMDITypeGetSizeInBits(self.md) }
    }

    /// Offset in bits (members).
    pub fn offset_bits(self) -> u64 {
        unsafe { LLVMDITypeGetOffsetInBits(self.md) }
    }

    /// The type's name.
    pub fn type_name(self) -> String {
        unsafe {
            let mut len = 0usize;
            let p = LLVMDITypeGetName(self.md, &mut len);
            if p.is_null() {
                return String::new();
            }
            String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len)).into_owned()
        }
    }

    fn operand_values(self) -> Vec<LLVMValueRef> {
        unsafe {
            let node = LLVMMetadataAsValue(self.ctx, self.md);
            let n = LLVMGetMDNodeNumOperands(node);
            let mut ops = vec![std::ptr::null_mut(); n as usize];
            LLVMGetMDNodeOperands(node, ops.as_mut_ptr());
            ops
        }
    }

    /// Operand `i` as a node (`None` when absent or not a node).
    pub fn operand(self, i: usize) -> Option<DiNode> {
        let v = *self.operand_values().get(i)?;
        if v.is_null() {
            return None;
        }
        let md = unsafe { LLVMValueAsMetadata(v) };
        (!md.is_null()).then_some(DiNode { md, ctx: self.ctx })
    }

    /// Operand `i` as a string.
    pub fn string_operand(self, i: usize) -> Option<String> {
        let v = *self.operand_values().get(i)?;
        if v.is_null() {
            return None;
        }
        unsafe {
            let mut len = 0u32;
            let p = LLVMGetMDString(v, &mut len);
            if p.is_null() {
                return None;
            }
            Some(String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len as usize)).into_owned())
        }
    }

    /// The nodes of a tuple (a composite type's `elements`).
    pub fn tuple_elements(self) -> Vec<DiNode> {
        (0..self.operand_values().len()).filter_map(|i| self.operand(i)).collect()
    }

    /// A `DILocalVariable`'s name (operands: scope, name, file, type).
    pub fn variable_name(self) -> Option<String> {
        self.string_operand(1)
    }

    /// A `DILocalVariable`'s type.
    pub fn variable_type(self) -> Option<DiNode> {
        self.operand(3)
    }

    /// A derived type's base type (pointee, member type, typedef target) or an array's element
    /// type. LLVM 22's `DIType` operands: file, scope, name, size, offset, then base type.
    pub fn base_type(self) -> Option<DiNode> {
        self.operand(5)
    }

    /// A `DISubprogram`'s declared return type (`None` for `()` or without a type). The
    /// subprogram's operands: file, scope, name, linkage name, type; the subroutine type's
    /// types tuple (return type first) follows its `DIType` operands.
    pub fn return_type(self) -> Option<DiNode> {
        let ty = self.operand(4)?;
        let types = ty.operand(5)?;
        types.operand(0)
    }

    /// A variant part's discriminator: the member holding the enum's tag (or its niche). LLVM
    /// 22's `DICompositeType` operands after the elements: vtable holder, template parameters,
    /// identifier, discriminator.
    pub fn discriminator(self) -> Option<DiNode> {
        self.operand(10).filter(|d| d.tag() == tag::MEMBER)
    }

    /// A composite type's members (operand 6: the elements tuple).
    pub fn members(self) -> Vec<DiNode> {
        self.operand(6).map(|t| t.tuple_elements()).unwrap_or_default()
    }
}

/// A variable record of an instruction ([`crate::Value::debug_records`]).
#[derive(Clone, Copy, Debug)]
pub struct DebugRecord {
    /// The value the record describes: the variable's address (`#dbg_declare`) or its value.
    pub value: crate::Value,
    /// The `DILocalVariable`.
    pub variable: DiNode,
    /// `#dbg_declare`: `value` is the address the variable lives at.
    pub declare: bool,
    /// The record's `DIExpression`.
    pub(crate) expression: DiNode,
}

impl DebugRecord {
    /// The record's expression is empty (no `DW_OP_deref`, offset or fragment). The C API reads
    /// no expression's elements: the expression is printed alone (as a value without a module,
    /// which needs no slot numbering; printing the whole record numbers the module's metadata).
    pub fn plain(&self) -> bool {
        let e = self.expression;
        if e.md.is_null() {
            return false;
        }
        unsafe {
            let text = LLVMPrintValueToString(LLVMMetadataAsValue(e.ctx, e.md));
            if text.is_null() {
                return false;
            }
            let empty = std::ffi::CStr::from_ptr(text).to_string_lossy().ends_with("!DIExpression()");
            LLVMDisposeMessage(text);
            empty
        }
    }
}
