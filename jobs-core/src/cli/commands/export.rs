//! `jobs export`: every entity of a kind as one JSON object a line, in id order.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::Path;

use crate::cli::Cli;
use crate::cli::args::ExportArgs;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::model::ModelDescriptor;
use crate::store::{KeyRange, Store};

pub(super) fn run(cli: &Cli, store_path: &Path, args: &ExportArgs, console: &mut Console<'_>) -> Result<(), CliError> {
    let model = super::find_model(&args.kind)?;
    let store = cli.open_existing_store(store_path)?;
    let count = match &args.output {
        None => export(store.as_ref(), model, &mut *console.out, CliError::stdout)?,
        Some(path) => export_to_file(store.as_ref(), model, path)?,
    };
    let target = args.output.as_ref().map_or_else(|| "standard output".to_owned(), |p| p.display().to_string());
    console.say(format_args!("exported {count} {} entities to {target}", model.kind()));
    Ok(())
}

/// Exports to `path`; on failure removes the partial file, so a file that exists is whole.
fn export_to_file(store: &dyn Store, model: &ModelDescriptor, path: &Path) -> Result<u64, CliError> {
    let file_error = |action| move |source| CliError::File { action, path: path.to_path_buf(), source };
    let file = File::create(path).map_err(file_error("create"))?;
    let mut writer = BufWriter::new(file);
    let result = export(store, model, &mut writer, file_error("write")).and_then(|count| {
        let file = writer.into_inner().map_err(|e| file_error("write")(e.into_error()))?;
        file.sync_all().map_err(file_error("write"))?;
        Ok(count)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Writes every entity of `model`'s kind to `out`, in id order, and returns how many.
fn export(
    store: &dyn Store,
    model: &ModelDescriptor,
    out: &mut dyn Write,
    write_error: impl Fn(std::io::Error) -> CliError,
) -> Result<u64, CliError> {
    let mut count = 0u64;
    let mut failed = None;
    store.scan(model.kind(), &KeyRange::all(), &mut |id, bytes| {
        let line = match model.stored_to_json(bytes) {
            Ok(line) => line,
            Err(reason) => {
                failed = Some(CliError::Corrupt { kind: model.kind().to_owned(), id: id.to_owned(), reason });
                return ControlFlow::Break(());
            }
        };
        if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n")) {
            failed = Some(write_error(e));
            return ControlFlow::Break(());
        }
        count += 1;
        ControlFlow::Continue(())
    })?;
    match failed {
        Some(error) => Err(error),
        None => {
            out.flush().map_err(write_error)?;
            Ok(count)
        }
    }
}
