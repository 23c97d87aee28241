//! The `.ipc` scenario language: source text to a checked program, and the bytecode VM that runs it.
//!
//! A scenario reads like the pseudocode of an operating-systems lecture:
//! processes with instance counts, `send`/`recv` on processes and mailboxes,
//! `produce`/`consume`, a `kernel { }` block of boot options and an `expect`
//! line naming the verdict. The pipeline is
//!
//! ```text
//! bytes --lexer--> tokens --parser--> syntax tree --compiler--> Program --vm--> events
//! ```
//!
//! [`compile`] never panics: any input either compiles or yields
//! [`Diagnostics`] that point at a line and column with a hint. The
//! [`vm`] runs one instance until its next event; a system call is an event
//! whose registers the runner passes to the kernel. The language reference is
//! the book chapter "The scenario language".

pub mod ast;
mod code;
mod compiler;
pub mod device;
pub mod diagnostics;
mod handle_use;
mod lexer;
mod limits;
mod mpi;
mod parser;
mod status;
mod sync;
pub mod vm;

use ipclab_syscalls::Pid;

pub use code::{CallForm, Code, Instruction, Measure, PrintPart, StatusField};
pub use diagnostics::{edit_distance, Diagnostic, Diagnostics};
pub use handle_use::HandleUse;
pub use lexer::integer_literal;
pub(crate) use mpi::call_written_at as mpi_call_written_at;
pub(crate) use mpi::failure_message as mpi_failure_message;
pub use parser::MAX_NESTING;
pub use status::StatusLayout;
pub use vm::{complete_syscall, complete_trap, run, ProcState, VmEvent};

/// The most process instances a scenario may declare in total.
pub const MAX_INSTANCES: u32 = ipclab_kernel::config::MAX_PROCS as u32;

/// The most words one array may have (its bytes are the longest message).
pub const MAX_ARRAY_WORDS: u64 = ipclab_syscalls::MAX_MESSAGE_LEN / 8;

/// The most words of memory one process may use.
pub const MAX_MEMORY_WORDS: usize = 64 * 1024;

/// A byte range of the source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// The span of bytes `start..end` (saturating: sources above 4 GiB are not a use case).
    pub fn new(start: usize, end: usize) -> Span {
        let start = u32::try_from(start).unwrap_or(u32::MAX);
        let end = u32::try_from(end).unwrap_or(u32::MAX).max(start);
        Span { start, end }
    }

    /// The empty span at `offset`.
    pub fn at(offset: usize) -> Span {
        Span::new(offset, offset)
    }

    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The span cut to a source of `length` bytes.
    pub fn clamped(self, length: usize) -> Span {
        let length = u32::try_from(length).unwrap_or(u32::MAX);
        let start = self.start.min(length);
        Span {
            start,
            end: self.end.min(length).max(start),
        }
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> miette::SourceSpan {
        miette::SourceSpan::new(
            (span.start as usize).into(),
            (span.end.saturating_sub(span.start)) as usize,
        )
    }
}

/// What happens to a process's partners when it terminates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Partners stay blocked, as in the lecture.
    Classic,
    /// Partners get `EDEADPEER`.
    Notify,
}

/// The kernel boot options of a `kernel { }` block. `None`: the kernel's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KernelOptions {
    /// `buffer_slots`: how many kernel message slots exist (0: pure rendezvous).
    pub buffer_slots: Option<u64>,
    /// `eager_limit`: the size of a slot in bytes; longer messages go by rendezvous.
    pub eager_limit: Option<u64>,
    /// `receiver_quota`: how many slots messages to one receiver may hold.
    pub receiver_quota: Option<u64>,
    /// `mailbox_quota`: how many slots one mailbox may hold.
    pub mailbox_quota: Option<u64>,
    /// `policy`: `classic` or `notify`.
    pub policy: Option<Policy>,
    /// `refuse_deadlock`: answer `EDEADLK` instead of blocking into a cycle.
    pub refuse_deadlock: Option<bool>,
    /// `quantum`: the scheduler's time slice in ticks.
    pub quantum: Option<u64>,
    /// `priorities`: schedule by fixed process priorities.
    pub priorities: Option<bool>,
}

