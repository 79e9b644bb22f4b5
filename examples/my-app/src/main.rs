//! The binary: the `jobs` command line, named `my-app`, over the jobs of this package's
//! library.

fn main() -> std::process::ExitCode {
    jobs_core::cli::main!(my_app)
}
