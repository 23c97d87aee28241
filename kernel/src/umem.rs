//! User memory: the kernel reaches a process's memory only through the embedder's [`UserMemory`].
//!
//! The kernel knows each process's memory size (given at spawn) and checks
//! every (address, length) pair against it before it copies anything, so a
//! copy either happens whole or not at all (`EFAULT`). Every copy is counted
//! in [`crate::Stats`] and traced.

use ipclab_syscalls::{Errno, Pid};

/// The embedder refused an access the kernel believed in bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault;

/// A process's simulated memory, implemented by the embedder.
pub trait UserMemory {
    /// Copies `out.len()` bytes at `addr` of `pid`'s memory into `out`.
    fn read(&self, pid: Pid, addr: u64, out: &mut [u8]) -> Result<(), Fault>;
    /// Copies `data` to `addr` of `pid`'s memory.
    fn write(&mut self, pid: Pid, addr: u64, data: &[u8]) -> Result<(), Fault>;
}

/// Is `[addr, addr + len)` inside a memory of `size` bytes?
pub(crate) fn in_bounds(size: u64, addr: u64, len: u64) -> bool {
    match addr.checked_add(len) {
        Some(end) => end <= size,
        None => false,
    }
}

/// Copies `len` bytes from one process to another through a small bounce
/// buffer (the kernel has no allocator). Bounds were checked by the caller.
pub(crate) fn copy_user_to_user(
    mem: &mut impl UserMemory,
    from: Pid,
    from_addr: u64,
    to: Pid,
    to_addr: u64,
    len: u64,
) -> Result<(), Errno> {
    let mut chunk = [0u8; 128];
    let mut done = 0u64;
    while done < len {
        let n = core::cmp::min(chunk.len() as u64, len - done) as usize;
        mem.read(from, from_addr + done, &mut chunk[..n])
            .map_err(|_| Errno::EFAULT)?;
        mem.write(to, to_addr + done, &chunk[..n])
            .map_err(|_| Errno::EFAULT)?;
        done += n as u64;
    }
    Ok(())
}
