//! The local ephemeral ports a host holds (Linux's bind hash buckets,
//! `inet_bind_bucket`): which ports of `ip_local_port_range` are in use and by how
//! many sockets (full or TIME_WAIT). Lookup only, never iterated: nothing here can
//! reach an output in an order.

use smallvec::SmallVec;

use crate::hash::LookupMap;
use crate::portbits::PortBits;
use crate::segment::SockAddr;

/// A bitmap over `ip_local_port_range` (3.7 KiB for the default 28,232 ports with
/// its summaries, see [`PortBits`]; allocated on the first connect(), less than a
/// hash set of the ~1,000 ports a busy client holds) plus, for the rare port held
/// by more than one socket (toward different peers), the count of the others.
/// Acquire and release touch one word.
///
/// It also knows, for up to [`MAX_DESTS`] destinations at once, which ports are
/// held toward each ([`PortSet::toward`]): the port scan skips those a word at a
/// time, and runs of full words a summary word at a time. A host whose sockets all
/// point to one destination (a client's usual state) needs nothing more: the ports
/// held toward it are the ports held. With sockets toward several, each
/// destination's ports are a short sorted list, or a bitmap of its own once it
/// holds [`FEW`] ports or more.
#[derive(Default)]
pub(crate) struct PortSet {
    /// First port of the range (bit 0).
    base: u16,
    /// Ports in the range.
    len: usize,
    held: PortBits,
    /// Sockets beyond the first on a port held by more than one.
    shared: LookupMap<u16, u32>,
    /// Sockets holding a port.
    holders: u32,
    /// The destinations with holders (`Dest::holders > 0`), and free entries.
    /// The first two inline, in the host: every connect() and every release
    /// reads one, and a list apart is one more miss each when thousands of hosts
    /// take turns.
    dests: SmallVec<[Dest; 2]>,
    /// A socket came toward a destination when all [`MAX_DESTS`] entries were in
    /// use: nothing is tracked until no port is held.
    overflow: bool,
    /// Ports toward a destination from which they are a bitmap ([`FEW`]; less
    /// in tests, whose ranges are small).
    few: usize,
}

/// Destinations tracked at once per host. Past them, the port scan looks each held
/// port up in the 4-tuple table, as Linux does, until no port is held.
pub(crate) const MAX_DESTS: usize = 64;

/// Ports held toward one destination (of several) from which they are a bitmap
/// rather than a sorted list. The bitmap costs 3.7 KiB for the default range, 15
/// bytes per port at 256, against the 64-byte TIME_WAIT mini-socket (at least)
/// that holds each.
const FEW: usize = 256;

/// A destination with holders, or a free entry.
struct Dest {
    remote: SockAddr,
    holders: u32,
    taken: Taken,
}

/// The ports held toward one destination, as bit indices of the range.
enum Taken {
    /// The only destination with holders: its ports are [`PortSet::held`]'s.
    Held,
    /// Fewer than [`PortSet::few`], sorted.
    Few(Vec<u16>),
    /// A bitmap like [`PortSet::held`].
    Bits(PortBits),
}

impl Taken {
    /// The ports in `held` (below `len`): those of the only destination that had
    /// holders, now that another has some too.
    fn of(held: &PortBits, len: usize, few: usize) -> Taken {
        let ports: Vec<u16> = held
            .ones()
            .take_while(|&i| i < len)
            .take(few)
            .map(|i| i as u16)
            .collect();
        if ports.len() >= few {
            Taken::Bits(held.clone())
        } else {
            Taken::Few(ports)
        }
    }

    /// Bit index `i` is taken now (it was not).
    #[inline]
    fn insert(&mut self, i: usize, len: usize, few: usize) {
        match self {
            Taken::Held => {}
            Taken::Few(list) => {
                let at = list.partition_point(|&x| usize::from(x) < i);
                list.insert(at, i as u16);
                if list.len() >= few {
                    let mut bits = PortBits::new(len);
                    for &x in list.iter() {
                        bits.insert(usize::from(x));
                    }
                    *self = Taken::Bits(bits);
                }
            }
            Taken::Bits(bits) => {
                bits.insert(i);
            }
        }
    }

