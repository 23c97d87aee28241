//! Deadlock refusal: would this blocking call close a cycle in the wait-for graph?
//!
//! Only definite waits count: a process blocked in `send` to a pid, or in
//! `recv` from a pid, waits for exactly that process. A receive from `ANY`
//! or a wait on a mailbox could be satisfied by several processes, so it is
//! not an edge here (the simulator's deadlock analysis covers those). This
//! is the rule Minix applies.

use ipclab_syscalls::{Pid, Source};

use crate::config::MAX_PROCS;
use crate::{BlockReason, Kernel};

impl Kernel {
    /// The one process `reason` waits for, if it waits for exactly one.
    pub fn definite_partner(reason: BlockReason) -> Option<Pid> {
        match reason {
            BlockReason::Send { to, .. } => Some(to),
            BlockReason::Recv {
                from: Source::Pid(from),
                ..
            } => Some(from),
            _ => None,
        }
    }

    /// Would `caller`, blocking for `reason`, close a wait-for cycle?
    pub(crate) fn would_close_cycle(&self, caller: Pid, reason: BlockReason) -> bool {
        let mut next = Kernel::definite_partner(reason);
        // A cycle visits each process at most once.
        for _ in 0..MAX_PROCS {
            match next {
                Some(pid) if pid == caller => return true,
                Some(pid) => next = self.reason_of(pid).and_then(Kernel::definite_partner),
                None => return false,
            }
        }
        false
    }
}
