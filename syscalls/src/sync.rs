//! Synchronisation calls: semaphores (`P`/`V`), mutexes (`lock`/`unlock`), condition variables (`wait`/`signal`/`broadcast`) and shared words.
//!
//! Every object is a kernel object reached through the caller's handle
//! table, like a mailbox; a handle that is not open, or names an object of
//! another kind, is [`Errno::EBADF`]. Chapter: `docs/kernel.md`,
//! "Synchronisation objects".
//!
//! # Registers
//! | call | a0 | a1 | a2 |
//! |---|---|---|---|
//! | `P` | semaphore | flags | ticks |
//! | `V` | semaphore | | |
//! | `lock` | mutex | flags | ticks |
//! | `unlock` | mutex | | |
//! | `wait` | condition variable | mutex | |
//! | `signal`, `broadcast` | condition variable | | |
//! | `shared_load` | shared segment | word index | |
//! | `shared_store` | shared segment | word index | value |
//!
//! `shared_load` answers the word in `r1`; every other call answers 0.

use crate::{Errno, Handle, Sysno, Timeout};

/// A decoded synchronisation call. Each variant documents its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyncCall {
    /// `P(s)`: take one unit of semaphore `sem`; blocks in `SemP` while its
    /// count is 0. Waiters are served oldest first.
    ///
    /// # Errors
    /// `EBADF`, `EAGAIN` (non-blocking), `ETIMEDOUT`.
    P { sem: Handle, timeout: Timeout },
    /// `V(s)`: wake the oldest waiter of `sem`, or add one to its count.
    ///
    /// # Errors
    /// `EBADF`, `EINVAL` (the count is at `u32::MAX`).
    V { sem: Handle },
    /// `lock(m)`: take mutex `mutex`; blocks in `MutexLock` while another
    /// process holds it. Waiters are served oldest first and the mutex is
    /// handed to the next waiter by `unlock`.
    ///
    /// # Errors
    /// `EBADF`, `EDEADLK` (the caller already holds it, or waiting would
    /// close a wait-for cycle and the kernel refuses deadlocking calls),
    /// `EAGAIN`, `ETIMEDOUT`, `EDEADPEER` (policy `notify`: its holder
    /// terminated holding it).
    Lock { mutex: Handle, timeout: Timeout },
    /// `unlock(m)`: release `mutex`, handing it to its oldest waiter.
    ///
    /// # Errors
    /// `EBADF`, `EPERM` (the caller does not hold it).
    Unlock { mutex: Handle },
    /// `wait(c, m)`: atomically release `mutex` and block in `CondWait` on
    /// `condvar`; once signalled, wait for `mutex` again (in `MutexLock`)
    /// and return holding it.
    ///
    /// # Errors
    /// `EBADF`, `EPERM` (the caller does not hold `mutex`), `EDEADPEER`
    /// (policy `notify`: while it waited to re-acquire `mutex`, a holder
    /// terminated holding it; the caller returns without it).
    Wait { condvar: Handle, mutex: Handle },
    /// `signal(c)`: move the oldest waiter of `condvar` to waiting for its
    /// mutex. Nothing happens when none waits (the signal is not kept).
    ///
    /// # Errors
    /// `EBADF`.
    Signal { condvar: Handle },
    /// `broadcast(c)`: [`SyncCall::Signal`] for every waiter, oldest first.
    ///
    /// # Errors
    /// `EBADF`.
    Broadcast { condvar: Handle },
    /// Reads word `index` of a shared segment into `r1`.
    ///
    /// # Errors
    /// `EBADF`, `EINVAL` (index beyond the segment).
    SharedLoad { shared: Handle, index: u64 },
    /// Writes `value` to word `index` of a shared segment.
    ///
    /// # Errors
    /// `EBADF`, `EINVAL` (index beyond the segment).
    SharedStore {
        shared: Handle,
        index: u64,
        value: u64,
    },
}

impl SyncCall {
    /// The call's number.
    pub const fn sysno(&self) -> Sysno {
        match self {
            SyncCall::P { .. } => Sysno::P,
            SyncCall::V { .. } => Sysno::V,
            SyncCall::Lock { .. } => Sysno::Lock,
            SyncCall::Unlock { .. } => Sysno::Unlock,
            SyncCall::Wait { .. } => Sysno::Wait,
            SyncCall::Signal { .. } => Sysno::Signal,
            SyncCall::Broadcast { .. } => Sysno::Broadcast,
            SyncCall::SharedLoad { .. } => Sysno::SharedLoad,
            SyncCall::SharedStore { .. } => Sysno::SharedStore,
        }
    }

