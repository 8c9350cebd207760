fn main() {
    println!("chaos-runner: not built yet");
}
