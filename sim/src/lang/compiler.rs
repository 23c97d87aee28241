//! The compiler: resolves names, checks constants, and emits the bytecode of every process body.
//!
//! Declarations are resolved first (constants in order, then mailboxes and
//! process counts), so a body may name a process declared after it. Body
//! errors are collected statement by statement, so one compilation reports
//! as many independent mistakes as it can.

use std::collections::HashMap;

use ipclab_syscalls::{Errno, Sysno};

use super::ast::*;
use super::code::{CallForm, Code, Instruction, PrintPart, StatusField};
use super::diagnostics::Diagnostic;
use super::{
    Expectation, Instance, KernelOptions, MailboxDecl, Policy, ProcessDecl, Program, Span,
    MAX_ARRAY_WORDS, MAX_INSTANCES, MAX_MEMORY_WORDS,
};

pub(super) type Compiled<T> = Result<T, Diagnostic>;

/// The names a body can use without declaring them, besides the errno constants.
const BUILTIN_VALUES: &[&str] = &["index", "self", "OK", "ANY", "true", "false", "status"];

/// The verdicts an `expect` line can name.
const VERDICTS: &str =
    "completes, deadlock, runs, blocked_forever(P), starvation(P), error, assertion_failed";

struct ProcessInfo {
    name: String,
    span: Span,
    count: u32,
    first: u32,
}

pub(super) struct Globals {
    constants: Vec<(String, i64)>,
    mailboxes: Vec<MailboxDecl>,
    /// Semaphores, mutexes, condition variables, shared variables.
    pub(super) objects: Vec<super::ObjectDecl>,
    processes: Vec<ProcessInfo>,
    instance_total: u32,
    /// The declared devices' names (`keyboard`), for `dev_read`.
    pub(super) devices: Vec<String>,
}

