//! Devices in the scenario language: `device keyboard(ring = 4, semaphore = s) { at 5: "hi\n"; }`, its typed input as a schedule of interrupts, and `dev_read(keyboard)`.
//!
//! Chapter: `docs/scenario-language.md`, "Devices"; the kernel side is
//! `kernel/src/keyboard.rs` (`docs/concurrency.md`, "Keyboard").
//!
//! - `ring = n`: the capacity of the interrupt ring (1 to
//!   [`MAX_KEYBOARD_RING`]; default 16);
//! - `semaphore = s`: the semaphore the interrupt handler raises once per
//!   stored character (a semaphore the scenario declares, initial count 0);
//! - `at t: "text";`: the characters of `text` are typed one per tick from
//!   tick `t` on (one interrupt each). Input lines keep their order: a line
//!   whose ticks overlap the previous one's continues after it.
//!
//! In a body, `dev_read(keyboard)` takes the oldest character out of the
//! ring (the device thread's side, after `P` on the device semaphore). In
//! expression form (`let c = dev_read(keyboard);`) it gives the character,
//! or the negated errno (`-EAGAIN` when the ring is empty), as
//! `mbox_create` gives a handle or `-errno`; as a statement the character
//! is dropped and an error is a program error.

use ipclab_kernel::{DeviceId, MAX_KEYBOARD_RING};
use ipclab_syscalls::Sysno;

use super::ast::{Call, DeviceInput, ExpressionKind, KernelEntry, Name};
use super::code::{CallForm, Instruction};
use super::compiler::{arity_error, split_arguments, BodyCompiler, Compiled};
use super::diagnostics::Diagnostic;
use super::Span;

/// The ring capacity a keyboard gets when its declaration names none.
pub const DEFAULT_RING: usize = 16;

/// A declared device, resolved.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeviceDecl {
    /// The device kind, which is also its name in bodies (`keyboard`).
    pub name: String,
    /// The ring's capacity.
    pub ring: usize,
    /// The name of the semaphore the handler raises.
    pub semaphore: String,
    /// Where that name is written (the compiler checks it names a
    /// declared semaphore once every declaration is read).
    pub semaphore_span: Span,
    /// Every typed character with the tick of its interrupt, in order.
    pub inputs: Vec<(u64, u8)>,
    /// The span of the declaration's kind.
    pub span: Span,
}

/// Resolves a `device` declaration; `evaluate` computes a constant expression.
pub(super) fn resolve(
    kind: &Name,
    options: &[KernelEntry],
    inputs: &[DeviceInput],
    evaluate: impl Fn(&super::ast::Expression) -> Result<i64, Diagnostic>,
) -> Result<DeviceDecl, Diagnostic> {
    if kind.text != "keyboard" {
        return Err(Diagnostic::at(
            kind.span,
            format!("unknown device `{}`", kind.text),
            "not a device",
        )
        .with_help("the one device so far is `keyboard`"));
    }
    let mut ring = DEFAULT_RING;
    let mut semaphore = None;
    for (at, option) in options.iter().enumerate() {
        if options[..at].iter().any(|o| o.key.text == option.key.text) {
            return Err(Diagnostic::at(
                option.key.span,
                format!("device option `{}` is set twice", option.key.text),
                "set again",
            )
            .with_help("keep one of the two"));
        }
        match option.key.text.as_str() {
            "ring" => {
                let value = evaluate(&option.value)?;
                ring = usize::try_from(value)
                    .ok()
                    .filter(|n| (1..=MAX_KEYBOARD_RING).contains(n))
                    .ok_or_else(|| {
                        Diagnostic::at(
                            option.value.span,
                            format!("a ring of {value} characters"),
                            "out of range",
                        )
                        .with_help(format!(
                            "the keyboard ring holds 1 to {MAX_KEYBOARD_RING} characters"
                        ))
                    })?;
            }
            "semaphore" => match &option.value.kind {
                ExpressionKind::Name(name) => semaphore = Some((name.text.clone(), name.span)),
                _ => {
                    return Err(Diagnostic::at(
                        option.value.span,
                        "a semaphore is named",
                        "not a name",
                    )
                    .with_help("write `semaphore = chars` for a declared semaphore `chars`"))
                }
            },
            other => {
                return Err(Diagnostic::at(
                    option.key.span,
                    format!("unknown device option `{other}`"),
                    "unknown option",
                )
                .with_help("a keyboard takes `ring = n` and `semaphore = s`"))
            }
        }
    }
    let (semaphore, semaphore_span) = semaphore.ok_or_else(|| {
        Diagnostic::at(
            kind.span,
            "a keyboard needs the semaphore its interrupt handler raises",
            "no semaphore",
        )
        .with_help("declare one and name it: `device keyboard(semaphore = chars) { ... }`")
    })?;
    let mut schedule = Vec::new();
    let mut next_free = 0u64;
    for input in inputs {
        let at = evaluate(&input.at)?;
        let at = u64::try_from(at).map_err(|_| {
            Diagnostic::at(input.at.span, format!("tick {at}"), "before tick 0")
                .with_help("input is typed at tick 0 or later")
        })?;
        for byte in input.text.bytes() {
            let tick = at.max(next_free);
            schedule.push((tick, byte));
            next_free = tick + 1;
        }
    }
    Ok(DeviceDecl {
        name: kind.text.clone(),
        ring,
        semaphore,
        semaphore_span,
        inputs: schedule,
        span: kind.span,
    })
}

