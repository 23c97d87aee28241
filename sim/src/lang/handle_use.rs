//! What an instance's code may do with the declared mailboxes and synchronisation objects: a static over-approximation for the wait-for graph.
//!
//! Every instance holds a handle to every declared mailbox (mailbox `m` is
//! handle `m`) and to every declared semaphore, mutex, condition variable
//! and shared variable (object `i` is handle `mailboxes + i`), so the
//! kernel alone cannot tell who will ever send to a mailbox or `V` a
//! semaphore: a receiver blocked on an empty mailbox, or a `P` on a
//! semaphore at 0, would wait for every other holder. The code can tell:
//! a process whose body has no `send(m, ...)` never puts a message into
//! `m`, and one without `V(s)` never raises `s`. Each instance is read on
//! its own: a branch on `index` against a constant is followed the way
//! that instance goes ([`reachable`]). A call whose handle is
//! computed at run time (not a constant in the bytecode) may name any
//! handle, so it counts for all of them. So does every call of a process
//! that opens, creates or closes handles (a handle number can then name
//! another object than the declared one: `close(0); mbox_open("x")` reuses
//! 0), and a process that destroys a mailbox is a partner of every wait on
//! one (the destroy ends the wait with `EIDRM`). Whether the code has a
//! direct `send` that may name a given process (its destination a
//! constant, or computed: any), or an MPI send, is read the same way: only
//! such a process can end that process's `recv(ANY)`, or an
//! `MPI_ANY_SOURCE` receive.

use ipclab_syscalls::{Pid, Sysno};

use super::ast::BinaryOperator;
use super::{Instance, Instruction, Program};

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
    /// The instances a direct `send` may name (bit `k`: instance `k`; all
    /// ones: any, for a computed destination): what ends a `recv(ANY)` of
    /// one of them. 0: no direct send.
    pub sends_direct: u64,
    /// An MPI send of any mode (blocking or not): what ends an
    /// `MPI_ANY_SOURCE` receive, probe or wait.
    pub sends_mpi: bool,
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

    /// May a direct `send` of its name instance `k`?
    pub fn may_send_directly_to(&self, k: usize) -> bool {
        if k >= 64 {
            self.sends_direct != 0
        } else {
            self.sends_direct & (1 << k) != 0
        }
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
            sends_direct: u64::MAX,
            sends_mpi: true,
        };
        let Some(&Instance { decl, index, .. }) = self.instances.get(instance) else {
            return any;
        };
        let Some(process) = self.processes.get(decl) else {
            return any;
        };
        let code = &process.code.instructions;
        let live = reachable(code, i64::from(index), instance as i64);
        let remaps_or_destroys = code.iter().zip(&live).any(|(i, &live)| {
            live && matches!(
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
            sends_direct: 0,
            sends_mpi: false,
        };
        let handles = (self.mailboxes.len() + self.objects.len()).min(64);
        for (pc, instruction) in code.iter().enumerate().filter(|(pc, _)| live[*pc]) {
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
                // A constant destination is a pid: the instance it names.
                Sysno::Send => {
                    used.sends_direct |= match handle.map(|h| Pid::from_raw(h as u64)) {
                        Some(Ok(to)) if to.node == 0 && to.generation == 1 && to.index < 64 => {
                            1 << to.index
                        }
                        _ => u64::MAX,
                    }
                }
                Sysno::MpiSend | Sysno::Isend => used.sends_mpi = true,
                _ => {}
            }
        }
        used
    }
}

/// The instructions instance `index` (`number` in the whole scenario) can
/// reach: every branch is taken both ways, except one that compares the
/// instance's `index` (or number) with a constant, whose outcome is known
/// per instance. So `if index == 0 { P(fork0); ... } else if index == 1 {
/// ... }` in one declaration gives each philosopher only its own forks.
fn reachable(code: &[Instruction], index: i64, number: i64) -> Vec<bool> {
    let targets: Vec<usize> = code
        .iter()
        .filter_map(|i| match i {
            Instruction::Jump(t) | Instruction::JumpIfFalse(t) => Some(*t as usize),
            _ => None,
        })
        .collect();
    let mut live = vec![false; code.len()];
    let mut work = vec![0usize];
    while let Some(pc) = work.pop() {
        if pc >= code.len() || live[pc] {
            continue;
        }
        live[pc] = true;
        match &code[pc] {
            Instruction::Jump(t) => work.push(*t as usize),
            Instruction::JumpIfFalse(t) => match decided(code, &targets, pc, index, number) {
                Some(true) => work.push(pc + 1),
                Some(false) => work.push(*t as usize),
                None => work.extend([pc + 1, *t as usize]),
            },
            _ => work.push(pc + 1),
        }
    }
    live
}

/// The outcome of the `JumpIfFalse` at `pc` when the three instructions
/// before it compare the instance's index or number with a constant (and
/// no jump lands inside them, so they run in order).
fn decided(
    code: &[Instruction],
    targets: &[usize],
    pc: usize,
    index: i64,
    number: i64,
) -> Option<bool> {
    let first = pc.checked_sub(3)?;
    if targets.iter().any(|t| (first + 1..=pc).contains(t)) {
        return None;
    }
    let [left, right, Instruction::Binary(operator)] = &code[first..pc] else {
        return None;
    };
    let value = |i: &Instruction| match i {
        Instruction::Push(v) => Some(*v),
        Instruction::InstanceIndex => Some(index),
        Instruction::InstanceNumber => Some(number),
        _ => None,
    };
    let (l, r) = (value(left)?, value(right)?);
    Some(match operator {
        BinaryOperator::Equal => l == r,
        BinaryOperator::NotEqual => l != r,
        BinaryOperator::Less => l < r,
        BinaryOperator::LessEqual => l <= r,
        BinaryOperator::Greater => l > r,
        BinaryOperator::GreaterEqual => l >= r,
        _ => return None,
    })
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

#[cfg(test)]
mod tests {
    use crate::lang::compile;

    fn uses(source: &str, instance: usize) -> super::HandleUse {
        compile("t.ipc", source.as_bytes(), &[])
            .expect("compiles")
            .handle_use(instance)
    }

    #[test]
    fn a_branch_on_the_index_is_followed_per_instance_and_any_other_both_ways() {
        // Handles: s is 0, t is 1.
        let source = "semaphore s; semaphore t;\n\
                      process P[2] { if index == 0 { V(s); } else { V(t); } }";
        assert_eq!(uses(source, 0).wakes, 0b01);
        assert_eq!(uses(source, 1).wakes, 0b10);
        let source = "semaphore s; semaphore t;\n\
                      process P[2] { let k = index; if k == 0 { V(s); } else { V(t); } }";
        assert_eq!(uses(source, 0).wakes, 0b11);
        // `index < 1` and a constant on the left are read too.
        let source = "semaphore s; semaphore t;\n\
                      process P[2] { if 1 > index { V(s); } if index >= 1 { V(t); } }";
        assert_eq!(uses(source, 0).wakes, 0b01);
        assert_eq!(uses(source, 1).wakes, 0b10);
    }
}
