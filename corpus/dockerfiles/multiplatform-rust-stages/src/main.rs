fn main() {
    println!("cfgcheck ok");
}
