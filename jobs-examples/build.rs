//! Decides, when the tests are built, which of them can run here, so that libtest reports
//! the others as `ignored` with the reason instead of `ok`. Nothing here affects the
//! binaries.
//!
//! * `jobs_no_test_postgres`: neither `JOBS_TEST_POSTGRES_URL` nor `CI` is set (see
//!   `jobs_core::testing::postgres_server`).
//! * `jobs_no_test_browser`: Chromium or chromedriver is missing and `CI` is not set (see
//!   `tests/web_browser/main.rs`).
//! * `jobs_no_test_netns`: network namespaces cannot be made here (not root, or no `ip`
//!   command) and `CI` is not set (see `tests/cluster_netns.rs`).
//!
//! Under `CI` nothing is ignored: a test whose server or browser is missing fails there.

use std::path::Path;

const BROWSER: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromedriver"];
/// Where iproute2's `ip` may be.
const IP: [&str; 3] = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=JOBS_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rustc-check-cfg=cfg(jobs_no_test_postgres)");
    println!("cargo::rustc-check-cfg=cfg(jobs_no_test_browser)");
    println!("cargo::rustc-check-cfg=cfg(jobs_no_test_netns)");
    let ci = std::env::var_os("CI").is_some();
    if !ci && std::env::var_os("JOBS_TEST_POSTGRES_URL").is_none() {
        println!("cargo::rustc-cfg=jobs_no_test_postgres");
    }
    // Installed or removed later, they are seen at the next build: cargo reruns this script
    // when a file named here changes, or anything in a directory named here. (A missing file
    // named here would make it rerun the script, and rebuild the crate, every time.)
    let browser = BROWSER.iter().all(|path| Path::new(path).exists());
    for path in BROWSER.map(Path::new) {
        let watched = if path.exists() { Some(path) } else { path.parent().filter(|dir| dir.is_dir()) };
        if let Some(watched) = watched {
            println!("cargo::rerun-if-changed={}", watched.display());
        }
    }
    if !browser && !ci {
        println!("cargo::rustc-cfg=jobs_no_test_browser");
    }
    let netns = is_root() && IP.iter().any(|path| Path::new(path).exists());
    if !ci && !netns {
        println!("cargo::rustc-cfg=jobs_no_test_netns");
    }
}

/// Whether the build runs as root (uid 0), as making network namespaces needs.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .any(|line| line.strip_prefix("Uid:").is_some_and(|ids| ids.split_whitespace().next() == Some("0")))
    })
}
