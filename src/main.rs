fn main() {
    println!("netscript");
}