    /// Bit index `i` is free now (it was taken).
    #[inline]
    fn remove(&mut self, i: usize) {
        match self {
            Taken::Held => {}
            Taken::Few(list) => {
                let at = list.binary_search(&(i as u16)).expect("a taken port");
                list.remove(at);
            }
            Taken::Bits(bits) => {
                assert!(bits.remove(i), "a taken port");
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Taken::Held => 0,
            Taken::Few(list) => list.capacity() * 2,
            Taken::Bits(bits) => bits.heap_bytes(),
        }
    }
}

/// The ports held toward one destination as a lookup reads them: [`Taken`] with
/// [`Taken::Held`] resolved to [`PortSet::held`].
enum Ports<'a> {
    Bits(&'a PortBits),
    Few(&'a [u16]),
}

/// The first index from `start` on in steps of two, below `stop`, that the sorted
/// `list` lacks.
fn next_missing(list: &[u16], start: usize, stop: usize) -> Option<usize> {
    let mut rest = &list[list.partition_point(|&x| usize::from(x) < start)..];
    let mut i = start;
    while i < stop {
        while let Some((&x, tail)) = rest.split_first()
            && usize::from(x) < i
        {
            rest = tail;
        }
        if rest.first().is_some_and(|&x| usize::from(x) == i) {
            i += 2;
        } else {
            return Some(i);
        }
    }
    None
}

/// A destination tracked by a [`PortSet`], from [`PortSet::toward`]; valid until
/// the set changes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Toward(usize);

impl PortSet {
    /// For ephemeral ports in `lo..=hi`.
    pub fn new(range: [u16; 2]) -> PortSet {
        PortSet::with_few(range, FEW)
    }

    /// With bitmaps per destination from `few` ports on.
    fn with_few([lo, hi]: [u16; 2], few: usize) -> PortSet {
        PortSet {
            base: lo,
            len: usize::from(hi.saturating_sub(lo)) + 1,
            few,
            ..PortSet::default()
        }
    }

    /// Bit index of `port`. Panics outside the range.
    #[inline]
    fn index(&self, port: u16) -> usize {
        let i = usize::from(port.wrapping_sub(self.base));
        assert!(i < self.len, "port {port} outside the ephemeral range");
        i
    }

    /// Whether any socket holds `port`.
    #[inline]
    pub fn held(&self, port: u16) -> bool {
        let i = usize::from(port.wrapping_sub(self.base));
        i < self.len && self.held.contains(i)
    }

    /// Prefetches the word of `held` that says whether `port` is held (a hint; see
    /// [`sim_core::prefetch`]).
    #[inline]
    pub fn prefetch(&self, port: u16) {
        self.held
            .prefetch(usize::from(port.wrapping_sub(self.base)));
    }

    /// One more socket, toward `remote`, holds `port` (none toward `remote` held it:
    /// a 4-tuple is unique); true if it is the first.
    #[inline]
    pub fn acquire(&mut self, port: u16, remote: SockAddr) -> bool {
        let i = self.index(port);
        if self.held.is_empty() {
            self.held = PortBits::new(self.len);
        }
        // Before `held` changes: ports taken from it must not have this one.
        self.track(i, remote);
        self.holders += 1;
        if self.held.insert(i) {
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
        let i = self.index(port);
        self.holders -= 1;
        if self.overflow {
            self.overflow = self.holders > 0;
        } else {
            let k = self.find(remote).expect("a destination with holders");
            let d = &mut self.dests[k];
            d.holders -= 1;
            d.taken.remove(i);
        }
        if !self.shared.is_empty()
            && let Some(n) = self.shared.get_mut(&port)
        {
            *n -= 1;
            if *n == 0 {
                self.shared.remove(&port);
            }
            return false;
        }
        assert!(!self.held.is_empty(), "a port was acquired");
        assert!(self.held.remove(i), "port {port} held");
        true
    }

    /// The entry of `remote`, if it has holders.
    #[inline]
    fn find(&self, remote: SockAddr) -> Option<usize> {
        self.dests
            .iter()
            .position(|d| d.remote == remote && d.holders > 0)
    }

    /// Counts a socket toward `remote` on the port of bit index `i`.
    #[inline]
    fn track(&mut self, i: usize, remote: SockAddr) {
        if self.overflow {
            return;
        }
        let Some(k) = self.find(remote).or_else(|| self.add_dest(remote)) else {
            return;
        };
        let (len, few) = (self.len, self.few);
        let d = &mut self.dests[k];
        d.holders += 1;
        d.taken.insert(i, len, few);
    }

    /// An entry for `remote`, toward which no port is held; `None` (and
    /// [`PortSet::overflow`]) when [`MAX_DESTS`] destinations have holders.
    #[cold]
    fn add_dest(&mut self, remote: SockAddr) -> Option<usize> {
        let others = self.holders > 0;
        if others {
            // The one destination so far had `held` for its ports: no longer.
            let (held, len, few) = (&self.held, self.len, self.few);
            for d in self.dests.iter_mut().filter(|d| d.holders > 0) {
                if let Taken::Held = d.taken {
                    d.taken = Taken::of(held, len, few);
                }
            }
        }
        let i = match self.dests.iter().position(|d| d.holders == 0) {
            Some(i) => i,
            None if self.dests.len() < MAX_DESTS => {
                self.dests.push(Dest {
                    remote,
                    holders: 0,
                    taken: Taken::Held,
                });
                self.dests.len() - 1
            }
            None => {
                self.overflow = true;
                self.dests.clear();
                return None;
            }
        };
        // A free entry's list is empty, its bitmap all clear (each release cleared
        // its port): either serves as it is.
        let d = &mut self.dests[i];
        d.remote = remote;
        if !others {
            d.taken = Taken::Held;
        } else if let Taken::Held = d.taken {
            d.taken = Taken::Few(Vec::new());
        }
        Some(i)
    }

    /// The ports held toward `remote`, if they are tracked: always while sockets
    /// point to at most [`MAX_DESTS`] destinations at once. `None` also when no
    /// port is held toward `remote`.
    #[inline]
    pub fn toward(&self, remote: SockAddr) -> Option<Toward> {
        if self.overflow {
            None
        } else {
            self.find(remote).map(Toward)
        }
    }

    /// The ports held toward `t`'s destination.
    #[inline]
    fn ports(&self, t: Toward) -> Ports<'_> {
        match &self.dests[t.0].taken {
            Taken::Held => Ports::Bits(&self.held),
            Taken::Few(list) => Ports::Few(list),
            Taken::Bits(bits) => Ports::Bits(bits),
        }
    }

    /// Whether a socket toward `t`'s destination holds `port` (in the range).
    #[inline]
    pub fn taken(&self, t: Toward, port: u16) -> bool {
        let i = usize::from(port - self.base);
        match self.ports(t) {
            Ports::Bits(bits) => bits.contains(i),
            Ports::Few(list) => list.binary_search(&(i as u16)).is_ok(),
        }
    }

    /// The first port from `from` on, in steps of two (the ports of one parity, as
    /// Linux's scan takes them), below `end`, that no socket toward `t`'s
    /// destination holds; else the first port of that parity at or past `end`.
    /// A bitmap is read 64 ports a word, and runs of words whose ports of that
    /// parity are all taken are skipped 64 words at a time
    /// ([`PortBits::next_clear`]). `from` and `end - 1` are in the range,
    /// `from < end`.
    pub fn next_untaken(&self, t: Toward, from: u32, end: u32) -> u32 {
        let base = u32::from(self.base);
        debug_assert!(base <= from && from < end && end <= base + self.len as u32);
        let (start, stop) = ((from - base) as usize, (end - base) as usize);
        let next = match self.ports(t) {
            Ports::Bits(bits) => bits.next_clear(start, stop),
            Ports::Few(list) => next_missing(list, start, stop),
        };
        match next {
            Some(i) => base + i as u32,
            None => from + (end - from).div_ceil(2) * 2,
        }
    }

    /// Heap bytes held (the map counted as `capacity × 8/7` buckets of entry +
    /// control byte).
    pub fn heap_bytes(&self) -> usize {
        let spilled = if self.dests.spilled() {
            self.dests.capacity() * std::mem::size_of::<Dest>()
        } else {
            0
        };
        self.held.heap_bytes()
            + spilled
            + self
                .dests
                .iter()
                .map(|d| d.taken.heap_bytes())
                .sum::<usize>()
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
    use std::collections::{BTreeMap, BTreeSet};

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

    fn dest(i: u32) -> SockAddr {
        SockAddr::new(crate::segment::Addr(0x0a00_0001 + i), 80)
    }

    /// Sockets toward `n` destinations (the first `first` % of the time, so that
    /// it is often the only one with holders), acquired and released at random
    /// against a model of every socket; every 10,000 steps all are released. With
    /// more destinations than [`MAX_DESTS`] tracking overflows now and then.
    /// Bitmaps per destination from 8 ports on, so that destinations go from
    /// `held`'s ports to a list to a bitmap and back often.
    fn holders_like_a_model(n: u32, first: u32, seed: u64) -> [u32; 3] {
        // A small range, so ports are shared often; its ends included.
        let (lo, hi) = (1000u16, 1200u16);
        let mut set = PortSet::with_few([lo, hi], 8);
        // Each port's holders, by destination.
        let mut model: BTreeMap<u16, Vec<SockAddr>> = BTreeMap::new();
        let mut overflow = false;
        let mut rng = crate::hash::SplitMix::new(seed);
        let mut seen = [0; 3]; // steps with one destination held, several, overflow
        for step in 0..100_000 {
            let port = lo + rng.below(u32::from(hi - lo) + 1) as u16;
            let holders = model.entry(port).or_default();
            // Releases outweigh acquisitions where a port is held: a few holders each.
            if !holders.is_empty() && rng.below(3) != 0 {
                let i = rng.below(holders.len() as u32) as usize;
                let remote = holders.swap_remove(i);
                assert_eq!(set.release(port, remote), holders.is_empty(), "step {step}");
            } else {
                let remote = if rng.below(100) < first {
                    dest(0)
                } else {
                    dest(1 + rng.below(n - 1))
                };
                if holders.contains(&remote) {
                    // A 4-tuple is held once.
                    continue;
                }
                let first = holders.is_empty();
                holders.push(remote);
                let dests: BTreeSet<SockAddr> = model.values().flatten().copied().collect();
                overflow |= dests.len() > MAX_DESTS;
                assert_eq!(set.acquire(port, remote), first, "step {step}");
            }
            if step % 10_000 == 9_999 {
                for (&port, holders) in &mut model {
                    for remote in holders.drain(..).rev() {
                        set.release(port, remote);
                    }
                }
            }
            model.retain(|_, h| !h.is_empty());
            overflow &= !model.is_empty();
            assert_eq!(set.overflow, overflow, "step {step}");
            let probe = lo - 1 + rng.below(u32::from(hi - lo) + 3) as u16;
            assert_eq!(set.held(probe), model.contains_key(&probe), "step {step}");
            let remote = dest(rng.below(n));
            let taken: BTreeSet<u32> = model
                .iter()
                .filter(|(_, h)| h.contains(&remote))
                .map(|(&p, _)| u32::from(p))
                .collect();
            let toward = set.toward(remote);
            assert_eq!(
                toward.is_some(),
                !overflow && !taken.is_empty(),
                "step {step}"
            );
            if let Some(t) = toward {
                let many = model.values().flatten().any(|&r| r != remote);
                seen[usize::from(many)] += 1;
                for _ in 0..8 {
                    let from = u32::from(lo) + rng.below(u32::from(hi - lo) + 1);
                    let end = from + 1 + rng.below(u32::from(hi) + 1 - from);
                    assert_eq!(
                        set.taken(t, from as u16),
                        taken.contains(&from),
                        "step {step}"
                    );
                    let mut want = from;
                    while want < end && taken.contains(&want) {
                        want += 2;
                    }
                    assert_eq!(set.next_untaken(t, from, end), want, "step {step}");
                }
            }
            seen[2] += u32::from(overflow);
        }
        for (port, holders) in model {
            for (k, &remote) in holders.iter().enumerate().rev() {
                assert_eq!(set.release(port, remote), k == 0);
            }
        }
        assert!((0..set.len).all(|i| !set.held.contains(i)));
        assert!(set.shared.is_empty());
        assert!(set.holders == 0 && !set.overflow);
        assert!(set.dests.iter().all(|d| d.holders == 0
            && match &d.taken {
                Taken::Held => true,
                Taken::Few(list) => list.is_empty(),
                Taken::Bits(bits) => (0..set.len).all(|i| !bits.contains(i)),
            }));
        seen
    }

    #[test]
    fn counts_holders_like_a_map() {
        let [one, several, overflow] = holders_like_a_model(3, 99, 5);
        assert!(
            one > 1_000 && several > 1_000 && overflow == 0,
            "{one} {several} {overflow}"
        );
        // Ports at both ends of the range.
        let mut set = PortSet::new([1000, 1200]);
        for port in [1000, 1200] {
            assert!(set.acquire(port, dest(0)) && !set.acquire(port, dest(1)));
            assert!(!set.release(port, dest(0)) && set.release(port, dest(1)));
        }
    }

    #[test]
    fn stops_tracking_past_max_dests_until_no_port_is_held() {
        // Tracking resumes after each overflow ends (every 10,000 steps).
        let [_, several, overflow] = holders_like_a_model(MAX_DESTS as u32 + 8, 0, 6);
        assert!(several > 1_000 && overflow > 1_000, "{several} {overflow}");
    }

    #[test]
    fn tracks_dozens_of_destinations() {
        // 40 destinations, half the sockets toward the first.
        let [_, several, overflow] = holders_like_a_model(40, 50, 7);
        assert!(several > 50_000 && overflow == 0, "{several} {overflow}");
    }

    #[test]
    fn next_untaken_is_the_first_free_port_of_the_parity() {
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
            // One destination: its bitmap is `held`.
            let Some(t) = set.toward(remote) else {
                assert_eq!(set.holders, 0);
                continue;
            };
            assert!(matches!(set.dests[t.0].taken, Taken::Held));
            for _ in 0..2_000 {
                let from = u32::from(lo) + rng.below(u32::from(hi - lo) + 1);
                let end = from + 1 + rng.below(u32::from(hi) + 1 - from);
                let mut want = from;
                while want < end && set.held(want as u16) {
                    want += 2;
                }
                assert_eq!(
                    set.next_untaken(t, from, end),
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
