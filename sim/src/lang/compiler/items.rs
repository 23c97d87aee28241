//! Compiling the top-level items: every declaration first, then every process body, into one [`Program`].
//!
//! [`compile_items`] walks the items three times: the constants in order
//! (with the overrides applied); every other declaration in the order
//! written (devices, mailboxes, process counts, objects, the `kernel { }`
//! block, the `expect` line); then the process bodies, each with a
//! [`BodyCompiler`], so a body may name a process declared after it. Errors
//! are collected, not returned at the first, and a name whose declaration
//! failed is still declared so that its uses do not echo the error.

use std::collections::HashMap;

use ipclab_syscalls::Sysno;

use super::body::BodyCompiler;
use super::globals::{errno_named, Globals, ProcessInfo, BUILTIN_VALUES};
use super::settings::{expectation, kernel_options};
use crate::lang::ast::*;
use crate::lang::code::Instruction;
use crate::lang::diagnostics::Diagnostic;
use crate::lang::{
    Instance, KernelOptions, MailboxDecl, ObjectDecl, ProcessDecl, Program, Span, MAX_INSTANCES,
    MAX_MEMORY_WORDS,
};

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
        constant_at: HashMap::new(),
        constant_order: HashMap::new(),
        evaluating: None,
        mailboxes: Vec::new(),
        objects: Vec::new(),
        processes: Vec::new(),
        instance_total: 0,
        devices: Vec::new(),
    };
    // The passes below declare constants before anything else, so the
    // first declaration of a name is the first in the file, not in the
    // passes: that one stands, and every later one is the duplicate.
    let first_declared = first_declarations(items);
    let lines = crate::lang::diagnostics::LineIndex::new(source);
    let declare = |name: &Name, errors: &mut Vec<Diagnostic>| -> bool {
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
        if name.text.starts_with("MPI_") {
            // A declared MPI_INT would shadow the datatype in some places
            // and not others; MPI reserves the prefix for its own names.
            errors.push(
                Diagnostic::at(
                    name.span,
                    format!("`{}` begins with MPI_", name.text),
                    "reserved",
                )
                .with_help("names beginning with MPI_ belong to MPI; choose another name"),
            );
            return false;
        }
        let earlier = first_declared.get(&name.text).copied().unwrap_or(name.span);
        if earlier != name.span {
            let (line, _) = lines.line_col(source, earlier.start as usize);
            errors.push(
                Diagnostic::at(
                    name.span,
                    format!("`{}` is declared twice", name.text),
                    "declared again here",
                )
                .with_help(format!(
                    "the first declaration is on line {line}; constants, mailboxes, \
                     processes and synchronisation objects share one name space"
                )),
            );
            return false;
        }
        true
    };

    // Constants, in order, each with the overrides applied.
    let constants = || {
        items.iter().filter_map(|item| match item {
            Item::Const { name, value } => Some((name, value)),
            _ => None,
        })
    };
    for (at, (name, _)) in constants().enumerate() {
        globals
            .constant_order
            .entry(name.text.clone())
            .or_insert(at);
    }
    for (at, (name, value)) in constants().enumerate() {
        globals.evaluating = Some(at);
        if !declare(name, &mut errors) {
            continue;
        }
        let overridden = overrides.iter().rev().find(|(key, _)| key == &name.text);
        let value = match overridden {
            Some((_, value)) => Ok(*value),
            None => globals.evaluate(value),
        };
        match value {
            Ok(value) => globals.define_constant(&name.text, value),
            Err(error) => {
                errors.push(error);
                // Keep the name known so later uses do not echo the error.
                globals.define_constant(&name.text, 0);
            }
        }
    }
    globals.evaluating = None;
    for (key, _) in overrides {
        if globals.constant(key).is_none() {
            let known: Vec<&str> = globals.constants.iter().map(|(n, _)| n.as_str()).collect();
            if let Some((kind, is_process)) = non_constant_kind(items, key) {
                errors.push(
                    Diagnostic::nowhere(format!(
                        "cannot override `{key}`: it is {kind}, not a constant"
                    ))
                    .with_help(if is_process {
                        format!(
                            "`-D` sets a constant; to vary how many run, declare `const N = 2;` \
                             and write `process {key}[N]`"
                        )
                    } else {
                        format!("`-D` sets a constant; {}", globals.known_constants_hint())
                    }),
                );
                continue;
            }
            errors.push(
                Diagnostic::nowhere(format!("cannot override `{key}`: no such constant"))
                    .with_help(format!(
                        "{}{}",
                        crate::lang::diagnostics::did_you_mean(key, &known),
                        globals.known_constants_hint()
                    )),
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
    let mut devices: Vec<crate::lang::device::DeviceDecl> = Vec::new();
    let mut bad_devices: Vec<String> = Vec::new();
    for item in items {
        match item {
            Item::Device {
                kind,
                options,
                inputs,
                span,
            } => {
                if devices.iter().any(|d| d.name == kind.text) || bad_devices.contains(&kind.text) {
                    errors.push(
                        Diagnostic::at(*span, format!("a second `{}`", kind.text), "second device")
                            .with_help(
                                "a scenario has one keyboard; put all its input in one block",
                            ),
                    );
                    continue;
                }
                match crate::lang::device::resolve(kind, options, inputs, |e| globals.evaluate(e)) {
                    Ok(device) => devices.push(device),
                    Err(error) => {
                        // Still declared, so its `dev_read`s add no errors.
                        bad_devices.push(kind.text.clone());
                        errors.push(error);
                    }
                }
            }
            Item::Mailbox { name, capacity } => {
                if !declare(name, &mut errors) {
                    continue;
                }
                errors.extend(crate::lang::limits::object_name(name, "mailbox"));
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
                let mut count_known = true;
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
                            count_known = false;
                            1
                        }
                        Err(error) => {
                            errors.push(error);
                            count_known = false;
                            1
                        }
                    },
                };
                errors.extend(crate::lang::limits::process_name(name, count));
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
                    count_known,
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
                errors.extend(crate::lang::limits::object_name(name, what));
                let decl =
                    crate::lang::sync::declare(&globals, *kind, name, argument.as_ref(), *span);
                match decl {
                    Ok(decl) => globals.objects.push(decl),
                    Err(error) => {
                        errors.push(error);
                        // Declared anyway, so that its uses do not add
                        // "unknown semaphore" errors to the one above.
                        globals.objects.push(ObjectDecl {
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
    globals.devices.extend(bad_devices);
    if let Some(at) = too_many_instances {
        errors[at] = errors[at].clone().with_help(format!(
            "a scenario runs at most {MAX_INSTANCES} instances in total; \
             its declarations ask for {instances_asked}"
        ));
    }
    if kernel_ok {
        for (mailbox, span) in globals.mailboxes.iter().zip(&capacity_spans) {
            errors.extend(crate::lang::limits::mailbox_capacity(
                mailbox, *span, &kernel,
            ));
        }
    }
    if let Err(error) = crate::lang::sync::check_handle_count(&globals.mailboxes, &globals.objects)
    {
        errors.push(error);
    }
    // A device's semaphore may be declared after the device: checked now.
    for device in &devices {
        let declared = globals.objects.iter().find(|o| o.name == device.semaphore);
        let (what, help) = match declared.map(|o| (o.kind, o.argument)) {
            Some((ObjectKind::Semaphore, 0)) => continue,
            Some((ObjectKind::Semaphore, initial)) => (
                format!(
                    "the keyboard's semaphore `{}` starts at {initial}",
                    device.semaphore
                ),
                format!(
                    "it counts the characters in the ring, and the ring starts empty: \
                     declare it `semaphore {}(initial = 0);`",
                    device.semaphore
                ),
            ),
            Some((kind, _)) => (
                format!("`{}` is {}, not a semaphore", device.semaphore, kind.noun()),
                "the interrupt handler does V on it: name a declared semaphore".to_string(),
            ),
            None => match globals.other_kind(&device.semaphore) {
                Some(other) => (
                    format!("`{}` is {other}, not a semaphore", device.semaphore),
                    "the interrupt handler does V on it: name a declared semaphore".to_string(),
                ),
                None => (
                    format!("no semaphore named `{}` is declared", device.semaphore),
                    format!("declare it: `semaphore {}(initial = 0);`", device.semaphore),
                ),
            },
        };
        let label = match declared {
            Some(o) if o.kind == ObjectKind::Semaphore => "starts above 0",
            _ => "not a semaphore",
        };
        errors.push(Diagnostic::at(device.semaphore_span, what, label).with_help(help));
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
        let Some(owner) = globals.processes.iter().position(|p| p.name == name.text) else {
            continue;
        };
        let info = &globals.processes[owner];
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
        let mut body_compiler = BodyCompiler::new(&globals, owner);
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
    // Every instance is a rank of MPI_COMM_WORLD, which the kernel bounds:
    // refused here, at the declaration that goes past it, not at boot.
    let max_ranks = ipclab_kernel::config::MAX_COMM_SIZE;
    if uses_mpi && instances.len() > max_ranks {
        let mut ranks = 0;
        let over = processes.iter().find(|p| {
            ranks += p.count as usize;
            ranks > max_ranks
        });
        let span = over.map_or(Span::at(0), |p| p.span);
        return Err(vec![Diagnostic::at(
            span,
            format!(
                "MPI_COMM_WORLD would have {} ranks, more than the kernel's {max_ranks}",
                instances.len()
            ),
            "every instance is a rank",
        )
        .with_help(format!(
            "a program that makes MPI calls has at most {max_ranks} processes in all"
        ))]);
    }
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
        lines,
    })
}

/// What `name` is when the file declares it as something other than a
/// constant ("a process", "a mailbox", "a semaphore"), and whether it is a
/// process: for the error of a `-D` that names it.
fn non_constant_kind(items: &[Item], name: &str) -> Option<(&'static str, bool)> {
    items.iter().find_map(|item| match item {
        Item::Process { name: n, .. } if n.text == name => Some(("a process", true)),
        Item::Mailbox { name: n, .. } if n.text == name => Some(("a mailbox", false)),
        Item::Object { kind, name: n, .. } if n.text == name => Some((kind.noun(), false)),
        _ => None,
    })
}

/// Where each name is first declared in the file (constants, mailboxes,
/// processes and objects share one name space).
fn first_declarations(items: &[Item]) -> HashMap<String, Span> {
    let mut first = HashMap::new();
    for item in items {
        let name = match item {
            Item::Const { name, .. }
            | Item::Mailbox { name, .. }
            | Item::Process { name, .. }
            | Item::Object { name, .. } => name,
            _ => continue,
        };
        first.entry(name.text.clone()).or_insert(name.span);
    }
    first
}
