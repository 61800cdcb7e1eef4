fn main() -> anyhow::Result<()> {
    println!("syncctl");
    Ok(())
}
