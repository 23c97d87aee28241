//! The kernel's limits at compile time: a name, capacity or boot option the kernel would refuse is a diagnostic with a place and the limit, and whatever compiles boots.

use ipclab_sim::lang::{compile, Diagnostic, Diagnostics};
use ipclab_sim::runner::{self, RunOptions};

fn errors_of(source: &str, overrides: &[(String, i64)]) -> Diagnostics {
    match compile("limits.ipc", source.as_bytes(), overrides) {
        Ok(_) => panic!("compiled, but an error was expected:\n{source}"),
        Err(diagnostics) => diagnostics,
    }
}

#[track_caller]
fn only_error(source: &str) -> Diagnostic {
    let errors = errors_of(source, &[]).errors;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors[0].clone()
}

#[track_caller]
fn assert_place(error: &Diagnostic, line: usize, column: usize, message: &str, help: &str) {
    assert_eq!((error.line, error.column), (line, column), "{error:?}");
    assert!(error.message.contains(message), "message of {error:?}");
    let actual = error.help.clone().unwrap_or_default();
    assert!(actual.contains(help), "help of {error:?}");
}

/// Compiles and boots: the compiler's limits must not be stricter than the kernel's.
#[track_caller]
fn boots(source: &str) {
    let program = compile("limits.ipc", source.as_bytes(), &[])
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    if let Err(error) = runner::run(&program, RunOptions::default()) {
        panic!("compiled but did not boot: {error}\n{source}");
    }
}

#[test]
fn a_process_name_longer_than_the_kernel_keeps_is_an_error_at_the_name() {
    let error = only_error("process ProducerWithAVeryLongName { }");
    assert_place(
        &error,
        1,
        9,
        "process name `ProducerWithAVeryLongName` is too long",
        "24 bytes",
    );
}

#[test]
fn a_counted_process_name_counts_its_instance_index() {
    let error = only_error("\nprocess abcdefghijklmnopqrstuvwx[2] { }");
    assert_place(&error, 2, 9, "too long", "24 bytes");
    assert_eq!(error.label, "27 bytes with `[1]`");
    let help = error.help.unwrap();
    assert!(help.contains("`abcdefghijklmnopqrstuvwx[1]`"), "{help}");
    assert!(help.contains("at most 21 bytes"), "{help}");
}

#[test]
fn process_names_at_the_limit_boot() {
    boots(&format!("process {} {{ }}", "a".repeat(24)));
    boots(&format!("process {}[10] {{ }}", "b".repeat(21)));
}

#[test]
fn a_mailbox_name_longer_than_the_kernel_keeps_is_an_error_at_the_name() {
    let error = only_error("mailbox abcdefghijklmnopq(capacity = 1);\nprocess A { }");
    assert_place(
        &error,
        1,
        9,
        "mailbox name `abcdefghijklmnopq` is too long",
        "16 bytes",
    );
    assert!(!error.help.unwrap().contains("quota"));
}

#[test]
fn a_semaphore_name_longer_than_the_kernel_keeps_is_an_error_at_the_name() {
    let error = only_error("semaphore abcdefghijklmnopq(1);\nprocess A { }");
    assert_place(&error, 1, 11, "semaphore name", "16 bytes");
}

#[test]
fn object_names_at_the_limit_boot() {
    boots(&format!(
        "mailbox {}(capacity = 1);\nsemaphore {}(1);\nprocess A {{ }}",
        "m".repeat(16),
        "s".repeat(16)
    ));
}

#[test]
fn a_mailbox_capacity_above_the_default_quota_is_an_error_at_the_capacity() {
    let error = only_error("mailbox m(capacity = 9); process A { send(m, 1); }");
    assert_place(
        &error,
        1,
        22,
        "above the kernel's mailbox quota 8",
        "default `mailbox_quota` is 8",
    );
}

#[test]
fn the_mailbox_quota_follows_buffer_slots_even_from_a_later_kernel_block() {
    let error = only_error("mailbox m(capacity = 3);\nkernel { buffer_slots = 2; }\nprocess A { }");
    assert_place(
        &error,
        1,
        22,
        "mailbox quota 2",
        "defaults to `buffer_slots`",
    );
    let error = only_error("kernel { mailbox_quota = 1; }\nmailbox m(2);\nprocess A { }");
    assert_place(&error, 2, 11, "mailbox quota 1", "`mailbox_quota = 1`");
}

#[test]
fn a_mailbox_at_its_quota_boots() {
    boots("mailbox m(capacity = 8); process A { }");
    boots("kernel { buffer_slots = 0; mailbox_quota = 2; } mailbox m(2); process A { }");
}

#[test]
fn a_bad_kernel_option_does_not_add_a_capacity_error() {
    let error =
        only_error("kernel { buffer_slots = 100; }\nmailbox m(capacity = 50);\nprocess A { }");
    assert!(error.message.contains("buffer_slots"), "{error:?}");
}

