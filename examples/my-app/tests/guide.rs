//! docs/your-application.md is taken from this crate: every Rust block equals a part of the
//! file its `<!-- from PATH -->` marker names, its `Cargo.toml` block asks for the dependencies
//! and features this crate uses, and its commands run, in order, against this crate's binary.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fenced block of the guide: its language, its text, and the marker on the line before its
/// fence, if any: `<!-- from PATH -->` (the file a Rust block is part of) or `<!-- file NAME -->`
/// (the file a data block is written to, for the commands).
struct Block {
    lang: String,
    text: String,
    from: Option<String>,
    file: Option<String>,
}

fn blocks() -> Vec<Block> {
    let guide = std::fs::read_to_string(root().join("docs/your-application.md")).expect("the guide");
    let mut blocks = Vec::new();
    let mut lines = guide.lines();
    let mut previous = "";
    while let Some(line) = lines.next() {
        if let Some(lang) = line.strip_prefix("```") {
            let marker = |name: &str| {
                previous.strip_prefix("<!-- ")?.strip_prefix(name)?.strip_suffix(" -->").map(str::to_owned)
            };
            let (from, file) = (marker("from "), marker("file "));
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            blocks.push(Block { lang: lang.to_owned(), text: body.join("\n") + "\n", from, file });
        }
        previous = line;
    }
    blocks
}

#[test]
fn every_rust_block_of_the_guide_is_part_of_this_crate() {
    let rust: Vec<Block> = blocks().into_iter().filter(|b| b.lang == "rust").collect();
    assert!(rust.len() >= 6, "models, three jobs, a test and the binary: {}", rust.len());
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
    // The same, but for where jobs-core is found: in this repository, by path.
    assert!(
        manifest.contains("jobs-core = { path = \"../../jobs-core\", features = [\"cli\", \"web\"] }"),
        "{manifest}"
    );
    assert!(manifest.contains("serde = { version = \"1\", features = [\"derive\"] }"), "{manifest}");
}

#[test]
fn the_guides_commands_run_against_this_crates_binary() {
    let all = blocks();
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<&Block> = all.iter().filter(|b| b.file.is_some()).collect();
    assert_eq!(files.len(), 2, "users.jsonl and explorations.jsonl");
    for block in files {
        std::fs::write(dir.path().join(block.file.as_deref().unwrap_or_default()), &block.text).unwrap();
    }
    let commands: Vec<Vec<String>> = all
        .iter()
        .filter(|b| b.lang == "sh")
        .flat_map(|b| b.text.lines())
        .filter_map(|line| line.strip_prefix("cargo run -- "))
        .map(|line| line.split('#').next().unwrap_or_default().split_whitespace().map(str::to_owned).collect())
        .collect();
    assert!(commands.len() >= 8, "{commands:?}");
    let binary = env!("CARGO_BIN_EXE_my-app");
    // What each command printed on stdout and stderr, by the command (without `--store app.redb`).
    let mut outputs = std::collections::HashMap::new();
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
            assert!(first.starts_with("my-app admin page for app.redb: http://127.0.0.1:"), "{first}");
            continue;
        }
        let ran = Command::new(binary).args(args).current_dir(dir.path()).env_remove("JOBS_STORE").output().unwrap();
        let (out, err) = (String::from_utf8_lossy(&ran.stdout), String::from_utf8_lossy(&ran.stderr));
        assert_eq!(ran.status.code(), Some(0), "{args:?}: {err}");
        outputs.insert(args[2..].join(" "), (out.into_owned(), err.into_owned()));
    }
    let stdout =
        |command: &str| outputs.get(command).map(|(out, _)| out.as_str()).unwrap_or_else(|| panic!("{command}"));
    let stderr =
        |command: &str| outputs.get(command).map(|(_, err)| err.as_str()).unwrap_or_else(|| panic!("{command}"));
    assert!(stdout("list").contains("ExplorationsPerAuthor"), "{}", stdout("list"));
    assert_eq!(stdout("run TrimUsernames --dry-run"), "[\"TRIMMED\",1]\n[\"UNCHANGED\",2]\n", "the dry run counts");
    assert_eq!(stdout("run TrimUsernames"), stdout("run TrimUsernames --dry-run"), "the dry run stored nothing");
    assert_eq!(stdout("run UsernameLengths --param min_len=3"), "[3,1]\n", "one username of 3 or more, trimmed");
    assert_eq!(stdout("run ExplorationsPerAuthor"), "[\"ann\",2]\n[\"u3\",1]\n");
    assert!(
        stderr("run ExplorationsPerAuthor").contains("reduce key \"u9\": wrote 1 explorations but has no settings"),
        "{}",
        stderr("run ExplorationsPerAuthor")
    );
    assert!(stdout("export UserSettingsModel").contains("{\"user_id\":\"u1\",\"username\":\"ann\"}"));
}
