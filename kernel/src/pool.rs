//! The kernel buffer pool: fixed message slots, filled in place, and the arrival order over them.
//!
//! A message is copied from the sender's memory straight into its slot and
//! stays there until a receiver takes it: it is never built on the stack and
//! moved in, and taking one from the middle does not shift the others. What
//! keeps arrival order (non-overtaking, `docs/kernel.md`, "Blocking rules")
//! is a short list of slot numbers, oldest first; only that list shifts.
//!
//! # Invariants (checked by [`Pool::check`])
//! - `order` and `free` together name every slot of `slots` exactly once;
//! - the messages `order` names have strictly increasing ids.
//!
//! Which slot a message sits in is an accident of history, not state: two
//! pools are equal (and hash alike) when they hold the same messages in the
//! same order, and a free slot's stale bytes mean nothing.

use core::hash::{Hash, Hasher};

use heapless::Vec;
use ipclab_syscalls::{Pid, Tag};

use crate::config::{MAX_EAGER_LIMIT, MAX_SLOTS};
use crate::{Dest, Message};

// Slot numbers are kept in a byte.
const _: () = assert!(MAX_SLOTS <= u8::MAX as usize + 1);

/// Accepted messages not yet delivered, in arrival order.
#[derive(Clone, Default)]
pub(crate) struct Pool {
    /// The slots ever used (it grows to the largest number of messages held
    /// at once, so a clone copies no more than that); free ones are reused.
    slots: Vec<Message, MAX_SLOTS>,
    /// Slot numbers of the messages held, oldest first.
    order: Vec<u8, MAX_SLOTS>,
    /// Slot numbers of free slots (their contents are stale).
    free: Vec<u8, MAX_SLOTS>,
}

