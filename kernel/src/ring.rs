//! The interrupt ring: a lock-free single-producer/single-consumer queue of bytes from an interrupt handler to a device thread.
//!
//! The keyboard's interrupt handler must never block, so it cannot take the
//! kernel lock to hand a character on. It pushes the character here (one
//! producer: the handler) and the device thread pops it (one consumer), the
//! classic Lamport ring: `tail` is written only by the producer, `head`
//! only by the consumer, each on its own cache line
//! ([`crossbeam_utils::CachePadded`]) so that the two sides do not bounce
//! one line between CPUs. Chapter: `docs/concurrency.md`.
//!
//! # Invariants
//! - `head <= tail <= head + N` (indices grow without bound and wrap at
//!   `usize::MAX`, slot `i % N`); the ring holds `tail - head` bytes.
//! - A slot is written before `tail` is published past it (`Release`), and
//!   read after `tail` is observed (`Acquire`); it is reused only after
//!   `head` is published past it (`Release`/`Acquire` the other way).
//! - A push onto a full ring is never silently lost: it returns
//!   [`Overrun`] and is counted ([`Ring::overruns`]); the kernel reports it.
//!
//! Does not guarantee anything with two producers or two consumers: that
//! is a caller bug the types do not prevent (the methods take `&self` so
//! that the two sides can live on different CPUs).
//!
//! # Value semantics
//! A ring is also plain data for the kernel state (`Clone + Eq + Hash`):
//! two rings are equal when they hold the same bytes in the same order, have
//! the same capacity and counted the same overruns, whatever their raw
//! indices. These take snapshots of the atomics and are meant for a ring no
//! other thread is using (the kernel's, under its lock; the checker's).

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU8, AtomicUsize, Ordering};

/// A push found the ring full: the byte was not stored (and was counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overrun {
    /// The byte that did not fit.
    pub byte: u8,
}

/// A single-producer/single-consumer ring of `N` bytes.
pub struct Ring<const N: usize> {
    /// Next index to pop; written by the consumer only.
    head: CachePadded<AtomicUsize>,
    /// Next index to push; written by the producer only.
    tail: CachePadded<AtomicUsize>,
    slots: [AtomicU8; N],
    /// Pushes refused because the ring was full; written by the producer.
    overruns: AtomicUsize,
    /// Bytes the ring holds when full (1 to `N`): fixed at creation.
    capacity: usize,
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Ring::new()
    }
}

impl<const N: usize> Ring<N> {
    /// An empty ring.
    ///
    /// # Panics
    /// When `N` is 0 (a ring that can hold nothing is a configuration bug).
    pub fn new() -> Ring<N> {
        Ring::with_capacity(N)
    }

    /// An empty ring that holds at most `capacity` bytes (a small ring in
    /// the same storage: the keyboard's size is chosen per scenario).
    ///
    /// # Panics
    /// When `capacity` is 0 or above `N` (a configuration bug; the kernel
    /// checks the value it is given first).
    pub fn with_capacity(capacity: usize) -> Ring<N> {
        assert!(
            capacity > 0 && capacity <= N,
            "a ring holds 1 to {N} bytes, not {capacity}"
        );
        Ring {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots: core::array::from_fn(|_| AtomicU8::new(0)),
            overruns: AtomicUsize::new(0),
            capacity,
        }
    }

    /// Producer side (the interrupt handler): stores `byte`, or reports an
    /// overrun when the ring is full. Never blocks, never spins.
    ///
    /// # Errors
    /// [`Overrun`] when the ring is full; the overrun is counted.
    pub fn push(&self, byte: u8) -> Result<(), Overrun> {
        self.push_publishing(byte, Ordering::Release)
    }

    /// `push` with the ordering of the store that publishes the byte. Only
    /// `Release` is correct; the loom models pass `Relaxed` to show that
    /// they catch the bug (a consumer may then read the slot before the
    /// byte is in it).
    #[doc(hidden)]
    pub fn push_publishing(&self, byte: u8, publish: Ordering) -> Result<(), Overrun> {
        // Only this side writes `tail`: a relaxed load sees our own last store.
        let tail = self.tail.load(Ordering::Relaxed);
        // Acquire: the consumer finished reading the slot before it moved
        // `head` past it, so we may overwrite it.
        let head = self.head.load(Ordering::Acquire);
        if tail.wrapping_sub(head) >= self.capacity {
            self.overruns.fetch_add(1, Ordering::Relaxed);
            return Err(Overrun { byte });
        }
        self.slots[tail % N].store(byte, Ordering::Relaxed);
        self.tail.store(tail.wrapping_add(1), publish);
        Ok(())
    }

    /// Consumer side (the device thread): the oldest byte, if any.
    pub fn pop(&self) -> Option<u8> {
        // Only this side writes `head`.
        let head = self.head.load(Ordering::Relaxed);
        // Acquire: pairs with the producer's Release on `tail`, so the slot
        // holds the byte published with it.
        let tail = self.tail.load(Ordering::Acquire);
        if tail == head {
            return None;
        }
        let byte = self.slots[head % N].load(Ordering::Relaxed);
        // Release: our read of the slot happens before the producer reuses it.
        self.head.store(head.wrapping_add(1), Ordering::Release);
        Some(byte)
    }

    /// Bytes in the ring now (a snapshot: the other side may move on).
    pub fn len(&self) -> usize {
        let tail = self.tail.load(Ordering::Acquire);
        let head = self.head.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(self.capacity)
    }

