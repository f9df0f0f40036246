//! Compiles the C++ pass-registration glue (`cpp/pass_plugin.cpp`) and sets up linking.
//!
//! The glue is compiled against Debian's `llvm-22-dev` headers and linked only against the
//! nightly toolchain's own libLLVM (through `oxidase-llvm`), which already exports the
//! libstdc++ symbols and operator new/delete: libstdc++ is never linked here.
use std::path::Path;

const LLVM_INCLUDE: &str = "/usr/lib/llvm-22/include";

fn main() {
    println!("cargo:rerun-if-changed=cpp/pass_plugin.cpp");
    println!("cargo:rerun-if-changed=build.rs");

    let header = Path::new(LLVM_INCLUDE).join("llvm/Passes/PassBuilder.h");
    if !header.exists() {
        panic!(
            "oxidase-enzyme: LLVM 22 C++ headers not found ({} is missing).\n\
             Run `cargo xtask setup` (or `apt-get install llvm-22-dev`).",
            header.display()
        );
    }

    cc::Build::new()
        .cpp(true)
        // rustc's libLLVM re-exports libstdc++ and new/delete; a second libstdc++ is not wanted.
        .cpp_link_stdlib(None)
        .file("cpp/pass_plugin.cpp")
        .include(LLVM_INCLUDE)
        .flag("-std=c++17")
        // rustc's libLLVM exports no typeinfo and is built without exceptions.
        .flag("-fno-rtti")
        .flag("-fno-exceptions")
        .define("NDEBUG", None)
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .flag("-fPIC")
        // LLVM's headers are noisy under extra warnings; they are not ours to fix.
        .warnings(false)
        .extra_warnings(false)
        .compile("oxidase_pass_plugin");

    // Every symbol the glue uses must resolve against rustc's libLLVM at link time,
    // not at dlopen time inside rustc.
    println!("cargo:rustc-cdylib-link-arg=-Wl,--no-undefined");
    // Find rustc's libLLVM at load time (the cdylib outside rustc, and this crate's tests).
    if let Ok(dir) = std::env::var("DEP_OXIDASE_LLVM_LIBDIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
