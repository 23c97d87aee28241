//! The keyboard device: an interrupt handler that never blocks hands each character to a device thread through a lock-free ring and a semaphore.
//!
//! The lecture's path (chapter `docs/concurrency.md`, "Keyboard"):
//!
//! ```text
//! key pressed -> interrupt -> Kernel::interrupt: ring.push(c); V(s)
//!                                   (never blocks; full ring: overrun)
//! device thread: P(s); lock(m); c = dev_read(keyboard); unlock(m);
//!                convert c; send c to the input mailbox
//! user process:  getchar() = recv from the input mailbox
//! ```
//!
//! The handler runs "between" processes: it is no process, owns no
//! handle, waits for nothing. It stores the byte in the
//! single-producer/single-consumer [`Ring`] (the handler is its only
//! producer) and raises the device semaphore with `V`, which wakes the
//! device thread if it waits in `P` or counts the byte otherwise. When the
//! ring is full the byte is dropped and the drop is reported: an
//! [`Event::Overrun`] and the overrun counter, never silence. An overrun
//! does not `V`: the semaphore counts the bytes in the ring.
//!
//! `dev_read` is the device thread's side: it takes the oldest byte out
//! of the ring, or answers `EAGAIN` when the ring is empty (a driver that
//! reads without its `P` first). The device number is the capability
//! here: a teaching kernel has one trusted driver, and the scenario says
//! which process it is.
//!
//! In the kernel state the ring is plain data like every other table (the
//! kernel lock or the checker's single thread is its only user), so the
//! checker sees it: its bytes, the overrun count and the interrupts taken
//! are in the canonical encoding. That the ring itself needs no lock, with
//! the handler and the device thread on two CPUs, is what the `loom_ring`
//! model checks.
//!
//! # Invariants (checked by `check_invariants`)
//! - `interrupts == ring.len() + read + overruns`: every interrupt's byte
//!   is in the ring, was read by the device thread, or was reported as an
//!   overrun;
//! - the ring holds at most its capacity.
//!
//! Not an invariant: "the semaphore counts the bytes in the ring". It
//! holds while the driver follows the protocol (`P` before each
//! `dev_read`), but a driver that reads without `P` breaks it, and a user
//! program must not be able to break a kernel invariant.

pub use ipclab_syscalls::DeviceId;
use ipclab_syscalls::{Errno, Pid};

use crate::ring::Ring;
use crate::sync_objects::SemaphoreId;
use crate::{Event, InvariantViolation, Kernel, TraceSink};

/// Bytes the keyboard ring can hold at most; a scenario chooses 1 to this.
pub const MAX_KEYBOARD_RING: usize = 64;

/// The keyboard's state: its ring, its semaphore, its counters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Keyboard {
    /// Characters from the interrupt handler to the device thread.
    pub(crate) ring: Ring<MAX_KEYBOARD_RING>,
    /// The semaphore the handler raises once per stored character.
    pub(crate) semaphore: SemaphoreId,
    /// Interrupts taken (stored or overrun).
    pub(crate) interrupts: u64,
    /// Characters the device thread has read.
    pub(crate) read: u64,
}

impl Keyboard {
    /// The ring's capacity.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// Characters waiting in the ring, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = u8> + '_ {
        self.ring.bytes()
    }

    /// Interrupts taken so far.
    pub fn interrupts(&self) -> u64 {
        self.interrupts
    }

    /// Characters dropped because the ring was full.
    pub fn overruns(&self) -> u64 {
        self.ring.overruns() as u64
    }

    /// Characters the device thread has read.
    pub fn read(&self) -> u64 {
        self.read
    }

    /// The semaphore the handler raises.
    pub fn semaphore(&self) -> SemaphoreId {
        self.semaphore
    }
}

/// What an interrupt did with its character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Interrupt {
    /// Stored in the ring; `queued` characters wait there now.
    Queued { queued: usize },
    /// The ring was full: the character was dropped, counted and traced.
    Overrun { overruns: u64 },
}

impl Kernel {
    /// Attaches the keyboard (at boot): a ring of `capacity` characters
    /// and the semaphore its handler raises.
    ///
    /// # Errors
    /// `EINVAL` (capacity 0 or above [`MAX_KEYBOARD_RING`]), `EBADF` (no
    /// such semaphore), `EEXIST` (a keyboard is already attached).
    pub fn attach_keyboard(
        &mut self,
        capacity: usize,
        semaphore: SemaphoreId,
    ) -> Result<DeviceId, Errno> {
        if capacity == 0 || capacity > MAX_KEYBOARD_RING {
            return Err(Errno::EINVAL);
        }
        if self.semaphore(semaphore).is_none() {
            return Err(Errno::EBADF);
        }
        if self.keyboard.is_some() {
            return Err(Errno::EEXIST);
        }
        self.keyboard = Some(Keyboard {
            ring: Ring::with_capacity(capacity),
            semaphore,
            interrupts: 0,
            read: 0,
        });
        Ok(DeviceId::KEYBOARD)
    }

    /// The keyboard, if one is attached.
    pub fn keyboard(&self) -> Option<&Keyboard> {
        self.keyboard.as_ref()
    }

