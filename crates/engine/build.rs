// Test binaries of this crate load libLLVM from the nightly toolchain: give them its rpath.
fn main() {
    if let Ok(dir) = std::env::var("DEP_OXIDASE_LLVM_LIBDIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
