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
//! its own: a branch on `index` against a constant (or on a variable that
//! holds the index, or the MPI rank from `MPI_Comm_rank`) is followed the
//! way that instance goes ([`reachable`]). A call whose handle is
//! computed at run time (not a constant in the bytecode) may name any
//! handle, so it counts for all of them. So does every call of a process
//! that opens, creates or closes handles (a handle number can then name
//! another object than the declared one: `close(0); mbox_open("x")` reuses
//! 0), and a process that destroys a mailbox is a partner of every wait on
//! one (the destroy ends the wait with `EIDRM`). Whether the code has a
//! direct `send` or an MPI send that may name a given process (its
//! destination a constant, or computed: any) is read the same way: only
//! such a process can end that process's `recv(ANY)`, or its
//! `MPI_ANY_SOURCE` receive.

use ipclab_syscalls::{Pid, Sysno};

use super::ast::BinaryOperator;
use super::{Instance, Instruction, Program, StatusField};

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
    /// The ranks (instance numbers) an MPI send of any mode, blocking or
    /// not, may name (bit `r`: rank `r`; all ones: any, for a computed
    /// destination): what ends an `MPI_ANY_SOURCE` receive, probe or wait
    /// of one of them. 0: no MPI send.
    pub sends_mpi: u64,
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

    /// May an MPI send of its name rank (instance) `k`?
    pub fn may_send_mpi_to(&self, k: usize) -> bool {
        if k >= 64 {
            self.sends_mpi != 0
        } else {
            self.sends_mpi & (1 << k) != 0
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
            sends_mpi: u64::MAX,
        };
        let Some(&Instance { decl, index, .. }) = self.instances.get(instance) else {
            return any;
        };
        let Some(process) = self.processes.get(decl) else {
            return any;
        };
        let code = &process.code.instructions;
        let landing = landing_pads(code);
        let known = instance_words(code, &landing, &process.code.variables);
        let live = reachable(code, &landing, &known, i64::from(index), instance as i64);
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
            sends_mpi: 0,
        };
        let handles = (self.mailboxes.len() + self.objects.len()).min(64);
        for (pc, instruction) in code.iter().enumerate().filter(|(pc, _)| live[*pc]) {
            let (sysno, handle, rank) = match instruction {
                Instruction::CallWith { sysno, args, .. } => (*sysno, Some(args[0]), Some(args[3])),
                Instruction::Syscall { sysno, .. } => (
                    *sysno,
                    constant_argument(code, &landing, pc, 0),
                    constant_argument(code, &landing, pc, 3),
                ),
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
                // Its destination rank is a0..a5's a3: a constant names
                // one instance (rank = instance number).
                Sysno::MpiSend | Sysno::Isend => {
                    used.sends_mpi |= match rank {
                        Some(r) if (0..64).contains(&r) => 1 << r,
                        _ => u64::MAX,
                    }
                }
                _ => {}
            }
        }
        used
    }
}

impl Program {
    /// The instructions of instance `instance`'s code that it can reach,
    /// branches on its index or rank followed its way ([`reachable`]), as
    /// (instruction, reachable) pairs; empty for an instance that does not
    /// exist. Starvation judges a process by the progress statements it can
    /// reach: `W[0]` of `if index == 0 { loop { compute 1; } } else ...`
    /// has none, as a process that only computes has none.
    pub fn live_code(&self, instance: usize) -> Vec<(&Instruction, bool)> {
        let Some(&Instance { decl, index, .. }) = self.instances.get(instance) else {
            return Vec::new();
        };
        let Some(process) = self.processes.get(decl) else {
            return Vec::new();
        };
        let code = &process.code.instructions;
        let live = live_instructions(code, &process.code.variables, index, instance);
        code.iter().zip(live).collect()
    }
}