impl Pool {
    /// Messages held.
    #[inline]
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Is it empty?
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The messages, oldest first.
    #[inline]
    pub fn iter(&self) -> MessageIter<'_> {
        MessageIter {
            slots: &self.slots,
            order: self.order.iter(),
        }
    }

    /// The position in arrival order of the oldest message that satisfies
    /// `matches`.
    #[inline(always)]
    pub fn position(&self, mut matches: impl FnMut(&Message) -> bool) -> Option<usize> {
        let mut position = 0;
        while position < self.order.len() {
            if matches(&self.slots[self.order[position] as usize]) {
                return Some(position);
            }
            position += 1;
        }
        None
    }

    /// The message at `position` in arrival order.
    ///
    /// # Panics
    /// If `position` is not below [`Pool::len`] (a kernel bug).
    #[inline(always)]
    pub fn get(&self, position: usize) -> &Message {
        &self.slots[self.order[position] as usize]
    }

    /// The bytes of the slot the next [`Pool::commit`] will hold, to be
    /// filled in place (they hold a stale message's bytes until then);
    /// `None` when all `MAX_SLOTS` are taken. Nothing changes until the
    /// commit: a vacant slot that is not committed stays free.
    #[inline(always)]
    pub fn vacant(&mut self) -> Option<&mut Vec<u8, MAX_EAGER_LIMIT>> {
        if self.free.is_empty() {
            let slot = self.slots.len() as u8;
            self.slots.push(blank()).ok()?;
            // Cannot fail: `free` has room for every slot.
            let _ = self.free.push(slot);
        }
        let slot = *self.free.last()?;
        Some(&mut self.slots[slot as usize].data)
    }

    /// Makes the slot [`Pool::vacant`] filled a message, with this id,
    /// sender, destination and tag, at its place in arrival order: the id
    /// is its arrival number. A new send's message is the newest; a blocked
    /// sender's message that moves into a slot keeps the number it got when
    /// it blocked, so it may go before messages accepted since.
    ///
    /// # Panics
    /// If no slot is vacant (a kernel bug: `vacant` was not called).
    #[inline(always)]
    pub fn commit(&mut self, id: u64, from: Pid, dest: Dest, tag: Tag) {
        let slot = self.free.pop().expect("commit without a vacant slot");
        let message = &mut self.slots[slot as usize];
        message.id = id;
        message.from = from;
        message.dest = dest;
        message.tag = tag;
        let mut at = self.order.len();
        while at > 0 && self.slots[self.order[at - 1] as usize].id > id {
            at -= 1;
        }
        // Cannot fail: `order` has room for every slot.
        let _ = self.order.insert(at, slot);
    }

    /// Appends a message with `bytes` as the newest (restoring a saved
    /// state). Only the bytes are copied, straight into the slot, not a
    /// whole slot-sized buffer.
    ///
    /// # Errors
    /// [`Full`] when all `MAX_SLOTS` hold a message, or `bytes` are longer
    /// than a slot; nothing changes then.
    pub fn push(
        &mut self,
        id: u64,
        from: Pid,
        dest: Dest,
        tag: Tag,
        bytes: &[u8],
    ) -> Result<(), Full> {
        let data = self.vacant().ok_or(Full)?;
        data.clear();
        data.extend_from_slice(bytes).map_err(|_| Full)?;
        self.commit(id, from, dest, tag);
        Ok(())
    }

    /// Takes the message at `position` in arrival order out of the pool
    /// (its bytes stay behind in the slot, which becomes free).
    ///
    /// # Panics
    /// If `position` is not below [`Pool::len`] (a kernel bug).
    #[inline(always)]
    pub fn remove(&mut self, position: usize) -> Envelope {
        // The oldest message is the one usually taken, and often the only
        // one: popping it is cheaper than the general shift.
        let slot = if position + 1 == self.order.len() {
            self.order.pop().expect("position below len")
        } else {
            self.order.remove(position)
        };
        // Cannot fail: `free` has room for every slot.
        let _ = self.free.push(slot);
        let m = &self.slots[slot as usize];
        Envelope {
            id: m.id,
            from: m.from,
            dest: m.dest,
            tag: m.tag,
            len: m.len(),
        }
    }

    /// Empties the pool (the slots stay, free, for reuse).
    pub fn clear(&mut self) {
        self.free.clear();
        self.order.clear();
        for slot in 0..self.slots.len() {
            let _ = self.free.push(slot as u8);
        }
    }

    /// Checks the invariants in the module docs.
    pub fn check(&self) -> Result<(), &'static str> {
        let mut seen = [false; MAX_SLOTS];
        for &slot in self.order.iter().chain(&self.free) {
            match seen.get_mut(slot as usize) {
                Some(seen) if (slot as usize) < self.slots.len() && !*seen => *seen = true,
                _ => return Err("a pool slot is lost or named twice"),
            }
        }
        if self.order.len() + self.free.len() != self.slots.len() {
            return Err("a pool slot is lost or named twice");
        }
        let mut ids = self.iter().map(|m| m.id);
        let mut previous = ids.next();
        for id in ids {
            if previous >= Some(id) {
                return Err("the pool is not in arrival order");
            }
            previous = Some(id);
        }
        Ok(())
    }
}

/// Every slot holds a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Full;

/// A message taken out of the pool, without its bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Envelope {
    pub id: u64,
    pub from: Pid,
    pub dest: Dest,
    pub tag: Tag,
    pub len: u64,
}

impl core::ops::Index<usize> for Pool {
    type Output = Message;

    /// The message at this position in arrival order.
    #[inline]
    fn index(&self, position: usize) -> &Message {
        self.get(position)
    }
}

impl<'a> IntoIterator for &'a Pool {
    type Item = &'a Message;
    type IntoIter = MessageIter<'a>;

    fn into_iter(self) -> MessageIter<'a> {
        self.iter()
    }
}

/// What a slot holds before its first message.
fn blank() -> Message {
    Message {
        id: 0,
        from: Pid::new(0, 0),
        dest: Dest::Process(Pid::new(0, 0)),
        tag: 0,
        data: Vec::new(),
    }
}

impl PartialEq for Pool {
    fn eq(&self, other: &Pool) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Pool {}

impl Hash for Pool {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for message in self.iter() {
            message.hash(state);
        }
    }
}

impl core::fmt::Debug for Pool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The messages in the kernel buffer, oldest first: what
/// [`Kernel::messages`](crate::Kernel::messages) shows.
#[derive(Clone, Copy)]
pub struct Messages<'a>(pub(crate) &'a Pool);

impl<'a> Messages<'a> {
    /// Messages held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Is the buffer empty?
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The messages, oldest first.
    pub fn iter(&self) -> MessageIter<'a> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for Messages<'a> {
    type Item = &'a Message;
    type IntoIter = MessageIter<'a>;

    fn into_iter(self) -> MessageIter<'a> {
        self.0.iter()
    }
}

