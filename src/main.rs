fn main() {
    println!("meterdesk");
}
