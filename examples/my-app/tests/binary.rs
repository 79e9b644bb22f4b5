//! The binary `my-app`, run as its users run it: its messages name it, suggest only the
//! commands it has, and exit with the documented codes.

use std::path::Path;
use std::process::{Command, Output};

/// `my-app --store STORE args...`.
fn my_app(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_my-app"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("JOBS_STORE")
        .output()
        .expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn messages_name_my_app_and_bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("app.redb");

    let missing = my_app(&store, &["run", "UsernameLengths", "--param", "min_len=3"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing),
        format!(
            "error: the store {} does not exist; create it with `my-app import KIND FILE`, or pass the --store of an \
             existing one\n",
            store.display()
        ),
        "no `seed`: my-app has no seeder"
    );
    assert!(!store.exists(), "a missing store is not created");

    let no_file = my_app(&store, &["import", "UserSettingsModel", "no-such-file.jsonl"]);
    assert_eq!(no_file.status.code(), Some(2), "{}", stderr(&no_file));

    let users = dir.path().join("users.jsonl");
    std::fs::write(&users, "{\"user_id\":\"u1\",\"username\":\"ann\"}\n").unwrap();
    let imported = my_app(&store, &["import", "UserSettingsModel", users.to_str().unwrap()]);
    assert_eq!(imported.status.code(), Some(0), "{}", stderr(&imported));

    let unknown = my_app(&store, &["run", "UsernameLength"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("`my-app list` shows them all"), "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("UsernameLengths"), "the closest name is suggested: {}", stderr(&unknown));

    let no_param = my_app(&store, &["run", "UsernameLengths"]);
    assert_eq!(no_param.status.code(), Some(2));
    assert!(stderr(&no_param).contains("`my-app list` shows each job's parameters"), "{}", stderr(&no_param));

    let seed = my_app(&store, &["seed"]);
    assert_eq!(seed.status.code(), Some(2), "{}", stderr(&seed));
    assert!(stderr(&seed).contains("my-app"), "{}", stderr(&seed));

    let version = my_app(&store, &["--version"]);
    assert_eq!(String::from_utf8_lossy(&version.stdout), "my-app 0.1.0\n");
}
