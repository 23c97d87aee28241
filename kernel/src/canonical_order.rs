//! Canonical ranks for sequence numbers that matter only by their order within some queues.
//!
//! The kernel numbers every message and blocked sender in one arrival
//! order, but reads that order only inside a queue: a receive takes the
//! oldest message *at its destination*, a refill moves the oldest *blocked
//! sender* into a freed slot. Two states whose queues hold the same things
//! in the same order behave the same, however their queues interleave in
//! the global numbering. The checker should store them once.
//!
//! [`Orders`] takes the numbers with the queues ("chains") each belongs to
//! and ranks them by a topological sort of those chains that breaks ties by
//! chain key, never by the numbers themselves: the ranks depend only on what
//! each chain holds, in order, so both states get the same ranks. The ranks
//! keep every chain's order (the sort is of a partial order the real
//! numbers extend), so a kernel restored with them as its numbers behaves
//! as the original did.

use crate::config::{MAX_PROCS, MAX_REQUESTS, MAX_SLOTS};

/// How many numbers one state can have to rank: slot messages (plain and
/// MPI), blocked processes, requests.
pub(crate) const CAPACITY: usize = 2 * MAX_SLOTS + MAX_PROCS + MAX_REQUESTS;

/// A queue a number's order matters in: a kind (below 16) and a value
/// (below 2^60) that together name it. Compared only for equality and to
/// break ties; any key unique to its queue will do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Chain(u64);

impl Chain {
    pub(crate) const fn new(kind: u8, value: u64) -> Chain {
        Chain(((kind as u64) << 60) | (value & ((1 << 60) - 1)))
    }
}

/// No second chain.
const NONE: Chain = Chain(u64::MAX);

/// No successor.
const END: u16 = u16::MAX;

#[derive(Clone, Copy)]
struct Item {
    seq: u64,
    /// The chains it belongs to: the first always, the second unless `NONE`.
    chains: [Chain; 2],
    /// Its successor in each of its chains, by index into `items`, or `END`.
    next: [u16; 2],
    /// Predecessors not yet ranked.
    waiting_for: u8,
    rank: u32,
}

/// Sequence numbers and their canonical ranks (from 1).
pub(crate) struct Orders {
    items: heapless::Vec<Item, CAPACITY>,
}

impl Orders {
    /// Empty; filled in place (a table is tens of kilobytes: returning one
    /// by value copies it).
    pub(crate) const fn new() -> Orders {
        Orders {
            items: heapless::Vec::new(),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
    }

    /// Adds `seq`, which belongs to `first` and, if given, to `second`.
    #[inline]
    pub(crate) fn add(&mut self, seq: u64, first: Chain, second: Option<Chain>) {
        let _ = self.items.push(Item {
            seq,
            chains: [first, second.unwrap_or(NONE)],
            next: [END, END],
            waiting_for: 0,
            rank: 0,
        });
    }

    /// Ranks what was added. Afterwards [`Orders::rank`] answers.
    pub(crate) fn finish(&mut self) {
        let items = &mut self.items;
        items.sort_unstable_by_key(|i| i.seq);
        if items.len() <= 1 {
            // Nothing to order (the common case of one queued message).
            for item in items.iter_mut() {
                item.rank = 1;
            }
            return;
        }
        // Link each item to the next of each of its chains: walking in
        // number order, the last item seen of a chain is its predecessor.
        let mut last: heapless::Vec<(Chain, u16), CAPACITY> = heapless::Vec::new();
        for index in 0..items.len() {
            for c in 0..2 {
                let chain = items[index].chains[c];
                if chain == NONE {
                    continue;
                }
                match last.iter_mut().find(|(k, _)| *k == chain) {
                    Some((_, previous)) => {
                        let p = *previous as usize;
                        let slot = usize::from(items[p].chains[1] == chain);
                        items[p].next[slot] = index as u16;
                        items[index].waiting_for += 1;
                        *previous = index as u16;
                    }
                    None => {
                        let _ = last.push((chain, index as u16));
                    }
                }
            }
        }
        // Kahn's algorithm: of the items no unranked item precedes, rank the
        // one whose first chain is least. No two such items share a chain,
        // so the choice never looks at the numbers.
        let mut ready: heapless::Vec<u16, CAPACITY> = heapless::Vec::new();
        for (index, item) in items.iter().enumerate() {
            if item.waiting_for == 0 {
                let _ = ready.push(index as u16);
            }
        }
        let mut rank = 0;
        while let Some(at) = (0..ready.len()).min_by_key(|&r| items[ready[r] as usize].chains[0]) {
            let index = ready.swap_remove(at) as usize;
            rank += 1;
            items[index].rank = rank;
            for next in items[index].next {
                if next == END {
                    continue;
                }
                let n = next as usize;
                items[n].waiting_for -= 1;
                if items[n].waiting_for == 0 {
                    let _ = ready.push(next);
                }
            }
        }
    }

    /// The rank of `seq`, 0 for a number that was not added.
    pub(crate) fn rank(&self, seq: u64) -> u64 {
        self.items
            .binary_search_by_key(&seq, |i| i.seq)
            .map_or(0, |i| u64::from(self.items[i].rank))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Chain = Chain::new(0, 1);
    const B: Chain = Chain::new(0, 2);
    const SENDERS: Chain = Chain::new(9, 0);

    fn ranks(entries: &[(u64, Chain, Option<Chain>)]) -> std::vec::Vec<u64> {
        let mut orders = Orders::new();
        for &(seq, first, second) in entries {
            orders.add(seq, first, second);
        }
        orders.finish();
        entries.iter().map(|&(seq, ..)| orders.rank(seq)).collect()
    }

    #[test]
    fn queues_that_interleave_differently_get_the_same_ranks() {
        // A's 10 then 30, B's 20 then 40; and A's 11, 12, B's 5, 6.
        let one = ranks(&[(10, A, None), (30, A, None), (20, B, None), (40, B, None)]);
        let two = ranks(&[(11, A, None), (12, A, None), (5, B, None), (6, B, None)]);
        assert_eq!(one, two);
        assert_eq!(one, [1, 2, 3, 4], "A's first, as the lesser chain");
    }

    #[test]
    fn every_chain_keeps_its_order() {
        // A blocked sender to B (3) is older than one to A (5): the senders'
        // chain keeps that, and each destination keeps its own.
        let r = ranks(&[
            (1, A, None),
            (3, B, Some(SENDERS)),
            (5, A, Some(SENDERS)),
            (7, B, None),
        ]);
        let (a1, b3, a5, b7) = (r[0], r[1], r[2], r[3]);
        assert!(a1 < a5 && b3 < b7 && b3 < a5, "{r:?}");
    }

    #[test]
    fn a_number_not_added_ranks_0() {
        let mut orders = Orders::new();
        orders.add(4, A, None);
        orders.finish();
        assert_eq!((orders.rank(4), orders.rank(5)), (1, 0));
    }
}