/// [`reachable`] for instance `instance`, `index` within its declaration.
fn live_instructions(
    code: &[Instruction],
    variables: &[(String, u32, u32)],
    index: u32,
    instance: usize,
) -> Vec<bool> {
    let landing = landing_pads(code);
    let known = instance_words(code, &landing, variables);
    reachable(code, &landing, &known, i64::from(index), instance as i64)
}

/// The instructions instance `index` (`number` in the whole scenario) can
/// reach: every branch is taken both ways, except one that compares the
/// instance's `index` (or number) with a constant, whose outcome is known
/// per instance. So `if index == 0 { P(fork0); ... } else if index == 1 {
/// ... }` in one declaration gives each philosopher only its own forks.
fn reachable(
    code: &[Instruction],
    landing: &[bool],
    known: &[(u32, InstanceValue)],
    index: i64,
    number: i64,
) -> Vec<bool> {
    let mut live = vec![false; code.len()];
    let mut work = vec![0usize];
    while let Some(pc) = work.pop() {
        if pc >= code.len() || live[pc] {
            continue;
        }
        live[pc] = true;
        match &code[pc] {
            Instruction::Jump(t) => work.push(*t as usize),
            Instruction::JumpIfFalse(t) => match decided(code, landing, known, pc, index, number) {
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
/// no jump lands inside them, so they run in order: `landing`).
fn decided(
    code: &[Instruction],
    landing: &[bool],
    known: &[(u32, InstanceValue)],
    pc: usize,
    index: i64,
    number: i64,
) -> Option<bool> {
    let first = pc.checked_sub(3)?;
    if landing[first + 1..=pc].iter().any(|&pad| pad) {
        return None;
    }
    let [left, right, Instruction::Binary(operator)] = &code[first..pc] else {
        return None;
    };
    let value = |i: &Instruction| match i {
        Instruction::Push(v) => Some(*v),
        Instruction::InstanceIndex => Some(index),
        Instruction::InstanceNumber => Some(number),
        Instruction::Load(word) => known.iter().find(|(w, _)| w == word).map(|(_, v)| match v {
            InstanceValue::Index => index,
            InstanceValue::Number => number,
        }),
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

/// What a variable holds when every store to it writes the same
/// per-instance value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InstanceValue {
    /// The instance's index (`let k = index;`).
    Index,
    /// The instance's number, which is its MPI rank
    /// (`MPI_Comm_rank(MPI_COMM_WORLD, &rank)`).
    Number,
}

/// The variables (byte addresses) of `code` that hold the instance's index
/// or number wherever they are read: every store to the word writes that
/// value (`let k = index;`, `MPI_Comm_rank(MPI_COMM_WORLD, &rank)`, which
/// cannot fail), nothing else writes it (no array store covers it, no
/// `produce` into it, no call the kernel answers by writing memory names a
/// buffer over it: [`kernel_may_write`]), and every path stores it before
/// it is read ([`stored_before_read`]).
fn instance_words(
    code: &[Instruction],
    landing: &[bool],
    variables: &[(String, u32, u32)],
) -> Vec<(u32, InstanceValue)> {
    let mut found: Vec<(u32, InstanceValue)> = Vec::new();
    let mut spoiled: Vec<u32> = Vec::new();
    for (pc, instruction) in code.iter().enumerate() {
        let Instruction::Store(word) = instruction else {
            continue;
        };
        let value = match pc.checked_sub(1).map(|p| &code[p]) {
            Some(Instruction::InstanceIndex) => Some(InstanceValue::Index),
            Some(Instruction::InstanceNumber) => Some(InstanceValue::Number),
            Some(Instruction::Status(StatusField::MpiValue)) if rank_store(code, landing, pc) => {
                Some(InstanceValue::Number)
            }
            _ => None,
        };
        match (value, found.iter().find(|(w, _)| w == word)) {
            (Some(v), None) => found.push((*word, v)),
            (Some(v), Some((_, seen))) if v == *seen => {}
            _ => spoiled.push(*word),
        }
    }
    let written_otherwise = |word: u32| {
        code.iter().enumerate().any(|(pc, i)| match i {
            Instruction::Produce(a) => *a == word,
            Instruction::StoreElement { base, length } => (u64::from(*base)
                ..u64::from(*base) + 8 * u64::from(*length))
                .contains(&u64::from(word)),
            Instruction::Syscall { sysno, .. } => {
                kernel_may_write(code, landing, variables, pc, *sysno, word)
            }
            _ => false,
        })
    };
    found.retain(|(w, _)| {
        !spoiled.contains(w) && !written_otherwise(*w) && stored_before_read(code, landing, *w)
    });
    found
}

/// Does every path from the start to a `Load` of `word` pass a `Store` to
/// it? A variable reads 0 until it is first stored (a name may be read
/// before the line that declares it, and a store may sit in a branch not
/// taken), so a load that can come first does not see the instance's
/// value. The jump that skips `MPI_Comm_rank`'s store when the call was
/// refused is never taken (the call cannot fail), so it is not followed.
fn stored_before_read(code: &[Instruction], landing: &[bool], word: u32) -> bool {
    let stores = |pc: usize| matches!(code[pc], Instruction::Store(w) if w == word);
    // The refused-call jumps before this word's rank stores, found once.
    let skipped: Vec<usize> = (2..code.len())
        .filter(|&s| stores(s) && rank_store(code, landing, s))
        .map(|s| s - 2)
        .collect();
    let never_taken = |pc: usize| skipped.contains(&pc);
    let mut seen = vec![false; code.len()];
    let mut work = vec![0usize];
    while let Some(pc) = work.pop() {
        if pc >= code.len() || seen[pc] {
            continue;
        }
        seen[pc] = true;
        match &code[pc] {
            Instruction::Load(w) if *w == word => return false,
            _ if stores(pc) => {}
            Instruction::Jump(t) => work.push(*t as usize),
            Instruction::JumpIfFalse(_) if never_taken(pc) => work.push(pc + 1),
            Instruction::JumpIfFalse(t) => work.extend([pc + 1, *t as usize]),
            Instruction::Halt => {}
            _ => work.push(pc + 1),
        }
    }
    true
}

/// May the kernel write the word at `word` when it answers the `syscall`
/// at `pc`? Only receives (into their buffer), `MPI_Test`, `MPI_Waitall`
/// and `MPI_Waitany` (into their handles) and `MPI_Buffer_attach` (the
/// buffered messages) write memory, and never past the buffer they name,
/// which the compiler sizes and the VM checks (`RequireFits`): they may
/// write `word` when their buffer's address is computed (an array
/// element: any), or is the start of a variable (`variables`: name,
/// address, words) that covers `word`, or of none that is known.
fn kernel_may_write(
    code: &[Instruction],
    landing: &[bool],
    variables: &[(String, u32, u32)],
    pc: usize,
    sysno: Sysno,
    word: u32,
) -> bool {
    let buffer = match sysno {
        Sysno::Recv | Sysno::MboxRecv => 2,
        Sysno::MpiRecv
        | Sysno::Irecv
        | Sysno::Test
        | Sysno::Waitall
        | Sysno::Waitany
        | Sysno::BufferAttach => 0,
        _ => return false,
    };
    let Some(address) = constant_argument(code, landing, pc, buffer) else {
        return true;
    };
    let Ok(address) = u32::try_from(address) else {
        return false;
    };
    let mut extents = variables
        .iter()
        .filter(|(_, at, _)| *at == address)
        .map(|(_, at, words)| u64::from(*at)..u64::from(*at) + 8 * u64::from(*words).max(1))
        .peekable();
    if extents.peek().is_none() {
        return address <= word;
    }
    extents.any(|extent| extent.contains(&u64::from(word)))
}

/// Is the `Store` at `pc` the one `MPI_Comm_rank(MPI_COMM_WORLD, &x)`
/// compiles to: `syscall comm_rank`, the check that it was not refused
/// (seven instructions ending in a jump past the store), `status
/// MpiValue`, `store`? (A rank in `MPI_COMM_WORLD`, the one
/// communicator, is the instance number, and this call cannot fail.)
fn rank_store(code: &[Instruction], landing: &[bool], pc: usize) -> bool {
    let Some(call) = pc.checked_sub(9) else {
        return false;
    };
    matches!(
        code[call],
        Instruction::Syscall {
            sysno: Sysno::CommRank,
            ..
        }
    ) && matches!(code[pc - 2], Instruction::JumpIfFalse(_))
        && constant_argument(code, landing, call, 0) == Some(super::mpi::COMM_WORLD)
}

/// Per pc: does a jump land there?
fn landing_pads(code: &[Instruction]) -> Vec<bool> {
    let mut landing = vec![false; code.len()];
    for i in code {
        if let Instruction::Jump(t) | Instruction::JumpIfFalse(t) = i {
            if let Some(pad) = landing.get_mut(*t as usize) {
                *pad = true;
            }
        }
    }
    landing
}

/// Argument `n` (0 to 5) of the `syscall` at `pc` when it is pushed as a
/// constant: the `Push` that left it, found by walking back over the
/// instructions that compute the arguments after it (their stack effects),
/// or the fused `CallWith` six instructions before the call. `None` when
/// the argument is computed, or a jump lands among those instructions
/// (`landing`: [`landing_pads`]).
fn constant_argument(code: &[Instruction], landing: &[bool], pc: usize, n: usize) -> Option<i64> {
    if n > 5 {
        return None;
    }
    if let Some(Instruction::CallWith { args, .. }) = pc.checked_sub(6).map(|p| &code[p]) {
        return Some(args[n]);
    }
    // How deep below the top of the stack the argument is, at `at`.
    let mut depth = 5 - n;
    let mut at = pc;
    loop {
        if landing.get(at).copied().unwrap_or(true) {
            return None;
        }
        at = at.checked_sub(1)?;
        let (pops, pushes) = stack_effect(&code[at])?;
        if depth < pushes {
            return match &code[at] {
                Instruction::Push(v) => Some(*v),
                _ => None,
            };
        }
        depth = depth - pushes + pops;
    }
}

/// What an instruction takes from the stack and leaves on it, for the
/// ones that compute call arguments; `None` for the others.
fn stack_effect(instruction: &Instruction) -> Option<(usize, usize)> {
    Some(match instruction {
        Instruction::Push(_)
        | Instruction::Load(_)
        | Instruction::Status(_)
        | Instruction::InstanceIndex
        | Instruction::InstanceNumber => (0, 1),
        Instruction::Binary(_) => (2, 1),
        Instruction::Not
        | Instruction::Negate
        | Instruction::LoadElement { .. }
        | Instruction::ElementAddress { .. }
        | Instruction::ProcessPid { .. }
        | Instruction::ProcessNumber { .. }
        | Instruction::InstancePid
        | Instruction::RequireFits { .. } => (1, 1),
        // It looks at the top and leaves it.
        Instruction::RequireNonNegative(_) => (0, 0),
        _ => return None,
    })
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
        assert_eq!(uses(source, 0).wakes, 0b01);
        assert_eq!(uses(source, 1).wakes, 0b10);
        // A variable stored anything else too is not known.
        let source = "semaphore s; semaphore t;\n\
                      process P[2] { let k = index; k = k + 1; if k == 1 { V(s); } else { V(t); } }";
        assert_eq!(uses(source, 0).wakes, 0b11);
        // `index < 1` and a constant on the left are read too.
        let source = "semaphore s; semaphore t;\n\
                      process P[2] { if 1 > index { V(s); } if index >= 1 { V(t); } }";
        assert_eq!(uses(source, 0).wakes, 0b01);
        assert_eq!(uses(source, 1).wakes, 0b10);
    }

    #[test]
    fn a_branch_on_the_mpi_rank_is_followed_per_instance() {
        let source = "semaphore s; semaphore t;\n\
                      process R[2] { MPI_Comm_rank(MPI_COMM_WORLD, &rank); \
                      if rank == 0 { V(s); } else { V(t); } }";
        assert_eq!(uses(source, 0).wakes, 0b01);
        assert_eq!(uses(source, 1).wakes, 0b10);
        // The rank is the instance number in the whole scenario.
        let source = "semaphore s; semaphore t;\nprocess A { }\n\
                      process R[2] { MPI_Comm_rank(MPI_COMM_WORLD, &rank); \
                      if rank == 1 { V(s); } else { V(t); } }";
        assert_eq!(uses(source, 1).wakes, 0b01);
        assert_eq!(uses(source, 2).wakes, 0b10);
        // A receive into it may change it: both ways.
        let source = "semaphore s; semaphore t;\n\
                      process R[2] { MPI_Comm_rank(MPI_COMM_WORLD, &rank); \
                      MPI_Recv(rank, 1, MPI_INT, MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE); \
                      if rank == 0 { V(s); } else { V(t); } }";
        assert_eq!(uses(source, 0).wakes, 0b11);
        // A receive into another variable does not.
        let source = "semaphore s; semaphore t;\n\
                      process R[2] { let x = 0; MPI_Comm_rank(MPI_COMM_WORLD, &rank); \
                      MPI_Recv(x, 1, MPI_INT, MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE); \
                      if rank == 0 { V(s); } else { V(t); } }";
        assert_eq!(uses(source, 0).wakes, 0b01);
        assert_eq!(uses(source, 1).wakes, 0b10);
    }

    #[test]
    fn a_variable_read_before_it_is_stored_is_not_followed() {
        // It reads 0 in every instance until the store runs.
        let source = "semaphore s; semaphore t;\n\
                      process P[2] { if rank == 0 { V(s); } else { V(t); } \
                      MPI_Comm_rank(MPI_COMM_WORLD, &rank); }";
        assert_eq!(uses(source, 1).wakes, 0b11);
        let source = "semaphore s; semaphore t;\n\
                      process P[2] { if k == 0 { V(s); } else { V(t); } let k = index; }";
        assert_eq!(uses(source, 1).wakes, 0b11);
        // Stored in a branch that may not run.
        let source = "semaphore s; semaphore t;\n\
                      process P[2] { if index == 7 { MPI_Comm_rank(MPI_COMM_WORLD, &rank); } \
                      if rank == 0 { V(s); } else { V(t); } }";
        assert_eq!(uses(source, 1).wakes, 0b11);
        // In a loop, the first round reads it before the store.
        let source = "semaphore s; semaphore t;\n\
                      process P[2] { repeat 2 { if rank == 0 { V(s); } else { V(t); } \
                      MPI_Comm_rank(MPI_COMM_WORLD, &rank); } }";
        assert_eq!(uses(source, 1).wakes, 0b11);
        // Stored first, then read in a loop: followed.
        let source = "semaphore s; semaphore t;\n\
                      process P[2] { MPI_Comm_rank(MPI_COMM_WORLD, &rank); \
                      loop { if rank == 0 { V(s); } else { V(t); } } }";
        assert_eq!(uses(source, 1).wakes, 0b10);
    }

    #[test]
    fn an_mpi_send_to_a_constant_rank_names_that_rank_only() {
        let source = "process R[3] { let x = 1; \
                      MPI_Send(x, 1, MPI_INT, 2, 0, MPI_COMM_WORLD); }";
        let u = uses(source, 0);
        assert!(u.may_send_mpi_to(2));
        assert!(!u.may_send_mpi_to(0) && !u.may_send_mpi_to(1));
        let source = "process R[3] { let x = 1; \
                      MPI_Send(x, 1, MPI_INT, (index + 1) % 3, 0, MPI_COMM_WORLD); }";
        assert!(uses(source, 0).may_send_mpi_to(0));
        let source = "process R[3] { let x = 1; }";
        assert!(!uses(source, 0).may_send_mpi_to(1));
    }
}
