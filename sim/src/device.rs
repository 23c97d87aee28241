//! The world's devices: a declared keyboard attached to the kernel at boot, and its typed input raised as interrupts when the clock reaches their ticks.
//!
//! The kernel holds the device's state (ring, semaphore, counters:
//! `kernel/src/keyboard.rs`); the simulator holds what the kernel cannot
//! know, the future: which character is typed at which tick. The runner
//! calls [`Devices::fire_due`] after every clock tick (and at boot for
//! tick 0), so at tick `t` the interrupt handler runs before the next
//! process step; when no process can run, the idle clock jumps to the
//! earlier of the next timer and [`Devices::next_at`].
//!
//! Chapter: `docs/concurrency.md`, "Keyboard".

use ipclab_kernel::config::MAX_SEMAPHORES;
use ipclab_kernel::{DeviceId, Kernel, SemaphoreId, TraceSink};

use crate::lang::Program;
use crate::runner::BootError;

/// The typed input still to come, in tick order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Devices {
    inputs: Vec<(u64, u8)>,
    next: usize,
}

impl Devices {
    /// Attaches `program`'s devices to `kernel` (after its semaphores
    /// exist) and returns their input schedule.
    ///
    /// # Errors
    /// A device naming no declared semaphore, or a ring the kernel refuses.
    pub fn attach(program: &Program, kernel: &mut Kernel) -> Result<Devices, BootError> {
        let mut devices = Devices::default();
        for device in &program.devices {
            let semaphore = (0..MAX_SEMAPHORES as u16)
                .map(SemaphoreId)
                .find(|&id| {
                    kernel
                        .semaphore(id)
                        .is_some_and(|s| s.name.as_str() == device.semaphore)
                })
                .ok_or_else(|| {
                    BootError(format!(
                        "device {}(semaphore = {}): no semaphore named `{}` is declared",
                        device.name, device.semaphore, device.semaphore
                    ))
                })?;
            kernel
                .attach_keyboard(device.ring, semaphore)
                .map_err(|e| BootError(format!("device {}: {}", device.name, e.name())))?;
            devices.inputs.extend(device.inputs.iter().copied());
        }
        devices.inputs.sort_by_key(|&(tick, _)| tick);
        Ok(devices)
    }

    /// Raises the interrupt of every input due at or before the kernel's
    /// clock, in order. Returns how many it raised.
    pub fn fire_due(&mut self, kernel: &mut Kernel, sink: &mut impl TraceSink) -> usize {
        let mut fired = 0;
        while let Some(&(tick, byte)) = self.inputs.get(self.next) {
            if tick > kernel.now() {
                break;
            }
            // Cannot fail: the keyboard was attached at boot. A full ring
            // is an overrun the kernel traces, not an error.
            let _ = kernel.interrupt(DeviceId::KEYBOARD, byte, sink);
            self.next += 1;
            fired += 1;
        }
        fired
    }

    /// The tick of the next input, if any is left.
    pub fn next_at(&self) -> Option<u64> {
        self.inputs.get(self.next).map(|&(tick, _)| tick)
    }

    /// Is there any device input at all?
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }
}