    /// Is the ring empty now (a snapshot)?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pushes refused so far because the ring was full.
    pub fn overruns(&self) -> usize {
        self.overruns.load(Ordering::Relaxed)
    }

    /// The number of bytes the ring holds when full.
    pub const fn capacity(&self) -> usize {
        self.capacity
    }

    /// The byte `offset` places after the oldest, without taking it (a
    /// snapshot, for the kernel's encoding and its reports).
    pub fn peek(&self, offset: usize) -> Option<u8> {
        if offset >= self.len() {
            return None;
        }
        let head = self.head.load(Ordering::Acquire);
        Some(self.slots[head.wrapping_add(offset) % N].load(Ordering::Relaxed))
    }

    /// The bytes in the ring, oldest first (a snapshot).
    pub fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        (0..self.len()).map_while(move |offset| self.peek(offset))
    }

    /// Sets the overrun count (restoring a kernel state; see the module
    /// comment on value semantics).
    pub fn set_overruns(&self, overruns: usize) {
        self.overruns.store(overruns, Ordering::Relaxed);
    }
}

impl<const N: usize> Clone for Ring<N> {
    fn clone(&self) -> Ring<N> {
        let copy = Ring::with_capacity(self.capacity);
        for byte in self.bytes() {
            // Cannot overrun: the copy has the same capacity.
            let _ = copy.push(byte);
        }
        copy.set_overruns(self.overruns());
        copy
    }
}

impl<const N: usize> PartialEq for Ring<N> {
    fn eq(&self, other: &Ring<N>) -> bool {
        self.capacity == other.capacity
            && self.overruns() == other.overruns()
            && self.len() == other.len()
            && self.bytes().eq(other.bytes())
    }
}

impl<const N: usize> Eq for Ring<N> {}

impl<const N: usize> core::hash::Hash for Ring<N> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.capacity.hash(state);
        self.overruns().hash(state);
        self.len().hash(state);
        for byte in self.bytes() {
            byte.hash(state);
        }
    }
}

impl<const N: usize> core::fmt::Debug for Ring<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ring")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .field("overruns", &self.overruns())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn bytes_come_out_in_the_order_they_went_in() {
        let ring: Ring<4> = Ring::new();
        for b in b"hi\n" {
            ring.push(*b).unwrap();
        }
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.pop(), Some(b'h'));
        assert_eq!(ring.pop(), Some(b'i'));
        assert_eq!(ring.pop(), Some(b'\n'));
        assert_eq!(ring.pop(), None);
        assert!(ring.is_empty());
    }

    #[test]
    fn a_push_onto_a_full_ring_is_an_overrun_that_is_counted() {
        let ring: Ring<2> = Ring::new();
        ring.push(1).unwrap();
        ring.push(2).unwrap();
        assert_eq!(ring.push(3), Err(Overrun { byte: 3 }));
        assert_eq!(ring.push(4), Err(Overrun { byte: 4 }));
        assert_eq!(ring.overruns(), 2);
        assert_eq!(ring.pop(), Some(1));
        ring.push(5).unwrap();
        assert_eq!(ring.pop(), Some(2));
        assert_eq!(ring.pop(), Some(5));
    }

    #[test]
    fn a_small_ring_in_large_storage_overruns_at_its_own_capacity() {
        let ring: Ring<8> = Ring::with_capacity(2);
        ring.push(1).unwrap();
        ring.push(2).unwrap();
        assert_eq!(ring.push(3), Err(Overrun { byte: 3 }));
        assert_eq!(ring.capacity(), 2);
        assert_eq!(ring.len(), 2);
    }

    #[test]
    fn rings_with_the_same_bytes_are_equal_whatever_their_indices() {
        let a: Ring<4> = Ring::new();
        let b: Ring<4> = Ring::new();
        for byte in [9, 1, 2] {
            a.push(byte).unwrap();
        }
        assert_eq!(a.pop(), Some(9));
        b.push(1).unwrap();
        b.push(2).unwrap();
        assert_eq!(a, b);
        let c = a.clone();
        assert_eq!(c, a);
        assert_eq!(c.bytes().collect::<std::vec::Vec<_>>(), [1, 2]);
        assert_eq!(c.peek(1), Some(2));
        b.pop();
        assert_ne!(a, b);
    }

    #[test]
    fn the_indices_wrap_without_losing_a_byte() {
        let ring: Ring<3> = Ring::new();
        for round in 0..1000u32 {
            ring.push(round as u8).unwrap();
            ring.push((round + 1) as u8).unwrap();
            assert_eq!(ring.pop(), Some(round as u8));
            assert_eq!(ring.pop(), Some((round + 1) as u8));
        }
        assert_eq!(ring.overruns(), 0);
    }

    #[test]
    fn a_producer_and_a_consumer_on_two_threads_lose_nothing() {
        let ring: Ring<8> = Ring::new();
        const COUNT: usize = 100_000;
        let mut received = std::vec::Vec::with_capacity(COUNT);
        crossbeam_utils::thread::scope(|s| {
            s.spawn(|_| {
                let backoff = crossbeam_utils::Backoff::new();
                for k in 0..COUNT {
                    while ring.push(k as u8).is_err() {
                        backoff.snooze();
                    }
                    backoff.reset();
                }
            });
            while received.len() < COUNT {
                if let Some(b) = ring.pop() {
                    received.push(b);
                }
            }
        })
        .unwrap();
        assert!(received.iter().enumerate().all(|(k, &b)| b == k as u8));
    }
}
