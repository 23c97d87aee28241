//! Which declared mailboxes an instance's code may send to and receive from: a static over-approximation for the wait-for graph.
//!
//! Every instance holds a handle to every declared mailbox (mailbox `m` is
//! handle `m`), so the kernel alone cannot tell who will ever send to a
//! mailbox: a receiver blocked on an empty one would wait for every other
//! holder. The code can tell: a process whose body has no `send(m, ...)`
//! never puts a message into `m`. A call whose handle is computed at run
//! time (not a constant in the bytecode) may name any mailbox, so it
//! counts for all of them. So does every mailbox call of a process that
//! opens, creates or closes handles (a handle number can then name another
//! mailbox than the declared one: `close(0); mbox_open("x")` reuses 0), and
//! a process that destroys a mailbox is a partner of every wait on one
//! (the destroy ends the wait with `EIDRM`).

use ipclab_syscalls::Sysno;

use super::{Instruction, Program};

/// The declared mailboxes an instance may send to and receive from, as
/// bit masks (bit `m`: declared mailbox `m`; all ones: any mailbox).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MailboxUse {
    pub sends: u64,
    pub receives: u64,
}

impl MailboxUse {
    /// May it send to declared mailbox `m`?
    pub fn may_send_to(&self, m: usize) -> bool {
        m >= 64 || self.sends & (1 << m) != 0
    }

    /// May it receive from declared mailbox `m`?
    pub fn may_receive_from(&self, m: usize) -> bool {
        m >= 64 || self.receives & (1 << m) != 0
    }
}

impl Program {
    /// What instance `instance`'s code may do with the declared mailboxes
    /// (any mailbox, for an instance that does not exist).
    pub fn mailbox_use(&self, instance: usize) -> MailboxUse {
        let any = MailboxUse {
            sends: u64::MAX,
            receives: u64::MAX,
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
        let mut used = MailboxUse {
            sends: 0,
            receives: 0,
        };
        for (pc, instruction) in code.iter().enumerate() {
            let (sysno, handle) = match instruction {
                Instruction::CallWith { sysno, args, .. } => (*sysno, Some(args[0])),
                Instruction::Syscall { sysno, .. } => (*sysno, constant_first_argument(code, pc)),
                _ => continue,
            };
            let mask = match handle {
                Some(h) if (0..64).contains(&h) && (h as usize) < self.mailboxes.len() => 1 << h,
                // A computed handle, or one of a mailbox made at run time.
                _ => u64::MAX,
            };
            match sysno {
                Sysno::MboxSend => used.sends |= mask,
                Sysno::MboxRecv => used.receives |= mask,
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
