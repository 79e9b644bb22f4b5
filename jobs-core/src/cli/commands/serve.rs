//! `jobs serve`: the admin page over the store (feature `web`), until Ctrl-C.
//!
//! The store is opened as by every command, so runs whose process died are recorded
//! `interrupted` first. The login URL goes to stderr once; with `JOBS_ADMIN_TOKEN` set, the
//! token is not printed.

use std::path::Path;
use std::sync::Arc;

use crate::cli::Cli;
use crate::cli::args::ServeArgs;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::runs::RunLog;
use crate::web::{AdminServer, AdminToken, ServeConfig, TOKEN_ENV, WebError};

pub(super) fn run(cli: &Cli, store_path: &Path, args: &ServeArgs, console: &mut Console<'_>) -> Result<(), CliError> {
    super::jobs()?;
    let token = AdminToken::from_env().map_err(web_error)?;
    let store: Arc<dyn RunLog> = Arc::from(cli.open_store(store_path)?);
    let location = store.location();
    let config = ServeConfig { bind: args.bind, token, ..ServeConfig::default() };
    let server = AdminServer::bind(store, config).map_err(web_error)?;
    let program = console.program.to_owned();
    console.say(format_args!("{program} admin page for {location}: {}", server.login_url()));
    if !server.token_was_generated() {
        console.say(format_args!("log in with the token in {TOKEN_ENV}"));
    }
    console.say("Ctrl-C stops the server; runs started from the page and still going are then recorded interrupted");
    server.run().map_err(web_error)
}

/// The command line's error for a web error: a bind failure reads like any "cannot ... PATH"
/// error; the others keep their own message. Both exit 1.
fn web_error(error: WebError) -> CliError {
    match error {
        WebError::Bind { addr, source } => {
            CliError::File { action: "listen on", path: addr.to_string().into(), source }
        }
        other => CliError::Web(other),
    }
}