    /// Decodes the arguments of synchronisation call `sysno`; `None` when
    /// `sysno` is no synchronisation call.
    pub(crate) fn decode(sysno: Sysno, a: &[u64; 6]) -> Option<Result<SyncCall, Errno>> {
        let handle = |raw| Handle::from_raw(raw);
        let call = || -> Result<SyncCall, Errno> {
            Ok(match sysno {
                Sysno::P => SyncCall::P {
                    sem: handle(a[0])?,
                    timeout: Timeout::from_raw(a[1], a[2])?,
                },
                Sysno::V => SyncCall::V { sem: handle(a[0])? },
                Sysno::Lock => SyncCall::Lock {
                    mutex: handle(a[0])?,
                    timeout: Timeout::from_raw(a[1], a[2])?,
                },
                Sysno::Unlock => SyncCall::Unlock {
                    mutex: handle(a[0])?,
                },
                Sysno::Wait => SyncCall::Wait {
                    condvar: handle(a[0])?,
                    mutex: handle(a[1])?,
                },
                Sysno::Signal => SyncCall::Signal {
                    condvar: handle(a[0])?,
                },
                Sysno::Broadcast => SyncCall::Broadcast {
                    condvar: handle(a[0])?,
                },
                Sysno::SharedLoad => SyncCall::SharedLoad {
                    shared: handle(a[0])?,
                    index: a[1],
                },
                Sysno::SharedStore => SyncCall::SharedStore {
                    shared: handle(a[0])?,
                    index: a[1],
                    value: a[2],
                },
                _ => return Err(Errno::ENOSYS),
            })
        };
        match sysno {
            Sysno::P
            | Sysno::V
            | Sysno::Lock
            | Sysno::Unlock
            | Sysno::Wait
            | Sysno::Signal
            | Sysno::Broadcast
            | Sysno::SharedLoad
            | Sysno::SharedStore => Some(call()),
            _ => None,
        }
    }

    /// The six argument registers.
    pub const fn args(&self) -> [u64; 6] {
        match *self {
            SyncCall::P { sem: h, timeout: t }
            | SyncCall::Lock {
                mutex: h,
                timeout: t,
            } => {
                let (f, ticks) = t.to_raw();
                [h.to_raw(), f, ticks, 0, 0, 0]
            }
            SyncCall::V { sem: h }
            | SyncCall::Unlock { mutex: h }
            | SyncCall::Signal { condvar: h }
            | SyncCall::Broadcast { condvar: h } => [h.to_raw(), 0, 0, 0, 0, 0],
            SyncCall::Wait { condvar, mutex } => [condvar.to_raw(), mutex.to_raw(), 0, 0, 0, 0],
            SyncCall::SharedLoad { shared, index } => [shared.to_raw(), index, 0, 0, 0, 0],
            SyncCall::SharedStore {
                shared,
                index,
                value,
            } => [shared.to_raw(), index, value, 0, 0, 0],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Regs, Syscall};

    #[test]
    fn every_sync_call_round_trips_through_registers() {
        let calls = [
            SyncCall::P {
                sem: Handle(3),
                timeout: Timeout::After(7),
            },
            SyncCall::V { sem: Handle(3) },
            SyncCall::Lock {
                mutex: Handle(1),
                timeout: Timeout::NonBlocking,
            },
            SyncCall::Unlock { mutex: Handle(1) },
            SyncCall::Wait {
                condvar: Handle(2),
                mutex: Handle(1),
            },
            SyncCall::Signal { condvar: Handle(2) },
            SyncCall::Broadcast { condvar: Handle(2) },
            SyncCall::SharedLoad {
                shared: Handle(4),
                index: 9,
            },
            SyncCall::SharedStore {
                shared: Handle(4),
                index: 9,
                value: u64::MAX,
            },
        ];
        for call in calls {
            let call = Syscall::Sync(call);
            assert_eq!(Syscall::decode(&call.encode()), Ok(call));
        }
    }

    #[test]
    fn bad_flags_on_p_and_lock_are_einval_and_a_huge_handle_is_ebadf() {
        let regs = |sysno: Sysno, a: [u64; 6]| Regs::new(sysno as u64, a);
        assert_eq!(
            Syscall::decode(&regs(Sysno::P, [0, 4, 0, 0, 0, 0])),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            Syscall::decode(&regs(Sysno::Lock, [0, 3, 0, 0, 0, 0])),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            Syscall::decode(&regs(Sysno::V, [1 << 40, 0, 0, 0, 0, 0])),
            Err(Errno::EBADF)
        );
    }
}
