//! A small pool of connections: each operation takes one, and gives it back when done.
//!
//! A [`PostgresStore`](super::PostgresStore) is shared by the engine's threads, and a scan's
//! `visit` may write to the store (a migration does): each needs a connection of its own,
//! so operations take one from the pool, opening a new one when none is idle.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};

use postgres::{Client, NoTls};

use super::url::StoreUrl;
use crate::store::StoreError;

/// At most this many idle connections are kept; more are closed when given back.
const MAX_IDLE: usize = 16;

/// Open connections to one store's server.
pub(crate) struct Pool {
    url: StoreUrl,
    idle: Mutex<Vec<Client>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("store", &self.url.location).finish_non_exhaustive()
    }
}

/// A connection taken from the pool, given back when dropped (unless it broke).
pub(crate) struct Pooled {
    client: Option<Client>,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for Pooled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pooled").field("store", &self.pool.url.location).finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool for `url`, opening no connection yet.
    pub(crate) fn new(url: StoreUrl) -> Arc<Self> {
        Arc::new(Pool { url, idle: Mutex::new(Vec::new()) })
    }

    /// The store's URL.
    pub(crate) fn url(&self) -> &StoreUrl {
        &self.url
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Client>> {
        // Only pushes and pops happen under the lock: the list stays whole if one panics.
        crate::sync::lock(&self.idle)
    }

    /// An idle connection, or a new one.
    ///
    /// # Errors
    /// No connection could be opened: the message names the server and database, never the
    /// password.
    pub(crate) fn get(self: &Arc<Self>) -> Result<Pooled, StoreError> {
        let reused = self.idle().pop().filter(|client| !client.is_closed());
        let client = match reused {
            Some(client) => client,
            None => self.connect()?,
        };
        Ok(Pooled { client: Some(client), pool: Arc::clone(self) })
    }

    fn connect(&self) -> Result<Client, StoreError> {
        tracing::debug!(store = %self.url.location, "opening a PostgreSQL connection");
        #[cfg(feature = "postgres-tls")]
        if let Some(tls) = &self.url.tls {
            let connector = super::tls::connector(tls)
                .map_err(|message| StoreError::Io { location: self.url.location.clone(), message })?;
            return self.url.config.connect(connector).map_err(|error| self.refused(&error));
        }
        self.url.config.connect(NoTls).map_err(|error| self.refused(&error))
    }

    fn refused(&self, error: &postgres::Error) -> StoreError {
        StoreError::Io {
            location: self.url.location.clone(),
            message: format!(
                "cannot connect to the PostgreSQL server ({}); check that it runs and accepts connections, and the \
                 user, password, database and sslmode in the URL",
                describe(error)
            ),
        }
    }
}

impl Pooled {
    /// Closes the connection instead of giving it back: its session holds state (a lock)
    /// that could not be cleared.
    pub(crate) fn discard(mut self) {
        drop(self.client.take());
    }
}

impl Deref for Pooled {
    type Target = Client;

    fn deref(&self) -> &Client {
        // Present from creation until `drop` takes it.
        self.client.as_ref().unwrap_or_else(|| unreachable!("a pooled connection is present until dropped"))
    }
}

impl DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().unwrap_or_else(|| unreachable!("a pooled connection is present until dropped"))
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(client) = self.client.take().filter(|client| !client.is_closed()) {
            let mut idle = self.pool.idle();
            if idle.len() < MAX_IDLE {
                idle.push(client);
            }
        }
    }
}

/// A driver error as one line: the server's own message when it sent one, else the
/// driver's with its cause.
pub(crate) fn describe(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}
