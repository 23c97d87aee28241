//! The simulator's trace: what happened at each step, in the words of the scenario.
//!
//! The kernel reports [`ipclab_kernel::Event`]s in kernel terms (pids,
//! mailbox ids); the runner translates them into [`TraceEvent`]s that name
//! processes and mailboxes as the scenario does (`Producer[1]`,
//! `consMbox`), adds the user program's own events (produce, consume,
//! print), and records after every step the state of every process. The
//! renderings (timeline, JSON lines) read only this.

use serde::Serialize;

/// A process's state as a timeline column shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProcView {
    /// On the CPU.
    Running,
    /// Runnable.
    Ready,
    /// Blocked; `reason` in kernel terms, e.g. `send(consMbox) [full 4/4]`.
    Blocked { reason: String },
    /// Terminated.
    Exited { code: i64 },
}

/// One event of a step, named as the scenario names things.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceEvent {
    /// A process trapped with a system call, at a line of the scenario.
    Syscall {
        process: String,
        call: String,
        line: usize,
    },
    /// A call's registers did not decode.
    BadCall { process: String, errno: String },
    /// A call completed at once with `result` (`ok`, a value, or an errno).
    Return { process: String, result: String },
    /// A process blocked.
    Block { process: String, reason: String },
    /// A blocked process was completed and is ready.
    Wake { process: String, result: String },
    /// Bytes were copied.
    Copy {
        from: String,
        to: String,
        bytes: u64,
    },
    /// A message entered a kernel slot.
    Enqueue {
        message: u64,
        from: String,
        dest: String,
        tag: u32,
        len: u64,
        queued: u32,
        /// How many that queue can hold: a mailbox's capacity, or a
        /// process's receiver quota, either capped by the buffer slots.
        capacity: u64,
    },
    /// A message reached its receiver.
    Deliver {
        message: u64,
        from: String,
        to: String,
        dest: String,
        tag: u32,
        len: u64,
        direct: bool,
    },
    /// MPI: a message longer than the buffer of the receive that matched
    /// it: `copied` of its `len` bytes went in, the receive failed with
    /// `EMSGSIZE`, the message is consumed.
    Truncated {
        message: u64,
        to: String,
        len: u64,
        copied: u64,
    },
    /// MPI: a pending send cancelled because its sender terminated; never
    /// accepted, so not undeliverable (and not counted in the stats).
    SendCancelled {
        message: u64,
        from: String,
        dest: String,
    },
    /// A message can never be delivered.
    Undeliverable {
        message: u64,
        from: String,
        dest: String,
        reason: String,
    },
    /// A process terminated.
    Exit { process: String, code: i64 },
    /// A process got (`to`) or left (`from`) the CPU.
    Switch {
        from: Option<String>,
        to: Option<String>,
    },
    /// A timer fired.
    Timer { process: String, kind: String },
    /// A device interrupt stored a character in the device's ring (`queued`
    /// of `capacity` now) and raised `semaphore`.
    Interrupt {
        device: String,
        character: String,
        queued: u32,
        capacity: usize,
        semaphore: String,
    },
    /// A device interrupt found the ring full: the character was dropped
    /// (the `overruns`-th time).
    Overrun {
        device: String,
        character: String,
        capacity: usize,
        overruns: u64,
    },
    /// A mailbox was created or destroyed.
    Mailbox { mailbox: String, action: String },
    /// `produce x` made an item.
    Produce { process: String, value: i64 },
    /// `consume x` consumed an item.
    Consume { process: String, value: i64 },
    /// `print` wrote a line.
    Print { process: String, text: String },
    /// `compute n` ran local work.
    Compute { process: String, ticks: u64 },
    /// The program did something erroneous (a failed call it did not check,
    /// a runtime error, a failed assertion).
    ProgramError {
        process: String,
        message: String,
        line: usize,
        column: usize,
    },
}

/// One step of a run: one process ran to its next system call (or the
/// clock advanced while every process waited).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Step number, from 0.
    pub step: u64,
    /// The tick at the end of the step.
    pub tick: u64,
    /// The instance that ran in this step, if any.
    pub ran: Option<usize>,
    /// Every instance's state at the end of the step.
    pub states: Vec<ProcView>,
    /// What happened during the step.
    pub events: Vec<TraceEvent>,
}

/// A whole run's trace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Trace {
    /// The instances' labels, in spawn order (`Producer[0]`, `Consumer`).
    pub labels: Vec<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}
