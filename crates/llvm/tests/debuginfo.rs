//! Reading rustc-shaped debug information: a variable's name and type, and the shape of its type.
use oxidase_llvm::debuginfo::tag;
use oxidase_llvm::module::{self, Context};

/// The module flags, compile unit and file every test module's debug information refers to
/// (`!0`–`!3`).
const PREAMBLE: &str = r#"
!llvm.module.flags = !{!0, !1}
!llvm.dbg.cu = !{!2}
!0 = !{i32 7, !"Dwarf Version", i32 4}
!1 = !{i32 2, !"Debug Info Version", i32 3}
!2 = distinct !DICompileUnit(language: DW_LANG_Rust, file: !3, producer: "rustc", isOptimized: false, runtimeVersion: 0, emissionKind: FullDebug)
!3 = !DIFile(filename: "src/main.rs", directory: "/tmp")
"#;

const IR: &str = r#"
define double @f(ptr %x.0, i64 %x.1) !dbg !5 {
  %slot = alloca [16 x i8], align 8
    #dbg_declare(ptr %slot, !10, !DIExpression(), !20)
  store ptr %x.0, ptr %slot, align 8
  %v = load double, ptr %x.0, align 8
  ret double %v
}
!5 = distinct !DISubprogram(name: "f", scope: !3, file: !3, line: 1, type: !6, spFlags: DISPFlagDefinition, unit: !2)
!6 = !DISubroutineType(types: !7)
!7 = !{}
!10 = !DILocalVariable(name: "x", arg: 1, scope: !5, file: !3, line: 1, type: !11)
!11 = !DICompositeType(tag: DW_TAG_structure_type, name: "&[f64]", file: !3, size: 128, align: 64, elements: !12, identifier: "slice")
!12 = !{!13, !15}
!13 = !DIDerivedType(tag: DW_TAG_member, name: "data_ptr", scope: !11, file: !3, baseType: !14, size: 64, align: 64)
!14 = !DIDerivedType(tag: DW_TAG_pointer_type, name: "*const f64", baseType: !16, size: 64, align: 64, dwarfAddressSpace: 0)
!15 = !DIDerivedType(tag: DW_TAG_member, name: "length", scope: !11, file: !3, baseType: !17, size: 64, align: 64, offset: 64)
!16 = !DIBasicType(name: "f64", size: 64, encoding: DW_ATE_float)
!17 = !DIBasicType(name: "usize", size: 64, encoding: DW_ATE_unsigned)
!20 = !DILocation(line: 1, column: 1, scope: !5)
"#;

#[test]
fn a_variable_and_the_shape_of_its_type() {
    let ctx = Context::new();
    let owned = ctx.parse_ir(&format!("{IR}{PREAMBLE}"), "t").unwrap();
    let f = module::get_function(owned.raw(), "f").unwrap();
    let vars: Vec<_> = f.blocks().into_iter().flat_map(|b| b.instructions()).flat_map(|i| i.debug_variables()).collect();
    assert_eq!(vars.len(), 1);
    let (slot, var) = vars[0];
    assert!(slot.is_instruction());
    assert_eq!(var.variable_name().as_deref(), Some("x"));
    let ty = var.variable_type().unwrap();
    assert_eq!(ty.tag(), tag::STRUCTURE);
    assert_eq!(ty.type_name(), "&[f64]");
    let members = ty.members();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0].tag(), tag::MEMBER);
    assert_eq!(members[1].offset_bits(), 64);
    let ptr = members[0].base_type().unwrap();
    assert_eq!(ptr.tag(), tag::POINTER);
    let elem = ptr.base_type().unwrap();
    assert_eq!((elem.tag(), elem.type_name().as_str(), elem.size_bits()), (tag::BASE, "f64", 64));
}