impl BodyCompiler<'_> {
    /// `dev_read(keyboard)`: one `dev_read` system call on a declared device.
    pub(super) fn dev_read(&mut self, call: &Call, form: CallForm) -> Compiled<()> {
        let span = call.span;
        let (positional, _) = split_arguments(call, &[])?;
        if positional.len() != 1 {
            return Err(arity_error(call, "dev_read(keyboard)"));
        }
        let argument = positional[0];
        let hint = if self.globals.devices.is_empty() {
            "no device is declared; declare one: \
             `device keyboard(ring = 4, semaphore = chars) { at 5: \"hi\\n\"; }`"
                .to_string()
        } else {
            format!("the devices declared: {}", self.globals.devices.join(", "))
        };
        match &argument.kind {
            ExpressionKind::Name(name) if self.globals.devices.contains(&name.text) => {
                // `keyboard` is the only device kind, device 0.
                self.emit(
                    Instruction::Push(i64::from(DeviceId::KEYBOARD.0)),
                    argument.span,
                );
                self.syscall(Sysno::DevRead, 1, form, span);
                Ok(())
            }
            _ => Err(
                Diagnostic::at(argument.span, "expected a declared device", "not a device")
                    .with_help(hint),
            ),
        }
    }
}

/// A character as a timeline shows it: `'h'`, `'\n'`, `0x07`.
pub fn character(byte: u8) -> String {
    match byte {
        b'\n' => "'\\n'".to_string(),
        b'\t' => "'\\t'".to_string(),
        b'\'' => "'\\''".to_string(),
        0x20..=0x7e => format!("'{}'", byte as char),
        _ => format!("0x{byte:02x}"),
    }
}

