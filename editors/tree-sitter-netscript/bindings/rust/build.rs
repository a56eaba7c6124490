//! Compiles the committed generated parser (src/parser.c; `tree-sitter generate` writes
//! it from grammar.js, a maintainer's step: see editors/README.md).
fn main() {
    let src = std::path::Path::new("src");
    cc::Build::new()
        .std("c11")
        .include(src)
        .file(src.join("parser.c"))
        // generated code: its warnings are not ours to fix
        .warnings(false)
        .compile("tree-sitter-netscript");
    println!("cargo:rerun-if-changed=src/parser.c");
    println!("cargo:rerun-if-changed=src/tree_sitter/parser.h");
}
