//! What an instance's code may do with the declared mailboxes and synchronisation objects: a static over-approximation for the wait-for graph.
//!
//! Every instance holds a handle to every declared mailbox (mailbox `m` is
//! handle `m`) and to every declared semaphore, mutex, condition variable
//! and shared variable (object `i` is handle `mailboxes + i`), so the
//! kernel alone cannot tell who will ever send to a mailbox or `V` a
//! semaphore: a receiver blocked on an empty mailbox, or a `P` on a
//! semaphore at 0, would wait for every other holder. The code can tell:
//! a process whose body has no `send(m, ...)` never puts a message into
//! `m`, and one without `V(s)` never raises `s`. A call whose handle is
//! computed at run time (not a constant in the bytecode) may name any
//! handle, so it counts for all of them. So does every call of a process
//! that opens, creates or closes handles (a handle number can then name
//! another object than the declared one: `close(0); mbox_open("x")` reuses
//! 0), and a process that destroys a mailbox is a partner of every wait on
//! one (the destroy ends the wait with `EIDRM`).

use ipclab_syscalls::Sysno;

use super::{Instruction, Program};

/// The handles an instance may send to, receive from, and wake a waiter
/// of, as bit masks (bit `h`: handle `h`; all ones: any handle). Mailbox
/// `m` is handle `m`, so `sends` and `receives` are also masks of
/// declared mailboxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HandleUse {
    pub sends: u64,
    pub receives: u64,
    /// `V(h)`, `signal(h)` or `broadcast(h)`: the calls that end a `P` or
    /// a condition-variable `wait` on `h`.
    pub wakes: u64,
}

impl HandleUse {
    /// May it send to declared mailbox `m`?
    pub fn may_send_to(&self, m: usize) -> bool {
        m >= 64 || self.sends & (1 << m) != 0
    }

    /// May it receive from declared mailbox `m`?
    pub fn may_receive_from(&self, m: usize) -> bool {
        m >= 64 || self.receives & (1 << m) != 0
    }

    /// May it `V`, `signal` or `broadcast` the object of handle `h`?
    pub fn may_wake(&self, h: u64) -> bool {
        h >= 64 || self.wakes & (1 << h) != 0
    }
}

impl Program {
    /// What instance `instance`'s code may do with the declared mailboxes
    /// and objects (anything, for an instance that does not exist).
    pub fn handle_use(&self, instance: usize) -> HandleUse {
        let any = HandleUse {
            sends: u64::MAX,
            receives: u64::MAX,
            wakes: u64::MAX,
        };
        let Some(decl) = self.instances.get(instance).map(|i| i.decl) else {
            return any;
        };
        let Some(process) = self.processes.get(decl) else {
            return any;
        };
        let code = &process.code.instructions;
        let remaps_or_destroys = code.iter().any(|i| {
            matches!(
                i.traps_with(),
                Some(Sysno::MboxCreate | Sysno::MboxOpen | Sysno::Close | Sysno::MboxDestroy)
            )
        });
        if remaps_or_destroys {
            return any;
        }
        let mut used = HandleUse {
            sends: 0,
            receives: 0,
            wakes: 0,
        };
        let handles = (self.mailboxes.len() + self.objects.len()).min(64);
        for (pc, instruction) in code.iter().enumerate() {
            let (sysno, handle) = match instruction {
                Instruction::CallWith { sysno, args, .. } => (*sysno, Some(args[0])),
                Instruction::Syscall { sysno, .. } => (*sysno, constant_first_argument(code, pc)),
                _ => continue,
            };
            let mask = match handle {
                Some(h) if (0..64).contains(&h) && (h as usize) < handles => 1 << h,
                // A computed handle, or one of an object made at run time.
                _ => u64::MAX,
            };
            match sysno {
                Sysno::MboxSend => used.sends |= mask,
                Sysno::MboxRecv => used.receives |= mask,
                Sysno::V | Sysno::Signal | Sysno::Broadcast => used.wakes |= mask,
                _ => {}
            }
        }
        used
    }
}

/// The first argument of the `syscall` at `pc` when the six instructions
/// before it push constants (as written, or fused into a `CallWith` whose
/// five pushes stay in place after it).
fn constant_first_argument(code: &[Instruction], pc: usize) -> Option<i64> {
    let first = pc.checked_sub(6)?;
    let rest_are_pushes = code[first + 1..pc]
        .iter()
        .all(|i| matches!(i, Instruction::Push(_)));
    match (&code[first], rest_are_pushes) {
        (Instruction::Push(v), true) => Some(*v),
        (Instruction::CallWith { args, .. }, true) => Some(args[0]),
        _ => None,
    }
}
