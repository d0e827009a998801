//! A small pool of PostgreSQL connections: transactions need a connection of their own.
//!
//! Bounded, so a burst of task writes queues for a connection instead of opening one per
//! request. A connection that died (PostgreSQL restarted, the backend was terminated) is
//! dropped when it comes back, and the next caller connects anew.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::{Client, NoTls};
use tracing::debug;

use crate::error::ClusterError;

/// How long connecting to PostgreSQL may take before the caller gets a 503.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub(crate) struct Pool {
    config: tokio_postgres::Config,
    /// Idle connections. A std mutex: held only to push or pop, never across an await.
    idle: Mutex<Vec<Client>>,
    /// Bounds the connections in use (and so the server's backends) to the pool size.
    permits: Semaphore,
}

/// A connection taken from the pool, given back when dropped (unless it died).
#[derive(Debug)]
pub(crate) struct Pooled<'a> {
    client: Option<Client>,
    pool: &'a Pool,
    _permit: SemaphorePermit<'a>,
}

impl Pool {
    pub(crate) fn new(mut config: tokio_postgres::Config, size: usize) -> Self {
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name("taskhub");
        Self {
            config,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
        }
    }

    pub(crate) async fn get(&self) -> Result<Pooled<'_>, ClusterError> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ClusterError::Closed)?;
        let client = match self.take_idle() {
            Some(client) => client,
            None => {
                let (client, connection) = self.config.connect(NoTls).await?;
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        debug!(error = %e, "a PostgreSQL connection ended");
                    }
                });
                client
            }
        };
        Ok(Pooled {
            client: Some(client),
            pool: self,
            _permit: permit,
        })
    }

    fn take_idle(&self) -> Option<Client> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(client) = idle.pop() {
            if !client.is_closed() {
                return Some(client);
            }
        }
        None
    }
}

impl Deref for Pooled<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        // Present from construction until drop.
        self.client.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !client.is_closed()
            && let Ok(mut idle) = self.pool.idle.lock()
        {
            idle.push(client);
        }
    }
}
