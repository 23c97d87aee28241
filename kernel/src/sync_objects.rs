//! Semaphores, mutexes, condition variables and shared segments: kernel objects reached through handles, with FIFO wait queues.
//!
//! Chapter: `docs/kernel.md`, "Synchronisation objects". The model:
//!
//! - A **semaphore** has a count. `P` takes one unit, or blocks in
//!   [`BlockReason::SemP`] while the count is 0; `V` wakes the oldest
//!   waiter (the unit goes straight to it: the count stays 0), or adds one.
//! - A **mutex** has an owner. `lock` takes a free mutex, or blocks in
//!   [`BlockReason::MutexLock`], which names the owner (the wait-for edge);
//!   locking a mutex one holds is `EDEADLK`. `unlock` by anyone but the
//!   owner is `EPERM`; by the owner it hands the mutex to the oldest waiter
//!   (ownership passes without the mutex ever being free, so no later
//!   `lock` can overtake a waiter).
//! - A **condition variable** has only waiters. `wait(c, m)` needs the
//!   caller to hold `m` (`EPERM` otherwise); it blocks in
//!   [`BlockReason::CondWait`] and releases `m` in the same step (no
//!   wake-up can fall between the two). `signal` moves the oldest waiter to
//!   waiting for `m` again (at the back of `m`'s queue: Mesa semantics, so
//!   the condition must be re-checked in a `while` loop); `broadcast` moves
//!   them all. A signal with no waiter is lost. `wait` returns holding `m`.
//! - A **shared segment** is a few words every holder can load and store,
//!   one word per call. Scenarios use it for state that processes share
//!   (the count and slots of a user-level bounded buffer): each access is
//!   a separate step, so the checker sees every interleaving of them.
//! - Waiters are kept in the process table (their `Pending::Sync` carries
//!   the order in which they started waiting), as the mailbox's are.
//!
//! # Lifetime
//! As for mailboxes: an object lives while any handle names it, and the
//! last `close` (or exit) frees it. A blocked process holds the handles it
//! waits on, so no object disappears under a waiter. The embedder creates
//! objects at boot and hands out handles ([`Kernel::grant_object`]).
//!
//! # Termination
//! A process that terminates holding a mutex leaves it locked by a dead
//! owner. Under `classic` its waiters stay blocked (the simulator explains
//! "lock(m) [owner P has terminated]"); under `notify` they get `EDEADPEER`
//! and so does every later `lock` (the mutex is poisoned: nobody can
//! unlock it, since nobody else owns it). Semaphores and condition
//! variables have no owner: a waiter's partners are every live holder.
//!
//! # Invariants (checked by `check_invariants`)
//! - reference counts match the handle tables;
//! - a semaphore has waiters only at count 0; a mutex only while owned,
//!   and every waiter's reason names the current owner; a `notify` kernel
//!   never keeps a waiter on a mutex whose owner terminated;
//! - the owner of a mutex never waits for it; a condition-variable waiter
//!   does not hold its mutex;
//! - every waiter holds a handle to the object it waits on.

use heapless::{String, Vec};
use ipclab_syscalls::{Errno, Handle, Pid, Reply, RetRegs, SyncCall, Timeout, MAX_NAME_LEN};

use crate::config::{
    MAX_CONDVARS, MAX_MUTEXES, MAX_PROCS, MAX_SEMAPHORES, MAX_SHARED, MAX_SHARED_WORDS,
};
use crate::handle::Object;
use crate::ipc::err_regs;
use crate::process::Pending;
use crate::{BlockReason, Event, Kernel, Policy, ProcessState, TraceSink, TrapOutcome};

/// A semaphore's slot in the kernel's semaphore table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SemaphoreId(pub u16);

/// A mutex's slot in the kernel's mutex table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MutexId(pub u16);

/// A condition variable's slot in the kernel's condition-variable table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CondvarId(pub u16);

/// A shared segment's slot in the kernel's shared-segment table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SharedId(pub u16);

/// An object's name, as the embedder gave it.
pub type ObjectName = String<{ MAX_NAME_LEN as usize }>;

/// A counting semaphore.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Semaphore {
    /// Its name.
    pub name: ObjectName,
    /// Units available; never above 0 while a process waits.
    pub count: u32,
    /// Handles that name it, over all processes.
    pub refs: u32,
}

/// A mutex with an owner.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mutex {
    /// Its name.
    pub name: ObjectName,
    /// Who holds it (possibly a terminated process: see "Termination").
    pub owner: Option<Pid>,
    /// Handles that name it, over all processes.
    pub refs: u32,
}

/// A condition variable (its waiters are in the process table).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Condvar {
    /// Its name.
    pub name: ObjectName,
    /// Handles that name it, over all processes.
    pub refs: u32,
}

/// A segment of words that every holder can load and store.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shared {
    /// Its name.
    pub name: ObjectName,
    /// Its words (all 0 at creation).
    pub words: Vec<u64, MAX_SHARED_WORDS>,
    /// Handles that name it, over all processes.
    pub refs: u32,
}

/// Every synchronisation object of the kernel; a freed slot is `None`
/// until a new object takes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SyncState {
    pub(crate) semaphores: Vec<Option<Semaphore>, MAX_SEMAPHORES>,
    pub(crate) mutexes: Vec<Option<Mutex>, MAX_MUTEXES>,
    pub(crate) condvars: Vec<Option<Condvar>, MAX_CONDVARS>,
    pub(crate) shared: Vec<Option<Shared>, MAX_SHARED>,
}