/// `Option<f64>` as rustc describes it: a variant part whose variants hold the payload, and a
/// separate discriminator member (the tag); a `#dbg_declare` with and without an expression.
const ENUM_IR: &str = r#"
define void @g(ptr %o, ptr %p) !dbg !5 {
    #dbg_declare(ptr %o, !10, !DIExpression(), !20)
    #dbg_declare(ptr %p, !10, !DIExpression(DW_OP_deref), !20)
  ret void
}
define void @h(ptr sret([16 x i8]) %r) !dbg !40 {
  ret void
}
!5 = distinct !DISubprogram(name: "g", scope: !3, file: !3, line: 1, type: !6, spFlags: DISPFlagDefinition, unit: !2)
!6 = !DISubroutineType(types: !7)
!7 = !{}
!10 = !DILocalVariable(name: "o", arg: 1, scope: !5, file: !3, line: 1, type: !11)
!11 = !DICompositeType(tag: DW_TAG_structure_type, name: "Option<f64>", file: !3, size: 128, align: 64, elements: !12, identifier: "opt")
!12 = !{!13}
!13 = !DICompositeType(tag: DW_TAG_variant_part, scope: !11, file: !3, size: 128, align: 64, elements: !14, identifier: "optv", discriminator: !30)
!14 = !{!15, !16}
!15 = !DIDerivedType(tag: DW_TAG_member, name: "None", scope: !13, file: !3, baseType: !17, size: 128, align: 64, extraData: i64 0)
!16 = !DIDerivedType(tag: DW_TAG_member, name: "Some", scope: !13, file: !3, baseType: !18, size: 128, align: 64, extraData: i64 1)
!17 = !DICompositeType(tag: DW_TAG_structure_type, name: "None", scope: !11, file: !3, size: 128, align: 64, elements: !7, identifier: "none")
!18 = !DICompositeType(tag: DW_TAG_structure_type, name: "Some", scope: !11, file: !3, size: 128, align: 64, elements: !19, identifier: "some")
!19 = !{!21}
!21 = !DIDerivedType(tag: DW_TAG_member, name: "__0", scope: !18, file: !3, baseType: !22, size: 64, align: 64, offset: 64)
!22 = !DIBasicType(name: "f64", size: 64, encoding: DW_ATE_float)
!30 = !DIDerivedType(tag: DW_TAG_member, scope: !11, file: !3, baseType: !31, size: 64, align: 64, flags: DIFlagArtificial)
!31 = !DIBasicType(name: "u64", size: 64, encoding: DW_ATE_unsigned)
!20 = !DILocation(line: 1, column: 1, scope: !5)
!40 = distinct !DISubprogram(name: "h", scope: !3, file: !3, line: 2, type: !41, spFlags: DISPFlagDefinition, unit: !2)
!41 = !DISubroutineType(types: !42)
!42 = !{!11, !31}
"#;

#[test]
fn an_enum_and_the_kinds_of_records() {
    let ctx = Context::new();
    let owned = ctx.parse_ir(&format!("{ENUM_IR}{PREAMBLE}"), "t").unwrap();
    let f = module::get_function(owned.raw(), "g").unwrap();
    let records: Vec<_> = f.blocks().into_iter().flat_map(|b| b.instructions()).flat_map(|i| i.debug_records()).collect();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.declare));
    assert_eq!((records[0].value, records[0].plain()), (f.param(0), true));
    assert_eq!((records[1].value, records[1].plain()), (f.param(1), false));
    let ty = records[0].variable.variable_type().unwrap();
    let part = ty.members()[0];
    assert_eq!(part.tag(), tag::VARIANT_PART);
    let tag_member = part.discriminator().unwrap();
    assert_eq!(tag_member.base_type().unwrap().type_name(), "u64");
    let variants = part.members();
    assert_eq!(variants.len(), 2);
    let some = variants[1].base_type().unwrap();
    assert_eq!(some.members()[0].offset_bits(), 64);
    assert_eq!(some.members()[0].base_type().unwrap().type_name(), "f64");
    // The declared return type of a function (what its `sret` parameter points to).
    let h = module::get_function(owned.raw(), "h").unwrap();
    assert_eq!(h.subprogram().unwrap().return_type().unwrap().type_name(), "Option<f64>");
    assert!(f.subprogram().unwrap().return_type().is_none());
}