impl PartialEq for Messages<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Messages<'_> {}

impl core::fmt::Debug for Messages<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

/// The messages of a pool, oldest first.
#[derive(Clone)]
pub struct MessageIter<'a> {
    slots: &'a [Message],
    order: core::slice::Iter<'a, u8>,
}

impl<'a> Iterator for MessageIter<'a> {
    type Item = &'a Message;

    #[inline]
    fn next(&mut self) -> Option<&'a Message> {
        self.order.next().map(|&slot| &self.slots[slot as usize])
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.order.size_hint()
    }
}

impl DoubleEndedIterator for MessageIter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        self.order
            .next_back()
            .map(|&slot| &self.slots[slot as usize])
    }
}

impl ExactSizeIterator for MessageIter<'_> {}

#[cfg(test)]
mod tests {
    use core::hash::{Hash, Hasher};

    use ipclab_syscalls::Pid;

    use super::Pool;
    use crate::Dest;

    fn put(pool: &mut Pool, id: u64, byte: u8) {
        let data = pool.vacant().unwrap();
        data.clear();
        data.extend_from_slice(&[byte; 3]).unwrap();
        pool.commit(id, Pid::new(1, 1), Dest::Process(Pid::new(2, 1)), id as u32);
    }

    fn ids(pool: &Pool) -> std::vec::Vec<u64> {
        pool.iter().map(|m| m.id).collect()
    }

    fn hash(pool: &Pool) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        pool.hash(&mut h);
        h.finish()
    }

    #[test]
    fn taking_a_message_from_the_middle_keeps_the_others_in_arrival_order() {
        let mut pool = Pool::default();
        for id in 1..=4 {
            put(&mut pool, id, id as u8);
        }
        assert_eq!(pool.remove(1).id, 2);
        put(&mut pool, 5, 5);
        assert_eq!(ids(&pool), [1, 3, 4, 5]);
        assert_eq!(pool[3].data, [5; 3]);
        assert_eq!(pool.check(), Ok(()));
    }

    #[test]
    fn a_freed_slot_is_reused_instead_of_growing_the_pool() {
        let mut pool = Pool::default();
        put(&mut pool, 1, 1);
        put(&mut pool, 2, 2);
        pool.remove(0);
        put(&mut pool, 3, 3);
        assert_eq!(pool.slots.len(), 2);
        assert_eq!(ids(&pool), [2, 3]);
    }

    #[test]
    fn a_vacant_slot_that_is_not_committed_stays_free() {
        let mut pool = Pool::default();
        put(&mut pool, 1, 1);
        pool.vacant().unwrap().clear();
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.check(), Ok(()));
        put(&mut pool, 2, 2);
        assert_eq!(ids(&pool), [1, 2]);
    }

    #[test]
    fn pools_holding_the_same_messages_in_different_slots_are_equal_and_hash_alike() {
        // a: messages 2, 3 in slots 1, 0; b: the same in fresh slots 0, 1.
        let mut a = Pool::default();
        put(&mut a, 1, 1);
        put(&mut a, 2, 2);
        a.remove(0);
        put(&mut a, 3, 3);
        let mut b = Pool::default();
        put(&mut b, 2, 2);
        put(&mut b, 3, 3);
        assert_ne!(a.order, b.order);
        assert_eq!(a, b);
        assert_eq!(hash(&a), hash(&b));
        b.remove(1);
        assert_ne!(a, b);
    }

    #[test]
    fn clear_frees_every_slot() {
        let mut pool = Pool::default();
        for id in 1..=3 {
            put(&mut pool, id, 0);
        }
        pool.clear();
        assert!(pool.is_empty());
        assert_eq!(pool.check(), Ok(()));
        put(&mut pool, 9, 9);
        assert_eq!(ids(&pool), [9]);
    }

    #[test]
    fn the_pool_fills_every_slot_and_no_more() {
        let mut pool = Pool::default();
        for id in 0..crate::config::MAX_SLOTS as u64 {
            put(&mut pool, id + 1, 0);
        }
        assert!(pool.vacant().is_none());
        assert_eq!(pool.check(), Ok(()));
    }
}
