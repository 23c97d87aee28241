//! The only place that names the lock implementation: `spin` normally, `loom` under `--cfg loom`.
//!
//! The kernel state itself is plain data; several CPUs share it through
//! [`SharedKernel`], a lock around a [`crate::Kernel`]. Code elsewhere never
//! names `spin` or `loom`.

#[cfg(not(loom))]
pub use spin::{Mutex, MutexGuard};

#[cfg(loom)]
pub use loom::sync::{Mutex, MutexGuard};

/// A kernel shared by several CPUs: every entry takes the lock.
pub struct SharedKernel {
    inner: Mutex<crate::Kernel>,
}

impl SharedKernel {
    /// Wraps a booted kernel.
    pub fn new(kernel: crate::Kernel) -> SharedKernel {
        SharedKernel {
            inner: Mutex::new(kernel),
        }
    }

    /// Runs `f` with the kernel locked.
    pub fn with<R>(&self, f: impl FnOnce(&mut crate::Kernel) -> R) -> R {
        #[cfg(not(loom))]
        let mut guard = self.inner.lock();
        #[cfg(loom)]
        let mut guard = self.inner.lock().unwrap();
        f(&mut guard)
    }
}
