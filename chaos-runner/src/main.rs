fn main() {
    std::process::exit(chaos_runner::cli::main());
}