/// Puts `value` in the first free slot of `table` and returns the slot.
fn place<T, const N: usize>(table: &mut Vec<Option<T>, N>, value: T) -> Result<u16, Errno> {
    let index = match table.iter().position(Option::is_none) {
        Some(index) => {
            table[index] = Some(value);
            index
        }
        None => {
            table.push(Some(value)).map_err(|_| Errno::ENOSPC)?;
            table.len() - 1
        }
    };
    Ok(index as u16)
}

fn object_name(name: &str) -> Result<ObjectName, Errno> {
    if name.is_empty() {
        return Err(Errno::ENAMETOOLONG);
    }
    String::try_from(name).map_err(|_| Errno::ENAMETOOLONG)
}

fn live<T>(table: &[Option<T>], slot: u16) -> Option<&T> {
    table.get(slot as usize).and_then(Option::as_ref)
}

fn live_mut<T>(table: &mut [Option<T>], slot: u16) -> Option<&mut T> {
    table.get_mut(slot as usize).and_then(Option::as_mut)
}

fn value(v: u64) -> Result<TrapOutcome, RetRegs> {
    Ok(TrapOutcome::Complete(Reply::to_regs(Ok(Reply::value(v)))))
}

impl Kernel {
    /// Creates a semaphore with count `initial` on behalf of the embedder
    /// (at boot); hand it out with [`Kernel::grant_object`].
    ///
    /// # Errors
    /// `ENAMETOOLONG` (empty or longer than [`MAX_NAME_LEN`]), `ENOSPC`.
    pub fn create_semaphore(&mut self, name: &str, initial: u32) -> Result<SemaphoreId, Errno> {
        let semaphore = Semaphore {
            name: object_name(name)?,
            count: initial,
            refs: 0,
        };
        place(&mut self.sync.semaphores, semaphore).map(SemaphoreId)
    }

    /// Creates a free mutex (see [`Kernel::create_semaphore`]).
    ///
    /// # Errors
    /// `ENAMETOOLONG`, `ENOSPC`.
    pub fn create_mutex(&mut self, name: &str) -> Result<MutexId, Errno> {
        let mutex = Mutex {
            name: object_name(name)?,
            owner: None,
            refs: 0,
        };
        place(&mut self.sync.mutexes, mutex).map(MutexId)
    }

    /// Creates a condition variable (see [`Kernel::create_semaphore`]).
    ///
    /// # Errors
    /// `ENAMETOOLONG`, `ENOSPC`.
    pub fn create_condvar(&mut self, name: &str) -> Result<CondvarId, Errno> {
        let condvar = Condvar {
            name: object_name(name)?,
            refs: 0,
        };
        place(&mut self.sync.condvars, condvar).map(CondvarId)
    }

    /// Creates a shared segment of `words` words, all 0.
    ///
    /// # Errors
    /// `ENAMETOOLONG`, `EINVAL` (0 words, or more than
    /// [`MAX_SHARED_WORDS`]), `ENOSPC`.
    pub fn create_shared(&mut self, name: &str, words: usize) -> Result<SharedId, Errno> {
        if words == 0 || words > MAX_SHARED_WORDS {
            return Err(Errno::EINVAL);
        }
        let mut data = Vec::new();
        data.resize(words, 0).map_err(|_| Errno::EINVAL)?;
        let shared = Shared {
            name: object_name(name)?,
            words: data,
            refs: 0,
        };
        place(&mut self.sync.shared, shared).map(SharedId)
    }

    /// Gives `pid` a handle to `object` (any kind; for a mailbox this is
    /// [`Kernel::grant_handle`]).
    ///
    /// # Errors
    /// `EBADF` (no such object), `EIDRM` (a destroyed mailbox), `ESRCH`
    /// (stale or terminated pid), `EMFILE`.
    pub fn grant_object(&mut self, pid: Pid, object: Object) -> Result<Handle, Errno> {
        if let Object::Mailbox(id) = object {
            return self.grant_handle(pid, id);
        }
        if self.refs_mut(object).is_none() {
            return Err(Errno::EBADF);
        }
        let pcb = self.pcb_mut(pid)?;
        if pcb.is_exited() {
            return Err(Errno::ESRCH);
        }
        let handle = pcb.handles.insert(object)?;
        if let Some(refs) = self.refs_mut(object) {
            *refs += 1;
        }
        Ok(handle)
    }

    /// The semaphore in slot `id`, if any.
    pub fn semaphore(&self, id: SemaphoreId) -> Option<&Semaphore> {
        live(&self.sync.semaphores, id.0)
    }

    /// The mutex in slot `id`, if any.
    pub fn mutex(&self, id: MutexId) -> Option<&Mutex> {
        live(&self.sync.mutexes, id.0)
    }

    /// The condition variable in slot `id`, if any.
    pub fn condvar(&self, id: CondvarId) -> Option<&Condvar> {
        live(&self.sync.condvars, id.0)
    }

    /// The shared segment in slot `id`, if any.
    pub fn shared(&self, id: SharedId) -> Option<&Shared> {
        live(&self.sync.shared, id.0)
    }

