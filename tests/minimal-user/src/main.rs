//! The whole binary of an application: the `jobs` command line, named after this binary, over
//! the jobs of this package's library.

fn main() -> std::process::ExitCode {
    jobs_core::cli::main!(jobs_minimal_user)
}
