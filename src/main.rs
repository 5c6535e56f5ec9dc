fn main() -> std::process::ExitCode {
    presign_stack::cli::main()
}
