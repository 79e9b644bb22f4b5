//! docs/your-application.md is taken from this crate: every Rust block equals a part of the
//! file its `<!-- from PATH -->` marker names, its `Cargo.toml` block asks for the features
//! this crate uses, and its commands run, in order, against this crate's binary.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fenced block of the guide: its language, its text, and the `<!-- from PATH -->` marker
/// on the line before its fence, if any.
struct Block {
    lang: String,
    text: String,
    from: Option<String>,
}

fn blocks() -> Vec<Block> {
    let guide = std::fs::read_to_string(root().join("docs/your-application.md")).expect("the guide");
    let mut blocks = Vec::new();
    let mut lines = guide.lines();
    let mut previous = "";
    while let Some(line) = lines.next() {
        if let Some(lang) = line.strip_prefix("```") {
            let from =
                previous.strip_prefix("<!-- from ").and_then(|rest| rest.strip_suffix(" -->")).map(str::to_owned);
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            blocks.push(Block { lang: lang.to_owned(), text: body.join("\n") + "\n", from });
        }
        previous = line;
    }
    blocks
}

#[test]
fn every_rust_block_of_the_guide_is_part_of_this_crate() {
    let rust: Vec<Block> = blocks().into_iter().filter(|b| b.lang == "rust").collect();
    assert!(rust.len() >= 5, "models, a job, a migration, a test and the binary: {}", rust.len());
    for block in rust {
        let from = block.from.as_deref().unwrap_or_else(|| panic!("a Rust block without a marker:\n{}", block.text));
        let file = std::fs::read_to_string(root().join(from)).unwrap_or_else(|e| panic!("{from}: {e}"));
        assert!(file.contains(&block.text), "this block is not in {from} as it stands:\n{}", block.text);
    }
}

#[test]
fn the_guides_dependencies_are_the_ones_this_crate_builds_with() {
    let toml = blocks().into_iter().find(|b| b.lang == "toml").expect("a Cargo.toml block");
    assert!(toml.text.contains("jobs-core = { version = \"0.1\", features = [\"cli\", \"web\"] }"), "{}", toml.text);
    assert!(toml.text.contains("serde = { version = \"1\", features = [\"derive\"] }"), "{}", toml.text);
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    assert!(manifest.contains("jobs-core = { workspace = true, features = [\"cli\", \"web\"] }"), "{manifest}");
}

#[test]
fn the_guides_commands_run_against_this_crates_binary() {
    let all = blocks();
    let users = all.iter().find(|b| b.lang == "text" && b.text.contains("user_id")).expect("users.jsonl");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.jsonl"), &users.text).unwrap();
    let commands: Vec<Vec<String>> = all
        .iter()
        .filter(|b| b.lang == "sh")
        .flat_map(|b| b.text.lines())
        .filter_map(|line| line.strip_prefix("cargo run -- "))
        .map(|line| line.split('#').next().unwrap().split_whitespace().map(str::to_owned).collect())
        .collect();
    assert!(commands.len() >= 6, "{commands:?}");
    let binary = env!("CARGO_BIN_EXE_jobs-minimal-user");
    let mut outputs = Vec::new();
    for args in &commands {
        if args.iter().any(|a| a == "serve") {
            // Any free port, instead of the default one another process may hold.
            let mut child = Command::new(binary)
                .args(args)
                .args(["--bind", "127.0.0.1:0"])
                .current_dir(dir.path())
                .env_remove("JOBS_STORE")
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut first = String::new();
            BufReader::new(child.stderr.take().unwrap()).read_line(&mut first).unwrap();
            child.kill().unwrap();
            child.wait().unwrap();
            assert!(first.contains("admin page for") && first.contains("http://127.0.0.1:"), "{first}");
            continue;
        }
        let ran = Command::new(binary).args(args).current_dir(dir.path()).env_remove("JOBS_STORE").output().unwrap();
        let err = String::from_utf8_lossy(&ran.stderr);
        assert_eq!(ran.status.code(), Some(0), "{args:?}: {err}");
        outputs.push(String::from_utf8_lossy(&ran.stdout).into_owned());
    }
    // import, list, dry run, migration, the parameterised job, export.
    assert_eq!(outputs[2], "[\"TRIMMED\",1]\n[\"UNCHANGED\",2]\n", "the dry run counts");
    assert_eq!(outputs[3], outputs[2], "the dry run stored nothing, so the migration finds the same");
    assert_eq!(outputs[4], "[3,1]\n", "one username of 3 characters or more, after trimming");
    assert!(outputs[5].contains("{\"user_id\":\"u1\",\"username\":\"ann\"}"), "{}", outputs[5]);
}
