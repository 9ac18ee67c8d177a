//! The `cairn` binary.

fn main() -> std::process::ExitCode {
    cairn_node::main_with_args(std::env::args_os())
}
