//! Are the checker's abstractions exact for a program: can an item's value, or a `clock()` reading, change what the program does?
//!
//! By default the checker makes every `produce` give 1 instead of a count
//! that grows forever (`docs/checking.md`, "Items"). That is exact when
//! item values are only ever consumed or printed: every schedule then makes
//! the same calls, with the same arguments, down the same branches, whatever
//! the items are. [`item_use`] decides this conservatively, by an abstract
//! interpretation of each body's operand stack:
//!
//! - a process's *item words* are the words its `produce` writes, its
//!   receive buffers (a message may carry an item) and its attached
//!   `MPI_Bsend` buffer (each buffered send copies its message there); all
//!   of its memory when such a buffer's address is not a constant;
//! - a value loaded from an item word is an *item value*; `consume` and
//!   `print` may take it, nothing else: arithmetic, a comparison, a branch,
//!   an assertion, a store, an array index or a system call argument makes
//!   the abstraction inexact;
//! - the analysis does not follow values across branches: an item value
//!   still on the stack at a jump or a jump target counts as used.
//!
//! It can err only in the safe direction: a program it flags may not need
//! exact items (it then gets them anyway, and a larger state space).
//!
//! Time is abstract in the checker too: its clock never advances, so
//! `clock()` reads 0 in every state it explores. [`clock_use`] runs the
//! same interpretation with `clock()` results as the followed values: one
//! only printed (or dropped) changes nothing, while one stored, compared,
//! asserted or passed to a call may steer the program down a branch that
//! no explored state takes, so the checker's answer is then no proof.
//! (Storing counts as a use: `let t = clock(); print t;` is flagged.)

use ipclab_syscalls::Sysno;

use crate::lang::{CallForm, Instruction, Measure, PrintPart, Program};

/// Where a program uses an item's value (or a `clock()` reading) for more
/// than consuming or printing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemUse {
    /// The process declaration.
    pub decl: usize,
    /// The instruction that uses the value.
    pub pc: u32,
}

/// Where the program first uses an item's value for more than consuming or
/// printing it, or `None` when the item abstraction is exact for it.
pub fn item_use(program: &Program) -> Option<ItemUse> {
    let bodies = || program.processes.iter().map(|p| &p.code.instructions);
    let produces = bodies().any(|code| code.iter().any(|i| matches!(i, Instruction::Produce(_))));
    if !produces {
        return None;
    }
    // Each process has its own memory: its item words are its own produce
    // targets and receive buffers.
    bodies().enumerate().find_map(|(decl, code)| {
        let mut items = Ranges::default();
        collect_item_words(code, &mut items);
        first_use(code, Followed::Items(&items)).map(|pc| ItemUse { decl, pc })
    })
}

/// Where the program first uses a `clock()` reading for more than printing
/// it, or `None` when every reading is only printed or dropped (the
/// checker's clock, always 0, then changes no answer).
pub fn clock_use(program: &Program) -> Option<ItemUse> {
    program.processes.iter().enumerate().find_map(|(decl, p)| {
        first_use(&p.code.instructions, Followed::Clock).map(|pc| ItemUse { decl, pc })
    })
}

/// The values an [`Interpreter`] follows.
#[derive(Clone, Copy)]
enum Followed<'a> {
    /// None: only constants are known (collecting receive buffers).
    Nothing,
    /// Values loaded from these item words.
    Items(&'a Ranges),
    /// The results of `clock()`.
    Clock,
}

/// What the analysis knows of one operand-stack slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// A computed value, or one from before the code's known part.
    Unknown,
    /// A constant the code pushed.
    Constant(i64),
    /// A followed value: loaded from an item word, or read by `clock()`.
    Followed,
}

/// Byte ranges of memory, `[start, end)`, or all of it.
#[derive(Default)]
struct Ranges {
    ranges: Vec<(u64, u64)>,
    everything: bool,
}

impl Ranges {
    fn add(&mut self, start: u64, len: u64) {
        self.ranges.push((start, start.saturating_add(len)));
    }

