//! `jobs import` given damaged files, with the real binary: each is refused whole, naming the
//! bad line, and the store's entities are exactly what they were.

mod support;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use support::{Ran, jobs_command};

const FILES: usize = 12;

#[test]
fn a_damaged_import_file_is_refused_whole_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("jobs.redb");
    Ran::from(jobs_command(&store, &["seed", "--explorations", "50", "--users", "5"]).output().expect("seed"))
        .assert_code(0);
    let export = || {
        let ran = Ran::from(jobs_command(&store, &["export", "ExplorationModel"]).output().expect("export"));
        ran.assert_code(0);
        ran.out
    };
    let before = export();
    let lines: Vec<&str> = before.lines().collect();
    assert_eq!(lines.len(), 50);

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x1e_5eed);
    for trial in 0..FILES {
        // Good lines (changed, so a partial import would show), with one damaged line among them:
        // random bytes (invalid UTF-8, NULs, stray quotes) or a good line cut short.
        let mut file: Vec<Vec<u8>> = lines
            .iter()
            .take(20)
            .map(|line| line.replace("\"title\":\"", "\"title\":\"IMPORTED ").into_bytes())
            .collect();
        let bad_at = rng.random_range(0..file.len());
        file[bad_at] = if trial % 2 == 0 {
            (0..rng.random_range(1..200)).map(|_| rng.random::<u8>()).filter(|&b| b != b'\n').collect()
        } else {
            let line = &file[bad_at];
            line[..rng.random_range(1..line.len())].to_vec()
        };
        let path = dir.path().join(format!("damaged-{trial}.jsonl"));
        std::fs::write(&path, file.join(&b'\n')).expect("write");
        let ran = Ran::from(
            jobs_command(&store, &["import", "ExplorationModel", path.to_str().expect("utf-8")])
                .output()
                .expect("import"),
        );
        ran.assert_code(1);
        assert!(ran.err.contains("nothing was imported"), "trial {trial}: {}", ran.err);
        assert!(ran.err.contains(&format!("line {}", bad_at + 1)), "trial {trial}: the bad line is named: {}", ran.err);
        assert_eq!(export(), before, "trial {trial}: the store is unchanged");
    }
}
