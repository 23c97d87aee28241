//! ipclab-sim: the host-side simulator: scenario language, runner, verdicts, renderings.
//!
//! A scenario (`.ipc`) is compiled by [`lang`] into bytecode; the
//! [`runner`] boots an [`ipclab_kernel::Kernel`] for it and runs its
//! processes step by step through the syscall ABI; the [`verdict`] says what
//! finally happened and why; the trace ([`trace`]) is what the renderings
//! draw.
pub mod check;
pub mod device;
pub mod lang;
pub mod machine;
pub mod names;
pub mod render;
pub mod runner;
pub mod threads;
pub mod trace;
pub mod translate;
pub mod verdict;
pub mod waitfor;
