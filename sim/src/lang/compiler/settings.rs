//! The two items that declare no name: the `kernel { }` block of boot options and the `expect` line.
//!
//! Both are read once during the declarations pass of
//! [`compile_items`](super::compile_items). [`kernel_options`] checks each
//! option's key, kind of value and range (the maxima come from
//! [`limits`](crate::lang::limits)); [`expectation`] resolves the verdict and,
//! for `blocked_forever(P)` and `starvation(P)`, the one instance it names.

use super::globals::{constant_instance, multi_instance_error_constant, Globals};
use super::Compiled;
use crate::lang::ast::*;
use crate::lang::diagnostics::{did_you_mean, Diagnostic};
use crate::lang::{Expectation, KernelOptions, Policy};

/// The verdicts an `expect` line can name.
pub(in crate::lang) const VERDICTS: &str =
    "completes, deadlock, runs, blocked_forever(P), starvation(P), error, assertion_failed";

/// The verdicts' words alone, for "did you mean".
const VERDICT_NAMES: [&str; 7] = [
    "completes",
    "deadlock",
    "runs",
    "blocked_forever",
    "starvation",
    "error",
    "assertion_failed",
];

/// The keys of the `kernel { }` block alone, for hints.
const KEY_NAMES: [&str; KernelOptions::KEYS.len()] = {
    let mut names = [""; KernelOptions::KEYS.len()];
    let mut at = 0;
    while at < names.len() {
        names[at] = KernelOptions::KEYS[at].0;
        at += 1;
    }
    names
};

pub(super) fn kernel_options(
    globals: &Globals,
    entries: &[KernelEntry],
    kernel: &mut KernelOptions,
    errors: &mut Vec<Diagnostic>,
) {
    let mut seen: Vec<&str> = Vec::new();
    for entry in entries {
        let key = entry.key.text.as_str();
        let Some((_, takes)) = KernelOptions::KEYS.iter().find(|(known, _)| *known == key) else {
            errors.push(
                Diagnostic::at(
                    entry.key.span,
                    format!("unknown kernel option `{key}`"),
                    "unknown option",
                )
                .with_help(format!(
                    "{}the kernel options are: {}",
                    did_you_mean(key, &KEY_NAMES),
                    KEY_NAMES.join(", ")
                )),
            );
            continue;
        };
        if seen.contains(&key) {
            errors.push(
                Diagnostic::at(
                    entry.key.span,
                    format!("kernel option `{key}` is set twice"),
                    "set again",
                )
                .with_help("keep one of the two lines"),
            );
            continue;
        }
        seen.push(key);
        let wrong_kind = || {
            Diagnostic::at(
                entry.value.span,
                format!("`{key}` takes {takes}"),
                "wrong kind of value",
            )
            .with_help(format!("write `{key} = ...;` with {takes}"))
        };
        let word = match &entry.value.kind {
            ExpressionKind::Name(name) => Some(name.text.as_str()),
            _ => None,
        };
        match key {
            "policy" => match word {
                Some("classic") => kernel.policy = Some(Policy::Classic),
                Some("notify") => kernel.policy = Some(Policy::Notify),
                _ => errors.push(wrong_kind()),
            },
            "refuse_deadlock" | "priorities" => {
                let value = match word {
                    Some("true") => Some(true),
                    Some("false") => Some(false),
                    _ => None,
                };
                match value {
                    Some(value) if key == "refuse_deadlock" => kernel.refuse_deadlock = Some(value),
                    Some(value) => kernel.priorities = Some(value),
                    None => errors.push(wrong_kind()),
                }
            }
            _ => {
                if matches!(word, Some("true" | "false" | "classic" | "notify")) {
                    errors.push(wrong_kind());
                    continue;
                }
                let value = match globals.evaluate(&entry.value) {
                    Ok(value) => value,
                    Err(error) => {
                        errors.push(error);
                        continue;
                    }
                };
                let Ok(value) = u64::try_from(value) else {
                    errors.push(
                        Diagnostic::at(
                            entry.value.span,
                            format!("`{key}` cannot be negative"),
                            "negative",
                        )
                        .with_help(format!("`{key}` takes {takes}")),
                    );
                    continue;
                };
                if let Some((maximum, why)) = crate::lang::limits::option_maximum(key) {
                    if value > maximum {
                        errors.push(
                            Diagnostic::at(
                                entry.value.span,
                                format!("`{key}` = {value} is above the maximum {maximum}"),
                                "too large",
                            )
                            .with_help(why),
                        );
                        continue;
                    }
                }
                if key == "quantum" && value == 0 {
                    errors.push(
                        Diagnostic::at(entry.value.span, "`quantum` must be at least 1", "zero")
                            .with_help("a time slice of 0 ticks would never run anyone"),
                    );
                    continue;
                }
                let slot = match key {
                    "buffer_slots" => &mut kernel.buffer_slots,
                    "eager_limit" => &mut kernel.eager_limit,
                    "receiver_quota" => &mut kernel.receiver_quota,
                    "mailbox_quota" => &mut kernel.mailbox_quota,
                    _ => &mut kernel.quantum,
                };
                *slot = Some(value);
            }
        }
    }
}

