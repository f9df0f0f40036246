//! Bitcode in and out, and module linking (the link-time route works on rustc's bitcode).

use crate::ir::Value;
use crate::module::{Context, OwnedModule};
use crate::cstring;
use llvm_sys::core::*;
use llvm_sys::prelude::*;

impl Context {
    /// Parses a bitcode file image (plain or wrapped) into a module of this context.
    pub fn parse_bitcode(&self, bytes: &[u8], name: &str) -> Result<OwnedModule, String> {
        unsafe {
            let cname = cstring(name);
            let buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(bytes.as_ptr() as *const _, bytes.len(), cname.as_ptr());
            let mut m = std::ptr::null_mut();
            // LLVMParseBitcodeInContext2 does not take ownership of the buffer; errors go to the
            // context's diagnostic handler, so the message here is generic.
            let failed = llvm_sys::bit_reader::LLVMParseBitcodeInContext2(self.raw(), buf, &mut m) != 0;
            LLVMDisposeMemoryBuffer(buf);
            if failed {
                return Err(format!("`{name}` is not valid LLVM bitcode for this LLVM"));
            }
            Ok(OwnedModule::from_raw(m))
        }
    }
}

/// Whether a file image is LLVM bitcode (raw `BC\xC0\xDE` or the wrapper header `0x0B17C0DE`).
pub fn is_bitcode(bytes: &[u8]) -> bool {
    bytes.starts_with(b"BC\xC0\xDE") || bytes.starts_with(&[0xDE, 0xC0, 0x17, 0x0B])
}

/// Links `src` into `dst` (`src` is consumed, as LLVMLinkModules2 does).
pub fn link_into(dst: LLVMModuleRef, src: OwnedModule) -> Result<(), String> {
    let failed = unsafe { llvm_sys::linker::LLVMLinkModules2(dst, src.into_raw()) } != 0;
    if failed {
        Err("linking bitcode modules failed (see the messages above)".into())
    } else {
        Ok(())
    }
}

/// Writes `m` as a bitcode file.
pub fn write_bitcode(m: LLVMModuleRef, path: &std::path::Path) -> Result<(), String> {
    let p = cstring(&path.to_string_lossy());
    let rc = unsafe { llvm_sys::bit_writer::LLVMWriteBitcodeToFile(m, p.as_ptr()) };
    if rc != 0 {
        Err(format!("cannot write bitcode to {}", path.display()))
    } else {
        Ok(())
    }
}

impl Value {
    /// The bytes of a constant data array (`c"..."`), e.g. a global's initializer.
    pub fn const_bytes(self) -> Option<Vec<u8>> {
        unsafe {
            if llvm_sys::core::LLVMIsAConstantDataSequential(self.0).is_null() {
                return None;
            }
            let mut len = 0usize;
            let p = LLVMGetAsString(self.0, &mut len);
            (!p.is_null()).then(|| std::slice::from_raw_parts(p as *const u8, len).to_vec())
        }
    }
}
