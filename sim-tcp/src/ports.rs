//! The local ephemeral ports a host holds (Linux's bind hash buckets,
//! `inet_bind_bucket`): which ports of `ip_local_port_range` are in use and by how
//! many sockets (full or TIME_WAIT). Lookup only, never iterated: nothing here can
//! reach an output in an order.

use crate::hash::LookupMap;
use crate::segment::SockAddr;

/// A bitmap over `ip_local_port_range` (3.5 KiB for the default 28,232 ports,
/// allocated on the first connect(), less than a hash set of the ~1,000 ports a
/// busy client holds) plus, for the rare port held by more than one socket (toward
/// different peers), the count of the others. Acquire and release touch one word.
///
/// It also knows whether every holder points to one destination
/// ([`PortSet::all_toward`]), which lets the port scan skip held ports a word at
/// a time.
#[derive(Default)]
pub(crate) struct PortSet {
    /// First port of the range (bit 0).
    base: u16,
    /// Ports in the range.
    len: usize,
    held: Vec<u64>,
    /// Sockets beyond the first on a port held by more than one.
    shared: LookupMap<u16, u32>,
    /// Sockets holding a port, and how many of them point to `sole` (the
    /// destination of the first socket since none held one).
    holders: u32,
    sole: SockAddr,
    toward_sole: u32,
}

impl PortSet {
    /// For ephemeral ports in `lo..=hi`.
    pub fn new([lo, hi]: [u16; 2]) -> PortSet {
        PortSet {
            base: lo,
            len: usize::from(hi.saturating_sub(lo)) + 1,
            held: Vec::new(),
            shared: LookupMap::default(),
            ..PortSet::default()
        }
    }

    /// Word and bit of `port`. Panics outside the range.
    #[inline]
    fn bit(&self, port: u16) -> (usize, u64) {
        let i = usize::from(port.wrapping_sub(self.base));
        assert!(i < self.len, "port {port} outside the ephemeral range");
        (i / 64, 1 << (i % 64))
    }

