//! Linux's `table_perturb` (`net/ipv4/inet_hashtables.c`): per hashed destination,
//! how far `__inet_hash_connect()` moves the next ephemeral port search's start.
//!
//! A client host connects to one destination, or a few, so one entry does nearly
//! all the work. That entry is kept inline, in the host, and the table (a separate
//! allocation, a cache miss on every connect() of a big run, where thousands of
//! hosts take turns) is read and written only when another entry is wanted.

/// Linux `INET_TABLE_PERTURB_SIZE` is 2^16; 256 entries keep 5,000 client hosts
/// light while still spreading destinations.
pub(crate) const PERTURB_SIZE: usize = 256;

/// The table, with its most recently used entry held apart.
#[derive(Default)]
pub(crate) struct Perturb {
    /// `(index, value)` of the entry in use: `table[index]` is stale meanwhile.
    hot: Option<(usize, u32)>,
    /// Every entry, zero at first; allocated at the first use.
    table: Vec<u32>,
}

impl Perturb {
    /// Entry `index` (below [`PERTURB_SIZE`]), to read and update.
    #[inline]
    pub fn entry(&mut self, index: usize) -> &mut u32 {
        match self.hot {
            Some((i, _)) if i == index => {}
            _ => self.switch_to(index),
        }
        let (_, value) = self.hot.as_mut().expect("just made hot");
        value
    }

    /// Entry `index` if it is the one in use (for prefetching; the others are
    /// not worth a read then).
    #[inline]
    pub fn hot(&self, index: usize) -> Option<u32> {
        self.hot
            .and_then(|(i, value)| (i == index).then_some(value))
    }

    /// Writes the hot entry back and makes entry `index` the hot one.
    #[cold]
    fn switch_to(&mut self, index: usize) {
        if self.table.is_empty() {
            self.table = vec![0; PERTURB_SIZE];
        }
        if let Some((i, value)) = self.hot {
            self.table[i] = value;
        }
        self.hot = Some((index, self.table[index]));
    }

    /// Bytes allocated.
    pub fn heap_bytes(&self) -> usize {
        self.table.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::rng::{MasterSeed, below};

    /// Against a plain table: random updates over a few entries (as a host with a
    /// few destinations makes), with switches between them, read back the same.
    #[test]
    fn reads_and_writes_like_a_plain_table() {
        let mut rng = MasterSeed(7).stream("perturb");
        let mut p = Perturb::default();
        let mut model = vec![0u32; PERTURB_SIZE];
        let indices = [3, 200, 3 + 128, PERTURB_SIZE - 1];
        for _ in 0..10_000 {
            let i = indices[below(&mut rng, indices.len() as u64) as usize];
            let add = below(&mut rng, 1 << 20) as u32;
            assert_eq!(*p.entry(i), model[i], "entry {i}");
            *p.entry(i) = p.entry(i).wrapping_add(add);
            model[i] = model[i].wrapping_add(add);
        }
        for (i, &want) in model.iter().enumerate() {
            assert_eq!(*p.entry(i), want, "entry {i} at the end");
        }
        assert_eq!(p.heap_bytes(), PERTURB_SIZE * 4);
    }
}