    /// The interrupt handler: device `device` delivers `byte`. Never
    /// blocks and never fails for a full ring: the character goes into the
    /// ring and the device semaphore is raised (waking the device thread
    /// if it waits in `P`), or, with the ring full, it is dropped and the
    /// overrun is counted and traced.
    ///
    /// # Errors
    /// `ENODEV` when no such device is attached (an embedder bug: the
    /// simulator only raises interrupts for declared devices).
    pub fn interrupt(
        &mut self,
        device: DeviceId,
        byte: u8,
        sink: &mut impl TraceSink,
    ) -> Result<Interrupt, Errno> {
        let now = self.now;
        let keyboard = match (device, self.keyboard.as_mut()) {
            (DeviceId::KEYBOARD, Some(keyboard)) => keyboard,
            _ => return Err(Errno::ENODEV),
        };
        keyboard.interrupts += 1;
        if keyboard.ring.push(byte).is_err() {
            let overruns = keyboard.overruns();
            sink.event(
                now,
                &Event::Overrun {
                    device,
                    byte,
                    overruns,
                },
            );
            return Ok(Interrupt::Overrun { overruns });
        }
        let queued = keyboard.ring.len();
        let semaphore = keyboard.semaphore;
        sink.event(
            now,
            &Event::Interrupt {
                device,
                byte,
                queued: queued as u32,
            },
        );
        // V never blocks. It fails only if every holder closed the
        // semaphore (it is gone) or its count is at u32::MAX: then nobody
        // can P for this byte, which stays in the ring, as in a machine
        // whose driver has exited.
        let _ = self.sem_v(semaphore, sink);
        Ok(Interrupt::Queued { queued })
    }

    /// `dev_read(device)`: the device thread takes the oldest character
    /// out of the ring.
    ///
    /// # Errors
    /// `ENODEV` (no such device), `EAGAIN` (the ring is empty: the caller
    /// did not `P` the device semaphore first).
    pub fn dev_read(&mut self, _caller: Pid, device: DeviceId) -> Result<u8, Errno> {
        let keyboard = match (device, self.keyboard.as_mut()) {
            (DeviceId::KEYBOARD, Some(keyboard)) => keyboard,
            _ => return Err(Errno::ENODEV),
        };
        let byte = keyboard.ring.pop().ok_or(Errno::EAGAIN)?;
        keyboard.read += 1;
        Ok(byte)
    }

