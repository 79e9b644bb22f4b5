//! Decides, when the tests are built, which of them can run here, so that libtest reports
//! the others as `ignored` with the reason instead of `ok` (see `testing::postgres_server`).
//! Nothing here affects the library itself.
//!
//! * `jobs_no_test_postgres`: neither `JOBS_TEST_POSTGRES_URL` nor `CI` is set.
//! * `jobs_no_test_postgres_tls`: PostgreSQL's server binaries or `openssl` are missing and
//!   `CI` is not set (`tests/postgres_tls.rs` starts a server of its own).

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=JOBS_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rustc-check-cfg=cfg(jobs_no_test_postgres)");
    println!("cargo::rustc-check-cfg=cfg(jobs_no_test_postgres_tls)");
    // Under CI nothing is skipped: a test whose server is missing fails there.
    let ci = std::env::var_os("CI").is_some();
    if !ci && std::env::var_os("JOBS_TEST_POSTGRES_URL").is_none() {
        println!("cargo::rustc-cfg=jobs_no_test_postgres");
    }
    // `tests/postgres_tls.rs` starts a server of its own: it needs PostgreSQL's server
    // binaries and the openssl command.
    let initdb = std::fs::read_dir("/usr/lib/postgresql")
        .is_ok_and(|versions| versions.flatten().any(|version| version.path().join("bin/initdb").exists()));
    let openssl = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("openssl").exists()));
    let can_start_a_server = initdb && openssl;
    if !ci && !can_start_a_server {
        println!("cargo::rustc-cfg=jobs_no_test_postgres_tls");
    }
}
