//! The WebSocket limits, and the connections each client address holds.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio_util::sync::CancellationToken;

/// The WebSocket limits.
#[derive(Debug, Clone, Copy)]
pub struct LiveLimits {
    /// Subscriptions one connection may hold (`WS_MAX_SUBSCRIPTIONS_PER_CONNECTION`).
    pub max_subscriptions_per_connection: usize,
    /// Connections one client address may hold (`WS_MAX_CONNECTIONS_PER_CLIENT`).
    pub max_connections_per_client: u32,
    /// Time a connection may stay open with no subscription (`WS_IDLE_TIMEOUT_SECONDS`).
    pub idle_timeout: Duration,
}

impl Default for LiveLimits {
    fn default() -> Self {
        Self {
            max_subscriptions_per_connection: 20,
            max_connections_per_client: 32,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// The limits, and the connections each client address holds.
#[derive(Debug)]
pub struct LiveConnections {
    limits: LiveLimits,
    per_client: Mutex<HashMap<IpAddr, u32>>,
    stopping: CancellationToken,
}

/// One client's connection slot, given back when dropped.
pub struct Slot {
    connections: Arc<LiveConnections>,
    client: IpAddr,
}

impl Slot {
    /// The client address holding it.
    pub fn client(&self) -> IpAddr {
        self.client
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_client = self.connections.lock();
        if let Some(held) = per_client.get_mut(&self.client) {
            *held -= 1;
            if *held == 0 {
                per_client.remove(&self.client);
            }
        }
    }
}

impl LiveConnections {
    /// No connections yet, under `limits`.
    pub fn new(limits: LiveLimits) -> Self {
        Self {
            limits,
            per_client: Mutex::default(),
            stopping: CancellationToken::new(),
        }
    }

    /// The limits.
    pub fn limits(&self) -> LiveLimits {
        self.limits
    }

    /// Cancelled when every connection must close.
    pub fn stopping(&self) -> CancellationToken {
        self.stopping.clone()
    }

    /// Closes every connection (1001, going away): the server is shutting down.
    pub fn close_all(&self) {
        self.stopping.cancel();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, u32>> {
        self.per_client.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for one more connection of `client`, unless it holds the most already.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Option<Slot> {
        let mut per_client = self.lock();
        let held = per_client.entry(client).or_default();
        if *held >= self.limits.max_connections_per_client {
            return None;
        }
        *held += 1;
        Some(Slot {
            connections: Arc::clone(self),
            client,
        })
    }
}
