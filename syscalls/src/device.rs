//! Device calls: `dev_read(device)`, the device thread's side of an interrupt-driven device.
//!
//! The interrupt handler (kernel side, never a system call) puts each
//! character into the device's ring and raises the device semaphore with
//! `V`; the device thread waits with `P` and takes the character with
//! `dev_read`. Chapter: `docs/concurrency.md`, "Keyboard".
//!
//! # Registers
//! | call | a0 |
//! |---|---|
//! | `dev_read` | device number |
//!
//! `dev_read` answers the character in `r1`.

use crate::Errno;

/// A device number. The keyboard is device 0, the only one so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceId(pub u8);

impl DeviceId {
    /// The keyboard.
    pub const KEYBOARD: DeviceId = DeviceId(0);

    /// Decodes a register; values above `u8::MAX` are [`Errno::ENODEV`]:
    /// no device can have that number.
    #[inline]
    pub const fn from_raw(raw: u64) -> Result<DeviceId, Errno> {
        if raw > u8::MAX as u64 {
            Err(Errno::ENODEV)
        } else {
            Ok(DeviceId(raw as u8))
        }
    }

    /// The register value.
    #[inline]
    pub const fn to_raw(self) -> u64 {
        self.0 as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Regs, Syscall, Sysno};

    #[test]
    fn dev_read_round_trips_through_registers() {
        for device in [DeviceId::KEYBOARD, DeviceId(7), DeviceId(u8::MAX)] {
            let call = Syscall::DevRead { device };
            assert_eq!(call.sysno(), Sysno::DevRead);
            assert_eq!(Syscall::decode(&call.encode()), Ok(call));
        }
    }

    #[test]
    fn a_device_number_above_a_byte_is_enodev() {
        let regs = Regs::new(Sysno::DevRead as u64, [256, 0, 0, 0, 0, 0]);
        assert_eq!(Syscall::decode(&regs), Err(Errno::ENODEV));
        assert_eq!(Sysno::from_raw(30), Ok(Sysno::DevRead));
        assert_eq!(Sysno::DevRead.name(), "dev_read");
    }
}
