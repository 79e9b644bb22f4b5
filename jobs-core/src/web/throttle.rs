//! Slowing down repeated token failures, per client address and overall.
//!
//! Every wrong admin token (at the login form or as a `Bearer` token) counts against the
//! address it came from and against the server as a whole. The first few of each are free, for
//! typos; after that the answer to each wrong token waits, twice as long after each further
//! failure, up to a cap: the longer of the address's delay and the overall one, so that many
//! addresses get no more free guesses than one. Only a few wrong tokens are waited on at once
//! ([`ThrottleConfig::max_concurrent_failures`]); the others queue behind them, so that
//! guesses sent in parallel are answered no faster than guesses sent one by one. The right
//! token is never delayed: it is checked (in constant time) before anything waits, and clears
//! its address's count. A count is forgotten after a quiet spell. With a 256-bit token,
//! guessing is hopeless anyway; the delay keeps a runaway script from filling the log and the
//! CPU.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many client addresses are remembered at most; the longest-quiet ones go first.
const MAX_CLIENTS: usize = 4096;

/// How repeated token failures from one address are slowed down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures allowed before checks from the address are delayed.
    pub free_failures: u32,
    /// The delay after the first failure beyond the free ones; it doubles with each further
    /// failure.
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// A count is forgotten when its address has not failed for this long.
    pub forget_after: Duration,
    /// Failures allowed from all addresses together before every wrong token is delayed.
    pub global_free_failures: u32,
    /// How many wrong tokens are waited on at once; further ones wait for their turn first.
    pub max_concurrent_failures: usize,
}

impl Default for ThrottleConfig {
    /// 5 free failures per address and 20 overall, then 250 ms doubling up to 8 s; 4 wrong
    /// tokens waited on at once (so at most one answered every 2 s under attack); forgotten
    /// after 15 quiet minutes.
    fn default() -> Self {
        ThrottleConfig {
            free_failures: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            forget_after: Duration::from_secs(15 * 60),
            global_free_failures: 20,
            max_concurrent_failures: 4,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// The failure counts of client addresses (`None`: a request that came without one, as in
/// tests that call the router directly).
#[derive(Debug)]
pub(crate) struct Throttle {
    config: ThrottleConfig,
    clients: Mutex<HashMap<Option<IpAddr>, Failures>>,
    /// Every address's failures together.
    global: Mutex<Option<Failures>>,
}

impl Throttle {
    pub(crate) fn new(config: ThrottleConfig) -> Self {
        Throttle { config, clients: Mutex::new(HashMap::new()), global: Mutex::new(None) }
    }

    /// How many wrong tokens are waited on at once.
    pub(crate) fn max_concurrent_failures(&self) -> usize {
        self.config.max_concurrent_failures.max(1)
    }

    /// How long to wait before answering a wrong token from `client`: the longer of its
    /// address's delay and the overall one.
    pub(crate) fn delay(&self, client: Option<IpAddr>) -> Duration {
        let clients = crate::sync::lock(&self.clients);
        let own = match clients.get(&client) {
            Some(failures) if failures.last.elapsed() < self.config.forget_after => {
                self.delay_after(failures.count, self.config.free_failures)
            }
            _ => Duration::ZERO,
        };
        drop(clients);
        let global = match *crate::sync::lock(&self.global) {
            Some(failures) if failures.last.elapsed() < self.config.forget_after => {
                self.delay_after(failures.count, self.config.global_free_failures)
            }
            _ => Duration::ZERO,
        };
        own.max(global)
    }

    fn delay_after(&self, count: u32, free: u32) -> Duration {
        let Some(beyond) = count.checked_sub(free) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(beyond).unwrap_or(u32::MAX);
        self.config.base_delay.checked_mul(factor).unwrap_or(self.config.max_delay).min(self.config.max_delay)
    }

    /// Counts a wrong token from `client`.
    pub(crate) fn failed(&self, client: Option<IpAddr>) {
        let now = Instant::now();
        let mut clients = crate::sync::lock(&self.clients);
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(&client) {
            let forget_after = self.config.forget_after;
            clients.retain(|_, failures| failures.last.elapsed() < forget_after);
            if clients.len() >= MAX_CLIENTS
                && let Some(quietest) = clients.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| *k)
            {
                clients.remove(&quietest);
            }
        }
        let entry = clients.entry(client).or_insert(Failures { count: 0, last: now });
        if entry.last.elapsed() >= self.config.forget_after {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        let count = entry.count;
        drop(clients);
        let mut global = crate::sync::lock(&self.global);
        let overall = match global.as_mut() {
            Some(failures) if failures.last.elapsed() < self.config.forget_after => failures,
            _ => global.insert(Failures { count: 0, last: now }),
        };
        overall.count = overall.count.saturating_add(1);
        overall.last = now;
        tracing::warn!(client = ?client, failures = count, overall = overall.count, "wrong admin token");
    }

    /// Clears `client`'s count after a right token.
    pub(crate) fn succeeded(&self, client: Option<IpAddr>) {
        crate::sync::lock(&self.clients).remove(&client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(ThrottleConfig {
            free_failures: 2,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            forget_after: Duration::from_secs(60),
            global_free_failures: 3,
            max_concurrent_failures: 2,
        })
    }

    #[test]
    fn failures_beyond_the_free_ones_double_the_delay_up_to_the_cap() {
        let throttle = throttle();
        let client = Some(IpAddr::from([127, 0, 0, 1]));
        let mut delays = Vec::new();
        for _ in 0..6 {
            delays.push(throttle.delay(client).as_millis());
            throttle.failed(client);
        }
        assert_eq!(delays, [0, 0, 100, 200, 400, 500]);
        // Six failures overall, three beyond the 3 free: every other address waits the cap.
        assert_eq!(throttle.delay(None), Duration::from_millis(500), "the overall count slows everyone");
        throttle.succeeded(client);
        assert_eq!(throttle.delay(client), Duration::from_millis(500), "a success clears only its address");
    }

    #[test]
    fn many_addresses_get_no_more_free_failures_than_the_overall_allowance() {
        let throttle = throttle();
        for i in 0..3u8 {
            let client = Some(IpAddr::from([10, 0, 0, i]));
            assert_eq!(throttle.delay(client), Duration::ZERO, "address {i}");
            throttle.failed(client);
        }
        assert_eq!(throttle.delay(Some(IpAddr::from([10, 0, 0, 99]))), Duration::from_millis(100));
    }

    #[test]
    fn huge_counts_do_not_overflow() {
        let throttle = throttle();
        assert_eq!(throttle.delay_after(u32::MAX, 2), Duration::from_millis(500));
    }
}
