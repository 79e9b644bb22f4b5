//! The compile-time checks on job definitions, as users meet them: every file in `tests/ui/`
//! is a mistake that must not compile, with the compiler's message reviewed in the `.stderr`
//! beside it; every file in `tests/ui/pass/` is an accepted form that must compile and run.
//!
//! The `.stderr` snapshots depend on the compiler version, pinned in `rust-toolchain.toml`.
//! After a deliberate change to a message, regenerate them with
//! `TRYBUILD=overwrite cargo test -p jobs-tests --test ui` and review the diff.

#[test]
fn job_definitions_are_checked_at_compile_time() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
    cases.pass("ui/pass/*.rs");
}