    /// Whether any socket holds `port`.
    #[inline]
    pub fn held(&self, port: u16) -> bool {
        let i = usize::from(port.wrapping_sub(self.base));
        i < self.len
            && self
                .held
                .get(i / 64)
                .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// One more socket, toward `remote`, holds `port`; true if it is the first.
    #[inline]
    pub fn acquire(&mut self, port: u16, remote: SockAddr) -> bool {
        let (w, b) = self.bit(port);
        if self.holders == 0 {
            self.sole = remote;
        }
        self.holders += 1;
        self.toward_sole += u32::from(remote == self.sole);
        if self.held.is_empty() {
            self.held = vec![0; self.len.div_ceil(64)];
        }
        if self.held[w] & b == 0 {
            self.held[w] |= b;
            true
        } else {
            *self.shared.entry(port).or_insert(0) += 1;
            false
        }
    }

    /// One socket less, toward `remote`, holds `port` (which it held); true if it
    /// was the last.
    #[inline]
    pub fn release(&mut self, port: u16, remote: SockAddr) -> bool {
        self.holders -= 1;
        self.toward_sole -= u32::from(remote == self.sole);
        if !self.shared.is_empty()
            && let Some(n) = self.shared.get_mut(&port)
        {
            *n -= 1;
            if *n == 0 {
                self.shared.remove(&port);
            }
            return false;
        }
        let (w, b) = self.bit(port);
        let word = self.held.get_mut(w).expect("a port was acquired");
        assert!(*word & b != 0, "port {port} held");
        *word &= !b;
        true
    }

    /// Whether every socket holding a port points to `remote` (true when none
    /// holds one): then a held port is one whose 4-tuple toward `remote` is taken.
    #[inline]
    pub fn all_toward(&self, remote: SockAddr) -> bool {
        self.toward_sole == self.holders && (self.holders == 0 || self.sole == remote)
    }

    /// The first port from `from` on, in steps of two (the ports of one parity, as
    /// Linux's scan takes them), below `end`, that no socket holds; else the first
    /// port of that parity at or past `end`. Reads 64 ports a word. `from` and
    /// `end - 1` are in the range, `from < end`.
    pub fn next_unheld(&self, from: u32, end: u32) -> u32 {
        let base = u32::from(self.base);
        debug_assert!(base <= from && from < end && end <= base + self.len as u32);
        let (start, stop) = ((from - base) as usize, (end - base) as usize);
        // Bit k of a word is port index 64w + k: same parity as k.
        let parity = if start % 2 == 0 {
            0x5555_5555_5555_5555
        } else {
            0xAAAA_AAAA_AAAA_AAAA
        };
        let mut j = start;
        while j < stop {
            let w = j / 64;
            let word = self.held.get(w).copied().unwrap_or(0);
            let free = !word & parity & (!0u64 << (j % 64));
            if free != 0 {
                let q = w * 64 + free.trailing_zeros() as usize;
                if q < stop {
                    return base + q as u32;
                }
                break;
            }
            j = (w + 1) * 64 + start % 2;
        }
        from + (end - from).div_ceil(2) * 2
    }

    /// Heap bytes held (the map counted as `capacity × 8/7` buckets of entry +
    /// control byte).
    pub fn heap_bytes(&self) -> usize {
        self.held.capacity() * 8
            + self.shared.capacity() * 8 / 7 * (std::mem::size_of::<(u16, u32)>() + 1)
    }
}

/// A map from port to `V` for the few ports a host listens on: a sorted vector
/// searched by bisection. A host has a listener or two (clients none), and a
/// `BTreeMap` lookup costs several times more; listeners are looked up on every
/// handshake and close. Lookup only, never iterated.
pub(crate) struct PortMap<V> {
    entries: Vec<(u16, V)>,
}

impl<V> Default for PortMap<V> {
    fn default() -> Self {
        PortMap {
            entries: Vec::new(),
        }
    }
}

impl<V> PortMap<V> {
    #[inline]
    fn find(&self, port: u16) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&port, |e| e.0)
    }
    #[inline]
    pub fn get(&self, port: &u16) -> Option<&V> {
        self.find(*port).ok().map(|i| &self.entries[i].1)
    }
    #[inline]
    pub fn get_mut(&mut self, port: &u16) -> Option<&mut V> {
        self.find(*port).ok().map(|i| &mut self.entries[i].1)
    }
    #[inline]
    pub fn contains_key(&self, port: &u16) -> bool {
        !self.entries.is_empty() && self.find(*port).is_ok()
    }
    /// Maps `port` to `v`, returning the value it replaces, if any.
    pub fn insert(&mut self, port: u16, v: V) -> Option<V> {
        match self.find(port) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, v)),
            Err(i) => {
                self.entries.insert(i, (port, v));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn port_map_behaves_like_a_map() {
        let mut map: PortMap<u32> = PortMap::default();
        let mut model: BTreeMap<u16, u32> = BTreeMap::new();
        let mut rng = crate::hash::SplitMix::new(7);
        for step in 0..20_000u32 {
            let port = rng.below(40) as u16 * 1000;
            match rng.below(4) {
                0 => assert_eq!(map.insert(port, step), model.insert(port, step)),
                1 => {
                    if let Some(v) = map.get_mut(&port) {
                        *v += 1;
                    }
                    if let Some(v) = model.get_mut(&port) {
                        *v += 1;
                    }
                }
                _ => {}
            }
            assert_eq!(map.get(&port), model.get(&port), "step {step}");
            assert_eq!(map.contains_key(&port), model.contains_key(&port));
        }
        assert_eq!(map.entries.len(), model.len());
        assert!(map.entries.windows(2).all(|w| w[0].0 < w[1].0));
    }

    /// One of three destinations, the first `1 - 2/n` of the time.
    fn some_remote(rng: &mut crate::hash::SplitMix, n: u32) -> SockAddr {
        let addr = crate::segment::Addr(0x0a00_0001 + rng.below(n).saturating_sub(n - 3));
        SockAddr::new(addr, 80)
    }

    #[test]
    fn counts_holders_like_a_map() {
        // A small range, so ports are shared often; its ends included.
        let (lo, hi) = (1000u16, 1200u16);
        let mut set = PortSet::new([lo, hi]);
        // Each port's holders, by destination.
        let mut model: BTreeMap<u16, Vec<SockAddr>> = BTreeMap::new();
        let mut rng = crate::hash::SplitMix::new(5);
        let mut sole_seen = 0;
        for step in 0..100_000 {
            let port = lo + rng.below(u32::from(hi - lo) + 1) as u16;
            let holders = model.entry(port).or_default();
            // Releases outweigh acquisitions where a port is held: a few holders each.
            if !holders.is_empty() && rng.below(3) != 0 {
                let i = rng.below(holders.len() as u32) as usize;
                let remote = holders.swap_remove(i);
                assert_eq!(set.release(port, remote), holders.is_empty(), "step {step}");
            } else {
                // Mostly one destination, so that all holders often point to it.
                let remote = some_remote(&mut rng, 400);
                assert_eq!(set.acquire(port, remote), holders.is_empty(), "step {step}");
                holders.push(remote);
            }
            model.retain(|_, h| !h.is_empty());
            let probe = lo - 1 + rng.below(u32::from(hi - lo) + 3) as u16;
            assert_eq!(set.held(probe), model.contains_key(&probe), "step {step}");
            let remote = some_remote(&mut rng, 3);
            let sole = model.values().flatten().all(|&r| r == remote);
            sole_seen += u32::from(sole && !model.is_empty());
            assert_eq!(set.all_toward(remote), sole, "step {step}");
        }
        assert!(
            (2_000..50_000).contains(&sole_seen),
            "both cases occur: {sole_seen}"
        );
        let remote = some_remote(&mut rng, 3);
        for port in [lo, hi] {
            let holders = model.entry(port).or_default();
            assert_eq!(
                set.acquire(port, remote),
                holders.is_empty(),
                "range end {port}"
            );
            holders.push(remote);
        }
        for (port, holders) in model {
            for (k, &remote) in holders.iter().enumerate().rev() {
                assert_eq!(set.release(port, remote), k == 0);
            }
        }
        assert!(set.held.iter().all(|&w| w == 0));
        assert!(set.shared.is_empty());
        assert!(set.all_toward(remote) && set.holders == 0);
    }

    #[test]
    fn next_unheld_is_the_first_free_port_of_the_parity() {
        // Odd bounds, several words, and densities from empty to full.
        let (lo, hi) = (1001u16, 1300u16);
        let remote = SockAddr::new(crate::segment::Addr(0x0a00_0001), 80);
        let mut rng = crate::hash::SplitMix::new(9);
        for density in [0, 1, 50, 90, 99, 100] {
            let mut set = PortSet::new([lo, hi]);
            for port in lo..=hi {
                if rng.below(100) < density {
                    set.acquire(port, remote);
                }
            }
            for _ in 0..2_000 {
                let from = u32::from(lo) + rng.below(u32::from(hi - lo) + 1);
                let end = from + 1 + rng.below(u32::from(hi) + 1 - from);
                let mut want = from;
                while want < end && set.held(want as u16) {
                    want += 2;
                }
                assert_eq!(
                    set.next_unheld(from, end),
                    want,
                    "{from}..{end} at {density}%"
                );
            }
        }
    }

    #[test]
    #[should_panic(expected = "outside the ephemeral range")]
    fn rejects_ports_outside_the_range() {
        PortSet::new([1000, 1200]).acquire(1201, SockAddr::default());
    }
}