    /// The name of `object`, if it exists.
    pub fn object_name(&self, object: Object) -> Option<&str> {
        Some(match object {
            Object::Mailbox(id) => self.mailbox(id)?.name.as_str(),
            Object::Semaphore(id) => self.semaphore(id)?.name.as_str(),
            Object::Mutex(id) => self.mutex(id)?.name.as_str(),
            Object::Condvar(id) => self.condvar(id)?.name.as_str(),
            Object::Shared(id) => self.shared(id)?.name.as_str(),
        })
    }

    /// Live processes that hold a handle to `object`.
    pub fn object_holders(&self, object: Object) -> impl Iterator<Item = Pid> + '_ {
        self.procs
            .iter()
            .filter(move |p| !p.is_exited() && p.handles.holds(object))
            .map(|p| p.pid)
    }

    /// The reference count of a live object (not of a mailbox).
    fn refs_mut(&mut self, object: Object) -> Option<&mut u32> {
        let s = &mut self.sync;
        Some(match object {
            Object::Mailbox(_) => return None,
            Object::Semaphore(id) => &mut live_mut(&mut s.semaphores, id.0)?.refs,
            Object::Mutex(id) => &mut live_mut(&mut s.mutexes, id.0)?.refs,
            Object::Condvar(id) => &mut live_mut(&mut s.condvars, id.0)?.refs,
            Object::Shared(id) => &mut live_mut(&mut s.shared, id.0)?.refs,
        })
    }

    /// Drops one reference to `object` (a `close`, or an exit); the last
    /// one frees it.
    pub(crate) fn release_object(&mut self, object: Object, sink: &mut impl TraceSink) {
        let Some(refs) = self.refs_mut(object) else {
            if let Object::Mailbox(id) = object {
                self.release_mailbox(id, sink);
            }
            return;
        };
        *refs = refs.saturating_sub(1);
        if *refs > 0 {
            return;
        }
        let s = &mut self.sync;
        match object {
            Object::Mailbox(_) => {}
            Object::Semaphore(id) => s.semaphores[id.0 as usize] = None,
            Object::Mutex(id) => s.mutexes[id.0 as usize] = None,
            Object::Condvar(id) => s.condvars[id.0 as usize] = None,
            Object::Shared(id) => s.shared[id.0 as usize] = None,
        }
    }

    /// The object `caller`'s `handle` names, if it is of the kind `pick`
    /// accepts; `EBADF` otherwise.
    fn object_of<T>(
        &self,
        caller: Pid,
        handle: Handle,
        pick: impl Fn(Object) -> Option<T>,
    ) -> Result<T, Errno> {
        let object = self.pcb_ref(caller)?.handles.object(handle)?;
        pick(object).ok_or(Errno::EBADF)
    }

    /// Performs a synchronisation call by `caller` (decoded; handles not
    /// yet looked up).
    pub(crate) fn perform_sync(
        &mut self,
        caller: Pid,
        call: SyncCall,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, RetRegs> {
        let semaphore = |o| match o {
            Object::Semaphore(id) => Some(id),
            _ => None,
        };
        let mutex = |o| match o {
            Object::Mutex(id) => Some(id),
            _ => None,
        };
        let condvar = |o| match o {
            Object::Condvar(id) => Some(id),
            _ => None,
        };
        let shared = |o| match o {
            Object::Shared(id) => Some(id),
            _ => None,
        };
        match call {
            SyncCall::P { sem, timeout } => {
                let id = self.object_of(caller, sem, semaphore).map_err(err_regs)?;
                self.sem_p(caller, id, timeout, sink).map_err(err_regs)
            }
            SyncCall::V { sem } => {
                let id = self.object_of(caller, sem, semaphore).map_err(err_regs)?;
                self.sem_v(id, sink).map_err(err_regs)?;
                value(0)
            }
            SyncCall::Lock {
                mutex: handle,
                timeout,
            } => {
                let id = self.object_of(caller, handle, mutex).map_err(err_regs)?;
                self.lock(caller, id, timeout, sink).map_err(err_regs)
            }
            SyncCall::Unlock { mutex: handle } => {
                let id = self.object_of(caller, handle, mutex).map_err(err_regs)?;
                self.unlock(caller, id, sink).map_err(err_regs)?;
                value(0)
            }
            SyncCall::Wait {
                condvar: c,
                mutex: m,
            } => {
                let c = self.object_of(caller, c, condvar).map_err(err_regs)?;
                let m = self.object_of(caller, m, mutex).map_err(err_regs)?;
                self.cond_wait(caller, c, m, sink).map_err(err_regs)
            }
            SyncCall::Signal { condvar: c } => {
                let c = self.object_of(caller, c, condvar).map_err(err_regs)?;
                self.cond_signal(c, false, sink);
                value(0)
            }
            SyncCall::Broadcast { condvar: c } => {
                let c = self.object_of(caller, c, condvar).map_err(err_regs)?;
                self.cond_signal(c, true, sink);
                value(0)
            }
            SyncCall::SharedLoad {
                shared: handle,
                index,
            } => {
                let id = self.object_of(caller, handle, shared).map_err(err_regs)?;
                let word = self
                    .shared(id)
                    .and_then(|s| usize::try_from(index).ok().and_then(|i| s.words.get(i)))
                    .copied()
                    .ok_or(err_regs(Errno::EINVAL))?;
                value(word)
            }
            SyncCall::SharedStore {
                shared: handle,
                index,
                value: v,
            } => {
                let id = self.object_of(caller, handle, shared).map_err(err_regs)?;
                let word = live_mut(&mut self.sync.shared, id.0)
                    .and_then(|s| {
                        usize::try_from(index)
                            .ok()
                            .and_then(move |i| s.words.get_mut(i))
                    })
                    .ok_or(err_regs(Errno::EINVAL))?;
                *word = v;
                value(0)
            }
        }
    }

    /// The processes blocked for a reason `f` accepts, oldest first.
    fn sync_waiters(&self, f: impl Fn(BlockReason) -> bool) -> Vec<Pid, MAX_PROCS> {
        let mut waiters: Vec<(u64, Pid), MAX_PROCS> = Vec::new();
        for p in &self.procs {
            if let (ProcessState::Blocked(reason), Some(Pending::Sync { seq })) =
                (p.state, p.pending)
            {
                if f(reason) {
                    // Cannot fail: one entry per process.
                    let _ = waiters.push((seq, p.pid));
                }
            }
        }
        waiters.sort_unstable();
        waiters.into_iter().map(|(_, pid)| pid).collect()
    }

    /// Blocks `caller` for `reason` in a synchronisation wait.
    fn sync_block(
        &mut self,
        caller: Pid,
        reason: BlockReason,
        timeout: Timeout,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, Errno> {
        // Refused before the waiter's place in line is taken: a refused
        // call changes nothing.
        if let Some(errno) = self.refusal(caller, reason, timeout, &|_| false) {
            return Err(errno);
        }
        let seq = self.next_queue_order();
        self.enter_block(caller, reason, Pending::Sync { seq }, timeout, sink)
    }

    fn sem_p(
        &mut self,
        caller: Pid,
        id: SemaphoreId,
        timeout: Timeout,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, Errno> {
        let sem = live_mut(&mut self.sync.semaphores, id.0).ok_or(Errno::EBADF)?;
        if sem.count > 0 {
            sem.count -= 1;
            return Ok(TrapOutcome::Complete(Reply::to_regs(Ok(Reply::value(0)))));
        }
        self.sync_block(caller, BlockReason::SemP { sem: id }, timeout, sink)
    }

    /// `V` on semaphore `id`: also what the keyboard's interrupt handler
    /// does (`keyboard.rs`), which never blocks.
    ///
    /// # Errors
    /// `EBADF` (no such semaphore), `EINVAL` (count at `u32::MAX`).
    pub(crate) fn sem_v(
        &mut self,
        id: SemaphoreId,
        sink: &mut impl TraceSink,
    ) -> Result<(), Errno> {
        let oldest = self
            .sync_waiters(|r| r == BlockReason::SemP { sem: id })
            .first()
            .copied();
        if let Some(waiter) = oldest {
            self.complete(waiter, Reply::to_regs(Ok(Reply::value(0))), sink);
            return Ok(());
        }
        let sem = live_mut(&mut self.sync.semaphores, id.0).ok_or(Errno::EBADF)?;
        sem.count = sem.count.checked_add(1).ok_or(Errno::EINVAL)?;
        Ok(())
    }

    fn lock(
        &mut self,
        caller: Pid,
        id: MutexId,
        timeout: Timeout,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, Errno> {
        let owner = self.mutex(id).ok_or(Errno::EBADF)?.owner;
        match owner {
            None => {
                self.set_owner(id, Some(caller));
                Ok(TrapOutcome::Complete(Reply::to_regs(Ok(Reply::value(0)))))
            }
            Some(owner) if owner == caller => Err(Errno::EDEADLK),
            Some(owner) => {
                let dead = self.process(owner).is_none_or(|p| p.is_exited());
                if dead && self.config.policy == Policy::Notify {
                    return Err(Errno::EDEADPEER);
                }
                let reason = BlockReason::MutexLock { mutex: id, owner };
                self.sync_block(caller, reason, timeout, sink)
            }
        }
    }

    fn unlock(&mut self, caller: Pid, id: MutexId, sink: &mut impl TraceSink) -> Result<(), Errno> {
        if self.mutex(id).ok_or(Errno::EBADF)?.owner != Some(caller) {
            return Err(Errno::EPERM);
        }
        self.hand_off(id, sink);
        Ok(())
    }

    /// Releases `id` by its owner: the oldest waiter becomes the owner and
    /// its `lock` (or `wait`) returns; with no waiter the mutex is free.
    fn hand_off(&mut self, id: MutexId, sink: &mut impl TraceSink) {
        let next = self
            .sync_waiters(|r| matches!(r, BlockReason::MutexLock { mutex, .. } if mutex == id))
            .first()
            .copied();
        self.set_owner(id, next);
        if let Some(next) = next {
            self.complete(next, Reply::to_regs(Ok(Reply::value(0))), sink);
        }
    }

    /// Makes `owner` the owner of `id`, and says so in the block reason of
    /// every waiter (their wait-for edge follows the owner).
    fn set_owner(&mut self, id: MutexId, owner: Option<Pid>) {
        if let Some(m) = live_mut(&mut self.sync.mutexes, id.0) {
            m.owner = owner;
        }
        let Some(owner) = owner else {
            return;
        };
        for p in self.procs.iter_mut() {
            if let ProcessState::Blocked(BlockReason::MutexLock { mutex, owner: o }) = &mut p.state
            {
                if *mutex == id {
                    *o = owner;
                }
            }
        }
    }

    fn cond_wait(
        &mut self,
        caller: Pid,
        c: CondvarId,
        m: MutexId,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, Errno> {
        if self.mutex(m).ok_or(Errno::EBADF)?.owner != Some(caller) {
            return Err(Errno::EPERM);
        }
        // Block first, then release: one step, so no signal can come
        // between (the lost wake-up a user-level sleep would have).
        let reason = BlockReason::CondWait {
            condvar: c,
            mutex: m,
        };
        let outcome = self.sync_block(caller, reason, Timeout::Never, sink)?;
        self.hand_off(m, sink);
        Ok(outcome)
    }

    /// `signal` (one waiter) or `broadcast` (all, oldest first): each
    /// signalled waiter goes on to re-acquire its mutex.
    fn cond_signal(&mut self, c: CondvarId, all: bool, sink: &mut impl TraceSink) {
        let waiters = self
            .sync_waiters(|r| matches!(r, BlockReason::CondWait { condvar, .. } if condvar == c));
        for waiter in waiters.iter().take(if all { waiters.len() } else { 1 }) {
            let Some(BlockReason::CondWait { mutex, .. }) = self.reason_of(*waiter) else {
                continue;
            };
            self.reacquire(*waiter, mutex, sink);
        }
    }

    /// A signalled waiter takes `mutex`, or queues for it at the back.
    fn reacquire(&mut self, pid: Pid, mutex: MutexId, sink: &mut impl TraceSink) {
        let owner = self.mutex(mutex).and_then(|m| m.owner);
        let Some(owner) = owner else {
            self.set_owner(mutex, Some(pid));
            self.complete(pid, Reply::to_regs(Ok(Reply::value(0))), sink);
            return;
        };
        let dead = self.process(owner).is_none_or(|p| p.is_exited());
        if dead && self.config.policy == Policy::Notify {
            self.fail(pid, Errno::EDEADPEER, sink);
            return;
        }
        let seq = self.next_queue_order();
        let reason = BlockReason::MutexLock { mutex, owner };
        let now = self.now;
        if let Ok(pcb) = self.pcb_mut(pid) {
            pcb.state = ProcessState::Blocked(reason);
            pcb.pending = Some(Pending::Sync { seq });
        }
        sink.event(now, &Event::Block { pid, reason });
    }

    /// After `dead` terminated (its handles already released): under
    /// `notify`, the waiters of every mutex it held get `EDEADPEER`.
    pub(crate) fn sync_terminate(&mut self, dead: Pid, sink: &mut impl TraceSink) {
        if self.config.policy != Policy::Notify {
            return;
        }
        let waiters = self
            .sync_waiters(|r| matches!(r, BlockReason::MutexLock { owner, .. } if owner == dead));
        for waiter in waiters {
            self.fail(waiter, Errno::EDEADPEER, sink);
        }
    }

    /// Reference counts, wait queues and owners agree (see the module
    /// documentation).
    pub(crate) fn check_sync(&self) -> Result<(), crate::InvariantViolation> {
        use crate::InvariantViolation as V;
        let ensure = |ok: bool, what: &'static str| if ok { Ok(()) } else { Err(V(what)) };
        let holders = |object: Object| {
            self.procs
                .iter()
                .map(|p| p.handles.iter().filter(|(_, o)| *o == object).count())
                .sum::<usize>()
        };
        let s = &self.sync;
        let refs = s
            .semaphores
            .iter()
            .enumerate()
            .filter_map(|(i, o)| {
                o.as_ref()
                    .map(|o| (Object::Semaphore(SemaphoreId(i as u16)), o.refs))
            })
            .chain(s.mutexes.iter().enumerate().filter_map(|(i, o)| {
                o.as_ref()
                    .map(|o| (Object::Mutex(MutexId(i as u16)), o.refs))
            }))
            .chain(s.condvars.iter().enumerate().filter_map(|(i, o)| {
                o.as_ref()
                    .map(|o| (Object::Condvar(CondvarId(i as u16)), o.refs))
            }))
            .chain(s.shared.iter().enumerate().filter_map(|(i, o)| {
                o.as_ref()
                    .map(|o| (Object::Shared(SharedId(i as u16)), o.refs))
            }));
        for (object, count) in refs {
            ensure(
                holders(object) == count as usize,
                "a synchronisation object's reference count disagrees with the handle tables",
            )?;
        }
        for p in &self.procs {
            for (_, object) in p.handles.iter() {
                let exists = match object {
                    Object::Mailbox(id) => self.mailbox(id).is_some(),
                    Object::Semaphore(id) => self.semaphore(id).is_some(),
                    Object::Mutex(id) => self.mutex(id).is_some(),
                    Object::Condvar(id) => self.condvar(id).is_some(),
                    Object::Shared(id) => self.shared(id).is_some(),
                };
                ensure(exists, "a handle names an object that does not exist")?;
            }
            let Some(reason) = p.block_reason() else {
                continue;
            };
            match reason {
                BlockReason::SemP { sem } => {
                    ensure(
                        p.handles.holds(Object::Semaphore(sem)),
                        "a semaphore waiter holds no handle to it",
                    )?;
                    ensure(
                        self.semaphore(sem).is_some_and(|s| s.count == 0),
                        "a process waits on a semaphore whose count is not 0",
                    )?;
                }
                BlockReason::MutexLock { mutex, owner } => {
                    ensure(
                        p.handles.holds(Object::Mutex(mutex)),
                        "a mutex waiter holds no handle to it",
                    )?;
                    let m = self.mutex(mutex);
                    ensure(
                        m.is_some_and(|m| m.owner == Some(owner)),
                        "a mutex waiter's reason does not name the mutex's owner",
                    )?;
                    ensure(owner != p.pid, "a mutex's owner waits for it")?;
                    let dead = self.process(owner).is_none_or(|o| o.is_exited());
                    ensure(
                        !(dead && self.config.policy == Policy::Notify),
                        "under notify, a process waits for a mutex whose owner terminated",
                    )?;
                }
                BlockReason::CondWait { condvar, mutex } => {
                    ensure(
                        p.handles.holds(Object::Condvar(condvar))
                            && p.handles.holds(Object::Mutex(mutex)),
                        "a condition-variable waiter holds no handle to it or its mutex",
                    )?;
                    ensure(
                        self.mutex(mutex).is_some_and(|m| m.owner != Some(p.pid)),
                        "a condition-variable waiter holds its mutex",
                    )?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ipclab_syscalls::{Errno, Handle, Pid, SyncCall, Syscall, Timeout};

    use super::*;
    use crate::testing::*;
    use crate::{BlockReason, Policy, TrapOutcome};

    fn sync(w: &mut World, pid: Pid, call: SyncCall) -> TrapOutcome {
        w.call(pid, Syscall::Sync(call))
    }

    fn p(w: &mut World, pid: Pid, sem: Handle) -> TrapOutcome {
        sync(
            w,
            pid,
            SyncCall::P {
                sem,
                timeout: Timeout::Never,
            },
        )
    }

    fn v(w: &mut World, pid: Pid, sem: Handle) -> TrapOutcome {
        sync(w, pid, SyncCall::V { sem })
    }

    fn lock(w: &mut World, pid: Pid, mutex: Handle) -> TrapOutcome {
        sync(
            w,
            pid,
            SyncCall::Lock {
                mutex,
                timeout: Timeout::Never,
            },
        )
    }

    fn unlock(w: &mut World, pid: Pid, mutex: Handle) -> TrapOutcome {
        sync(w, pid, SyncCall::Unlock { mutex })
    }

    fn wait(w: &mut World, pid: Pid, condvar: Handle, mutex: Handle) -> TrapOutcome {
        sync(w, pid, SyncCall::Wait { condvar, mutex })
    }

    /// A world of `n` processes, each holding one handle to every object
    /// in `objects` (handle `i` names `objects[i]`).
    fn world_with(
        policy: Policy,
        n: usize,
        make: impl FnOnce(&mut Kernel) -> std::vec::Vec<Object>,
    ) -> (World, std::vec::Vec<Pid>) {
        let mut w = World::with(|c| c.policy = policy);
        let objects = make(&mut w.k);
        let pids: std::vec::Vec<Pid> = (0..n).map(|_| w.spawn(1)).collect();
        for &pid in &pids {
            for &o in &objects {
                w.k.grant_object(pid, o).unwrap();
            }
        }
        w.check();
        (w, pids)
    }

    fn semaphore(initial: u32) -> impl FnOnce(&mut Kernel) -> std::vec::Vec<Object> {
        move |k| std::vec![Object::Semaphore(k.create_semaphore("s", initial).unwrap())]
    }

    fn mutex_and_condvar(k: &mut Kernel) -> std::vec::Vec<Object> {
        std::vec![
            Object::Mutex(k.create_mutex("m").unwrap()),
            Object::Condvar(k.create_condvar("c").unwrap()),
        ]
    }

    const S: Handle = Handle(0);
    const M: Handle = Handle(0);
    const C: Handle = Handle(1);

    #[test]
    fn p_takes_a_unit_and_blocks_at_zero() {
        let (mut w, ps) = world_with(Policy::Classic, 1, semaphore(1));
        ok(p(&mut w, ps[0], S));
        assert_eq!(
            p(&mut w, ps[0], S),
            TrapOutcome::Blocked(BlockReason::SemP {
                sem: SemaphoreId(0)
            })
        );
    }

    #[test]
    fn v_wakes_the_oldest_waiter_first_and_the_count_stays_zero() {
        let (mut w, ps) = world_with(Policy::Classic, 4, semaphore(0));
        for &pid in &ps[..3] {
            blocked(p(&mut w, pid, S));
        }
        for &expected in &ps[..3] {
            ok(v(&mut w, ps[3], S));
            assert!(!w.is_blocked(expected));
            assert_eq!(w.completion(expected), [0, 0, 0, 0]);
            assert_eq!(w.k.semaphore(SemaphoreId(0)).unwrap().count, 0);
        }
        ok(v(&mut w, ps[3], S));
        assert_eq!(w.k.semaphore(SemaphoreId(0)).unwrap().count, 1);
    }

    #[test]
    fn a_nonblocking_p_at_zero_is_eagain_and_a_timed_one_times_out() {
        let (mut w, ps) = world_with(Policy::Classic, 1, semaphore(0));
        let timed = |timeout| SyncCall::P { sem: S, timeout };
        assert_eq!(
            failed(sync(&mut w, ps[0], timed(Timeout::NonBlocking))),
            Errno::EAGAIN
        );
        blocked(sync(&mut w, ps[0], timed(Timeout::After(2))));
        w.tick();
        w.tick();
        assert_eq!(errno(w.completion(ps[0])), Some(Errno::ETIMEDOUT));
    }

    #[test]
    fn a_handle_of_another_kind_is_ebadf() {
        let (mut w, ps) = world_with(Policy::Classic, 1, semaphore(0));
        assert_eq!(failed(lock(&mut w, ps[0], S)), Errno::EBADF);
        assert_eq!(failed(w.mbox_send(ps[0], S, b"x", 0)), Errno::EBADF);
        assert_eq!(failed(v(&mut w, ps[0], Handle(5))), Errno::EBADF);
    }

    #[test]
    fn unlocking_a_mutex_one_does_not_hold_is_eperm() {
        let (mut w, ps) = world_with(Policy::Classic, 2, mutex_and_condvar);
        assert_eq!(failed(unlock(&mut w, ps[0], M)), Errno::EPERM);
        ok(lock(&mut w, ps[0], M));
        assert_eq!(failed(unlock(&mut w, ps[1], M)), Errno::EPERM);
    }

    #[test]
    fn locking_a_mutex_one_holds_is_edeadlk() {
        let (mut w, ps) = world_with(Policy::Classic, 1, mutex_and_condvar);
        ok(lock(&mut w, ps[0], M));
        assert_eq!(failed(lock(&mut w, ps[0], M)), Errno::EDEADLK);
    }

    #[test]
    fn unlock_hands_the_mutex_to_the_oldest_waiter_and_the_others_wait_for_it() {
        let (mut w, ps) = world_with(Policy::Classic, 3, mutex_and_condvar);
        ok(lock(&mut w, ps[0], M));
        assert_eq!(
            lock(&mut w, ps[1], M),
            TrapOutcome::Blocked(BlockReason::MutexLock {
                mutex: MutexId(0),
                owner: ps[0]
            })
        );
        blocked(lock(&mut w, ps[2], M));
        ok(unlock(&mut w, ps[0], M));
        assert_eq!(w.k.mutex(MutexId(0)).unwrap().owner, Some(ps[1]));
        assert_eq!(w.completion(ps[1]), [0, 0, 0, 0]);
        // The last waiter now waits for the new owner.
        assert_eq!(
            w.k.process(ps[2]).unwrap().block_reason(),
            Some(BlockReason::MutexLock {
                mutex: MutexId(0),
                owner: ps[1]
            })
        );
        // Nobody overtakes a waiter: the mutex never was free.
        assert_eq!(failed(unlock(&mut w, ps[0], M)), Errno::EPERM);
    }

    #[test]
    fn a_nonblocking_lock_of_a_held_mutex_is_eagain() {
        let (mut w, ps) = world_with(Policy::Classic, 2, mutex_and_condvar);
        ok(lock(&mut w, ps[0], M));
        let call = SyncCall::Lock {
            mutex: M,
            timeout: Timeout::NonBlocking,
        };
        assert_eq!(failed(sync(&mut w, ps[1], call)), Errno::EAGAIN);
    }

    #[test]
    fn a_lock_order_cycle_is_refused_when_refusal_is_on() {
        let mut w = World::with(|c| c.refuse_deadlock = true);
        let (a, b) = (
            w.k.create_mutex("a").unwrap(),
            w.k.create_mutex("b").unwrap(),
        );
        let (p, q) = (w.spawn(1), w.spawn(1));
        for pid in [p, q] {
            w.k.grant_object(pid, Object::Mutex(a)).unwrap();
            w.k.grant_object(pid, Object::Mutex(b)).unwrap();
        }
        ok(lock(&mut w, p, Handle(0)));
        ok(lock(&mut w, q, Handle(1)));
        blocked(lock(&mut w, p, Handle(1)));
        assert_eq!(failed(lock(&mut w, q, Handle(0))), Errno::EDEADLK);
    }

    #[test]
    fn wait_without_holding_the_mutex_is_eperm() {
        let (mut w, ps) = world_with(Policy::Classic, 1, mutex_and_condvar);
        assert_eq!(failed(wait(&mut w, ps[0], C, M)), Errno::EPERM);
    }

    #[test]
    fn wait_releases_the_mutex_to_its_next_waiter_in_the_same_step() {
        let (mut w, ps) = world_with(Policy::Classic, 2, mutex_and_condvar);
        ok(lock(&mut w, ps[0], M));
        blocked(lock(&mut w, ps[1], M));
        assert_eq!(
            wait(&mut w, ps[0], C, M),
            TrapOutcome::Blocked(BlockReason::CondWait {
                condvar: CondvarId(0),
                mutex: MutexId(0)
            })
        );
        assert_eq!(w.k.mutex(MutexId(0)).unwrap().owner, Some(ps[1]));
        assert_eq!(w.completion(ps[1]), [0, 0, 0, 0]);
    }

    #[test]
    fn a_signalled_waiter_waits_for_the_mutex_and_returns_holding_it() {
        let (mut w, ps) = world_with(Policy::Classic, 2, mutex_and_condvar);
        ok(lock(&mut w, ps[0], M));
        blocked(wait(&mut w, ps[0], C, M));
        ok(lock(&mut w, ps[1], M));
        ok(sync(&mut w, ps[1], SyncCall::Signal { condvar: C }));
        assert_eq!(
            w.k.process(ps[0]).unwrap().block_reason(),
            Some(BlockReason::MutexLock {
                mutex: MutexId(0),
                owner: ps[1]
            })
        );
        ok(unlock(&mut w, ps[1], M));
        assert_eq!(w.completion(ps[0]), [0, 0, 0, 0]);
        assert_eq!(w.k.mutex(MutexId(0)).unwrap().owner, Some(ps[0]));
    }

    #[test]
    fn a_signal_with_no_waiter_is_lost() {
        let (mut w, ps) = world_with(Policy::Classic, 1, mutex_and_condvar);
        ok(sync(&mut w, ps[0], SyncCall::Signal { condvar: C }));
        ok(lock(&mut w, ps[0], M));
        blocked(wait(&mut w, ps[0], C, M));
    }

    #[test]
    fn signal_wakes_one_waiter_oldest_first_and_broadcast_wakes_all() {
        let (mut w, ps) = world_with(Policy::Classic, 4, mutex_and_condvar);
        for &pid in &ps[..3] {
            ok(lock(&mut w, pid, M));
            blocked(wait(&mut w, pid, C, M));
        }
        ok(sync(&mut w, ps[3], SyncCall::Signal { condvar: C }));
        // The mutex was free: the oldest waiter returns at once, holding it.
        assert_eq!(w.completion(ps[0]), [0, 0, 0, 0]);
        assert!(w.is_blocked(ps[1]) && w.is_blocked(ps[2]));
        ok(sync(&mut w, ps[3], SyncCall::Broadcast { condvar: C }));
        for &pid in &ps[1..3] {
            assert!(matches!(
                w.k.process(pid).unwrap().block_reason(),
                Some(BlockReason::MutexLock { owner, .. }) if owner == ps[0]
            ));
        }
        ok(unlock(&mut w, ps[0], M));
        assert_eq!(w.completion(ps[1]), [0, 0, 0, 0]);
        ok(unlock(&mut w, ps[1], M));
        assert_eq!(w.completion(ps[2]), [0, 0, 0, 0]);
    }

    #[test]
    fn under_classic_a_mutex_whose_owner_died_stays_locked_and_its_waiters_blocked() {
        let (mut w, ps) = world_with(Policy::Classic, 3, mutex_and_condvar);
        ok(lock(&mut w, ps[0], M));
        blocked(lock(&mut w, ps[1], M));
        w.exit(ps[0], 0);
        assert!(w.is_blocked(ps[1]));
        assert_eq!(w.k.mutex(MutexId(0)).unwrap().owner, Some(ps[0]));
        blocked(lock(&mut w, ps[2], M));
    }

    #[test]
    fn under_notify_waiters_of_a_dead_owner_get_edeadpeer_and_so_does_every_later_lock() {
        let (mut w, ps) = world_with(Policy::Notify, 3, mutex_and_condvar);
        ok(lock(&mut w, ps[0], M));
        blocked(lock(&mut w, ps[1], M));
        w.exit(ps[0], 0);
        assert_eq!(errno(w.completion(ps[1])), Some(Errno::EDEADPEER));
        assert_eq!(failed(lock(&mut w, ps[2], M)), Errno::EDEADPEER);
    }

    #[test]
    fn the_last_close_frees_a_semaphore_and_exit_closes_handles() {
        let (mut w, ps) = world_with(Policy::Classic, 2, semaphore(3));
        ok(w.call(ps[0], Syscall::Close { handle: S }));
        assert_eq!(w.k.semaphore(SemaphoreId(0)).unwrap().refs, 1);
        assert_eq!(failed(p(&mut w, ps[0], S)), Errno::EBADF);
        w.exit(ps[1], 0);
        assert!(w.k.semaphore(SemaphoreId(0)).is_none());
    }

    #[test]
    fn shared_words_load_what_was_stored_and_an_index_beyond_is_einval() {
        let mut w = World::new(Default::default());
        let id = w.k.create_shared("count", 2).unwrap();
        let (a, b) = (w.spawn(1), w.spawn(1));
        for pid in [a, b] {
            w.k.grant_object(pid, Object::Shared(id)).unwrap();
        }
        let h = Handle(0);
        ok(sync(
            &mut w,
            a,
            SyncCall::SharedStore {
                shared: h,
                index: 1,
                value: 42,
            },
        ));
        assert_eq!(
            ok(sync(
                &mut w,
                b,
                SyncCall::SharedLoad {
                    shared: h,
                    index: 1
                }
            )),
            42
        );
        assert_eq!(
            failed(sync(
                &mut w,
                b,
                SyncCall::SharedLoad {
                    shared: h,
                    index: 2
                }
            )),
            Errno::EINVAL
        );
        assert_eq!(
            w.k.create_shared("big", MAX_SHARED_WORDS + 1),
            Err(Errno::EINVAL)
        );
    }
}
