//! Who may try to log in, and how often: the defences of the login path.
//!
//! - **Pending logins.** A connection that has not logged in yet holds a *pending* slot —
//!   at most `max_pending_logins` server-wide and `max_pending_logins_per_address` per
//!   client address — never one of the `max_connections` session slots, and only for the
//!   login timeout. So idle sockets from one address cannot lock other clients out, and
//!   a flood is bounded in sockets (and file descriptors).
//! - **Failed logins.** After a failed login from an address, that address's next attempt
//!   waits: 250 ms after the first failure, doubling to 8 s, and attempts are queued one
//!   after another (each takes its own turn), so parallel connections do not multiply the
//!   guessing rate. A success clears the address; so do 15 minutes without a failure.
//!   Other addresses are not slowed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Delay after the first failed login from an address.
const FIRST_DELAY: Duration = Duration::from_millis(250);
/// Longest delay between two attempts from one address.
const MAX_DELAY: Duration = Duration::from_secs(8);
/// An address without a failure for this long starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Addresses remembered before old ones are dropped.
const MAX_ADDRESSES: usize = 65_536;

/// Failed-login record of one address.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// The earliest time the next attempt may be answered.
    next_turn: Instant,
    last_failure: Instant,
}

/// Pending-login counts and failed-login records.
#[derive(Debug, Default)]
struct State {
    pending_total: usize,
    pending: HashMap<IpAddr, usize>,
    failures: HashMap<IpAddr, Failures>,
}

/// The login gate shared by every connection.
#[derive(Debug)]
pub(crate) struct Gate {
    max_pending: usize,
    max_pending_per_address: usize,
    state: Mutex<State>,
}

/// A pending-login slot; released when dropped (at login, or when the connection ends).
#[derive(Debug)]
pub(crate) struct Pending {
    gate: Arc<Gate>,
    address: IpAddr,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Ok(mut s) = self.gate.state.lock() {
            s.pending_total = s.pending_total.saturating_sub(1);
            if let Some(n) = s.pending.get_mut(&self.address) {
                *n -= 1;
                if *n == 0 {
                    s.pending.remove(&self.address);
                }
            }
        }
    }
}

/// When an attempt from an address may be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Now.
    Now,
    /// At this time.
    At(Instant),
}

impl Gate {
    /// A gate with these limits.
    pub(crate) fn new(max_pending: usize, max_pending_per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            max_pending,
            max_pending_per_address,
            state: Mutex::new(State::default()),
        })
    }

    /// A pending-login slot for a connection from `address`, or None when the server or
    /// that address is at its limit.
    pub(crate) fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Pending> {
        let mut s = self.state.lock().ok()?;
        let from_address = s.pending.get(&address).copied().unwrap_or(0);
        if s.pending_total >= self.max_pending || from_address >= self.max_pending_per_address {
            return None;
        }
        s.pending_total += 1;
        s.pending.insert(address, from_address + 1);
        Some(Pending {
            gate: self.clone(),
            address,
        })
    }

    /// Takes the next turn of `address` for answering a login attempt: now for an address
    /// without recent failures, else the address's next free turn (later attempts queue
    /// behind it).
    pub(crate) fn turn(&self, address: IpAddr) -> Turn {
        let now = Instant::now();
        let Ok(mut s) = self.state.lock() else {
            return Turn::Now;
        };
        let Some(f) = s.failures.get_mut(&address) else {
            return Turn::Now;
        };
        if now.duration_since(f.last_failure) > FORGET_AFTER {
            s.failures.remove(&address);
            return Turn::Now;
        }
        let at = f.next_turn.max(now);
        f.next_turn = at + delay(f.count);
        if at <= now { Turn::Now } else { Turn::At(at) }
    }

    /// Records a failed login from `address`.
    pub(crate) fn failed(&self, address: IpAddr) {
        let now = Instant::now();
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        if s.failures.len() >= MAX_ADDRESSES && !s.failures.contains_key(&address) {
            s.failures
                .retain(|_, f| now.duration_since(f.last_failure) <= FORGET_AFTER);
            if s.failures.len() >= MAX_ADDRESSES {
                // Under a spread-out flood keep the newest records.
                s.failures.clear();
            }
        }
        let f = s.failures.entry(address).or_insert(Failures {
            count: 0,
            next_turn: now,
            last_failure: now,
        });
        f.count = f.count.saturating_add(1);
        f.last_failure = now;
        f.next_turn = f.next_turn.max(now + delay(f.count));
    }

    /// Records a successful login from `address`: its failures are forgotten.
    pub(crate) fn succeeded(&self, address: IpAddr) {
        if let Ok(mut s) = self.state.lock() {
            s.failures.remove(&address);
        }
    }
}

/// Wait before the attempt after `failures` failed ones.
fn delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    FIRST_DELAY
        .saturating_mul(1u32 << (failures - 1).min(16))
        .min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn pending_slots_are_bounded_per_address_and_overall_and_freed_on_drop() {
        let gate = Gate::new(5, 3);
        let a: Vec<Pending> = (0..3).map(|_| gate.admit(ip(2)).expect("slot")).collect();
        assert!(gate.admit(ip(2)).is_none(), "per address");
        let b: Vec<Pending> = (0..2).map(|_| gate.admit(ip(3)).expect("slot")).collect();
        assert!(gate.admit(ip(4)).is_none(), "server-wide");
        drop(a);
        assert!(gate.admit(ip(2)).is_some());
        drop(b);
        let s = gate.state.lock().expect("lock");
        assert_eq!(s.pending_total, 0);
        assert!(s.pending.is_empty());
    }

    #[tokio::test]
    async fn failures_space_out_the_attempts_of_their_address_only() {
        let gate = Gate::new(10, 10);
        assert_eq!(gate.turn(ip(2)), Turn::Now);
        for _ in 0..4 {
            gate.failed(ip(2));
        }
        // Turns are handed out one after another, each at least the current delay apart.
        let Turn::At(first) = gate.turn(ip(2)) else {
            panic!("an address with failures waits");
        };
        let Turn::At(second) = gate.turn(ip(2)) else {
            panic!("queued");
        };
        assert!(
            second.duration_since(first) >= delay(4),
            "{first:?} {second:?}"
        );
        assert_eq!(
            gate.turn(ip(3)),
            Turn::Now,
            "other addresses are not slowed"
        );
        gate.succeeded(ip(2));
        assert_eq!(gate.turn(ip(2)), Turn::Now);
        assert_eq!(delay(1), FIRST_DELAY);
        assert_eq!(delay(40), MAX_DELAY);
    }
}
