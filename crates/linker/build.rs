// The wrapper loads the toolchain's libLLVM at run time: give it the rpath oxidase-llvm found.
fn main() {
    if let Ok(dir) = std::env::var("DEP_OXIDASE_LLVM_LIBDIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