impl Globals {
    fn constant(&self, name: &str) -> Option<i64> {
        self.constants
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, value)| *value)
    }

    fn mailbox(&self, name: &str) -> Option<usize> {
        self.mailboxes.iter().position(|m| m.name == name)
    }

    fn process(&self, name: &str) -> Option<&ProcessInfo> {
        self.processes.iter().find(|p| p.name == name)
    }

    /// The declared object `name` and the handle every process holds it by.
    pub(super) fn object(&self, name: &str) -> Option<(&super::ObjectDecl, i64)> {
        let index = self.objects.iter().position(|o| o.name == name)?;
        Some((&self.objects[index], (self.mailboxes.len() + index) as i64))
    }

    fn is_global(&self, name: &str) -> bool {
        self.constant(name).is_some()
            || self.mailbox(name).is_some()
            || self.object(name).is_some()
            || self.process(name).is_some()
    }

    /// Evaluates a constant expression with checked arithmetic.
    pub(super) fn evaluate(&self, expression: &Expression) -> Compiled<i64> {
        let overflow = || {
            Diagnostic::at(
                expression.span,
                "arithmetic overflow in a constant",
                "overflows",
            )
            .with_help(format!(
                "constants are 64-bit signed integers ({} to {})",
                i64::MIN,
                i64::MAX
            ))
        };
        match &expression.kind {
            ExpressionKind::Integer(value) => Ok(*value),
            ExpressionKind::Name(name) => match name.text.as_str() {
                "true" => Ok(1),
                "false" | "OK" => Ok(0),
                text => {
                    if let Some(value) = self.constant(text) {
                        Ok(value)
                    } else if let Some(errno) = errno_named(text) {
                        Ok(errno.number() as i64)
                    } else {
                        Err(Diagnostic::at(
                            name.span,
                            format!("`{text}` is not a constant"),
                            "not known here",
                        )
                        .with_help(self.known_constants_hint()))
                    }
                }
            },
            ExpressionKind::Unary(operator, operand) => {
                let value = self.evaluate(operand)?;
                match operator {
                    UnaryOperator::Negate => value.checked_neg().ok_or_else(overflow),
                    UnaryOperator::Not => Ok(i64::from(value == 0)),
                    UnaryOperator::AddressOf => {
                        Err(
                            Diagnostic::at(expression.span, "`&` is not a constant", "an address")
                                .with_help("`&x` appears only as an argument of an MPI call"),
                        )
                    }
                }
            }
            ExpressionKind::Binary(operator, left, right) => {
                let left = self.evaluate(left)?;
                let right = self.evaluate(right)?;
                if matches!(operator, BinaryOperator::Divide | BinaryOperator::Remainder)
                    && right == 0
                {
                    return Err(Diagnostic::at(
                        expression.span,
                        "division by zero in a constant",
                        "divides by zero",
                    )
                    .with_help("check the constants this expression uses"));
                }
                binary_checked(*operator, left, right).ok_or_else(overflow)
            }
            _ => Err(Diagnostic::at(
                expression.span,
                "expected a constant expression",
                "not a constant",
            )
            .with_help(
                "use numbers, constants declared with `const` and arithmetic: \
                 this value must be known before the scenario runs",
            )),
        }
    }

    fn known_constants_hint(&self) -> String {
        if self.constants.is_empty() {
            "no constants are declared; declare one with `const N = 3;`".to_string()
        } else {
            format!(
                "the constants are: {}",
                self.constants
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }

    fn peers_hint(&self) -> String {
        let processes: Vec<String> = self
            .processes
            .iter()
            .map(|p| {
                if p.count == 1 {
                    p.name.clone()
                } else {
                    format!("{}[0..{}]", p.name, p.count)
                }
            })
            .collect();
        let mailboxes: Vec<&str> = self.mailboxes.iter().map(|m| m.name.as_str()).collect();
        format!(
            "processes: {}; mailboxes: {}",
            if processes.is_empty() {
                "none".to_string()
            } else {
                processes.join(", ")
            },
            if mailboxes.is_empty() {
                "none".to_string()
            } else {
                mailboxes.join(", ")
            }
        )
    }
}

/// `left op right` with overflow as `None` (division by zero is checked by the caller).
pub(crate) fn binary_checked(operator: BinaryOperator, left: i64, right: i64) -> Option<i64> {
    Some(match operator {
        BinaryOperator::Add => left.checked_add(right)?,
        BinaryOperator::Subtract => left.checked_sub(right)?,
        BinaryOperator::Multiply => left.checked_mul(right)?,
        BinaryOperator::Divide => left.checked_div(right)?,
        BinaryOperator::Remainder => left.checked_rem(right)?,
        BinaryOperator::Equal => i64::from(left == right),
        BinaryOperator::NotEqual => i64::from(left != right),
        BinaryOperator::Less => i64::from(left < right),
        BinaryOperator::LessEqual => i64::from(left <= right),
        BinaryOperator::Greater => i64::from(left > right),
        BinaryOperator::GreaterEqual => i64::from(left >= right),
        BinaryOperator::And => i64::from(left != 0 && right != 0),
        BinaryOperator::Or => i64::from(left != 0 || right != 0),
    })
}

/// The errno with this name, as a scenario spells it (`EAGAIN`).
pub(crate) fn errno_named(name: &str) -> Option<Errno> {
    Errno::ALL.iter().copied().find(|e| e.name() == name)
}

/// Compiles parsed items into a program, or every error found.
pub fn compile_items(
    file_name: &str,
    source: &str,
    items: &[Item],
    overrides: &[(String, i64)],
) -> Result<Program, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut globals = Globals {
        constants: Vec::new(),
        mailboxes: Vec::new(),
        objects: Vec::new(),
        processes: Vec::new(),
        instance_total: 0,
        devices: Vec::new(),
    };
    let mut names: HashMap<String, Span> = HashMap::new();
    let mut declare = |name: &Name, errors: &mut Vec<Diagnostic>| -> bool {
        if let Some(earlier) = names.get(&name.text) {
            let (line, _) = super::diagnostics::line_col(source, earlier.start as usize);
            errors.push(
                Diagnostic::at(
                    name.span,
                    format!("`{}` is declared twice", name.text),
                    "declared again here",
                )
                .with_help(format!(
                    "the first declaration is on line {line}; constants, mailboxes and \
                     processes share one name space"
                )),
            );
            return false;
        }
        if BUILTIN_VALUES.contains(&name.text.as_str()) || errno_named(&name.text).is_some() {
            errors.push(
                Diagnostic::at(
                    name.span,
                    format!("`{}` is a builtin name", name.text),
                    "reserved",
                )
                .with_help("choose another name"),
            );
            return false;
        }
        names.insert(name.text.clone(), name.span);
        true
    };

    // Constants, in order, each with the overrides applied.
    for item in items {
        if let Item::Const { name, value } = item {
            if !declare(name, &mut errors) {
                continue;
            }
            let overridden = overrides.iter().rev().find(|(key, _)| key == &name.text);
            let value = match overridden {
                Some((_, value)) => Ok(*value),
                None => globals.evaluate(value),
            };
            match value {
                Ok(value) => globals.constants.push((name.text.clone(), value)),
                Err(error) => {
                    errors.push(error);
                    // Keep the name known so later uses do not echo the error.
                    globals.constants.push((name.text.clone(), 0));
                }
            }
        }
    }
    for (key, _) in overrides {
        if globals.constant(key).is_none() {
            errors.push(
                Diagnostic::nowhere(format!("cannot override `{key}`: no such constant"))
                    .with_help(globals.known_constants_hint()),
            );
        }
    }

    // Mailboxes and process counts, so that bodies can name any of them.
    let mut kernel = KernelOptions::default();
    let mut kernel_seen = false;
    // A `kernel { }` block with an error leaves options at their defaults;
    // checking capacities against those would only echo that error.
    let mut kernel_ok = true;
    // Parallel to `globals.mailboxes`: where each capacity is written.
    let mut capacity_spans: Vec<Span> = Vec::new();
    // Every declaration's instances, also those beyond the limit, for one error that gives the total.
    let mut instances_asked: u64 = 0;
    let mut too_many_instances: Option<usize> = None;
    let mut expect_item = None;
    let mut devices: Vec<super::device::DeviceDecl> = Vec::new();
    for item in items {
        match item {
            Item::Device {
                kind,
                options,
                inputs,
                span,
            } => {
                if devices.iter().any(|d| d.name == kind.text) {
                    errors.push(
                        Diagnostic::at(*span, format!("a second `{}`", kind.text), "second device")
                            .with_help(
                                "a scenario has one keyboard; put all its input in one block",
                            ),
                    );
                    continue;
                }
                match super::device::resolve(kind, options, inputs, |e| globals.evaluate(e)) {
                    Ok(device) => devices.push(device),
                    Err(error) => errors.push(error),
                }
            }
            Item::Mailbox { name, capacity } => {
                if !declare(name, &mut errors) {
                    continue;
                }
                errors.extend(super::limits::object_name(name, "mailbox"));
                capacity_spans.push(capacity.span);
                let capacity = match globals.evaluate(capacity) {
                    Ok(value) => match u32::try_from(value) {
                        Ok(value) => u64::from(value),
                        Err(_) => {
                            errors.push(
                                Diagnostic::at(
                                    capacity.span,
                                    format!("mailbox capacity {value} is out of range"),
                                    "out of range",
                                )
                                .with_help("a capacity is a number of messages, 0 or more"),
                            );
                            0
                        }
                    },
                    Err(error) => {
                        errors.push(error);
                        0
                    }
                };
                globals.mailboxes.push(MailboxDecl {
                    name: name.text.clone(),
                    capacity,
                    span: name.span,
                });
            }
            Item::Process { name, count, .. } => {
                if !declare(name, &mut errors) {
                    continue;
                }
                let count = match count {
                    None => 1,
                    Some(expression) => match globals.evaluate(expression) {
                        Ok(value) if (1..=i64::from(MAX_INSTANCES)).contains(&value) => {
                            value as u32
                        }
                        Ok(value) => {
                            errors.push(
                                Diagnostic::at(
                                    expression.span,
                                    format!("instance count {value} is out of range"),
                                    "out of range",
                                )
                                .with_help(format!(
                                    "a process has between 1 and {MAX_INSTANCES} instances"
                                )),
                            );
                            1
                        }
                        Err(error) => {
                            errors.push(error);
                            1
                        }
                    },
                };
                errors.extend(super::limits::process_name(name, count));
                instances_asked += u64::from(count);
                if instances_asked > u64::from(MAX_INSTANCES) && too_many_instances.is_none() {
                    // One error for the first declaration beyond the limit;
                    // its hint gets the total once every declaration is counted.
                    too_many_instances = Some(errors.len());
                    errors.push(Diagnostic::at(
                        name.span,
                        "too many process instances",
                        "beyond the limit from here",
                    ));
                }
                // Declared even beyond the limit, so that bodies naming it
                // do not add "unknown process" errors to the one above.
                globals.processes.push(ProcessInfo {
                    name: name.text.clone(),
                    span: name.span,
                    count,
                    first: globals.instance_total,
                });
                globals.instance_total = globals.instance_total.saturating_add(count);
            }
            Item::Kernel { entries, span } => {
                if kernel_seen {
                    errors.push(
                        Diagnostic::at(*span, "a second `kernel` block", "second block")
                            .with_help("put every kernel option in one `kernel { }` block"),
                    );
                    continue;
                }
                kernel_seen = true;
                let before = errors.len();
                kernel_options(&globals, entries, &mut kernel, &mut errors);
                kernel_ok = errors.len() == before;
            }
            Item::Expect { span, .. } => {
                if expect_item.is_some() {
                    errors.push(
                        Diagnostic::at(*span, "a second `expect` line", "second expectation")
                            .with_help("a scenario expects one verdict"),
                    );
                } else {
                    expect_item = Some(item);
                }
            }
            Item::Object {
                kind,
                name,
                argument,
                span,
            } => {
                if !declare(name, &mut errors) {
                    continue;
                }
                let what = match kind {
                    ObjectKind::Shared => "shared variable",
                    _ => kind.keyword(),
                };
                errors.extend(super::limits::object_name(name, what));
                let decl = super::sync::declare(&globals, *kind, name, argument.as_ref(), *span);
                match decl {
                    Ok(decl) => globals.objects.push(decl),
                    Err(error) => {
                        errors.push(error);
                        // Declared anyway, so that its uses do not add
                        // "unknown semaphore" errors to the one above.
                        globals.objects.push(super::ObjectDecl {
                            kind: *kind,
                            name: name.text.clone(),
                            argument: u64::from(*kind == ObjectKind::Shared),
                            span: *span,
                        });
                    }
                }
            }
            Item::Const { .. } => {}
        }
    }
    globals.devices = devices.iter().map(|d| d.name.clone()).collect();
    if let Some(at) = too_many_instances {
        errors[at] = errors[at].clone().with_help(format!(
            "a scenario runs at most {MAX_INSTANCES} instances in total; \
             its declarations ask for {instances_asked}"
        ));
    }
    if kernel_ok {
        for (mailbox, span) in globals.mailboxes.iter().zip(&capacity_spans) {
            errors.extend(super::limits::mailbox_capacity(mailbox, *span, &kernel));
        }
    }
    if let Err(error) = super::sync::check_handle_count(&globals.mailboxes, &globals.objects) {
        errors.push(error);
    }
    if globals.processes.is_empty() && errors.is_empty() {
        errors.push(
            Diagnostic::at(
                Span::at(0),
                "the scenario declares no process",
                "nothing runs",
            )
            .with_help("declare one: `process P { print \"hello\"; }`"),
        );
    }

    let expect = match expect_item {
        Some(Item::Expect {
            verdict, argument, ..
        }) => match expectation(&globals, verdict, argument.as_ref()) {
            Ok(expect) => Some(expect),
            Err(error) => {
                errors.push(error);
                None
            }
        },
        _ => None,
    };

    // Bodies.
    let mut processes = Vec::new();
    for item in items {
        let Item::Process {
            name,
            priority,
            body,
            ..
        } = item
        else {
            continue;
        };
        let Some(info) = globals.process(&name.text) else {
            continue;
        };
        if info.span != name.span {
            // A duplicate declaration, already reported.
            continue;
        }
        let priority =
            priority
                .as_ref()
                .and_then(|expression| match globals.evaluate(expression) {
                    Ok(value) => match u8::try_from(value) {
                        Ok(value) if value < ipclab_kernel::config::PRIORITY_LEVELS => Some(value),
                        _ => {
                            errors.push(
                                Diagnostic::at(
                                    expression.span,
                                    format!("priority {value} is out of range"),
                                    "out of range",
                                )
                                .with_help(format!(
                                    "a priority is between 0 and {} (larger runs first)",
                                    ipclab_kernel::config::PRIORITY_LEVELS - 1
                                )),
                            );
                            None
                        }
                    },
                    Err(error) => {
                        errors.push(error);
                        None
                    }
                });
        let mut body_compiler = BodyCompiler::new(&globals);
        for statement in body {
            if let Err(error) = body_compiler.statement(statement) {
                errors.push(error);
            }
        }
        let end = Span::at(name.span.end as usize);
        body_compiler.emit(Instruction::Halt, end);
        if body_compiler.next_word > MAX_MEMORY_WORDS {
            errors.push(
                Diagnostic::at(name.span, "the process uses too much memory", "too large")
                    .with_help(format!(
                        "a process has at most {MAX_MEMORY_WORDS} words of variables and arrays"
                    )),
            );
        }
        processes.push(ProcessDecl {
            name: name.text.clone(),
            count: info.count,
            priority,
            span: name.span,
            code: body_compiler.finish(),
        });
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    let mut instances = Vec::new();
    for (decl, process) in processes.iter().enumerate() {
        for index in 0..process.count {
            let label = if process.count == 1 {
                process.name.clone()
            } else {
                format!("{}[{index}]", process.name)
            };
            instances.push(Instance { decl, index, label });
        }
    }
    let uses_mpi = processes.iter().any(|p| {
        p.code.instructions.iter().any(|i| {
            i.traps_with()
                .is_some_and(|sysno| sysno as u64 >= Sysno::CommRank as u64)
        })
    });
    let mem_words = processes
        .iter()
        .map(|p| p.code.memory_words)
        .max()
        .unwrap_or(0);
    Ok(Program {
        file_name: file_name.to_string(),
        source: source.to_string(),
        kernel,
        mailboxes: globals.mailboxes,
        objects: globals.objects,
        processes,
        instances,
        expect,
        mem_words,
        uses_mpi,
        devices,
    })
}

fn kernel_options(
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
                    "the kernel options are: {}",
                    KernelOptions::KEYS
                        .iter()
                        .map(|(known, _)| *known)
                        .collect::<Vec<_>>()
                        .join(", ")
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
                if let Some((maximum, why)) = super::limits::option_maximum(key) {
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

fn expectation(
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
        .with_help(format!("the verdicts are: {VERDICTS}")));
    }
    let Some(argument) = argument else {
        return Err(Diagnostic::at(
            verdict.span,
            format!("`{}` names a process", verdict.text),
            "which process?",
        )
        .with_help(format!("write `expect {}(Producer[0]);`", verdict.text)));
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
        return Err(Diagnostic::at(
            name.span,
            format!("unknown process `{}`", name.text),
            "unknown process",
        )
        .with_help(globals.peers_hint()));
    };
    let offset = match index {
        Some(index) => constant_instance(globals, process, index)?,
        None if process.count == 1 => 0,
        None => return Err(multi_instance_error(process, name.span)),
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

fn multi_instance_error(process: &ProcessInfo, span: Span) -> Diagnostic {
    Diagnostic::at(
        span,
        format!("`{}` is ambiguous", process.name),
        format!("{} instances", process.count),
    )
    .with_help(format!(
        "{} names {} processes; write {}[0] or {}[i]",
        process.name, process.count, process.name, process.name
    ))
}

fn constant_instance(
    globals: &Globals,
    process: &ProcessInfo,
    index: &Expression,
) -> Compiled<u32> {
    let value = globals.evaluate(index)?;
    match u32::try_from(value) {
        Ok(value) if value < process.count => Ok(value),
        _ => Err(Diagnostic::at(
            index.span,
            format!("index {value} is out of range for `{}`", process.name),
            "out of range",
        )
        .with_help(format!(
            "{} has {} instance{}: {}[0] to {}[{}]",
            process.name,
            process.count,
            if process.count == 1 { "" } else { "s" },
            process.name,
            process.name,
            process.count - 1
        ))),
    }
}

/// Is this expression a constant (no variables, no calls)?
fn is_constant(globals: &Globals, expression: &Expression) -> bool {
    match &expression.kind {
        ExpressionKind::Integer(_) => true,
        ExpressionKind::Name(name) => {
            globals.constant(&name.text).is_some() || errno_named(&name.text).is_some()
        }
        ExpressionKind::Unary(_, operand) => is_constant(globals, operand),
        ExpressionKind::Binary(_, left, right) => {
            is_constant(globals, left) && is_constant(globals, right)
        }
        _ => false,
    }
}

#[derive(Clone, Copy)]
pub(super) struct Variable {
    pub(super) address: u32,
    /// `None` for a scalar, the word count for an array.
    pub(super) array: Option<u32>,
}

struct LoopContext {
    breaks: Vec<usize>,
    continues: Vec<usize>,
}

/// What the buffer argument of a call names.
pub(super) struct Buffer {
    pub(super) address: BufferAddress,
    pub(super) length: u64,
}

pub(super) enum BufferAddress {
    /// The buffer is at this fixed address.
    Fixed(u32),
    /// The buffer's address was computed into the hidden word at this address.
    Computed(u32),
}

pub(super) struct BodyCompiler<'a> {
    pub(super) globals: &'a Globals,
    pub(super) variables: HashMap<String, Variable>,
    order: Vec<(String, u32, u32)>,
    instructions: Vec<Instruction>,
    spans: Vec<Span>,
    data: Vec<(u32, Vec<u8>)>,
    next_word: usize,
    loops: Vec<LoopContext>,
    /// MPI status variables (`MPI_Recv(..., &st)`): 4 words at this address.
    pub(super) statuses: HashMap<String, u32>,
}

impl<'a> BodyCompiler<'a> {
    fn new(globals: &'a Globals) -> BodyCompiler<'a> {
        BodyCompiler {
            globals,
            variables: HashMap::new(),
            order: Vec::new(),
            instructions: Vec::new(),
            spans: Vec::new(),
            data: Vec::new(),
            next_word: 0,
            loops: Vec::new(),
            statuses: HashMap::new(),
        }
    }

    fn finish(mut self) -> Code {
        super::code::fuse_calls(&mut self.instructions);
        Code {
            instructions: self.instructions,
            spans: self.spans,
            data: self.data,
            memory_words: self.next_word,
            variables: self.order,
        }
    }

    pub(super) fn emit(&mut self, instruction: Instruction, span: Span) -> usize {
        self.instructions.push(instruction);
        self.spans.push(span);
        self.instructions.len() - 1
    }

    pub(super) fn here(&self) -> u32 {
        u32::try_from(self.instructions.len()).unwrap_or(u32::MAX)
    }

    pub(super) fn patch(&mut self, at: usize, target: u32) {
        match &mut self.instructions[at] {
            Instruction::Jump(old) | Instruction::JumpIfFalse(old) => *old = target,
            _ => {}
        }
    }

    pub(super) fn allocate(&mut self, words: usize) -> u32 {
        let address = self.next_word.saturating_mul(8);
        self.next_word = self.next_word.saturating_add(words);
        u32::try_from(address).unwrap_or(u32::MAX)
    }

    fn reserved_name_error(&self, name: &Name) -> Option<Diagnostic> {
        let text = name.text.as_str();
        let what = if self.globals.constant(text).is_some() {
            "a constant"
        } else if self.globals.mailbox(text).is_some() {
            "a mailbox"
        } else if let Some((object, _)) = self.globals.object(text) {
            object.kind.keyword()
        } else if self.globals.process(text).is_some() {
            "a process"
        } else if BUILTIN_VALUES.contains(&text)
            || errno_named(text).is_some()
            || super::mpi::constant(text).is_some()
        {
            "a builtin"
        } else {
            return None;
        };
        Some(
            Diagnostic::at(
                name.span,
                format!("`{text}` is {what}, not a variable"),
                "not a variable",
            )
            .with_help("choose another name for the variable"),
        )
    }

    /// The scalar variable `name`, declared on first use as lecture pseudocode does.
    pub(super) fn scalar(&mut self, name: &Name) -> Compiled<u32> {
        if let Some(error) = self.reserved_name_error(name) {
            return Err(error);
        }
        match self.variables.get(&name.text) {
            Some(Variable {
                array: Some(words), ..
            }) => Err(Diagnostic::at(
                name.span,
                format!("`{}` is an array of {words} words", name.text),
                "an array",
            )
            .with_help(format!("use one element: {}[k]", name.text))),
            Some(variable) => Ok(variable.address),
            None => {
                let address = self.allocate(1);
                self.variables.insert(
                    name.text.clone(),
                    Variable {
                        address,
                        array: None,
                    },
                );
                self.order.push((name.text.clone(), address, 1));
                Ok(address)
            }
        }
    }

    fn statement(&mut self, statement: &Statement) -> Compiled<()> {
        let span = statement.span;
        match &statement.kind {
            StatementKind::Let(name, value) => {
                let address = self.scalar(name)?;
                match value {
                    Some(value) => self.value(value)?,
                    None => {
                        self.emit(Instruction::Push(0), span);
                    }
                }
                self.emit(Instruction::Store(address), span);
            }
            StatementKind::LetArray(name, size) => {
                if let Some(error) = self.reserved_name_error(name) {
                    return Err(error);
                }
                let words = self.globals.evaluate(size)?;
                if words < 1 || words as u64 > MAX_ARRAY_WORDS {
                    return Err(Diagnostic::at(
                        size.span,
                        format!("array size {words} is out of range"),
                        "out of range",
                    )
                    .with_help(format!(
                        "an array has 1 to {MAX_ARRAY_WORDS} words (the longest message)"
                    )));
                }
                let words = words as u32;
                match self.variables.get(&name.text) {
                    Some(Variable {
                        array: Some(existing),
                        ..
                    }) if *existing == words => {}
                    Some(_) => {
                        return Err(Diagnostic::at(
                            name.span,
                            format!("`{}` is already a variable of another shape", name.text),
                            "declared before",
                        )
                        .with_help("give the array its own name"))
                    }
                    None => {
                        let address = self.allocate(words as usize);
                        self.variables.insert(
                            name.text.clone(),
                            Variable {
                                address,
                                array: Some(words),
                            },
                        );
                        self.order.push((name.text.clone(), address, words));
                    }
                }
            }
            StatementKind::Assign(target, value) if self.is_shared_target(target) => {
                self.shared_store(target, value)?
            }
            StatementKind::Assign(target, value) => match &target.kind {
                ExpressionKind::Name(name) => {
                    let address = self.scalar(name)?;
                    self.value(value)?;
                    self.emit(Instruction::Store(address), span);
                }
                ExpressionKind::Index(name, index) => {
                    let (base, length) = self.array(name)?;
                    self.value(index)?;
                    self.value(value)?;
                    self.emit(Instruction::StoreElement { base, length }, span);
                }
                _ => {
                    return Err(Diagnostic::at(
                        target.span,
                        "cannot assign to this",
                        "not a variable",
                    )
                    .with_help("assign to a variable `x = e;` or an element `buf[k] = e;`"))
                }
            },
            StatementKind::Call(call) => self.call(call, CallForm::Statement)?,
            StatementKind::Produce(target) => {
                let ExpressionKind::Name(name) = &target.kind else {
                    return Err(Diagnostic::at(
                        target.span,
                        "produce needs a variable",
                        "not a variable",
                    )
                    .with_help("write `produce item;`"));
                };
                let address = self.scalar(name)?;
                self.emit(Instruction::Produce(address), span);
            }
            StatementKind::Consume(value) => {
                self.value(value)?;
                self.emit(Instruction::Consume, span);
            }
            StatementKind::Compute(ticks) => {
                self.value(ticks)?;
                self.emit(Instruction::RequireNonNegative("compute"), span);
                self.emit(Instruction::Compute, span);
            }
            StatementKind::Sleep(ticks) => {
                self.value(ticks)?;
                self.emit(Instruction::RequireNonNegative("sleep"), span);
                self.syscall(Sysno::Sleep, 1, CallForm::Statement, span);
            }
            StatementKind::Yield => self.syscall(Sysno::Yield, 0, CallForm::Statement, span),
            StatementKind::Print(parts) => {
                let mut pieces = Vec::new();
                for part in parts {
                    if let ExpressionKind::Text(text) = &part.kind {
                        pieces.push(PrintPart::Text(text.clone()));
                    } else {
                        self.value(part)?;
                        pieces.push(PrintPart::Value);
                    }
                }
                self.emit(Instruction::Print(pieces), span);
            }
            StatementKind::Exit(code) => {
                match code {
                    Some(code) => self.value(code)?,
                    None => {
                        self.emit(Instruction::Push(0), span);
                    }
                }
                self.syscall(Sysno::Exit, 1, CallForm::Statement, span);
            }
            StatementKind::Assert(condition, text) => {
                self.value(condition)?;
                self.emit(Instruction::Assert(text.clone()), span);
            }
            StatementKind::Loop(body) => {
                let start = self.here();
                self.loop_body(body)?;
                self.emit(Instruction::Jump(start), span);
                self.close_loop(start);
            }
            StatementKind::Repeat(count, body) => {
                let counter = self.allocate(1);
                self.value(count)?;
                self.emit(Instruction::Store(counter), count.span);
                let start = self.here();
                self.emit(Instruction::Load(counter), count.span);
                self.emit(Instruction::Push(0), count.span);
                self.emit(Instruction::Binary(BinaryOperator::Greater), count.span);
                let exit = self.emit(Instruction::JumpIfFalse(0), count.span);
                self.emit(Instruction::Load(counter), count.span);
                self.emit(Instruction::Push(1), count.span);
                self.emit(Instruction::Binary(BinaryOperator::Subtract), count.span);
                self.emit(Instruction::Store(counter), count.span);
                self.loop_body(body)?;
                self.emit(Instruction::Jump(start), span);
                let end = self.here();
                self.patch(exit, end);
                self.close_loop(start);
            }
            StatementKind::While(condition, body) => {
                let start = self.here();
                self.value(condition)?;
                let exit = self.emit(Instruction::JumpIfFalse(0), condition.span);
                self.loop_body(body)?;
                self.emit(Instruction::Jump(start), span);
                let end = self.here();
                self.patch(exit, end);
                self.close_loop(start);
            }
            StatementKind::If(condition, then, otherwise) => {
                self.value(condition)?;
                let skip_then = self.emit(Instruction::JumpIfFalse(0), condition.span);
                self.block(then)?;
                if otherwise.is_empty() {
                    let end = self.here();
                    self.patch(skip_then, end);
                } else {
                    let skip_else = self.emit(Instruction::Jump(0), span);
                    let else_start = self.here();
                    self.patch(skip_then, else_start);
                    self.block(otherwise)?;
                    let end = self.here();
                    self.patch(skip_else, end);
                }
            }
            StatementKind::Break | StatementKind::Continue => {
                let is_break = matches!(statement.kind, StatementKind::Break);
                if self.loops.is_empty() {
                    let word = if is_break { "break" } else { "continue" };
                    return Err(Diagnostic::at(
                        span,
                        format!("`{word}` outside a loop"),
                        "not in a loop",
                    )
                    .with_help(
                        "`break` and `continue` belong inside `loop`, `repeat` or `while`",
                    ));
                }
                let jump = self.emit(Instruction::Jump(0), span);
                if let Some(context) = self.loops.last_mut() {
                    if is_break {
                        context.breaks.push(jump);
                    } else {
                        context.continues.push(jump);
                    }
                }
            }
        }
        Ok(())
    }

    /// Compiles a block, keeping the first error but still checking later statements.
    fn block(&mut self, body: &[Statement]) -> Compiled<()> {
        let mut first_error = None;
        for statement in body {
            if let Err(error) = self.statement(statement) {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn loop_body(&mut self, body: &[Statement]) -> Compiled<()> {
        self.loops.push(LoopContext {
            breaks: Vec::new(),
            continues: Vec::new(),
        });
        let result = self.block(body);
        if result.is_err() {
            self.loops.pop();
        }
        result
    }

    fn close_loop(&mut self, continue_target: u32) {
        let end = self.here();
        if let Some(context) = self.loops.pop() {
            for at in context.breaks {
                self.patch(at, end);
            }
            for at in context.continues {
                self.patch(at, continue_target);
            }
        }
    }

    pub(super) fn array(&mut self, name: &Name) -> Compiled<(u32, u32)> {
        match self.variables.get(&name.text) {
            Some(Variable {
                address,
                array: Some(length),
            }) => Ok((*address, *length)),
            _ => Err(Diagnostic::at(
                name.span,
                format!("`{}` is not an array", name.text),
                "not an array",
            )
            .with_help(format!("declare it first: `let {}[16];`", name.text))),
        }
    }

    /// Emits code that pushes the value of `expression`.
    pub(super) fn value(&mut self, expression: &Expression) -> Compiled<()> {
        let span = expression.span;
        match &expression.kind {
            ExpressionKind::Integer(value) => {
                self.emit(Instruction::Push(*value), span);
            }
            ExpressionKind::Text(_) => return Err(Diagnostic::at(
                span,
                "a string is not a value",
                "a string",
            )
            .with_help(
                "strings appear in `print` and as mailbox names in `mbox_create`/`mbox_open`",
            )),
            ExpressionKind::Name(name) => self.name_value(name)?,
            ExpressionKind::Index(name, index) if self.globals.object(&name.text).is_some() => {
                self.shared_load(name, Some(index))?
            }
            ExpressionKind::Index(name, index) => {
                if let Some(process) = self.globals.process(&name.text) {
                    let (first, count) = (process.first, process.count);
                    if is_constant(self.globals, index) {
                        let offset = constant_instance(self.globals, process, index)?;
                        self.emit(Instruction::Push(i64::from(first + offset)), span);
                    } else {
                        let process_name = process.name.clone();
                        self.value(index)?;
                        self.emit(
                            Instruction::ProcessNumber {
                                first,
                                count,
                                name: process_name,
                            },
                            span,
                        );
                    }
                } else {
                    let (base, length) = self.array(name)?;
                    self.value(index)?;
                    self.emit(Instruction::LoadElement { base, length }, span);
                }
            }
            ExpressionKind::Field(name, field) if self.statuses.contains_key(&name.text) => {
                let base = self.statuses[&name.text];
                let offset = super::mpi::status_field(&field.text).ok_or_else(|| {
                    Diagnostic::at(
                        field.span,
                        format!("an MPI status has no field `{}`", field.text),
                        "unknown field",
                    )
                    .with_help("the fields are: MPI_SOURCE, MPI_TAG, MPI_ERROR")
                })?;
                self.emit(Instruction::Load(base + 8 * offset), span);
            }
            ExpressionKind::Field(name, field)
                if name.text == "status" && field.text.starts_with("MPI_") =>
            {
                let field = match field.text.as_str() {
                    "MPI_SOURCE" => StatusField::MpiSource,
                    "MPI_TAG" => StatusField::MpiTag,
                    "MPI_ERROR" => StatusField::Error,
                    other => {
                        return Err(Diagnostic::at(
                            field.span,
                            format!("an MPI status has no field `{other}`"),
                            "unknown field",
                        )
                        .with_help("the fields are: MPI_SOURCE, MPI_TAG, MPI_ERROR"))
                    }
                };
                self.emit(Instruction::Status(field), span);
            }
            ExpressionKind::Field(name, field) => {
                if name.text != "status" {
                    return Err(Diagnostic::at(
                        name.span,
                        format!("`{}` has no fields", name.text),
                        "no fields",
                    )
                    .with_help("only `status` has fields: status.source, status.tag, status.len, status.error"));
                }
                let field = match field.text.as_str() {
                    "source" => StatusField::Source,
                    "tag" => StatusField::Tag,
                    "len" => StatusField::Length,
                    "error" => StatusField::Error,
                    other => {
                        return Err(Diagnostic::at(
                            field.span,
                            format!("`status` has no field `{other}`"),
                            "unknown field",
                        )
                        .with_help("the fields are: source, tag, len, error"))
                    }
                };
                self.emit(Instruction::Status(field), span);
            }
            ExpressionKind::Unary(UnaryOperator::AddressOf, _) => {
                return Err(
                    Diagnostic::at(span, "`&` outside an MPI call", "an address").with_help(
                        "`&x` passes a variable to an MPI call: `MPI_Recv(..., &status)`; \
                         elsewhere write `x`",
                    ),
                )
            }
            ExpressionKind::Unary(operator, operand) => {
                self.value(operand)?;
                let instruction = match operator {
                    UnaryOperator::Negate => Instruction::Negate,
                    UnaryOperator::Not => Instruction::Not,
                    UnaryOperator::AddressOf => Instruction::Not,
                };
                self.emit(instruction, span);
            }
            ExpressionKind::Binary(BinaryOperator::And, left, right) => {
                self.value(left)?;
                let left_false = self.emit(Instruction::JumpIfFalse(0), span);
                self.value(right)?;
                let right_false = self.emit(Instruction::JumpIfFalse(0), span);
                self.emit(Instruction::Push(1), span);
                let done = self.emit(Instruction::Jump(0), span);
                let false_target = self.here();
                self.emit(Instruction::Push(0), span);
                let end = self.here();
                self.patch(left_false, false_target);
                self.patch(right_false, false_target);
                self.patch(done, end);
            }
            ExpressionKind::Binary(BinaryOperator::Or, left, right) => {
                self.value(left)?;
                let try_right = self.emit(Instruction::JumpIfFalse(0), span);
                self.emit(Instruction::Push(1), span);
                let done_left = self.emit(Instruction::Jump(0), span);
                let right_start = self.here();
                self.value(right)?;
                self.emit(Instruction::Not, span);
                self.emit(Instruction::Not, span);
                let end = self.here();
                self.patch(try_right, right_start);
                self.patch(done_left, end);
            }
            ExpressionKind::Binary(operator, left, right) => {
                self.value(left)?;
                self.value(right)?;
                self.emit(Instruction::Binary(*operator), span);
            }
            ExpressionKind::Call(call) => self.call(call, CallForm::Expression)?,
        }
        Ok(())
    }

    fn name_value(&mut self, name: &Name) -> Compiled<()> {
        let span = name.span;
        let text = name.text.as_str();
        if let Some(value) = self.globals.constant(text) {
            self.emit(Instruction::Push(value), span);
            return Ok(());
        }
        if let Some(process) = self.globals.process(text) {
            if process.count != 1 {
                return Err(multi_instance_error(process, span));
            }
            self.emit(Instruction::Push(i64::from(process.first)), span);
            return Ok(());
        }
        if self.globals.object(text).is_some() {
            return self.shared_load(name, None);
        }
        if self.globals.mailbox(text).is_some() {
            return Err(Diagnostic::at(
                span,
                format!("mailbox `{text}` is not a value"),
                "a mailbox",
            )
            .with_help(format!(
                "use it in a call: `send({text}, x);` or `recv({text}, x);`"
            )));
        }
        if let Some(errno) = errno_named(text) {
            self.emit(Instruction::Push(errno.number() as i64), span);
            return Ok(());
        }
        if let Some(value) = super::mpi::constant(text) {
            self.emit(Instruction::Push(value), span);
            return Ok(());
        }
        let instruction = match text {
            "index" => Instruction::InstanceIndex,
            "self" => Instruction::InstanceNumber,
            "OK" | "false" => Instruction::Push(0),
            "true" => Instruction::Push(1),
            "ANY" => {
                return Err(Diagnostic::at(span, "`ANY` is not a value", "only in recv")
                    .with_help("write `recv(ANY, x)` or `recv(P, x, tag = ANY)`"))
            }
            "status" => {
                return Err(
                    Diagnostic::at(span, "`status` is not a value", "has fields").with_help(
                        "read a field: status.source, status.tag, status.len, status.error",
                    ),
                )
            }
            _ => {
                let address = self.scalar(name)?;
                Instruction::Load(address)
            }
        };
        self.emit(instruction, span);
        Ok(())
    }

    pub(super) fn syscall(&mut self, sysno: Sysno, pushed: usize, form: CallForm, span: Span) {
        for _ in pushed..6 {
            self.emit(Instruction::Push(0), span);
        }
        self.emit(Instruction::Syscall { sysno, form }, span);
    }

    /// Emits a call. In expression form it leaves one value on the stack.
    fn call(&mut self, call: &Call, form: CallForm) -> Compiled<()> {
        let span = call.span;
        let name = call.name.text.as_str();
        match name {
            "send" | "recv" | "mbox_send" | "mbox_recv" => self.message_call(call, form),
            _ if super::sync::CALLS.contains(&name) => self.sync_call(call, form),
            _ if name.starts_with("MPI_") => self.mpi_call(call, form),
            "dev_read" => self.dev_read(call, form),
            "mbox_create" | "mbox_open" => {
                let allowed: &[&str] = if name == "mbox_create" {
                    &["capacity"]
                } else {
                    &[]
                };
                let (positional, named) = split_arguments(call, allowed)?;
                let wanted = if name == "mbox_create" { 1..=2 } else { 1..=1 };
                if !wanted.contains(&positional.len()) {
                    return Err(arity_error(
                        call,
                        if name == "mbox_create" {
                            "mbox_create(\"name\", capacity = n)"
                        } else {
                            "mbox_open(\"name\")"
                        },
                    ));
                }
                let ExpressionKind::Text(text) = &positional[0].kind else {
                    return Err(Diagnostic::at(
                        positional[0].span,
                        "a mailbox name is a string",
                        "not a string",
                    )
                    .with_help(format!("write `{name}(\"jobs\")`")));
                };
                let bytes = text.as_bytes().to_vec();
                let address = self.allocate(bytes.len().div_ceil(8).max(1));
                let length = bytes.len();
                self.data.push((address, bytes));
                self.emit(Instruction::Push(i64::from(address)), span);
                self.emit(Instruction::Push(length as i64), span);
                if name == "mbox_create" {
                    let capacity = positional.get(1).copied().or_else(|| {
                        named
                            .iter()
                            .find(|(k, _)| k.text == "capacity")
                            .map(|(_, v)| *v)
                    });
                    match capacity {
                        Some(capacity) => {
                            self.value(capacity)?;
                            self.emit(Instruction::RequireNonNegative("capacity"), capacity.span);
                        }
                        None => {
                            return Err(Diagnostic::at(
                                span,
                                "mbox_create needs a capacity",
                                "no capacity",
                            )
                            .with_help("write `mbox_create(\"jobs\", capacity = 4)`"))
                        }
                    }
                    self.syscall(Sysno::MboxCreate, 3, form, span);
                } else {
                    self.syscall(Sysno::MboxOpen, 2, form, span);
                }
                Ok(())
            }
            "close" | "mbox_destroy" => {
                let (positional, _) = split_arguments(call, &[])?;
                if positional.len() != 1 {
                    return Err(arity_error(call, &format!("{name}(handle)")));
                }
                self.value(positional[0])?;
                let sysno = if name == "close" {
                    Sysno::Close
                } else {
                    Sysno::MboxDestroy
                };
                self.syscall(sysno, 1, form, span);
                Ok(())
            }
            "clock" | "getpid" => {
                let (positional, _) = split_arguments(call, &[])?;
                if !positional.is_empty() {
                    return Err(arity_error(call, &format!("{name}()")));
                }
                let sysno = if name == "clock" {
                    Sysno::Clock
                } else {
                    Sysno::GetPid
                };
                self.syscall(sysno, 0, form, span);
                Ok(())
            }
            _ => Err(Diagnostic::at(
                call.name.span,
                format!("unknown call `{name}`"),
                "unknown call",
            )
            .with_help(
                "the calls are: send, recv, mbox_send, mbox_recv, mbox_create, mbox_open, \
                 close, mbox_destroy, clock, getpid, P, V, lock, unlock, wait, signal, broadcast, \
                 dev_read",
            )),
        }
    }

    /// `send`, `recv`, `mbox_send`, `mbox_recv`.
    fn message_call(&mut self, call: &Call, form: CallForm) -> Compiled<()> {
        let span = call.span;
        let name = call.name.text.as_str();
        let is_send = name.ends_with("send");
        let (positional, named) = split_arguments(call, &["tag", "timeout"])?;
        let mut nonblocking = false;
        let mut fixed = Vec::new();
        for argument in &positional {
            match &argument.kind {
                ExpressionKind::Name(flag) if flag.text == "nonblocking" && fixed.len() >= 2 => {
                    nonblocking = true;
                }
                _ => fixed.push(*argument),
            }
        }
        if fixed.len() != 2 {
            let shape = format!(
                "{name}({}, {}[, tag = t][, timeout = n][, nonblocking])",
                if name.starts_with("mbox") {
                    "handle"
                } else if is_send {
                    "destination"
                } else {
                    "source"
                },
                if is_send { "value" } else { "variable" }
            );
            return Err(arity_error(call, &shape));
        }
        let timeout = named
            .iter()
            .find(|(k, _)| k.text == "timeout")
            .map(|(_, v)| *v);
        let tag = named.iter().find(|(k, _)| k.text == "tag").map(|(_, v)| *v);
        if let (true, Some(timeout)) = (nonblocking, timeout) {
            return Err(Diagnostic::at(
                timeout.span,
                "`timeout` and `nonblocking` together",
                "pick one",
            )
            .with_help("a call either never blocks or blocks at most `timeout` ticks"));
        }

        // A send of a computed value goes through a hidden word, evaluated before the arguments.
        let buffer = self.buffer(fixed[1], is_send)?;

        // a0: the peer.
        let sysno = if name.starts_with("mbox") {
            self.value(fixed[0])?;
            if is_send {
                Sysno::MboxSend
            } else {
                Sysno::MboxRecv
            }
        } else {
            self.peer(fixed[0], is_send)?
        };
        let span_tag = tag.map_or(span, |t| t.span);
        let push_tag = |compiler: &mut Self| -> Compiled<()> {
            match tag {
                Some(Expression {
                    kind: ExpressionKind::Name(any),
                    ..
                }) if any.text == "ANY" => {
                    if is_send {
                        return Err(
                            Diagnostic::at(any.span, "a send has one tag", "not for send")
                                .with_help("`tag = ANY` filters a receive; a send gives a number"),
                        );
                    }
                    compiler.emit(Instruction::Push(-1), any.span);
                }
                Some(tag) => compiler.value(tag)?,
                None => {
                    compiler.emit(Instruction::Push(if is_send { 0 } else { -1 }), span_tag);
                }
            }
            Ok(())
        };
        let push_buffer = |compiler: &mut Self| -> Compiled<()> {
            match buffer.address {
                BufferAddress::Fixed(address) => {
                    compiler.emit(Instruction::Push(i64::from(address)), span);
                }
                BufferAddress::Computed(slot) => {
                    compiler.emit(Instruction::Load(slot), span);
                }
            }
            compiler.emit(Instruction::Push(buffer.length as i64), span);
            Ok(())
        };
        if is_send {
            // send(to, buf, len, tag, flags, ticks)
            push_buffer(self)?;
            push_tag(self)?;
        } else {
            // recv(from, tag, buf, cap, flags, ticks)
            push_tag(self)?;
            push_buffer(self)?;
        }
        match (nonblocking, timeout) {
            (true, _) => {
                self.emit(Instruction::Push(1), span);
                self.emit(Instruction::Push(0), span);
            }
            (false, Some(timeout)) => {
                self.emit(Instruction::Push(2), timeout.span);
                self.value(timeout)?;
                self.emit(Instruction::RequireNonNegative("timeout"), timeout.span);
            }
            (false, None) => {
                self.emit(Instruction::Push(0), span);
                self.emit(Instruction::Push(0), span);
            }
        }
        self.emit(Instruction::Syscall { sysno, form }, span);
        Ok(())
    }

    /// The buffer of a message call: a variable, an array, an element, or (send) any value.
    pub(super) fn buffer(&mut self, argument: &Expression, is_send: bool) -> Compiled<Buffer> {
        match &argument.kind {
            ExpressionKind::Name(name)
                if !self.globals.is_global(&name.text)
                    && !BUILTIN_VALUES.contains(&name.text.as_str())
                    && errno_named(&name.text).is_none() =>
            {
                match self.variables.get(&name.text) {
                    Some(Variable {
                        address,
                        array: Some(words),
                    }) => Ok(Buffer {
                        address: BufferAddress::Fixed(*address),
                        length: u64::from(*words) * 8,
                    }),
                    _ => Ok(Buffer {
                        address: BufferAddress::Fixed(self.scalar(name)?),
                        length: 8,
                    }),
                }
            }
            ExpressionKind::Index(name, index)
                if self.globals.process(&name.text).is_none()
                    && self.globals.object(&name.text).is_none() =>
            {
                // The element's address is computed into a hidden word first.
                let (base, length) = self.array(name)?;
                let slot = self.allocate(1);
                self.value(index)?;
                self.emit(Instruction::ElementAddress { base, length }, argument.span);
                self.emit(Instruction::Store(slot), argument.span);
                Ok(Buffer {
                    address: BufferAddress::Computed(slot),
                    length: 8,
                })
            }
            _ if is_send => {
                let slot = self.allocate(1);
                self.value(argument)?;
                self.emit(Instruction::Store(slot), argument.span);
                Ok(Buffer {
                    address: BufferAddress::Fixed(slot),
                    length: 8,
                })
            }
            _ => Err(Diagnostic::at(
                argument.span,
                "recv needs a variable to receive into",
                "not a variable",
            )
            .with_help("write `recv(P, x)`, `recv(P, buf)` for an array, or `recv(P, buf[k])`")),
        }
    }

    /// Emits a0 of `send`/`recv` for a process peer; returns the call number.
    fn peer(&mut self, peer: &Expression, is_send: bool) -> Compiled<Sysno> {
        let span = peer.span;
        let process_call = if is_send { Sysno::Send } else { Sysno::Recv };
        match &peer.kind {
            ExpressionKind::Name(name) => {
                let text = name.text.as_str();
                if text == "ANY" {
                    if is_send {
                        return Err(Diagnostic::at(
                            span,
                            "cannot send to ANY",
                            "not a destination",
                        )
                        .with_help("a send names one process or mailbox"));
                    }
                    self.emit(Instruction::Push(-1), span);
                    return Ok(Sysno::Recv);
                }
                if text == "self" {
                    // The kernel would answer EINVAL at run time; the name
                    // alone says it, so say it here with a place.
                    let (message, help) = if is_send {
                        (
                            "a process cannot send to itself",
                            "name another process or a mailbox; to keep a message for later, \
                             send it to a mailbox and receive it from there",
                        )
                    } else {
                        (
                            "a process cannot receive from itself",
                            "name the sending process or a mailbox, or write `recv(ANY, x)` \
                             to receive from any process",
                        )
                    };
                    return Err(Diagnostic::at(span, message, "this process").with_help(help));
                }
                if let Some(mailbox) = self.globals.mailbox(text) {
                    self.emit(Instruction::Push(mailbox as i64), span);
                    return Ok(if is_send {
                        Sysno::MboxSend
                    } else {
                        Sysno::MboxRecv
                    });
                }
                if let Some(process) = self.globals.process(text) {
                    if process.count != 1 {
                        return Err(multi_instance_error(process, span));
                    }
                    let pid = super::Program::pid_of(process.first as usize).to_raw();
                    self.emit(Instruction::Push(pid as i64), span);
                    return Ok(process_call);
                }
                if self.variables.contains_key(text) {
                    self.value(peer)?;
                    self.emit(Instruction::InstancePid, span);
                    return Ok(process_call);
                }
                Err(Diagnostic::at(
                    span,
                    format!("unknown process or mailbox `{text}`"),
                    "unknown",
                )
                .with_help(self.globals.peers_hint()))
            }
            ExpressionKind::Index(name, index) => {
                if let Some(process) = self.globals.process(&name.text) {
                    if is_constant(self.globals, index) {
                        let offset = constant_instance(self.globals, process, index)?;
                        let pid =
                            super::Program::pid_of((process.first + offset) as usize).to_raw();
                        self.emit(Instruction::Push(pid as i64), span);
                    } else {
                        let (first, count, process_name) =
                            (process.first, process.count, process.name.clone());
                        self.value(index)?;
                        self.emit(
                            Instruction::ProcessPid {
                                first,
                                count,
                                name: process_name,
                            },
                            span,
                        );
                    }
                    return Ok(process_call);
                }
                if self.globals.mailbox(&name.text).is_some() {
                    return Err(Diagnostic::at(
                        span,
                        format!("mailbox `{}` is not an array", name.text),
                        "a mailbox",
                    )
                    .with_help(format!("write `{}` without an index", name.text)));
                }
                self.value(peer)?;
                self.emit(Instruction::InstancePid, span);
                Ok(process_call)
            }
            _ => {
                self.value(peer)?;
                self.emit(Instruction::InstancePid, span);
                Ok(process_call)
            }
        }
    }
}

pub(super) fn arity_error(call: &Call, shape: &str) -> Diagnostic {
    Diagnostic::at(
        call.span,
        format!("wrong arguments for `{}`", call.name.text),
        "here",
    )
    .with_help(format!("write `{shape}`"))
}

pub(super) type Split<'c> = (Vec<&'c Expression>, Vec<(&'c Name, &'c Expression)>);

pub(super) fn split_arguments<'c>(call: &'c Call, allowed: &[&str]) -> Compiled<Split<'c>> {
    let mut positional = Vec::new();
    let mut named: Vec<(&Name, &Expression)> = Vec::new();
    for argument in &call.arguments {
        match argument {
            Argument::Positional(expression) => positional.push(expression),
            Argument::Named(key, value) => {
                if !allowed.contains(&key.text.as_str()) {
                    let help = if allowed.is_empty() {
                        format!("`{}` takes no named options", call.name.text)
                    } else {
                        format!(
                            "the options of `{}` are: {}",
                            call.name.text,
                            allowed.join(", ")
                        )
                    };
                    return Err(Diagnostic::at(
                        key.span,
                        format!("unknown option `{}`", key.text),
                        "unknown option",
                    )
                    .with_help(help));
                }
                if named.iter().any(|(k, _)| k.text == key.text) {
                    return Err(Diagnostic::at(
                        key.span,
                        format!("`{}` given twice", key.text),
                        "again",
                    )
                    .with_help("give each option once"));
                }
                named.push((key, value));
            }
        }
    }
    Ok((positional, named))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_constant_arithmetic_reports_overflow() {
        assert_eq!(binary_checked(BinaryOperator::Add, i64::MAX, 1), None);
        assert_eq!(binary_checked(BinaryOperator::Divide, i64::MIN, -1), None);
        assert_eq!(binary_checked(BinaryOperator::Multiply, 6, 7), Some(42));
        assert_eq!(binary_checked(BinaryOperator::Less, 1, 2), Some(1));
    }

    #[test]
    fn every_errno_has_a_builtin_name() {
        for errno in Errno::ALL {
            assert_eq!(errno_named(errno.name()), Some(errno));
        }
        assert_eq!(errno_named("EWHATEVER"), None);
    }
}
