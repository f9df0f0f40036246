//! Loads the built `liboxidase_enzyme.so` the way rustc loads `libEnzyme-22.so` (by symbol
//! name, with libloading) and checks every symbol rustc resolves is there and behaves.
use std::ffi::{c_char, c_void, CStr};
use std::path::PathBuf;

use libloading::{Library, Symbol};

/// Every symbol rustc resolves (NIGHTLY-BACKEND.md).
const SYMBOLS: &[&str] = &[
    "EnzymeNewTypeTree",
    "EnzymeNewTypeTreeCT",
    "EnzymeNewTypeTreeTR",
    "EnzymeFreeTypeTree",
    "EnzymeMergeTypeTree",
    "EnzymeTypeTreeOnlyEq",
    "EnzymeTypeTreeData0Eq",
    "EnzymeTypeTreeShiftIndiciesEq",
    "EnzymeTypeTreeInsertEq",
    "EnzymeTypeTreeToString",
    "EnzymeTypeTreeToStringFree",
    "EnzymeSetCLBool",
    "EnzymeSetCLString",
    "registerEnzymeAndPassPipeline",
    "EnzymePrintPerf",
    "EnzymePrintActivity",
    "EnzymePrintType",
    "EnzymeFunctionToAnalyze",
    "EnzymePrint",
    "EnzymeStrictAliasing",
    "EnzymeInline",
    "EnzymeMaxTypeDepth",
    "RustTypeRules",
    "looseTypeAnalysis",
];

/// The cdylib cargo built alongside this test: `target/<profile>/deps/liboxidase_enzyme.so`
/// (`cargo test` builds it there without copying it up to `target/<profile>/`).
fn cdylib() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps, deps.parent().unwrap()]
        .iter()
        .map(|dir| dir.join("liboxidase_enzyme.so"))
        .find(|p| p.exists())
        .unwrap_or_else(|| deps.join("liboxidase_enzyme.so"))
}

#[test]
fn cdylib_exports_what_rustc_resolves() {
    let path = cdylib();
    assert!(path.exists(), "{} not built", path.display());
    // SAFETY: our own library; its initialisers are Rust statics only.
    let lib = unsafe { Library::new(&path) }.unwrap();
    unsafe {
        for name in SYMBOLS {
            lib.get::<*mut c_void>(name.as_bytes())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        // A `Symbol<*mut c_void>` derefs to the symbol's address.
        let addr =
            |name: &str| -> *mut c_void { *lib.get::<*mut c_void>(name.as_bytes()).unwrap() };
        // rustc reads the depth as a u32.
        assert_eq!(*(addr("EnzymeMaxTypeDepth") as *const u32), 6);

        // What every rustc process does at start-up, plus -Zautodiff=PrintTA.
        let set_bool: Symbol<unsafe extern "C" fn(*mut c_void, u8)> =
            lib.get(b"EnzymeSetCLBool").unwrap();
        let set_string: Symbol<unsafe extern "C" fn(*mut c_void, *const c_char)> =
            lib.get(b"EnzymeSetCLString").unwrap();
        set_bool(addr("EnzymeStrictAliasing"), 0);
        set_bool(addr("RustTypeRules"), 1);
        set_bool(addr("EnzymePrintType"), 1);
        set_string(addr("EnzymeFunctionToAnalyze"), c"sq".as_ptr());
        assert_eq!(*(addr("RustTypeRules") as *const u8), 1);
        assert_eq!(*(addr("EnzymePrintType") as *const u8), 1);
        assert_eq!(*(addr("EnzymeStrictAliasing") as *const u8), 0);

        type Tt = *mut c_void;
        let new_ct: Symbol<unsafe extern "C" fn(u32, *mut c_void) -> Tt> =
            lib.get(b"EnzymeNewTypeTreeCT").unwrap();
        let only: Symbol<unsafe extern "C" fn(Tt, i64)> = lib.get(b"EnzymeTypeTreeOnlyEq").unwrap();
        let to_string: Symbol<unsafe extern "C" fn(Tt) -> *const c_char> =
            lib.get(b"EnzymeTypeTreeToString").unwrap();
        let free_string: Symbol<unsafe extern "C" fn(*const c_char)> =
            lib.get(b"EnzymeTypeTreeToStringFree").unwrap();
        let free: Symbol<unsafe extern "C" fn(Tt)> = lib.get(b"EnzymeFreeTypeTree").unwrap();
        let tt = new_ct(4, std::ptr::null_mut());
        only(tt, -1);
        let s = to_string(tt);
        assert_eq!(CStr::from_ptr(s).to_str().unwrap(), "{[-1]:Float@float}");
        free_string(s);
        free(tt);
    }
}
