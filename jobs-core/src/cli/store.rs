//! Opening `--store PATH` as a redb file, with messages that say what to do.

use std::path::Path;

use crate::runs::{self, RunLog, RunsError};
use crate::store::StoreError;

/// Opens (or creates) the redb store at `path` through [`runs::open_store`], so that runs
/// whose process died are recorded `interrupted` by whichever command comes next. A missing
/// directory or a path that is a directory is refused with advice, before redb reports it as
/// a bare I/O error.
pub(crate) fn open_redb(path: &Path) -> Result<Box<dyn RunLog>, RunsError> {
    let refuse = |message: String| StoreError::Io { location: path.display().to_string(), message };
    if path.is_dir() {
        return Err(
            refuse("this is a directory; pass the path of a store file, such as DIR/jobs.redb".to_owned()).into()
        );
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        return Err(refuse(format!(
            "the directory {} does not exist; create it, or pass a --store in an existing directory",
            parent.display()
        ))
        .into());
    }
    Ok(Box::new(runs::open_store(path)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_or_a_missing_directory_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_redb(dir.path()).err().unwrap().to_string();
        assert!(err.contains("this is a directory; pass the path of a store file"), "{err}");
        let err = open_redb(&dir.path().join("missing/jobs.redb")).err().unwrap().to_string();
        assert!(err.contains("missing does not exist; create it"), "{err}");
        assert!(open_redb(&dir.path().join("jobs.redb")).is_ok());
    }
}