pub(super) fn expectation(
    globals: &Globals,
    verdict: &Name,
    argument: Option<&Expression>,
) -> Compiled<Expectation> {
    let simple = match verdict.text.as_str() {
        "completes" => Some(Expectation::Completes),
        "deadlock" => Some(Expectation::Deadlock),
        "runs" => Some(Expectation::Runs),
        "error" => Some(Expectation::Error),
        "assertion_failed" => Some(Expectation::AssertionFailed),
        _ => None,
    };
    if let Some(simple) = simple {
        if let Some(argument) = argument {
            return Err(Diagnostic::at(
                argument.span,
                format!("`{}` takes no argument", verdict.text),
                "unexpected argument",
            )
            .with_help("only blocked_forever(P) and starvation(P) name a process"));
        }
        return Ok(simple);
    }
    if !matches!(verdict.text.as_str(), "blocked_forever" | "starvation") {
        return Err(Diagnostic::at(
            verdict.span,
            format!("unknown verdict `{}`", verdict.text),
            "unknown verdict",
        )
        .with_help(format!(
            "{}the verdicts are: {VERDICTS}",
            did_you_mean(&verdict.text, &VERDICT_NAMES)
        )));
    }
    let Some(argument) = argument else {
        return Err(Diagnostic::at(
            verdict.span,
            format!("`{}` names a process", verdict.text),
            "which process?",
        )
        .with_help(format!(
            "write `expect {}({});`",
            verdict.text,
            // This file's first process, so the hint can be copied.
            globals.processes.first().map_or("P".to_string(), |p| {
                if p.count == 1 {
                    p.name.clone()
                } else {
                    format!("{}[0]", p.name)
                }
            })
        )));
    };
    let (name, index) = match &argument.kind {
        ExpressionKind::Name(name) => (name, None),
        ExpressionKind::Index(name, index) => (name, Some(index)),
        _ => {
            return Err(
                Diagnostic::at(argument.span, "expected a process", "not a process")
                    .with_help(globals.peers_hint()),
            )
        }
    };
    let Some(process) = globals.process(&name.text) else {
        return Err(not_a_process(globals, name));
    };
    let offset = match index {
        Some(index) => constant_instance(globals, process, index)?,
        None if process.count == 1 => 0,
        // An expect line takes constant indexes only: no `P[i]` in the hint.
        None => return Err(multi_instance_error_constant(process, name.span)),
    };
    let instance = (process.first + offset) as usize;
    let label = if process.count == 1 {
        process.name.clone()
    } else {
        format!("{}[{offset}]", process.name)
    };
    Ok(match verdict.text.as_str() {
        "blocked_forever" => Expectation::BlockedForever { instance, label },
        _ => Expectation::Starvation { instance, label },
    })
}

/// The error for an `expect` line naming `name`, which is no process:
/// what it is if it is declared, else the close process names.
fn not_a_process(globals: &Globals, name: &Name) -> Diagnostic {
    if let Some(what) = globals.what_is(&name.text) {
        return Diagnostic::at(
            name.span,
            format!("`{}` is {what}, not a process", name.text),
            "not a process",
        )
        .with_help(globals.peers_hint());
    }
    let processes: Vec<&str> = globals.processes.iter().map(|p| p.name.as_str()).collect();
    Diagnostic::at(
        name.span,
        format!("unknown process `{}`", name.text),
        "unknown process",
    )
    .with_help(format!(
        "{}{}",
        did_you_mean(&name.text, &processes),
        globals.peers_hint()
    ))
}