#[test]
fn a_kernel_option_above_its_maximum_is_an_error_at_the_value() {
    let source = "const N = 1;\nkernel { buffer_slots = N; }\nprocess A { }";
    let errors = errors_of(source, &[("N".to_string(), 1_000_000_000)]).errors;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_place(
        &errors[0],
        2,
        25,
        "`buffer_slots` = 1000000000 is above the maximum 64",
        "64 slots",
    );
    let error = only_error("kernel { eager_limit = 257; }\nprocess A { }");
    assert_place(&error, 1, 24, "above the maximum 256", "256 bytes");
    let error = only_error("kernel { quantum = 4294967296; }\nprocess A { }");
    assert_place(&error, 1, 20, "above the maximum 4294967295", "32 bits");
}

#[test]
fn kernel_options_at_their_maxima_boot() {
    boots("kernel { buffer_slots = 64; eager_limit = 256; quantum = 4294967295; }\nprocess A { }");
}

#[test]
fn too_many_process_instances_is_reported_once_with_the_total() {
    let source: String = (0..2000).map(|i| format!("process P{i} {{ }}\n")).collect();
    let errors = errors_of(&source, &[]).errors;
    assert_eq!(errors.len(), 1, "{:#?}", &errors[..errors.len().min(3)]);
    assert_place(
        &errors[0],
        1025,
        9,
        "too many process instances",
        "at most 1024",
    );
    assert!(errors[0].help.as_ref().unwrap().contains("ask for 2000"));
}

#[test]
fn a_process_beyond_the_instance_limit_can_still_be_named() {
    let source = "process Big[1024] { }\nprocess Extra { }\nprocess Q { send(Extra, 1); }";
    let errors = errors_of(source, &[]).errors;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_place(
        &errors[0],
        2,
        9,
        "too many process instances",
        "ask for 1026",
    );
}

#[test]
fn a_semaphore_with_a_bad_count_is_still_declared() {
    let error = only_error("semaphore s(4294967296); process X { V(s); }");
    assert_place(
        &error,
        1,
        13,
        "initial count 4294967296 is out of range",
        "4294967295",
    );
}

#[test]
fn a_shared_array_with_a_bad_size_is_still_declared() {
    let error = only_error("shared buf[0]; process X { buf[0] = 1; }");
    assert!(error.message.contains("shared array size 0"), "{error:?}");
}

/// The kernel's own refusal, reached by changing a compiled program behind
/// the compiler's back: the backstop still names the limit, in words.
fn boot_error(change: impl FnOnce(&mut ipclab_sim::lang::Program)) -> String {
    let mut program = compile(
        "limits.ipc",
        b"mailbox m(capacity = 1);\nprocess A { }",
        &[],
    )
    .unwrap_or_else(|d| panic!("{}", d.render(false)));
    change(&mut program);
    match ipclab_sim::machine::Machine::boot(&program, &mut ipclab_kernel::NullSink) {
        Ok(_) => panic!("booted"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn the_boot_backstop_says_which_limit_a_name_or_capacity_breaks() {
    let error = boot_error(|p| p.instances[0].label = "a".repeat(25));
    assert!(
        error.contains("longer than the kernel's 24 bytes"),
        "{error}"
    );
    assert!(!error.contains("NameTooLong"), "{error}");
    let error = boot_error(|p| p.mailboxes[0].name = "m".repeat(17));
    assert!(
        error.contains("ENAMETOOLONG") && error.contains("16 bytes"),
        "{error}"
    );
    assert!(!error.contains("quota"), "{error}");
    let error = boot_error(|p| p.mailboxes[0].capacity = 9);
    assert!(
        error.contains("EINVAL") && error.contains("mailbox_quota 8"),
        "{error}"
    );
}

// Large files: many declarations compile in about linear time, and a file of many errors shows the first ones.

#[test]
fn twenty_thousand_chained_constants_compile_and_keep_their_values() {
    // Every constant used to make the compiler list the names after it:
    // cubic in their number (8,000 took minutes).
    let mut source = String::from("const A0 = 1;\n");
    for i in 1..20_000 {
        source.push_str(&format!("const A{i} = A{} + 1;\n", i - 1));
    }
    source.push_str("process P { assert A19999 == 20000; }\nexpect completes;\n");
    let program = compile("many.ipc", source.as_bytes(), &[]).expect("compiles");
    let result = runner::run(&program, RunOptions::default()).expect("boots");
    assert_eq!(result.verdict.keyword(), "completes");
    // A constant used before its declaration still says so.
    let error = only_error("const A = B + 1;\nconst B = 1;\nprocess P { yield; }");
    assert_place(
        &error,
        1,
        11,
        "`B` is declared after this constant",
        "move `const B`",
    );
}

#[test]
fn a_file_of_many_errors_shows_the_first_twenty_and_counts_the_rest() {
    let mut source = String::new();
    for i in 0..5_000 {
        source.push_str(&format!("const X = {i};\n"));
    }
    source.push_str("process P { yield; }\n");
    let diagnostics = errors_of(&source, &[]);
    assert_eq!(diagnostics.errors.len(), 20);
    assert_eq!(diagnostics.omitted, 4_999 - 20);
    assert_eq!(
        (diagnostics.errors[0].line, diagnostics.errors[19].line),
        (2, 21)
    );
    let text = diagnostics.render(false);
    assert!(
        text.ends_with("... and 4979 more errors in limits.ipc, not shown: fix these first\n"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
}