impl KernelOptions {
    /// Every key of the `kernel { }` block, with what it takes.
    pub const KEYS: [(&'static str, &'static str); 8] = [
        ("buffer_slots", "a number of kernel message slots"),
        ("eager_limit", "a slot size in bytes"),
        ("receiver_quota", "a number of slots per receiver"),
        ("mailbox_quota", "a number of slots per mailbox"),
        ("policy", "`classic` or `notify`"),
        ("refuse_deadlock", "`true` or `false`"),
        ("quantum", "a number of ticks"),
        ("priorities", "`true` or `false`"),
    ];
}

/// A declared mailbox. The runner creates mailbox `m` at boot and every
/// process holds it as `Handle(m)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MailboxDecl {
    pub name: String,
    pub capacity: u64,
    pub span: Span,
}

/// A declared semaphore, mutex, condition variable or shared variable.
/// The runner creates them at boot, after the mailboxes, and every process
/// holds object `i` as `Handle(mailboxes.len() + i)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectDecl {
    pub kind: ast::ObjectKind,
    pub name: String,
    /// A semaphore's initial count; a shared variable's number of words
    /// (1 for `shared x;`); 0 otherwise.
    pub argument: u64,
    pub span: Span,
}

/// A process declaration and its compiled body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProcessDecl {
    pub name: String,
    /// How many instances run this body.
    pub count: u32,
    /// The fixed priority, if the declaration gives one (0 to 7; larger runs first).
    pub priority: Option<u8>,
    pub code: Code,
    /// The span of the declaration's name.
    pub span: Span,
}

/// One running copy of a process declaration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Instance {
    /// Index into [`Program::processes`].
    pub decl: usize,
    /// The instance index within its declaration (`index` in the body).
    pub index: u32,
    /// `Producer[0]`, or `Consumer` for a single-instance declaration.
    pub label: String,
}

/// The verdict a scenario expects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expectation {
    /// Every process exits.
    Completes,
    /// The world gets stuck with processes waiting on each other.
    Deadlock,
    /// The world keeps running (no verdict within the run's budget).
    Runs,
    /// This instance waits forever (for instance on a terminated peer).
    BlockedForever { instance: usize, label: String },
    /// This instance never makes progress while others do.
    Starvation { instance: usize, label: String },
    /// A program error: a failed statement-form call or a runtime error.
    Error,
    /// An `assert` fails.
    AssertionFailed,
}

/// A compiled scenario.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Program {
    pub file_name: String,
    /// The source (invalid UTF-8 replaced by U+FFFD), for rendering spans.
    pub source: String,
    pub kernel: KernelOptions,
    pub mailboxes: Vec<MailboxDecl>,
    /// Declared synchronisation objects, in declaration order.
    pub objects: Vec<ObjectDecl>,
    pub processes: Vec<ProcessDecl>,
    /// Every instance; instance `k` runs as `Pid::new(k, 1)` in a fresh kernel.
    pub instances: Vec<Instance>,
    pub expect: Option<Expectation>,
    /// Words of memory every process gets (the largest any body needs).
    pub mem_words: usize,
    /// Does any body make an MPI call? Then the runner creates
    /// `MPI_COMM_WORLD` from every instance, in instance order.
    pub uses_mpi: bool,
    /// Declared devices (`device keyboard { ... }`): the runner attaches
    /// them at boot and raises their interrupts at their ticks.
    pub devices: Vec<device::DeviceDecl>,
    /// Where the source's lines start, for [`Program::line_col`].
    pub lines: diagnostics::LineIndex,
}

impl Program {
    /// The source span of instruction `pc` of declaration `decl` (empty when out of range).
    pub fn span_of(&self, decl: usize, pc: u32) -> Span {
        self.processes
            .get(decl)
            .and_then(|process| process.code.spans.get(pc as usize).copied())
            .unwrap_or_default()
    }

