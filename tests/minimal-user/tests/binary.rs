//! The binary that `jobs_core::cli::main!` makes, run as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

/// This package's binary, with `--store STORE` and `args`.
fn app(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jobs-minimal-user"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("JOBS_STORE")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_one_line_main_lists_imports_and_runs_the_librarys_jobs_under_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("app.redb");

    let missing = app(&store, &["run", "UsernameLengths", "--param", "min_len=3"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        text(&missing.stderr),
        format!(
            "error: the store {} does not exist; create it with `jobs-minimal-user import KIND FILE`, or pass the \
             --store of an existing one\n",
            store.display()
        ),
        "named after the binary, and no `seed`: it has no seeder"
    );

    let users = dir.path().join("users.jsonl");
    std::fs::write(
        &users,
        "{\"user_id\":\"u1\",\"username\":\"ann\"}\n{\"user_id\":\"u2\",\"username\":\"bo\"}\n{\"user_id\":\"u3\",\"username\":null}\n",
    )
    .unwrap();
    let imported = app(&store, &["import", "UserSettingsModel", users.to_str().unwrap()]);
    assert_eq!(imported.status.code(), Some(0), "{}", text(&imported.stderr));

    let listed = app(&store, &["list"]);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    assert!(text(&listed.stdout).contains("UsernameLengths"), "{}", text(&listed.stdout));

    let ran = app(&store, &["run", "UsernameLengths", "--param", "min_len=3"]);
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran.stderr));
    assert_eq!(text(&ran.stdout), "[3,1]\n");

    let unknown = app(&store, &["run", "UsernameLength"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("`jobs-minimal-user list` shows them all"), "{}", text(&unknown.stderr));

    let version = app(&store, &["--version"]);
    assert_eq!(text(&version.stdout), format!("jobs-minimal-user {}\n", env!("CARGO_PKG_VERSION")));
}
