//! The kernel's fixed limits, checked at compile time so that a scenario the kernel would refuse at boot gets a diagnostic with a place.
//!
//! The kernel sizes its tables at compile time (`kernel/src/config.rs`,
//! `MAX_NAME_LEN` in the syscall ABI) and refuses a long name, a large
//! mailbox or an option above a maximum only when the runner boots it, with
//! an errno and no place in the scenario. Each check here mirrors one of
//! those refusals and takes its limit from the same constant, so the two
//! cannot drift apart; `Machine::boot` keeps its checks as a backstop.

use ipclab_kernel::config::{Config, MAX_EAGER_LIMIT, MAX_PROCESS_NAME, MAX_SLOTS};

use super::ast::Name;
use super::diagnostics::Diagnostic;
use super::{KernelOptions, MailboxDecl, Span};

/// Bytes in the name of a mailbox, semaphore, mutex, condition variable or shared variable.
pub const MAX_OBJECT_NAME: usize = ipclab_syscalls::MAX_NAME_LEN as usize;

/// Checks that every instance label of `process NAME[count]` fits the
/// kernel's process names. The last label (`NAME[count - 1]`) is the longest.
pub(super) fn process_name(name: &Name, count: u32) -> Option<Diagnostic> {
    let suffix = if count == 1 {
        String::new()
    } else {
        format!("[{}]", count - 1)
    };
    let label = name.text.len() + suffix.len();
    if label <= MAX_PROCESS_NAME {
        return None;
    }
    let help = if count == 1 {
        format!("the kernel keeps process names of at most {MAX_PROCESS_NAME} bytes; shorten it")
    } else {
        let longest = MAX_PROCESS_NAME.saturating_sub(suffix.len());
        format!(
            "the kernel keeps process names of at most {MAX_PROCESS_NAME} bytes, and an \
             instance's name includes its index (`{}{suffix}`): with {count} instances the \
             name may have at most {longest} bytes",
            name.text
        )
    };
    Some(
        Diagnostic::at(
            name.span,
            format!("process name `{}` is too long", name.text),
            if count == 1 {
                format!("{label} bytes")
            } else {
                format!("{label} bytes with `{suffix}`")
            },
        )
        .with_help(help),
    )
}

/// Checks the name of a mailbox or synchronisation object (`what`: `mailbox`, `semaphore`, ...).
pub(super) fn object_name(name: &Name, what: &str) -> Option<Diagnostic> {
    let length = name.text.len();
    if length <= MAX_OBJECT_NAME {
        return None;
    }
    Some(
        Diagnostic::at(
            name.span,
            format!("{what} name `{}` is too long", name.text),
            format!("{length} bytes"),
        )
        .with_help(format!(
            "the kernel keeps {what} names of at most {MAX_OBJECT_NAME} bytes; shorten it"
        )),
    )
}

/// The largest value the kernel accepts for the numeric option `key`, and why.
/// `None`: no maximum below the 64-bit range.
pub(super) fn option_maximum(key: &str) -> Option<(u64, String)> {
    match key {
        "buffer_slots" => Some((
            MAX_SLOTS as u64,
            format!("the kernel's buffer pool has at most {MAX_SLOTS} slots"),
        )),
        "eager_limit" => Some((
            MAX_EAGER_LIMIT as u64,
            format!(
                "a slot holds at most {MAX_EAGER_LIMIT} bytes; longer messages go by \
                 rendezvous anyway"
            ),
        )),
        "quantum" => Some((
            u64::from(u32::MAX),
            format!(
                "the kernel counts a time slice in 32 bits: at most {}",
                u32::MAX
            ),
        )),
        _ => None,
    }
}

/// The kernel's `mailbox_quota` for these options, and where it comes from.
/// The defaults follow `runner::kernel_config`: the quota defaults to
/// `buffer_slots`, and both to the kernel's own defaults.
pub(super) fn mailbox_quota(kernel: &KernelOptions) -> (u64, String) {
    if let Some(quota) = kernel.mailbox_quota {
        return (
            quota,
            format!("`mailbox_quota = {quota}` in the `kernel {{ }}` block"),
        );
    }
    if let Some(slots) = kernel.buffer_slots {
        return (
            slots,
            format!(
                "`mailbox_quota` defaults to `buffer_slots`, which the `kernel {{ }}` block \
                 sets to {slots}"
            ),
        );
    }
    let quota = Config::default().mailbox_quota as u64;
    (
        quota,
        format!("the kernel's default `mailbox_quota` is {quota}"),
    )
}

/// Checks a mailbox's capacity against the kernel's mailbox quota.
pub(super) fn mailbox_capacity(
    mailbox: &MailboxDecl,
    capacity_span: Span,
    kernel: &KernelOptions,
) -> Option<Diagnostic> {
    let (quota, source) = mailbox_quota(kernel);
    if mailbox.capacity <= quota {
        return None;
    }
    Some(
        Diagnostic::at(
            capacity_span,
            format!(
                "mailbox `{}` asks for capacity {}, above the kernel's mailbox quota {quota}",
                mailbox.name, mailbox.capacity
            ),
            "above the quota",
        )
        .with_help(format!(
            "{source}; lower the capacity to at most {quota}, or raise `mailbox_quota` in the \
             `kernel {{ }}` block"
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name {
            text: text.to_string(),
            span: Span::new(0, text.len()),
        }
    }

    #[test]
    fn a_process_name_that_fits_with_its_longest_index_passes() {
        // With 10 instances the longest label ends in `[9]`, with 11 in `[10]`.
        let exact = "a".repeat(MAX_PROCESS_NAME - 3);
        assert!(process_name(&name(&exact), 10).is_none());
        assert!(process_name(&name(&exact), 11).is_some());
        assert!(process_name(&name(&"a".repeat(MAX_PROCESS_NAME)), 1).is_none());
    }

    #[test]
    fn the_mailbox_quota_follows_buffer_slots_unless_set() {
        let mut kernel = KernelOptions::default();
        assert_eq!(
            mailbox_quota(&kernel).0,
            Config::default().mailbox_quota as u64
        );
        kernel.buffer_slots = Some(2);
        assert_eq!(mailbox_quota(&kernel).0, 2);
        kernel.mailbox_quota = Some(5);
        assert_eq!(mailbox_quota(&kernel).0, 5);
    }
}