    /// The source text of a span on one line, spaces collapsed: how a
    /// call the kernel could not decode is shown.
    pub fn text_at(&self, span: Span) -> String {
        let text = self
            .source
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default();
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The 1-based line and column of a span's start.
    pub fn line_col(&self, span: Span) -> (usize, usize) {
        self.lines.line_col(&self.source, span.start as usize)
    }

    /// The instance labelled `label` (`Producer[1]`; `Consumer` or `Consumer[0]`).
    pub fn instance_of(&self, label: &str) -> Option<usize> {
        let label = label.trim();
        if let Some(found) = self.instances.iter().position(|i| i.label == label) {
            return Some(found);
        }
        // `Consumer[0]` also names a single-instance `Consumer`.
        let base = label.strip_suffix("[0]")?;
        self.instances.iter().position(|i| i.label == base)
    }

    /// The pid instance `instance` gets in a fresh kernel.
    pub fn pid_of(instance: usize) -> Pid {
        Pid::new(u16::try_from(instance).unwrap_or(u16::MAX), 1)
    }

    /// Can instance `instance` make progress at all: does its code have a
    /// `produce`, a `consume` or a system call? One that only computes
    /// cannot starve, having nothing to be kept from (`run` and `check`
    /// judge alike).
    pub fn can_progress(&self, instance: usize) -> bool {
        // Only what the instance can reach (`live_code`): a branch on its
        // index that only computes leaves it nothing to be kept from.
        self.live_code(instance).iter().any(|&(i, live)| {
            live && (matches!(i, Instruction::Produce(_) | Instruction::Consume)
                || i.traps_with().is_some())
        })
    }
}

/// The bytecode listing of declaration `decl`.
pub fn disassemble(program: &Program, decl: usize) -> String {
    match program.processes.get(decl) {
        Some(process) => format!(
            "process {} (count {}):\n{}",
            process.name,
            process.count,
            code::listing(&process.code, &program.source, &program.lines)
        ),
        None => format!("no process declaration {decl}\n"),
    }
}

/// The UTF-8 encoding of U+FEFF, which some editors put at the start of a file.
pub const BYTE_ORDER_MARK: &[u8] = b"\xef\xbb\xbf";

/// Compiles a scenario. `overrides` replace `const` values (`-D N=3`).
///
/// # Errors
/// Every problem found, each with a place and a hint: syntax errors, unknown
/// names, ambiguous process references, out-of-range constants, unknown
/// overrides, nesting deeper than [`MAX_NESTING`].
pub fn compile(
    file_name: &str,
    source: &[u8],
    overrides: &[(String, i64)],
) -> Result<Program, Diagnostics> {
    // A byte-order mark (as Windows Notepad saves UTF-8) is not part of the
    // text; dropping it before anything else keeps every column right.
    let source = source.strip_prefix(BYTE_ORDER_MARK).unwrap_or(source);
    let text = String::from_utf8_lossy(source).into_owned();
    let items = lexer::tokenize(&text)
        .and_then(|tokens| parser::parse(&text, tokens))
        .map_err(|error| Diagnostics::new(file_name, &text, vec![error]))?;
    compiler::compile_items(file_name, &text, &items, overrides)
        .map_err(|errors| Diagnostics::new(file_name, &text, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clamped_span_never_leaves_the_source() {
        assert_eq!(Span::new(5, 9).clamped(7), Span::new(5, 7));
        assert_eq!(Span::new(9, 12).clamped(7), Span::new(7, 7));
        assert_eq!(Span::new(4, 2), Span::new(4, 4));
    }

    #[test]
    fn a_single_instance_is_also_found_with_index_zero() {
        let program = compile("t.ipc", b"process P[2] { }\nprocess Q { }", &[]).unwrap();
        assert_eq!(program.instance_of("Q[0]"), Some(2));
        assert_eq!(program.instance_of("P[1]"), Some(1));
        assert_eq!(program.instance_of("P"), None);
        assert_eq!(Program::pid_of(2), Pid::new(2, 1));
    }
}