    /// The keyboard's invariants (module comment).
    pub(crate) fn check_keyboard(&self) -> Result<(), InvariantViolation> {
        let Some(keyboard) = &self.keyboard else {
            return Ok(());
        };
        let accounted = keyboard.ring.len() as u64 + keyboard.read + keyboard.overruns();
        if keyboard.interrupts != accounted {
            return Err(InvariantViolation(
                "keyboard: interrupts != characters in the ring + read + overruns",
            ));
        }
        if keyboard.ring.len() > keyboard.ring.capacity() {
            return Err(InvariantViolation(
                "keyboard: the ring holds more than its capacity",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ipclab_syscalls::{Handle, SyncCall, Syscall, Timeout};

    use super::*;
    use crate::handle::Object;
    use crate::testing::*;

    const S: Handle = Handle(0);

    /// A kernel with a keyboard of `capacity` and one driver process that
    /// holds the keyboard semaphore as handle 0.
    fn keyboard_world(capacity: usize) -> (World, Pid, SemaphoreId) {
        let mut w = World::with(|_| {});
        let sem = w.k.create_semaphore("keyboard", 0).unwrap();
        assert_eq!(w.k.attach_keyboard(capacity, sem), Ok(DeviceId::KEYBOARD));
        let driver = w.spawn(0);
        w.k.grant_object(driver, Object::Semaphore(sem)).unwrap();
        w.check();
        (w, driver, sem)
    }

    fn interrupt(w: &mut World, byte: u8) -> Interrupt {
        let result =
            w.k.interrupt(DeviceId::KEYBOARD, byte, &mut w.sink)
                .unwrap();
        w.check();
        result
    }

    fn p(w: &mut World, pid: Pid) -> crate::TrapOutcome {
        w.call(
            pid,
            Syscall::Sync(SyncCall::P {
                sem: S,
                timeout: Timeout::Never,
            }),
        )
    }

    #[test]
    fn an_interrupt_never_blocks_and_wakes_the_driver_waiting_in_p() {
        let (mut w, driver, _) = keyboard_world(4);
        blocked(p(&mut w, driver));
        assert_eq!(interrupt(&mut w, b'h'), Interrupt::Queued { queued: 1 });
        // The handler raised the semaphore: the driver is ready with its P done.
        assert!(!w.is_blocked(driver));
        assert_eq!(errno(w.completion(driver)), None);
        let events = w.events();
        let at = events
            .iter()
            .position(|e| {
                matches!(
                    e,
                    Event::Interrupt {
                        byte: b'h',
                        queued: 1,
                        ..
                    }
                )
            })
            .expect("an Interrupt event");
        assert!(matches!(events[at + 1], Event::Wake { pid, .. } if pid == driver));
        assert_eq!(w.k.dev_read(driver, DeviceId::KEYBOARD), Ok(b'h'));
        w.check();
    }

    #[test]
    fn an_interrupt_with_nobody_waiting_counts_on_the_semaphore() {
        let (mut w, driver, sem) = keyboard_world(4);
        let _ = interrupt(&mut w, b'a');
        let _ = interrupt(&mut w, b'b');
        assert_eq!(w.k.semaphore(sem).unwrap().count, 2);
        assert_eq!(ok(p(&mut w, driver)), 0);
        assert_eq!(w.k.semaphore(sem).unwrap().count, 1);
    }

    #[test]
    fn a_full_ring_drops_the_character_and_the_overrun_is_counted_and_traced() {
        let (mut w, driver, sem) = keyboard_world(2);
        let _ = interrupt(&mut w, b'a');
        let _ = interrupt(&mut w, b'b');
        assert_eq!(interrupt(&mut w, b'c'), Interrupt::Overrun { overruns: 1 });
        assert!(w.events().contains(&Event::Overrun {
            device: DeviceId::KEYBOARD,
            byte: b'c',
            overruns: 1,
        }));
        let keyboard = w.k.keyboard().unwrap();
        assert_eq!((keyboard.interrupts(), keyboard.overruns()), (3, 1));
        // No V for the dropped character: the semaphore counts the ring.
        assert_eq!(w.k.semaphore(sem).unwrap().count, 2);
        assert_eq!(w.k.dev_read(driver, DeviceId::KEYBOARD), Ok(b'a'));
        assert_eq!(w.k.dev_read(driver, DeviceId::KEYBOARD), Ok(b'b'));
        w.check();
    }

    #[test]
    fn characters_reach_the_driver_in_the_order_they_were_typed() {
        let (mut w, driver, _) = keyboard_world(8);
        let mut read = std::vec::Vec::new();
        for (k, byte) in b"hello\n".iter().enumerate() {
            let _ = interrupt(&mut w, *byte);
            if k % 2 == 1 {
                while let Ok(b) = w.k.dev_read(driver, DeviceId::KEYBOARD) {
                    read.push(b);
                }
            }
        }
        assert_eq!(read, b"hello\n");
        assert_eq!(w.k.keyboard().unwrap().read(), 6);
    }

    #[test]
    fn reading_an_empty_ring_is_eagain_and_an_unknown_device_enodev() {
        let (mut w, driver, _) = keyboard_world(2);
        assert_eq!(w.k.dev_read(driver, DeviceId::KEYBOARD), Err(Errno::EAGAIN));
        assert_eq!(w.k.dev_read(driver, DeviceId(7)), Err(Errno::ENODEV));
        assert_eq!(
            w.k.interrupt(DeviceId(7), b'x', &mut w.sink),
            Err(Errno::ENODEV)
        );
        let mut bare = World::with(|_| {});
        assert_eq!(
            bare.k.interrupt(DeviceId::KEYBOARD, b'x', &mut bare.sink),
            Err(Errno::ENODEV)
        );
    }

    #[test]
    fn dev_read_through_trap_answers_the_character_in_r1_or_the_errno() {
        let (mut w, driver, _) = keyboard_world(4);
        let read = |device| Syscall::DevRead { device };
        assert_eq!(
            failed(w.call(driver, read(DeviceId::KEYBOARD))),
            Errno::EAGAIN
        );
        let _ = interrupt(&mut w, b'q');
        assert_eq!(ok(p(&mut w, driver)), 0);
        assert_eq!(
            ok(w.call(driver, read(DeviceId::KEYBOARD))),
            u64::from(b'q')
        );
        assert_eq!(failed(w.call(driver, read(DeviceId(3)))), Errno::ENODEV);
        assert_eq!(w.k.keyboard().unwrap().read(), 1);
        w.check();
    }

    #[test]
    fn a_keyboard_is_attached_once_with_a_ring_that_fits() {
        let (mut w, _, sem) = keyboard_world(2);
        assert_eq!(w.k.attach_keyboard(2, sem), Err(Errno::EEXIST));
        let mut fresh = World::with(|_| {});
        let sem = fresh.k.create_semaphore("s", 0).unwrap();
        assert_eq!(fresh.k.attach_keyboard(0, sem), Err(Errno::EINVAL));
        assert_eq!(
            fresh.k.attach_keyboard(MAX_KEYBOARD_RING + 1, sem),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            fresh.k.attach_keyboard(1, SemaphoreId(9)),
            Err(Errno::EBADF)
        );
    }

    #[test]
    fn the_ring_is_part_of_the_kernel_state() {
        let (mut w, _, _) = keyboard_world(4);
        let before = w.k.clone();
        let _ = interrupt(&mut w, b'x');
        assert_ne!(before, w.k);
        let copy = w.k.clone();
        assert_eq!(copy, w.k);
        assert_eq!(
            copy.keyboard()
                .unwrap()
                .pending()
                .collect::<std::vec::Vec<_>>(),
            [b'x']
        );
    }
}
