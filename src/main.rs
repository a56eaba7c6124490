fn main() {
    std::process::exit(netscript::cli::main());
}