    fn overlaps(&self, start: u64, len: u64) -> bool {
        let end = start.saturating_add(len);
        self.everything || self.ranges.iter().any(|&(s, e)| start < e && s < end)
    }
}

/// The operand stack of straight-line code, as far as it is known, with
/// the values it follows marked.
struct Interpreter<'a> {
    stack: Vec<Slot>,
    followed: Followed<'a>,
    targets: Vec<bool>,
}

impl<'a> Interpreter<'a> {
    fn new(code: &[Instruction], followed: Followed<'a>) -> Interpreter<'a> {
        let mut targets = vec![false; code.len() + 1];
        for instruction in code {
            if let Instruction::Jump(t) | Instruction::JumpIfFalse(t) = instruction {
                if let Some(slot) = targets.get_mut(*t as usize) {
                    *slot = true;
                }
            }
        }
        Interpreter {
            stack: Vec::new(),
            followed,
            targets,
        }
    }

    /// Is `instruction` a `clock()` call whose result is followed?
    fn reads_clock(&self, instruction: &Instruction) -> bool {
        matches!(self.followed, Followed::Clock) && instruction.traps_with() == Some(Sysno::Clock)
    }

    /// The top `count` slots (top last); unknown below the known part.
    fn top(&self, count: usize) -> Vec<Slot> {
        let known = count.min(self.stack.len());
        let mut slots = vec![Slot::Unknown; count - known];
        slots.extend_from_slice(&self.stack[self.stack.len() - known..]);
        slots
    }

    fn pop(&mut self, count: usize) {
        let keep = self.stack.len().saturating_sub(count);
        self.stack.truncate(keep);
    }

    fn loaded(&self, start: u64, len: u64) -> Slot {
        match self.followed {
            Followed::Items(items) if items.overlaps(start, len) => Slot::Followed,
            _ => Slot::Unknown,
        }
    }

    /// Does running `instruction` at `pc` use a followed value for more than
    /// consuming, printing or dropping it? Then applies it to the stack.
    fn step(&mut self, pc: usize, instruction: &Instruction) -> bool {
        let mut uses_item = false;
        if self.targets.get(pc) == Some(&true) {
            // Reached another way too: what it held is not known any more.
            uses_item |= self.stack.contains(&Slot::Followed);
            self.stack.clear();
        }
        let read = self.top(reads(instruction));
        uses_item |= match instruction {
            Instruction::Consume | Instruction::Print(_) | Instruction::Pop => false,
            // The arguments of `clock()` are placeholders (the result of a
            // fused call's first push among them).
            _ if self.reads_clock(instruction) => false,
            Instruction::Jump(_) | Instruction::JumpIfFalse(_) => {
                self.stack.contains(&Slot::Followed)
            }
            _ => read.contains(&Slot::Followed),
        };
        self.apply(instruction);
        uses_item
    }

    fn apply(&mut self, instruction: &Instruction) {
        let pushed = match instruction {
            Instruction::Push(value) => Some(Slot::Constant(*value)),
            Instruction::Load(address) => Some(self.loaded(u64::from(*address), 8)),
            Instruction::LoadElement { base, length } => {
                Some(self.loaded(u64::from(*base), u64::from(*length) * 8))
            }
            Instruction::ElementAddress { .. }
            | Instruction::Binary(_)
            | Instruction::Negate
            | Instruction::Not
            | Instruction::ProcessPid { .. }
            | Instruction::ProcessNumber { .. }
            | Instruction::InstancePid
            | Instruction::InstanceIndex
            | Instruction::InstanceNumber
            | Instruction::Status(_) => Some(Slot::Unknown),
            // A count of elements becomes its length in bytes.
            Instruction::RequireFits {
                measure: Measure::Elements { size, .. },
                ..
            } => Some(match self.stack.last() {
                Some(Slot::Constant(count)) => count
                    .checked_mul(*size)
                    .map_or(Slot::Unknown, Slot::Constant),
                _ => Slot::Unknown,
            }),
            // The result of an expression-form call, pushed when it
            // completes. (A fused `CallWith` runs on through its pushes to
            // its `Syscall` here, whose result is the one that stays.)
            Instruction::Syscall { form, .. } if self.reads_clock(instruction) => {
                (*form == CallForm::Expression).then_some(Slot::Followed)
            }
            Instruction::Syscall { form, .. } | Instruction::CallWith { form, .. } => {
                (*form == CallForm::Expression).then_some(Slot::Unknown)
            }
            _ => None,
        };
        self.pop(pops(instruction));
        if let Some(slot) = pushed {
            self.stack.push(slot);
        }
        if matches!(instruction, Instruction::Jump(_) | Instruction::Halt) {
            // What follows is reached only by a jump, if at all.
            self.stack.clear();
        }
    }
}

/// How many values `instruction` pops (`vm::step`).
fn pops(instruction: &Instruction) -> usize {
    match instruction {
        Instruction::Pop
        | Instruction::Store(_)
        | Instruction::StageValue { .. }
        | Instruction::LoadElement { .. }
        | Instruction::ElementAddress { .. }
        | Instruction::Negate
        | Instruction::Not
        | Instruction::JumpIfFalse(_)
        | Instruction::ProcessPid { .. }
        | Instruction::ProcessNumber { .. }
        | Instruction::InstancePid
        | Instruction::Consume
        | Instruction::Compute
        | Instruction::Assert(_)
        | Instruction::RequireFits {
            measure: Measure::Elements { .. },
            ..
        } => 1,
        Instruction::StoreElement { .. } | Instruction::Binary(_) => 2,
        Instruction::Syscall { .. } => 6,
        Instruction::Print(parts) => parts
            .iter()
            .filter(|p| matches!(p, PrintPart::Value))
            .count(),
        _ => 0,
    }
}

/// How many values `instruction` reads: those it pops, or the top that
/// `RequireNonNegative` and `RequireFits` (but a count of elements) check
/// in place.
fn reads(instruction: &Instruction) -> usize {
    match instruction {
        Instruction::RequireNonNegative(_) | Instruction::RequireFits { .. } => 1,
        other => pops(other),
    }
}

/// Adds the words `code` may put an item into: `produce` targets and the
/// buffers of its receives (all of memory for a buffer not a constant).
fn collect_item_words(code: &[Instruction], items: &mut Ranges) {
    let mut interpreter = Interpreter::new(code, Followed::Nothing);
    for (pc, instruction) in code.iter().enumerate() {
        if let Instruction::Produce(address) = instruction {
            items.add(u64::from(*address), 8);
        }
        let args = match instruction {
            Instruction::CallWith { args, .. } => Some(args.map(Some)),
            Instruction::Syscall { .. } => Some(
                interpreter
                    .top(6)
                    .iter()
                    .map(|slot| match slot {
                        Slot::Constant(value) => Some(*value),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .try_into()
                    .unwrap_or([None; 6]),
            ),
            _ => None,
        };
        if let Some((buffer, capacity)) = args.and_then(|a| receive_buffer(instruction, &a)) {
            match (buffer, capacity) {
                (Some(start), Some(len)) => items.add(start as u64, len as u64),
                (Some(start), None) => items.add(start as u64, u64::MAX),
                (None, _) => items.everything = true,
            }
        }
        interpreter.step(pc, instruction);
    }
}

/// The buffer and capacity a call puts message bytes into, each if
/// constant; `None` for a call that puts none. A receive writes its
/// buffer; `MPI_Buffer_attach` hands the kernel memory that every
/// `MPI_Bsend` copies its message into, and the program may read it after
/// `MPI_Buffer_detach`.
fn receive_buffer(
    instruction: &Instruction,
    args: &[Option<i64>; 6],
) -> Option<(Option<i64>, Option<i64>)> {
    // Argument positions as `Syscall::encode` lays them out.
    let (buffer, capacity) = match instruction.traps_with()? {
        Sysno::Recv | Sysno::MboxRecv => (2, 3),
        Sysno::MpiRecv | Sysno::Irecv | Sysno::BufferAttach => (0, 1),
        _ => return None,
    };
    Some((args[buffer], args[capacity]))
}

/// The first pc of `code` that uses a followed value for more than
/// consuming, printing or dropping it.
fn first_use(code: &[Instruction], followed: Followed) -> Option<u32> {
    let mut interpreter = Interpreter::new(code, followed);
    code.iter()
        .enumerate()
        .find(|(pc, instruction)| interpreter.step(*pc, instruction))
        .map(|(pc, _)| pc as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::compile;

    fn use_of(source: &str) -> Option<(usize, usize)> {
        let program = compile("t.ipc", source.as_bytes(), &[]).expect("compiles");
        item_use(&program).map(|u| program.line_col(program.span_of(u.decl, u.pc)))
    }

    #[test]
    fn items_only_sent_and_consumed_keep_the_abstraction() {
        let source = "process P { loop { produce item; send(C, item); } }\n\
                      process C { loop { recv(P, x); consume x; print \"got\", x; } }";
        assert_eq!(use_of(source), None);
    }

    #[test]
    fn a_received_item_in_an_assertion_needs_exact_items() {
        let source = "process P { repeat 3 { produce item; send(C, item); } }\n\
                      process C { let last = 0;\n\
                      repeat 3 { recv(P, x); assert x == last + 1; last = x; consume x; } }";
        assert_eq!(use_of(source).map(|(line, _)| line), Some(3));
    }

    #[test]
    fn a_produced_item_in_a_condition_needs_exact_items() {
        let source = "process P { repeat 3 { produce item; if item < 3 { send(C, item); } } }\n\
                      process C { loop { recv(P, x); consume x; } }";
        assert_eq!(use_of(source).map(|(line, _)| line), Some(1));
    }

    #[test]
    fn an_item_read_back_from_the_attached_bsend_buffer_needs_exact_items() {
        // The buffered send copies item 2 into `pool`; after the detach the
        // program reads it (line 3) and compares it: with every item 1 the
        // assertion would hold.
        let source = "process S { let pool[4]; MPI_Buffer_attach(pool, 32);\n\
                      produce a; produce b; MPI_Bsend(b, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
                      MPI_Buffer_detach(&pool, &bytes); let v = pool[0];\n\
                      assert v == 1; }\n\
                      process R { MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st); }";
        assert_eq!(use_of(source).map(|(line, _)| line), Some(3));
    }

    #[test]
    fn values_that_are_not_items_may_steer_the_program() {
        // The loop counter and the credit are not items: the receive into
        // `credit` does make it an item word, but it is never read.
        let source = "process P { loop { produce item; recv(C, credit); send(C, item); } }\n\
                      process C { let k = 0; while k < 2 { send(P, k); k = k + 1; }\n\
                      loop { recv(P, item); send(P, 0); consume item; } }";
        assert_eq!(use_of(source), None);
    }

    fn clock_use_of(source: &str) -> Option<usize> {
        let program = compile("t.ipc", source.as_bytes(), &[]).expect("compiles");
        clock_use(&program).map(|u| program.line_col(program.span_of(u.decl, u.pc)).0)
    }

    #[test]
    fn a_printed_clock_reading_changes_nothing() {
        let source = "process A { send(B, 1); print \"sent at\", clock(); clock(); }\n\
                      process B { recv(A, x); print \"got\", x, \"at tick\", clock(); }";
        assert_eq!(clock_use_of(source), None);
    }

    #[test]
    fn a_clock_reading_that_steers_a_branch_is_a_use() {
        let source = "process A { compute 5;\n\
                      if clock() > 3 { recv(B, x); } send(B, 1); }\n\
                      process B { recv(A, y); }";
        assert_eq!(clock_use_of(source), Some(2));
    }

    #[test]
    fn a_stored_clock_reading_is_a_use() {
        let source = "process A { send(B, 1);\n\
                      let t = clock(); assert t >= 0; }\n\
                      process B { recv(A, y); }";
        assert_eq!(clock_use_of(source), Some(2));
    }

    #[test]
    fn a_program_without_produce_has_no_items_to_abstract() {
        let source = "process A { send(B, 1); }\nprocess B { recv(A, x); assert x == 1; }";
        assert_eq!(use_of(source), None);
    }
}
