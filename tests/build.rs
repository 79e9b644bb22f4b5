//! Decides, when the tests are built, which of them can run here, so that libtest reports
//! the others as `ignored` with the reason instead of `ok` (see `testing::postgres_server`).
//! Nothing here affects the library itself.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=JOBS_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rustc-check-cfg=cfg(jobs_no_test_postgres)");
    // Under CI nothing is skipped: a test whose server is missing fails there.
    let ci = std::env::var_os("CI").is_some();
    if !ci && std::env::var_os("JOBS_TEST_POSTGRES_URL").is_none() {
        println!("cargo::rustc-cfg=jobs_no_test_postgres");
    }
}
