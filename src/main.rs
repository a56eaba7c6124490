fn main() {
    // Run as a CNI plugin (docs/CNI.md) when invoked as one.
    if let Some(code) = netscript::cni::invoked() {
        std::process::exit(code);
    }
    std::process::exit(netscript::cli::main());
}
