//! The bytecode: a small stack machine whose `syscall` instruction traps into the kernel.
//!
//! Every value is an `i64`. Variables live at fixed addresses of the
//! process's memory (little-endian 8-byte words), so a process's whole state
//! is its program counter, its operand stack and its memory: plain data the
//! checker can hash.

use std::fmt::Write as _;

use ipclab_syscalls::Sysno;

use super::ast::BinaryOperator;
use super::Span;

/// How a system call's result is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallForm {
    /// `send(P, x);`: an error is a program error (`SyscallFailed`).
    Statement,
    /// `let r = send(P, x);`: the program handles the result itself.
    Expression,
}

/// A field of `status`, the result of the last completed system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusField {
    /// 0 or the errno of the last call.
    Error,
    /// The instance number of the sender of the last received message.
    Source,
    /// The tag of the last received message.
    Tag,
    /// The length in bytes of the last received message.
    Length,
    /// After an MPI call: its value (`r1`: rank, size, handle, flag, index).
    MpiValue,
    /// After an MPI receive, probe, wait or test: the sender's rank.
    MpiSource,
    /// After an MPI receive, probe, wait or test: the tag.
    MpiTag,
    /// After an MPI receive, probe, wait or test: the length in bytes.
    MpiLength,
}

impl StatusField {
    /// How the field is written in a scenario.
    pub fn name(self) -> &'static str {
        match self {
            StatusField::Error => "error",
            StatusField::Source => "source",
            StatusField::Tag => "tag",
            StatusField::Length => "len",
            StatusField::MpiValue => "value",
            StatusField::MpiSource => "MPI_SOURCE",
            StatusField::MpiTag => "MPI_TAG",
            StatusField::MpiLength => "len",
        }
    }
}

/// One piece of a `print` statement.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PrintPart {
    Text(String),
    /// A value popped from the stack (parts are pushed in order).
    Value,
}

/// Where a buffer that starts at an array element begins
/// ([`Instruction::RequireFits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ElementStart {
    /// The hidden word holding the element's byte address.
    pub slot: u32,
    /// The byte address of the array's first element.
    pub base: u32,
}

/// What the value an [`Instruction::RequireFits`] checks counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Measure {
    /// A count of elements of the datatype `datatype`, `size` bytes each
    /// (`MPI_Send`, `MPI_Recv` and the like).
    Elements { size: i64, datatype: &'static str },
    /// A size in bytes (`MPI_Buffer_attach`).
    Bytes,
    /// A count of requests, one word each (`MPI_Waitall`, `MPI_Waitany`).
    Requests,
}

/// One instruction. Operands come from the operand stack; results go back on it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Instruction {
    /// Push a constant.
    Push(i64),
    /// Drop the top of the stack.
    Pop,
    /// Push the word at byte address `.0`.
    Load(u32),
    /// Pop a value into the word at byte address `.0`.
    Store(u32),
    /// Pop an index; push the element of the array at `base` with `length` words.
    LoadElement { base: u32, length: u32 },
    /// Pop a value, then an index; store into the array element.
    StoreElement { base: u32, length: u32 },
    /// Pop an index; push the byte address of that array element.
    ElementAddress { base: u32, length: u32 },
    /// Pop a value into the first word of the `words`-word pool at `pool`
    /// that no pending request owns, and store that word's address into
    /// the hidden word `slot`: the buffer of a nonblocking send of a value (`MPI_Isend(x + 1, ...)`).
    /// Each pending send keeps its own copy of the value it was given, so
    /// a loop of them neither races nor sends a later iteration's value.
    /// The pool has a word more than a process may have requests pending,
    /// so one is always free (the call over the limit fails with `EMFILE`).
    StageValue { pool: u32, words: u32, slot: u32 },
    /// Pop right, then left; push `left op right`.
    Binary(BinaryOperator),
    /// Pop a value; push its negation (wrapping).
    Negate,
    /// Pop a value; push 1 when it is 0, else 0.
    Not,
    /// Continue at `.0`.
    Jump(u32),
    /// Pop a value; continue at `.0` when it is 0.
    JumpIfFalse(u32),
    /// Pop an index `i`; push the raw pid of instance `first + i` (bounds: `count`).
    ProcessPid {
        first: u32,
        count: u32,
        name: String,
    },
    /// Pop an index `i`; push the instance number `first + i` (bounds: `count`).
    ProcessNumber {
        first: u32,
        count: u32,
        name: String,
    },
    /// Pop an instance number; push its raw pid (bounds: every instance).
    InstancePid,
    /// Push this instance's index within its declaration.
    InstanceIndex,
    /// Push this instance's number in the whole scenario.
    InstanceNumber,
    /// Push a field of `status`.
    Status(StatusField),
    /// Pop six arguments (a5 on top) and trap.
    Syscall { sysno: Sysno, form: CallForm },
    /// Six `Push`es and the `Syscall` after them, fused ([`fuse_calls`]):
    /// trap with `args` as a0..a5 and continue after that `syscall`, which
    /// stays in place six instructions on, so pcs, spans and jump targets
    /// are those of the unfused code.
    CallWith {
        sysno: Sysno,
        form: CallForm,
        args: [i64; 6],
    },
    /// Store a fresh item into the word at `.0` and report it.
    Produce(u32),
    /// Pop a value and report it consumed.
    Consume,
    /// Pop a tick count and report local work.
    Compute,
    /// Pop the values of the parts and report the text.
    Print(Vec<PrintPart>),
    /// Pop a condition; report a failed assertion when it is 0.
    Assert(String),
    /// Fail when the top of the stack is negative (sleep, timeouts, counts).
    RequireNonNegative(&'static str),
    /// Fail when the MPI count or size on top of the stack is negative or
    /// more than the buffer holds: `limit` bytes, or `limit` minus the
    /// element's offset for a buffer that starts at an array element.
    /// [`Measure::Elements`] replaces the count with its length in bytes.
    ///
    /// `from` is set for a buffer that starts at an array element
    /// (`&buf[k]`): the hidden word holding the element's address and the
    /// array's base. The element's offset is known only at run time, so the
    /// VM subtracts it from `limit` (the whole array) and names the buffer
    /// `buf[k..]`, as C's pointer to the rest of the array.
    RequireFits {
        measure: Measure,
        limit: i64,
        buffer: String,
        from: Option<ElementStart>,
    },
    /// The end of the body: the process exits with code 0.
    Halt,
}

