//! The 4-tuple demultiplexing table of a host: open addressing with linear probing
//! over 8-byte slots (32-bit hash, 32-bit value) and backward-shift deletion. The
//! key itself is not stored: a lookup confirms a slot whose hash matches with the
//! caller's `key_of(value)` (the socket's own 4-tuple, which the caller reads next
//! anyway); changes name the value too (each socket's value is unique), so they
//! need no key check. One entry per TIME_WAIT socket costs 8 bytes over the load factor,
//! against 13 for a `HashMap<([u32; 2]), u32>` entry and its control byte.
//! Lookup only: never iterated, so its order cannot reach any output.

use crate::hash::mix64;

#[derive(Clone, Copy)]
struct Slot {
    hash: u32,
    val: u32,
}

/// `val` of a free slot (no socket index or mini-socket index reaches it).
const EMPTY: u32 = u32::MAX;
const FREE: Slot = Slot {
    hash: 0,
    val: EMPTY,
};

/// Maps packed 4-tuples (`u64`) to socket values (`u32`, never `u32::MAX`).
#[derive(Default)]
pub(crate) struct Demux {
    slots: Vec<Slot>,
    len: usize,
}

#[inline]
fn hash(key: u64) -> u32 {
    (mix64(key) >> 32) as u32
}

impl Demux {
    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Slot index of the first entry from `key`'s home on for which `hit(slot)`.
    #[inline(always)]
    fn find(&self, key: u64, hit: impl Fn(Slot) -> bool) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let h = hash(key);
        let mask = self.mask();
        let mut i = h as usize & mask;
        loop {
            let s = self.slots[i];
            if s.val == EMPTY {
                return None;
            }
            if s.hash == h && hit(s) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Prefetches the slot where a probe for `key` starts (a hint; see
    /// [`sim_core::prefetch`]).
    #[inline]
    pub fn prefetch(&self, key: u64) {
        if self.len > 0 {
            sim_core::prefetch::prefetch(&self.slots[hash(key) as usize & self.mask()]);
        }
    }

    /// The value stored for `key`; `key_of(v)` gives the key of a stored value.
    /// Always inlined: it is the first step of every segment's processing, and a
    /// call would spill and restore six registers around a dozen instructions.
    #[inline(always)]
    pub fn get(&self, key: u64, key_of: impl Fn(u32) -> u64) -> Option<u32> {
        self.find(key, |s| key_of(s.val) == key)
            .map(|i| self.slots[i].val)
    }

    /// The entry `key → old` now maps to `new`. False if there is no such entry.
    pub fn replace(&mut self, key: u64, old: u32, new: u32) -> bool {
        debug_assert_ne!(new, EMPTY);
        match self.find(key, |s| s.val == old) {
            Some(i) => {
                self.slots[i].val = new;
                true
            }
            None => false,
        }
    }

    /// Stores `val` for `key`, which has no entry. Inlined into its callers
    /// (socket creation); the rare growth is a call.
    #[inline]
    pub fn insert(&mut self, key: u64, val: u32) {
        debug_assert_ne!(val, EMPTY);
        // At most 3/4 full: linear probing stays short.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let h = hash(key);
        let mask = self.mask();
        let mut i = h as usize & mask;
        while self.slots[i].val != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot { hash: h, val };
        self.len += 1;
    }

    /// Removes the entry `key → val`. False if there is no such entry.
    pub fn remove(&mut self, key: u64, val: u32) -> bool {
        let Some(mut i) = self.find(key, |s| s.val == val) else {
            return false;
        };
        let mask = self.mask();
        // Backward shift: pull later entries of the probe run into the hole unless
        // their home lies cyclically in (hole, position].
        let mut j = (i + 1) & mask;
        while self.slots[j].val != EMPTY {
            let home = self.slots[j].hash as usize & mask;
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(i) & mask) {
                self.slots[i] = self.slots[j];
                i = j;
            }
            j = (j + 1) & mask;
        }
        self.slots[i] = FREE;
        self.len -= 1;
        true
    }

    #[inline(never)]
    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![FREE; n]);
        let mask = n - 1;
        for s in old.into_iter().filter(|s| s.val != EMPTY) {
            let mut i = s.hash as usize & mask;
            while self.slots[i].val != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn behaves_like_a_map_under_random_inserts_replaces_and_removes() {
        // Value v has key keys[v] (as a socket index has its 4-tuple); keys share
        // their low bits often, so probe runs and backward shifts are exercised.
        let mut keys: Vec<u64> = Vec::new();
        let mut d = Demux::default();
        let mut model: BTreeMap<u64, u32> = BTreeMap::new();
        let mut rng = crate::hash::SplitMix::new(11);
        for step in 0..200_000u32 {
            let k = u64::from(rng.below(3000)) << 20;
            match (model.get(&k).copied(), rng.below(3)) {
                (None, 0 | 1) => {
                    keys.push(k);
                    let v = (keys.len() - 1) as u32;
                    d.insert(k, v);
                    model.insert(k, v);
                }
                (Some(old), 0) => {
                    keys.push(k);
                    let v = (keys.len() - 1) as u32;
                    assert!(d.replace(k, old, v));
                    model.insert(k, v);
                }
                (Some(old), _) => {
                    assert!(!d.remove(k, old + 1), "another value");
                    assert!(d.remove(k, old), "step {step}");
                    model.remove(&k);
                }
                (None, _) => assert!(!d.remove(k, 0)),
            }
            let key_of = |v: u32| keys[v as usize];
            assert_eq!(d.get(k, key_of), model.get(&k).copied(), "step {step}");
            assert_eq!(d.len, model.len());
        }
        let key_of = |v: u32| keys[v as usize];
        for (&k, &v) in &model {
            assert_eq!(d.get(k, key_of), Some(v));
        }
        assert!(d.slots.len() * 3 >= d.len * 4);
    }
}
