//! The local ephemeral ports a host holds (Linux's bind hash buckets,
//! `inet_bind_bucket`): which ports of `ip_local_port_range` are in use and by how
//! many sockets (full or TIME_WAIT). Lookup only, never iterated: nothing here can
//! reach an output in an order.

use crate::hash::LookupMap;

/// A bitmap over `ip_local_port_range` (3.5 KiB for the default 28,232 ports,
/// allocated on the first connect(), less than a hash set of the ~1,000 ports a
/// busy client holds) plus, for the rare port held by more than one socket (toward
/// different peers), the count of the others. Acquire and release touch one word.
#[derive(Default)]
pub(crate) struct PortSet {
    /// First port of the range (bit 0).
    base: u16,
    /// Ports in the range.
    len: usize,
    held: Vec<u64>,
    /// Sockets beyond the first on a port held by more than one.
    shared: LookupMap<u16, u32>,
}

impl PortSet {
    /// For ephemeral ports in `lo..=hi`.
    pub fn new([lo, hi]: [u16; 2]) -> PortSet {
        PortSet {
            base: lo,
            len: usize::from(hi.saturating_sub(lo)) + 1,
            held: Vec::new(),
            shared: LookupMap::default(),
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

    /// One more socket holds `port`; true if it is the first.
    #[inline]
    pub fn acquire(&mut self, port: u16) -> bool {
        let (w, b) = self.bit(port);
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

    /// One socket less holds `port` (which it held); true if it was the last.
    #[inline]
    pub fn release(&mut self, port: u16) -> bool {
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

    #[test]
    fn counts_holders_like_a_map() {
        // A small range, so ports are shared often; its ends included.
        let (lo, hi) = (1000u16, 1200u16);
        let mut set = PortSet::new([lo, hi]);
        let mut model: BTreeMap<u16, u32> = BTreeMap::new();
        let mut rng = crate::hash::SplitMix::new(5);
        for step in 0..100_000 {
            let port = lo + rng.below(u32::from(hi - lo) + 1) as u16;
            let held = model.get(&port).copied().unwrap_or(0);
            if held > 0 && rng.below(2) == 0 {
                assert_eq!(set.release(port), held == 1, "step {step}");
                if held == 1 {
                    model.remove(&port);
                } else {
                    model.insert(port, held - 1);
                }
            } else {
                assert_eq!(set.acquire(port), held == 0, "step {step}");
                model.insert(port, held + 1);
            }
            let probe = lo - 1 + rng.below(u32::from(hi - lo) + 3) as u16;
            assert_eq!(set.held(probe), model.contains_key(&probe), "step {step}");
        }
        for port in [lo, hi] {
            let held = model.get(&port).copied().unwrap_or(0);
            assert_eq!(set.acquire(port), held == 0, "range end {port}");
            model.insert(port, held + 1);
        }
        for (port, n) in model {
            for k in (1..=n).rev() {
                assert_eq!(set.release(port), k == 1);
            }
        }
        assert!(set.held.iter().all(|&w| w == 0));
        assert!(set.shared.is_empty());
    }

    #[test]
    #[should_panic(expected = "outside the ephemeral range")]
    fn rejects_ports_outside_the_range() {
        PortSet::new([1000, 1200]).acquire(1201);
    }
}
