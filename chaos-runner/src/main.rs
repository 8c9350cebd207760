fn main() {
    std::process::exit(chaos_runner::main());
}
