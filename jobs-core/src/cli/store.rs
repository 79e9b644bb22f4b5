//! Opening `--store`: a redb file, or a PostgreSQL store given as a `postgres://` URL, with
//! messages that say what to do.

use std::path::Path;

use crate::runs::{self, RunLog, RunsError};
use crate::store::{StoreError, is_postgres_url};

/// Opens the store `--store` names: a `postgres://` (or `postgresql://`) URL opens a
/// PostgreSQL store (feature `postgres`), anything else a redb file.
pub(crate) fn open(location: &Path) -> Result<Box<dyn RunLog>, RunsError> {
    match location.to_str().filter(|text| is_postgres_url(text)) {
        Some(url) => open_postgres(url),
        None => open_redb(location),
    }
}

/// Opens a PostgreSQL store through [`runs::open_postgres`], so that runs whose process
/// died are recorded `interrupted` by whichever command comes next.
#[cfg(feature = "postgres")]
fn open_postgres(url: &str) -> Result<Box<dyn RunLog>, RunsError> {
    Ok(Box::new(runs::open_postgres(url)?))
}

/// Without the feature, a URL is refused with what to do, not taken for a file name.
#[cfg(not(feature = "postgres"))]
fn open_postgres(url: &str) -> Result<Box<dyn RunLog>, RunsError> {
    let location = url.split_once('@').map_or_else(|| url.to_owned(), |(_, host)| format!("postgres://…@{host}"));
    Err(StoreError::Io {
        location,
        message: "this program was built without PostgreSQL support; build jobs-core with the feature `postgres`"
            .to_owned(),
    }
    .into())
}

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