impl Instruction {
    /// The system call this instruction traps with, if it traps.
    pub fn traps_with(&self) -> Option<Sysno> {
        match self {
            Instruction::Syscall { sysno, .. } | Instruction::CallWith { sysno, .. } => {
                Some(*sysno)
            }
            _ => None,
        }
    }
}

/// How far a fused [`Instruction::CallWith`] lies before its `syscall`.
pub const CALL_ARGUMENTS: u32 = 6;

/// The compiler's one peephole pass: every `Push a0 .. Push a5; Syscall`
/// run becomes `CallWith` at the first push.
///
/// A call with constant arguments (most of the lecture's calls: a pid, a
/// mailbox handle, a buffer address, a length) then costs the VM one
/// dispatch instead of seven. Nothing moves: the `CallWith` overwrites the
/// first push only and jumps over the rest, so every pc and jump target is
/// unchanged. Code that enters the run past its first push (no construct
/// of the language does) runs the remaining pushes and the `syscall`, which
/// are still in place. The `CallWith` takes the call's span from its
/// `syscall` (the first push had its first argument's): what it reports,
/// a call shown as written or an error, is about the whole call.
pub fn fuse_calls(instructions: &mut [Instruction], spans: &mut [Span]) {
    let width = CALL_ARGUMENTS as usize;
    for at in width..instructions.len() {
        let Instruction::Syscall { sysno, form } = instructions[at] else {
            continue;
        };
        let first = at - width;
        let mut args = [0i64; 6];
        let constants = instructions[first..at]
            .iter()
            .zip(&mut args)
            .all(|(instruction, slot)| match instruction {
                Instruction::Push(value) => {
                    *slot = *value;
                    true
                }
                _ => false,
            });
        if constants {
            instructions[first] = Instruction::CallWith { sysno, form, args };
            if let Some(&call) = spans.get(at) {
                if let Some(span) = spans.get_mut(first) {
                    *span = call;
                }
            }
        }
    }
}

/// The compiled body of one process declaration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Code {
    pub instructions: Vec<Instruction>,
    /// The source span of each instruction.
    pub spans: Vec<Span>,
    /// Initial memory contents (mailbox names): (byte address, bytes).
    pub data: Vec<(u32, Vec<u8>)>,
    /// Words of memory the body uses.
    pub memory_words: usize,
    /// Variable names and their addresses, for the disassembly.
    pub variables: Vec<(String, u32, u32)>,
}

/// A readable listing of `code`.
pub fn listing(code: &Code, source: &str, lines: &super::diagnostics::LineIndex) -> String {
    let mut out = String::new();
    for (name, address, words) in &code.variables {
        let _ = writeln!(out, "; {name} @ {address} ({words} words)");
    }
    for (address, bytes) in &code.data {
        let _ = writeln!(
            out,
            "; data @ {address}: {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    for (pc, instruction) in code.instructions.iter().enumerate() {
        let line = code
            .spans
            .get(pc)
            .map(|span| lines.line_col(source, span.start as usize).0)
            .unwrap_or(0);
        let text = match instruction {
            Instruction::Syscall { sysno, form } => {
                format!("syscall {} ({form:?})", sysno.name())
            }
            Instruction::CallWith { sysno, form, args } => {
                format!("syscall {} ({form:?}) with {args:?}", sysno.name())
            }
            Instruction::Binary(operator) => format!("binary {}", operator.symbol()),
            other => format!("{other:?}"),
        };
        let _ = writeln!(out, "{pc:5}  {text:<48} ; line {line}");
    }
    out
}