/// The character [`character`] shows, as itself (`'\\n'` is a newline): the
/// JSON trace gives the character, not its picture. A byte outside ASCII
/// (`0x80` and up) is U+0080..U+00FF.
pub fn character_shown(shown: &str) -> String {
    let unquoted = match shown {
        "'\\n'" => Some('\n'),
        "'\\t'" => Some('\t'),
        "'\\''" => Some('\''),
        _ => shown
            .strip_prefix('\'')
            .and_then(|s| s.strip_suffix('\''))
            .filter(|s| s.chars().count() == 1)
            .and_then(|s| s.chars().next()),
    };
    let byte = || {
        shown
            .strip_prefix("0x")
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .map(char::from)
    };
    match unquoted.or_else(byte) {
        Some(c) => c.to_string(),
        None => shown.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_shown_reads_back_as_itself() {
        for byte in 0..=u8::MAX {
            assert_eq!(
                character_shown(&character(byte)),
                char::from(byte).to_string(),
                "byte {byte:#04x}"
            );
        }
    }

    fn compile(source: &str) -> Result<crate::lang::Program, String> {
        crate::lang::compile("t.ipc", source.as_bytes(), &[]).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn typed_input_is_one_character_per_tick_and_lines_keep_their_order() {
        let program = compile(
            "const T = 5;\n\
             device keyboard(ring = 4, semaphore = chars) { at T: \"hi\\n\"; at 6: \"x\"; }\n\
             semaphore chars(initial = 0);\n\
             process P { }",
        )
        .unwrap();
        let device = &program.devices[0];
        assert_eq!((device.ring, device.semaphore.as_str()), (4, "chars"));
        assert_eq!(
            device.inputs,
            [(5, b'h'), (6, b'i'), (7, b'\n'), (8, b'x')],
            "the line at 6 continues after the one at 5"
        );
    }

    #[test]
    fn a_bad_device_declaration_says_what_is_wrong() {
        let error = |source: &str| compile(source).unwrap_err();
        assert!(error("device mouse(semaphore = s) { } process P { }").contains("unknown device"));
        assert!(
            error("device keyboard(ring = 0, semaphore = s) { } process P { }")
                .contains("ring of 0")
        );
        assert!(
            error("device keyboard { at 1: \"a\"; } process P { }").contains("needs the semaphore")
        );
        assert!(
            error("device keyboard(semaphore = s) { at 1 \"a\"; } process P { }").contains("`:`")
        );
        let twice = error(
            "semaphore s; semaphore t;\n\
             device keyboard(ring = 2, semaphore = s, ring = 5) { }\n\
             process P { }",
        );
        assert!(
            twice.contains("device option `ring` is set twice"),
            "{twice}"
        );
        assert!(error(
            "semaphore s; device keyboard(semaphore = s, semaphore = s) { } process P { }"
        )
        .contains("`semaphore` is set twice"));
        // A bad declaration is still declared: its uses add no errors.
        let one = error(
            "device keyboard { at 3: \"ab\"; }\n\
             process P { let c = dev_read(keyboard); let d = dev_read(keyboard); }",
        );
        assert!(one.contains("needs the semaphore"), "{one}");
        assert!(!one.contains("expected a declared device"), "{one}");
    }

    #[test]
    fn a_keyboard_whose_semaphore_is_not_declared_is_a_compile_error_at_its_name() {
        let error = compile("device keyboard(semaphore = chars) { } process P { }").unwrap_err();
        assert!(error.contains("no semaphore named `chars`"), "{error}");
        let error =
            compile("mutex m;\ndevice keyboard(semaphore = m) { } process P { }").unwrap_err();
        assert!(error.contains("`m` is a mutex, not a semaphore"), "{error}");
        // Declared after the device: fine.
        compile("device keyboard(semaphore = s) { } semaphore s(initial = 0); process P { }")
            .unwrap();
    }

    #[test]
    fn dev_read_names_a_declared_device() {
        let ok = "semaphore chars;\n\
                  device keyboard(semaphore = chars) { }\n\
                  process P { let c = dev_read(keyboard); }";
        assert!(compile(ok).is_ok());
        let none = compile("process P { let c = dev_read(keyboard); }").unwrap_err();
        assert!(none.contains("no device is declared"), "{none}");
        let wrong = compile(&ok.replace("dev_read(keyboard)", "dev_read(chars)")).unwrap_err();
        assert!(wrong.contains("expected a declared device"), "{wrong}");
    }

    #[test]
    fn characters_are_shown_printable_or_escaped() {
        assert_eq!(character(b'h'), "'h'");
        assert_eq!(character(b'\n'), "'\\n'");
        assert_eq!(character(7), "0x07");
    }
}
