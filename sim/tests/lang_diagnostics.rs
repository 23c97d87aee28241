//! Compile errors: every kind points at its line and column and carries a hint.

use ipclab_sim::lang::{compile, Diagnostic, Diagnostics};

fn errors_of(source: &str) -> Diagnostics {
    match compile("test.ipc", source.as_bytes(), &[]) {
        Ok(_) => panic!("compiled, but an error was expected:\n{source}"),
        Err(diagnostics) => diagnostics,
    }
}

fn first_error(source: &str) -> Diagnostic {
    errors_of(source).errors[0].clone()
}

#[track_caller]
fn assert_error(source: &str, line: usize, column: usize, message: &str, help: &str) {
    let error = first_error(source);
    assert_eq!(
        (error.line, error.column),
        (line, column),
        "position of {error:?}"
    );
    assert!(error.message.contains(message), "message of {error:?}");
    let actual_help = error.help.clone().unwrap_or_default();
    assert!(actual_help.contains(help), "help of {error:?}");
}

#[test]
fn naming_a_multi_instance_process_without_an_index_is_an_error_with_a_hint() {
    let source = "process Producer[2] { }\nprocess Consumer {\n    send(Producer, x);\n}";
    let error = first_error(source);
    assert_eq!((error.line, error.column), (3, 10));
    assert_eq!(
        error.help.as_deref(),
        Some("Producer names 2 processes; write Producer[0] or Producer[i]")
    );
    let rendered = errors_of(source).render(false);
    assert!(rendered.contains("test.ipc:3:10"), "{rendered}");
    assert!(
        rendered.contains("Producer names 2 processes; write Producer[0] or Producer[i]"),
        "{rendered}"
    );
}

#[test]
fn a_multi_instance_process_as_a_value_or_verdict_needs_an_index_too() {
    assert_error(
        "process P[3] { }\nprocess Q { let x = P; }",
        2,
        21,
        "ambiguous",
        "P names 3 processes; write P[0] or P[i]",
    );
    assert_error(
        "process P[3] { }\nexpect starvation(P);",
        2,
        19,
        "ambiguous",
        "P names 3 processes",
    );
}

#[test]
fn a_constant_index_out_of_range_is_an_error() {
    assert_error(
        "process P[2] { }\nprocess Q { send(P[2], 1); }",
        2,
        20,
        "index 2 is out of range for `P`",
        "P[0] to P[1]",
    );
}

#[test]
fn an_unknown_peer_lists_the_processes_and_mailboxes() {
    assert_error(
        "mailbox box(capacity = 1);\nprocess Consumer { }\nprocess P { send(Consumr, 1); }",
        3,
        18,
        "unknown process or mailbox `Consumr`",
        "processes: Consumer, P; mailboxes: box",
    );
}

#[test]
fn an_unexpected_character_is_pointed_at() {
    assert_error(
        "process P {\n  x = 1 @ 2;\n}",
        2,
        9,
        "unexpected character '@'",
        "operators",
    );
    assert_error(
        "process P { x = a & b; }",
        1,
        19,
        "unexpected character",
        "`&&`",
    );
}

#[test]
fn unterminated_comments_and_strings_are_errors() {
    assert_error(
        "/* never closed\nprocess P {}",
        1,
        1,
        "unterminated comment",
        "*/",
    );
    assert_error(
        "process P { print \"oops; }",
        1,
        19,
        "unterminated string",
        "close it",
    );
}

#[test]
fn a_number_too_large_is_an_error() {
    assert_error(
        "const N = 99999999999999999999;\nprocess P { }",
        1,
        11,
        "too large",
        "64-bit",
    );
}

#[test]
fn a_constant_that_overflows_is_an_error() {
    assert_error(
        "const N = 9223372036854775807 + 1;\nprocess P { }",
        1,
        11,
        "overflow",
        "64-bit",
    );
    assert_error(
        "const Z = 0;\nconst N = 4 / Z;\nprocess P { }",
        2,
        11,
        "division by zero",
        "constants",
    );
}

#[test]
fn a_missing_semicolon_is_reported_after_the_statement() {
    assert_error(
        "process P {\n  x = 1\n  y = 2;\n}",
        2,
        8,
        "expected `;`",
        "ends with `;`",
    );
}

#[test]
fn a_keyword_cannot_be_a_name() {
    assert_error("process loop { }", 1, 9, "keyword", "another name");
}

#[test]
fn nesting_too_deep_is_an_error_not_a_crash() {
    let mut source = String::from("process P {\n");
    for _ in 0..100 {
        source.push_str("loop {\n");
    }
    let error = first_error(&source);
    assert_eq!((error.line, error.column), (65, 6));
    assert!(error.message.contains("nesting too deep"));
    assert!(error.help.unwrap().contains("64"));

    let parentheses = format!(
        "process P {{ x = {}1{}; }}",
        "(".repeat(500),
        ")".repeat(500)
    );
    assert!(first_error(&parentheses)
        .message
        .contains("nesting too deep"));
    let negations = format!("process P {{ x = {}1; }}", "-!".repeat(5000));
    assert!(first_error(&negations).message.contains("nesting too deep"));
}

#[test]
fn a_very_long_expression_is_an_error_not_a_crash() {
    let chain = format!("process P {{ x = 1{}; }}", " + 1".repeat(10_000));
    let error = first_error(&chain);
    assert!(error.message.contains("expression too long"), "{error:?}");
    assert!(error.help.unwrap().contains("let"));
}

#[test]
fn an_unknown_kernel_option_lists_the_known_ones() {
    assert_error(
        "kernel {\n  slots = 4;\n}\nprocess P { }",
        2,
        3,
        "unknown kernel option `slots`",
        "buffer_slots, eager_limit, receiver_quota, mailbox_quota, policy, refuse_deadlock, quantum, priorities",
    );
}

#[test]
fn a_kernel_option_of_the_wrong_kind_is_an_error() {
    assert_error(
        "kernel { policy = 3; }\nprocess P { }",
        1,
        19,
        "`policy` takes `classic` or `notify`",
        "policy = ...;",
    );
    assert_error(
        "kernel { buffer_slots = true; }\nprocess P { }",
        1,
        25,
        "`buffer_slots` takes",
        "slots",
    );
    assert_error(
        "kernel { quantum = -1; }\nprocess P { }",
        1,
        20,
        "cannot be negative",
        "ticks",
    );
}

#[test]
fn a_name_declared_twice_is_an_error() {
    assert_error(
        "mailbox m(capacity = 1);\nprocess m { }",
        2,
        9,
        "declared twice",
        "line 1",
    );
}

#[test]
fn overriding_an_unknown_constant_lists_the_known_ones() {
    let source = "const N = 2;\nconst M = 3;\nprocess P { }";
    let errors = compile("test.ipc", source.as_bytes(), &[("K".to_string(), 1)]).unwrap_err();
    let error = &errors.errors[0];
    assert!(error.message.contains("cannot override `K`"));
    assert_eq!(error.help.as_deref(), Some("the constants are: N, M"));
    assert!(errors
        .first_message()
        .starts_with("test.ipc: cannot override"));
    assert!(errors.render(false).contains("the constants are: N, M"));
}

#[test]
fn overriding_a_process_or_mailbox_says_what_it_is() {
    let source = "const N = 2;\nmailbox box(capacity = 1);\nprocess Producer { }";
    let override_of = |name: &str| {
        let errors = compile("test.ipc", source.as_bytes(), &[(name.to_string(), 1)]).unwrap_err();
        errors.errors[0].clone()
    };
    let error = override_of("Producer");
    assert_eq!(
        error.message,
        "cannot override `Producer`: it is a process, not a constant"
    );
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or("")
            .contains("process Producer[N]"),
        "{error:?}"
    );
    let error = override_of("box");
    assert_eq!(
        error.message,
        "cannot override `box`: it is a mailbox, not a constant"
    );
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or("")
            .contains("the constants are: N"),
        "{error:?}"
    );
}

#[test]
fn an_unknown_verdict_lists_the_verdicts() {
    assert_error(
        "process P { }\nexpect finishes;",
        2,
        8,
        "unknown verdict `finishes`",
        "blocked_forever(P)",
    );
}

#[test]
fn break_outside_a_loop_is_an_error() {
    assert_error("process P {\n  break;\n}", 2, 3, "outside a loop", "loop");
}

#[test]
fn an_array_used_as_a_number_is_an_error() {
    assert_error(
        "process P {\n  let buf[4];\n  x = buf + 1;\n}",
        3,
        7,
        "is an array",
        "buf[k]",
    );
}

#[test]
fn process_options_in_parentheses_show_the_count_and_priority_syntax() {
    assert_error(
        "process Hi(priority = 3) { yield; }",
        1,
        11,
        "no options in parentheses",
        "process Worker[3] priority 2",
    );
}

#[test]
fn unknown_calls_and_options_are_errors() {
    assert_error(
        "process P { fork(); }",
        1,
        13,
        "unknown call `fork`",
        "send, recv",
    );
    assert_error(
        "process Q { }\nprocess P { send(Q, 1, priority = 2); }",
        2,
        24,
        "unknown option `priority`",
        "tag, timeout",
    );
    assert_error(
        "process Q { }\nprocess P { send(Q); }",
        2,
        13,
        "wrong arguments for `send`",
        "send(destination, value",
    );
}

#[test]
fn recv_needs_a_variable() {
    assert_error(
        "process Q { }\nprocess P { recv(Q, 1 + 2); }",
        2,
        21,
        "recv needs a variable",
        "recv(P, x)",
    );
}

#[test]
fn timeout_and_nonblocking_together_are_an_error() {
    assert_error(
        "process Q { }\nprocess P { recv(Q, x, timeout = 3, nonblocking); }",
        2,
        34,
        "`timeout` and `nonblocking` together",
        "never blocks",
    );
}

#[test]
fn status_has_a_fixed_set_of_fields() {
    assert_error(
        "process P { x = status.sender; }",
        1,
        24,
        "no field `sender`",
        "source, tag, len, error",
    );
}

#[test]
fn a_mailbox_needs_a_capacity() {
    assert_error(
        "mailbox m();\nprocess P { }",
        1,
        10,
        "needs a capacity",
        "capacity = 4",
    );
}

#[test]
fn an_instance_count_out_of_range_is_an_error() {
    assert_error(
        "process P[0] { }",
        1,
        11,
        "instance count 0",
        "between 1 and 1024",
    );
}

#[test]
fn declarations_inside_a_body_are_an_error() {
    assert_error(
        "process P {\n  mailbox m(capacity = 1);\n}",
        2,
        3,
        "belong at the top level",
        "move it out",
    );
}

#[test]
fn a_scenario_without_processes_is_an_error() {
    assert_error("const N = 1;", 1, 1, "no process", "process P");
}

#[test]
fn several_independent_errors_are_all_reported() {
    let errors = errors_of("process P {\n  fork();\n  x = status.nope;\n}\nexpect maybe;");
    assert_eq!(errors.errors.len(), 3, "{errors:?}");
    // In file order, though the `expect` line is checked first.
    let lines: Vec<usize> = errors.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 3, 5]);
}

#[test]
fn rendering_without_colour_has_no_escape_codes_and_shows_the_caret_line() {
    let errors = errors_of("process P {\n  fork();\n}");
    let plain = errors.render(false);
    assert!(!plain.contains('\u{1b}'), "{plain}");
    assert!(plain.contains("fork();"), "{plain}");
    assert!(plain.contains("help:"), "{plain}");
    assert!(plain.contains("test.ipc:2:3"), "{plain}");
    assert_eq!(plain, errors.to_string());
    let coloured = errors.render(true);
    assert!(coloured.contains('\u{1b}'), "{coloured}");
    assert_eq!(errors.first_message(), "test.ipc:2:3: unknown call `fork`");
}

#[test]
fn control_characters_of_the_source_line_are_written_out_under_an_aligned_caret() {
    let source = "process A { let h = mbox_create(\"\x1b[31mZ\x07\", capacity = 0); fork(); }";
    let errors = errors_of(source);
    let plain = errors.render(false);
    assert!(
        !plain.contains('\x1b') && !plain.contains('\x07'),
        "{plain}"
    );
    let mut lines = plain.lines().skip_while(|l| !l.contains("mbox_create"));
    let line = lines.next().unwrap_or_else(|| panic!("{plain}"));
    assert!(
        line.ends_with("mbox_create(\"\\e[31mZ\\x07\", capacity = 0); fork(); }"),
        "{line}"
    );
    // The caret's underline starts under `fork`, counted in characters.
    let caret = lines.next().unwrap_or_else(|| panic!("{plain}"));
    let column = |l: &str, at: usize| l[..at].chars().count();
    assert_eq!(
        column(caret, caret.find('─').unwrap()),
        column(line, line.find("fork").unwrap()),
        "{plain}"
    );
    // The place is still the source's own.
    let fork = column(source, source.find("fork").unwrap()) + 1;
    assert_eq!(errors.errors[0].column, fork);
    assert!(plain.contains(&format!("test.ipc:1:{fork}")), "{plain}");
}

#[test]
fn invalid_utf8_is_read_lossily_and_reported() {
    let error = compile("bin.ipc", b"process P { \xff\xfe }", &[]).unwrap_err();
    assert!(error.errors[0].message.contains("unexpected character"));
    assert_eq!(error.errors[0].column, 13);
}

#[test]
fn an_error_on_a_very_long_line_is_shown_around_its_caret() {
    let source = format!("process P {{ {}fork(); }}", "x = 1; ".repeat(5_000));
    let errors = errors_of(&source);
    assert_eq!(errors.errors[0].column, 5_000 * 7 + 13);
    let rendered = errors.render(false);
    assert!(rendered.contains("fork();"), "{rendered}");
    assert!(rendered.contains('…'), "{rendered}");
    assert!(rendered.len() < 4_000, "{rendered}");
    // The snippet's header gives the place in the file, not in the window.
    let place = format!("[test.ipc:1:{}]", 5_000 * 7 + 13);
    assert!(rendered.contains(&place), "{rendered}");
}

#[test]
fn sending_to_self_is_a_compile_error_with_a_hint() {
    assert_error(
        "process A { send(self, 5); }",
        1,
        18,
        "a process cannot send to itself",
        "mailbox",
    );
    assert_error(
        "process A {\n  recv(self, x);\n}",
        2,
        8,
        "a process cannot receive from itself",
        "recv(ANY, x)",
    );
}

#[test]
fn a_long_else_if_chain_is_too_deep_nesting_not_a_long_expression() {
    let mut source = String::from("process P {\n  if x == 0 { }\n");
    for k in 1..100 {
        source.push_str(&format!("  else if x == {k} {{ }}\n"));
    }
    source.push('}');
    let error = first_error(&source);
    assert!(error.message.contains("nesting too deep"), "{error:?}");
    assert!(error.help.unwrap().contains("`else if`"));
}

#[test]
fn nested_ifs_nest_as_deep_as_loops() {
    let nested = |opener: &str, depth: usize| {
        format!(
            "process P {{\n{}{}}}",
            format!("{opener} {{\n").repeat(depth),
            "}\n".repeat(depth)
        )
    };
    // The body is the first of the 64 levels.
    for opener in ["if 1", "loop"] {
        assert!(
            compile("t.ipc", nested(opener, 63).as_bytes(), &[]).is_ok(),
            "{opener}"
        );
        let error = first_error(&nested(opener, 64));
        assert_eq!(error.line, 65, "{opener}: {error:?}");
        assert!(error.message.contains("nesting too deep"), "{error:?}");
    }
    // An expression is a level of its own, as the limits chapter says: the
    // innermost of 63 blocks holds `yield;` but not `print 1;`.
    let around = |depth: usize, inner: &str| {
        format!(
            "process P {{
{}{inner}
{}}}",
            "loop {
"
            .repeat(depth),
            "}
"
            .repeat(depth)
        )
    };
    assert!(compile("t.ipc", around(63, "yield;").as_bytes(), &[]).is_ok());
    assert!(compile("t.ipc", around(62, "print 1;").as_bytes(), &[]).is_ok());
    let error = first_error(&around(63, "print 1;"));
    assert!(error.message.contains("nesting too deep"), "{error:?}");
}

#[test]
fn an_array_element_as_an_mpi_status_is_an_error_naming_the_alternatives() {
    assert_error(
        "process Rank[1] {\n    let reqs[2]; let sts[8];\n    MPI_Wait(&reqs[0], &sts[0]);\n}",
        3,
        24,
        "an array element cannot hold an MPI status",
        "use a status variable per call",
    );
}

#[test]
fn a_shared_variable_given_to_an_mpi_call_with_an_ampersand_is_an_error() {
    assert_error(
        "shared c;\nprocess A { MPI_Isend(&c, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &r); }",
        2,
        23,
        "a shared variable cannot be given `&`",
        "copy it first",
    );
}

#[test]
fn a_device_semaphore_that_is_not_a_declared_semaphore_is_an_error_at_its_name() {
    assert_error(
        "mutex m;\ndevice keyboard(semaphore = m) { at 1: \"a\"; }\nprocess P { }",
        2,
        29,
        "`m` is a mutex, not a semaphore",
        "name a declared semaphore",
    );
}

#[test]
fn a_datatype_argument_must_name_an_mpi_datatype() {
    let datatypes = "the datatypes are MPI_INT, MPI_LONG and MPI_DOUBLE";
    // MPI_FLOAT was a variable holding 0: a send of no bytes.
    assert_error(
        "process Rank[2] {\n    let buf[4];\n    MPI_Send(buf, 4, MPI_FLOAT, 1, 0, MPI_COMM_WORLD);\n}",
        3,
        22,
        "unknown MPI datatype `MPI_FLOAT`",
        datatypes,
    );
    // MPI_INT + 1 sent 9 bytes.
    assert_error(
        "process Rank[2] {\n    let buf[4];\n    MPI_Send(buf, 1, MPI_INT + 1, 1, 0, MPI_COMM_WORLD);\n}",
        3,
        22,
        "the datatype must be an MPI datatype's name",
        datatypes,
    );
    assert_error(
        "process Rank[2] {\n    let t = 8;\n    MPI_Recv(x, 1, t, 0, 0, MPI_COMM_WORLD, &st);\n}",
        3,
        20,
        "`t` is not an MPI datatype",
        datatypes,
    );
    // A size of 0 made MPI_Get_count divide by zero at run time.
    assert_error(
        "process Rank[2] {\n    MPI_Get_count(&st, MPI_FOO, &c);\n}",
        2,
        24,
        "unknown MPI datatype `MPI_FOO`",
        datatypes,
    );
}

#[test]
fn a_constant_count_whose_arithmetic_overflows_is_an_error_not_a_wrapped_count() {
    // 2^62 * 4 wraps to 0: the run would send nothing, as if asked to.
    assert_error(
        "process Rank[2] {\n    let x[2];\n    MPI_Send(x, 4611686018427387904 * 4, MPI_BYTE, 1, 0, MPI_COMM_WORLD);\n}",
        3,
        17,
        "count overflows 64 bits (it would wrap to 0)",
        "64-bit signed integers",
    );
}

#[test]
fn statuses_for_mpi_waitall_other_than_ignore_are_an_error() {
    // They would never be written: reading them after the wait reads zeros.
    for statuses in ["sts", "&sts", "sts[0]"] {
        let source = format!(
            "process Rank[2] {{\n    let reqs[2]; let sts[2];\n    MPI_Waitall(2, reqs, {statuses});\n}}"
        );
        let error = first_error(&source);
        assert_eq!(error.line, 3, "{error:?}");
        let help = error.help.clone().unwrap_or_default();
        assert!(help.contains("pass MPI_STATUSES_IGNORE"), "{error:?}");
    }
    for ignore in ["MPI_STATUSES_IGNORE", "0"] {
        let source = format!(
            "process Rank[2] {{\n    let reqs[2];\n    MPI_Waitall(2, reqs, {ignore});\n}}"
        );
        assert!(
            ipclab_sim::lang::compile("t.ipc", source.as_bytes(), &[]).is_ok(),
            "{source}"
        );
    }
}

#[test]
fn a_constant_count_or_size_its_buffer_cannot_hold_is_an_error_at_the_argument() {
    for (call, column, message, help) in [
        (
            "MPI_Send(buf, 5, MPI_INT, 1, 0, MPI_COMM_WORLD);",
            19,
            "count 5 × 8 bytes (MPI_INT) is 40 bytes, but `buf` holds 32",
            "elements of the datatype",
        ),
        (
            "MPI_Recv(x, 2, MPI_INT, 1, 0, MPI_COMM_WORLD, &st);",
            17,
            "count 2 × 8 bytes (MPI_INT) is 16 bytes, but `x` holds 8",
            "elements of the datatype",
        ),
        (
            "MPI_Waitall(5, buf, MPI_STATUSES_IGNORE);",
            17,
            "count 5 is more than `buf` holds (4 requests)",
            "at most the array's length",
        ),
        (
            "MPI_Buffer_attach(buf, 40);",
            28,
            "size 40 bytes is more than `buf` holds (32 bytes)",
            "a size is in bytes",
        ),
    ] {
        let source = format!("process Rank[2] {{\n    let buf[4]; let x = 0;\n    {call}\n}}");
        assert_error(&source, 3, column, message, help);
    }
    // What fits compiles; so does a buffer from an element, judged at run time.
    for call in [
        "MPI_Send(buf, 4, MPI_INT, 1, 0, MPI_COMM_WORLD);",
        "MPI_Send(&buf[2], 3, MPI_INT, 1, 0, MPI_COMM_WORLD);",
        "MPI_Buffer_attach(buf, 32);",
    ] {
        let source = format!("process Rank[2] {{\n    let buf[4];\n    {call}\n}}");
        assert!(
            ipclab_sim::lang::compile("t.ipc", source.as_bytes(), &[]).is_ok(),
            "{source}"
        );
    }
}

#[test]
fn a_constant_negative_count_or_size_is_an_error_at_the_argument() {
    for (call, column, message) in [
        (
            "MPI_Send(buf, -1, MPI_INT, 1, 0, MPI_COMM_WORLD);",
            19,
            "count -1 is negative",
        ),
        (
            "MPI_Irecv(buf, 2 - 3, MPI_INT, 1, 0, MPI_COMM_WORLD, &r);",
            20,
            "count -1 is negative",
        ),
        (
            "MPI_Waitall(-2, buf, MPI_STATUSES_IGNORE);",
            17,
            "count -2 is negative",
        ),
        ("MPI_Buffer_attach(buf, -8);", 28, "size -8 is negative"),
    ] {
        let source = format!("process Rank[2] {{\n    let buf[4];\n    {call}\n}}");
        assert_error(&source, 3, column, message, "0 or more");
    }
    // A request count no run could wait for is one too.
    assert_error(
        "process Rank[2] {\n    let reqs[20];\n    MPI_Waitany(17, reqs, &i, &st);\n}",
        3,
        17,
        "count 17 is more than the 16 requests one MPI_Waitany may wait for",
        "at most 16",
    );
}

#[test]
fn an_unknown_mpi_name_is_an_error_naming_the_close_known_ones() {
    // MPI_ANY_SOURCES was a variable holding 0: a receive from rank 0 only.
    assert_error(
        "process Rank[2] {\n    MPI_Recv(y, 1, MPI_INT, MPI_ANY_SOURCES, 0, MPI_COMM_WORLD, &st);\n}",
        2,
        29,
        "unknown MPI name `MPI_ANY_SOURCES`",
        "did you mean `MPI_ANY_SOURCE`?",
    );
    assert_error(
        "process Rank[2] {\n    MPI_Send(x, 1, MPI_INT, 1, MPI_ANY_TAGG, MPI_COMM_WORLD);\n}",
        2,
        32,
        "unknown MPI name `MPI_ANY_TAGG`",
        "did you mean `MPI_ANY_TAG`?",
    );
    // Far from every name: the hint lists the constants.
    assert_error(
        "process Rank[2] {\n    let x = MPI_FOO + 1;\n}",
        2,
        13,
        "unknown MPI name `MPI_FOO`",
        "the constants are: MPI_INT, MPI_LONG, MPI_DOUBLE, MPI_BYTE, MPI_CHAR, MPI_COMM_WORLD",
    );
    // Wherever it stands: a variable, an array, a request, a status, a peer.
    for (body, column) in [
        ("MPI_X = 1;", 5),
        ("let MPI_X[2];", 9),
        ("MPI_Wait(&MPI_REQ, &st);", 15),
        (
            "MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &MPI_ST);",
            52,
        ),
        ("print MPI_X.MPI_SOURCE;", 11),
        ("send(MPI_PEER, 1);", 10),
    ] {
        let source = format!("process Rank[2] {{\n    {body}\n}}");
        assert_error(&source, 2, column, "unknown MPI name", "");
    }
}

#[test]
fn an_mpi_call_without_its_arguments_or_misspelt_is_an_error() {
    assert_error(
        "process Rank[2] {\n    let f = MPI_Send;\n}",
        2,
        13,
        "`MPI_Send` is an MPI call, not a value",
        "MPI_Send(buf, count, MPI_INT, dest, tag, MPI_COMM_WORLD)",
    );
    assert_error(
        "process Rank[2] {\n    MPI_Sendd(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);\n}",
        2,
        5,
        "unknown MPI call `MPI_Sendd`",
        "did you mean `MPI_Send`? the MPI calls are: MPI_Init,",
    );
}

#[test]
fn a_declared_name_beginning_with_mpi_is_an_error() {
    for (source, column) in [
        ("const MPI_INT = 4;\nprocess P { }", 7),
        ("mailbox MPI_box(capacity = 1);\nprocess P { }", 9),
        ("process MPI_Rank[2] { }", 9),
    ] {
        assert_error(source, 1, column, "begins with MPI_", "belong to MPI");
    }
}

#[test]
fn an_mpi_receive_into_a_constant_is_an_error_about_that_call() {
    // The hint was `recv(P, x)`'s, a call the line does not make.
    let error = first_error(
        "const N = 3;\nprocess Rank[2] {\n    MPI_Recv(N, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n}",
    );
    assert_eq!((error.line, error.column), (3, 14));
    assert_eq!(error.message, "MPI_Recv needs a buffer to receive into");
    let help = error.help.unwrap_or_default();
    assert!(help.contains("an element `&buf[k]`"), "{help}");
    assert!(!help.contains("recv(P"), "{help}");
    assert_error(
        "process Rank[2] {\n    MPI_Buffer_attach(64, 64);\n}",
        2,
        23,
        "MPI_Buffer_attach needs a buffer to give the kernel",
        "an array `buf`",
    );
}

#[test]
fn a_constant_rank_tag_or_communicator_out_of_range_is_an_error_with_the_range() {
    // Each was a bare "MPI_Send failed with EINVAL" at run time.
    let cases = [
        (
            "MPI_Send(buf, 4, MPI_INT, 5, 0, MPI_COMM_WORLD);",
            31,
            "rank 5 is not in MPI_COMM_WORLD (2 ranks)",
            "MPI_COMM_WORLD's ranks are 0 to 1",
        ),
        (
            "MPI_Isend(buf, 4, MPI_INT, MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, &r);",
            32,
            "is no destination: a send names one rank",
            "ranks are 0 to 1",
        ),
        (
            "MPI_Send(buf, 4, MPI_INT, 1, -5, MPI_COMM_WORLD);",
            34,
            "tag -5 is negative",
            "a tag is 0 to 4294967295",
        ),
        (
            "MPI_Ssend(buf, 4, MPI_INT, 1, MPI_ANY_TAG, MPI_COMM_WORLD);",
            35,
            "a send has one tag",
            "a tag is 0 to 4294967295",
        ),
        (
            "MPI_Send(buf, 4, MPI_INT, 1, 0, 7);",
            37,
            "communicator 7 does not exist",
            "only communicator is MPI_COMM_WORLD",
        ),
        (
            "MPI_Recv(buf, 4, MPI_INT, Rank[1] + 1, 0, MPI_COMM_WORLD, &st);",
            31,
            "rank 2 is not in MPI_COMM_WORLD (2 ranks)",
            "0 to 1, or MPI_ANY_SOURCE for any of them",
        ),
        (
            "MPI_Irecv(buf, 4, MPI_INT, 0, -2, MPI_COMM_WORLD, &r);",
            35,
            "tag -2 is negative",
            "or MPI_ANY_TAG for any tag",
        ),
        (
            "MPI_Probe(0, 4294967296, MPI_COMM_WORLD, &st);",
            18,
            "tag 4294967296 is more than 4294967295",
            "a tag is 0 to 4294967295",
        ),
        (
            "MPI_Iprobe(-3, 0, MPI_COMM_WORLD, &f, &st);",
            16,
            "rank -3 is negative",
            "ranks are 0 to 1",
        ),
        (
            "MPI_Comm_size(0, &size);",
            19,
            "communicator 0 does not exist",
            "only communicator is MPI_COMM_WORLD",
        ),
    ];
    for (call, column, message, help) in cases {
        let source = format!("process Rank[2] {{\n    let buf[4];\n    {call}\n}}");
        assert_error(&source, 3, column, message, help);
    }
    // The wildcards in a receive, and a computed rank, compile.
    for call in [
        "MPI_Recv(buf, 4, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);",
        "MPI_Send(buf, 4, MPI_INT, 1 - index, 4294967295, MPI_COMM_WORLD);",
    ] {
        let source = format!("process Rank[2] {{\n    let buf[4];\n    {call}\n}}");
        assert!(compile("t.ipc", source.as_bytes(), &[]).is_ok(), "{call}");
    }
}

#[test]
fn a_constant_that_uses_itself_is_told_so() {
    assert_error(
        "const A = A + 1;\nprocess P { print A; }",
        1,
        11,
        "`A` is the constant this declaration defines",
        "a constant cannot use its own value",
    );
}

#[test]
fn a_constant_that_uses_a_later_one_is_told_to_move_it() {
    assert_error(
        "const X = Y; const Y = 1;\nprocess A { print X; }",
        1,
        11,
        "`Y` is declared after this constant",
        "move `const Y` above this one",
    );
}

#[test]
fn a_negative_constant_receive_tag_is_a_compile_error() {
    assert_error(
        "process A { send(B, 1); }\nprocess B { let x; recv(A, x, tag = -1); }",
        2,
        37,
        "a receive's tag filter must be 0 to 4294967295, got -1",
        "write `tag = ANY` to take any tag",
    );
}

#[test]
fn a_constant_send_tag_out_of_range_is_a_compile_error() {
    for (source, column, got) in [
        (
            "process A { send(B, 1, tag = -1); }\nprocess B {}",
            30,
            "-1",
        ),
        (
            "const T = 4294967296;\nmailbox m(capacity = 1);\nprocess A { send(m, 1, tag = T); }",
            30,
            "4294967296",
        ),
    ] {
        let line = source.lines().position(|l| l.contains("tag =")).unwrap() + 1;
        assert_error(
            source,
            line,
            column,
            &format!("a send's tag must be 0 to 4294967295, got {got}"),
            "a send gives one tag",
        );
    }
}

#[test]
fn a_receive_tag_of_constant_arithmetic_is_checked_when_compiled() {
    assert_error(
        "const K = 3;\nprocess A { let x; recv(B, x, tag = K - 4); }\nprocess B {}",
        2,
        37,
        "a receive's tag filter must be 0 to 4294967295, got -1",
        "tag = ANY",
    );
}

#[test]
fn a_receive_tag_that_is_an_mpi_constant_or_too_large_is_a_compile_error() {
    for (tag, got) in [("MPI_ANY_TAG", "-1"), ("4294967296", "4294967296")] {
        assert_error(
            &format!("process A {{ let x; recv(B, x, tag = {tag}); }}\nprocess B {{}}"),
            1,
            37,
            &format!("a receive's tag filter must be 0 to 4294967295, got {got}"),
            "tag = ANY",
        );
    }
}

#[test]
fn a_name_of_another_kind_where_an_object_is_wanted_says_what_it_is() {
    assert_error(
        "mailbox mb(capacity = 1);\nsemaphore s(1);\nprocess A { P(mb); }",
        3,
        15,
        "`mb` is a mailbox, not a semaphore",
        "the semaphores declared: s",
    );
    assert_error(
        "semaphore s(1);\nprocess A { V(A); }",
        2,
        15,
        "`A` is a process, not a semaphore",
        "",
    );
    assert_error(
        "shared x;\nprocess A { P(x); }",
        2,
        15,
        "`x` is a shared variable, not a semaphore",
        "",
    );
    assert_error(
        "semaphore s(1);\nprocess A { let s = 3; }",
        2,
        17,
        "`s` is a semaphore, not a variable",
        "",
    );
}

#[test]
fn the_declare_one_hint_suggests_a_name_not_already_taken() {
    // `m` is the mutex; the hint must not propose `condvar m;`.
    let error = first_error("mutex m;\nprocess A { signal(m); }");
    let help = error.help.unwrap_or_default();
    assert!(help.contains("`condvar c;`"), "{help}");
    let error = first_error("mutex c;\nprocess A { signal(c); }");
    let help = error.help.unwrap_or_default();
    assert!(help.contains("`condvar c2;`"), "{help}");
}

#[test]
fn a_keyboard_semaphore_must_start_at_zero_and_be_a_semaphore() {
    assert_error(
        "semaphore chars(2);\n\
         device keyboard(ring = 4, semaphore = chars) { at 1: \"a\"; }\n\
         process A { P(chars); }",
        2,
        39,
        "the keyboard's semaphore `chars` starts at 2",
        "semaphore chars(initial = 0);",
    );
    assert_error(
        "mailbox c(capacity = 1);\n\
         device keyboard(ring = 4, semaphore = c) { at 1: \"a\"; }\n\
         process A { }",
        2,
        39,
        "`c` is a mailbox, not a semaphore",
        "name a declared semaphore",
    );
}

#[test]
fn nonblocking_given_twice_is_an_error_as_any_repeated_option() {
    assert_error(
        "semaphore s(1);\nprocess A { P(s, nonblocking, nonblocking); }",
        2,
        31,
        "`nonblocking` given twice",
        "give each option once",
    );
    assert_error(
        "process A { recv(B, x, nonblocking, nonblocking); }\nprocess B { }",
        1,
        37,
        "`nonblocking` given twice",
        "give each option once",
    );
}

/// Every report of `source`, as the terminal shows them without colour,
/// with runs of whitespace made one space: a long hint wraps onto
/// several lines, and the assertions read it as one.
fn rendered(source: &str) -> String {
    let text = errors_of(source).render(false);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn a_duplicate_name_is_flagged_at_its_second_declaration_in_file_order() {
    // The constants are declared in a pass of their own, before the
    // processes; the report must still follow the file.
    let source = "process A { yield; }\nconst A = 1;";
    let error = first_error(source);
    assert_eq!((error.line, error.column), (2, 7), "{error:?}");
    let text = rendered(source);
    assert!(
        text.contains("test.ipc:2:7: `A` is declared twice"),
        "{text}"
    );
    assert!(
        text.contains("the first declaration is on line 1"),
        "{text}"
    );
    assert!(!text.contains("line 2;"), "{text}");
}

#[test]
fn a_constant_or_process_indexed_as_an_array_says_what_it_is() {
    let text = rendered("const A = 1;\nprocess B { A[0] = 2; }");
    assert!(text.contains("`A` is not an array"), "{text}");
    assert!(text.contains("`A` is a constant, not an array"), "{text}");
    assert!(!text.contains("let A[16]"), "{text}");
    let text = rendered("process A { A[0] = 2; }");
    assert!(text.contains("`A` is a process, not an array"), "{text}");
    assert!(!text.contains("let A[16]"), "{text}");
    // `recv(A[1], x)` with the process declared first and the constant after.
    let text = rendered("process A { yield; }\nconst A = 1;\nprocess B { recv(A[1], x); }");
    assert!(text.contains("index 1 is out of range for `A`"), "{text}");
    assert!(
        text.contains("A has one instance: write A (or A[0])"),
        "{text}"
    );
    assert!(!text.contains("let A[16]"), "{text}");
}

#[test]
fn a_declared_name_that_is_no_process_or_mailbox_as_a_peer_says_what_it_is() {
    let text = rendered("semaphore s(1);\nprocess P { send(s, 1); }");
    assert!(
        text.contains("test.ipc:2:18: `s` is a semaphore, not a process or mailbox"),
        "{text}"
    );
    assert!(!text.contains("unknown process or mailbox"), "{text}");
    let text = rendered("mutex m;\nprocess P { recv(m, x); }");
    assert!(
        text.contains("`m` is a mutex, not a process or mailbox"),
        "{text}"
    );
    let text = rendered("condvar c;\nprocess P { send(c[0], 1); }");
    assert!(
        text.contains("`c` is a condition variable, not a process or mailbox"),
        "{text}"
    );
    let text = rendered("const N = 1;\nprocess P { send(N, 1); }");
    assert!(
        text.contains("`N` is a constant, not a process or mailbox"),
        "{text}"
    );
    let text = rendered("shared turn;\nprocess P { send(turn, 1); }");
    assert!(
        text.contains("`turn` is a shared variable, not a process or mailbox"),
        "{text}"
    );
    assert!(text.contains("`let p = turn;`"), "{text}");
    // The expect line looks up a process too.
    let text = rendered("semaphore s(1);\nprocess P { }\nexpect blocked_forever(s);");
    assert!(text.contains("`s` is a semaphore, not a process"), "{text}");
    assert!(!text.contains("unknown process"), "{text}");
    // A word of a shared array may hold an instance number: still a peer.
    let source = "shared peers[2];\nprocess P { send(peers[0], 1); }\nprocess Q { }";
    assert!(compile("test.ipc", source.as_bytes(), &[]).is_ok());
}

#[test]
fn an_instance_count_reported_as_bad_adds_no_false_follow_on_hint() {
    let source = "process W[1025] { yield; }\nprocess B { send(W[5], 1); }";
    let errors = errors_of(source);
    let text = rendered(source);
    assert!(
        text.contains("instance count 1025 is out of range"),
        "{text}"
    );
    assert!(!text.contains("W has 1 instance"), "{text}");
    assert!(!text.contains("W[0] to W[0]"), "{text}");
    assert_eq!(errors.errors.len(), 1, "{text}");
    // Nor a range of MPI ranks counted with the stand-in count.
    let text =
        rendered("process W[N] { let x = 0; MPI_Send(x, 1, MPI_INT, 5, 0, MPI_COMM_WORLD); }");
    assert!(text.contains("`N` is not a constant"), "{text}");
    assert!(!text.contains("rank 5"), "{text}");
}

#[test]
fn an_ambiguous_process_in_an_expect_line_suggests_only_constant_indexes() {
    let text = rendered("process W[2] { yield; }\nexpect blocked_forever(W);");
    assert!(
        text.contains("W names 2 processes; write W[0] or W[1]"),
        "{text}"
    );
    assert!(!text.contains("W[i]"), "{text}");
    let text = rendered("process W[5] { yield; }\nexpect starvation(W);");
    assert!(text.contains("write one of W[0] to W[4]"), "{text}");
    // In a body a computed index is fine, and the hint says so.
    let text = rendered("process W[2] { }\nprocess B { send(W, 1); }");
    assert!(text.contains("write W[0] or W[i]"), "{text}");
}

#[test]
fn an_mpi_field_of_a_variable_that_is_no_status_says_what_makes_one() {
    let text = rendered("process P { let y = 0; y = st.MPI_SOURCE; }");
    assert!(text.contains("`st` has no fields"), "{text}");
    assert!(
        text.contains(
            "passing `&st` to an MPI receive, wait or probe earlier in the body makes it one"
        ),
        "{text}"
    );
    assert!(!text.contains("only `status` has fields"), "{text}");
    // Other fields of other names keep the builtin's hint.
    let text = rendered("process P { let y = x.source; }");
    assert!(text.contains("only `status` has fields"), "{text}");
}

#[test]
fn syntax_errors_end_with_a_help_line() {
    for (source, message, help) in [
        (
            "process P { let x = ; }",
            "expected an expression, found `;`",
            "an expression is a number, a name, a call, or arithmetic on them",
        ),
        (
            "process P { send(; }",
            "expected an expression, found `;`",
            "an expression is a number",
        ),
        (
            "process P yield; }",
            "expected `{`, found `yield`",
            "a body or block is written in braces: `process P { yield; }`",
        ),
        (
            "process P { let 5; }",
            "expected a variable name, found number `5`",
            "write `let x = 0;`",
        ),
        (
            "process P { }\n}",
            "expected a declaration, found `}`",
            "this `}` closes no `{`",
        ),
        (
            "const N 3;\nprocess P { }",
            "expected `=`, found number `3`",
            "write `name = value`",
        ),
        (
            "process P { x = (1 + 2; }",
            "expected `)`, found `;`",
            "every `(` needs its `)`",
        ),
        (
            "expect 5;\nprocess P { }",
            "expected a verdict, found number `5`",
            "the verdicts are: completes",
        ),
    ] {
        let text = rendered(source);
        assert!(text.contains(message), "{text}");
        assert!(text.contains(&format!("help: {help}")), "{text}");
    }
}

#[test]
fn a_misspelt_name_gets_a_did_you_mean_for_the_close_known_one() {
    let text = rendered("process A { sned(B, 1); }\nprocess B { }");
    assert!(
        text.contains("help: did you mean `send`? the calls are: send, recv"),
        "{text}"
    );
    let text = rendered("kernel { buffer_slot = 2; }\nprocess B { }");
    assert!(
        text.contains("help: did you mean `buffer_slots`? the kernel options are:"),
        "{text}"
    );
    let text = rendered("mailbox jobs(1);\nprocess Consumer { }\nprocess P { send(Consumr, 1); }");
    assert!(
        text.contains("did you mean `Consumer`? processes: Consumer, P; mailboxes: jobs"),
        "{text}"
    );
    let text = rendered("mailbox jobs(1);\nprocess P { send(jbos, 1); }");
    assert!(text.contains("did you mean `jobs`?"), "{text}");
    let text = rendered("process Worker { }\nexpect starvation(Worke);");
    assert!(text.contains("did you mean `Worker`?"), "{text}");
    let text = rendered("mutex m1;\nprocess P { lock(m2); }");
    assert!(text.contains("did you mean `m1`?"), "{text}");
    let text = rendered("process P { yeild; }");
    assert!(text.contains("did you mean `yield`?"), "{text}");
    let text = rendered("proces P { }");
    assert!(text.contains("did you mean `process`?"), "{text}");
    let text = rendered("process P { }\nexpect deadlok;");
    assert!(text.contains("did you mean `deadlock`?"), "{text}");
    // Nothing close: no guess.
    let text = rendered("process P { fork(); }");
    assert!(!text.contains("did you mean"), "{text}");
}

#[test]
fn a_process_naming_itself_in_send_or_recv_is_a_compile_error() {
    assert_error(
        "process B { send(B, 1); }\nprocess C { }",
        1,
        18,
        "a process cannot send to itself",
        "mailbox",
    );
    assert_error(
        "process B { recv(B, x); }\nprocess C { }",
        1,
        18,
        "a process cannot receive from itself",
        "recv(ANY, x)",
    );
    assert_error(
        "process B { send(B[0], 1); }\nprocess C { }",
        1,
        18,
        "a process cannot send to itself",
        "mailbox",
    );
    // An index out of range is that, not a self-send.
    assert_error(
        "process B { send(B[3], 1); }\nprocess C { }",
        1,
        20,
        "index 3 is out of range for `B`",
        "B has one instance",
    );
    // In a body of several instances, W[0] is another instance for W[1],
    // and a computed index is judged at run time.
    let source = "process W[2] { send(W[0], 1); send(W[1 - index], 1); recv(W[index], x); }";
    assert!(compile("test.ipc", source.as_bytes(), &[]).is_ok());
    // Naming another single-instance process is fine.
    let source = "process B { send(C, 1); }\nprocess C { recv(B, x); }";
    assert!(compile("test.ipc", source.as_bytes(), &[]).is_ok());
}

#[test]
fn the_list_of_processes_writes_instances_as_the_other_messages_do() {
    let text = rendered("process B[2] { }\nprocess P { send(Q, 1); }");
    assert!(
        text.contains("processes: B[0] to B[1], P; mailboxes: none"),
        "{text}"
    );
    assert!(!text.contains("B[0..2]"), "{text}");
}

#[test]
fn a_lone_carriage_return_ends_a_line_for_the_place_of_an_error() {
    let source = "process A {\r  yield;\r  x = 1 @ 2;\r}\r";
    let error = first_error(source);
    assert_eq!((error.line, error.column), (3, 9), "{error:?}");
    let text = errors_of(source).render(false);
    assert!(text.contains("test.ipc:3:9"), "{text}");
    assert!(text.contains("3 │   x = 1 @ 2;"), "{text}");
    assert!(!text.contains("\\r"), "{text}");
    // `\r\n` is one line break, not two.
    let error = first_error("process A {\r\n  x = 1 @ 2;\r\n}\r\n");
    assert_eq!((error.line, error.column), (2, 9), "{error:?}");
    // A `//` comment ends at a lone `\r`, not at the end of the file.
    let error = first_error("// note\rprocess A { x = 1 @ 2; }");
    assert_eq!((error.line, error.column), (2, 19), "{error:?}");
}

#[test]
fn an_mpi_constant_as_an_out_parameter_is_a_builtin_not_a_variable() {
    for (call, name) in [
        (
            "MPI_Comm_rank(MPI_COMM_WORLD, &MPI_ANY_SOURCE);",
            "MPI_ANY_SOURCE",
        ),
        ("MPI_Comm_size(MPI_COMM_WORLD, MPI_SUCCESS);", "MPI_SUCCESS"),
        (
            "MPI_Comm_size(MPI_COMM_WORLD, MPI_COMM_WORLD);",
            "MPI_COMM_WORLD",
        ),
        (
            "MPI_Comm_size(MPI_COMM_WORLD, &MPI_COMM_WORLD);",
            "MPI_COMM_WORLD",
        ),
        (
            "MPI_Comm_size(MPI_COMM_WORLD, MPI_STATUS_IGNORE);",
            "MPI_STATUS_IGNORE",
        ),
        ("let r = 0; MPI_Test(&r, MPI_SUCCESS, &st);", "MPI_SUCCESS"),
        ("let r = 0; MPI_Test(&r, &f, MPI_SUCCESS);", "MPI_SUCCESS"),
        ("let r = 0; MPI_Wait(&r, &MPI_ANY_TAG);", "MPI_ANY_TAG"),
        (
            "let r = 0; MPI_Wait(&r, MPI_STATUSES_IGNORE);",
            "MPI_STATUSES_IGNORE",
        ),
        (
            "let x = 0; MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, OK);",
            "OK",
        ),
        (
            "let rs[2]; MPI_Waitall(2, rs, MPI_STATUS_IGNORE);",
            "MPI_STATUS_IGNORE",
        ),
        (
            "let rs[2]; MPI_Waitany(2, rs, &MPI_UNDEFINED, &st);",
            "MPI_UNDEFINED",
        ),
        ("MPI_Comm_rank(MPI_COMM_WORLD, &EAGAIN);", "EAGAIN"),
    ] {
        let source = format!("process R[2] {{ {call} }}");
        let text = rendered(&source);
        assert!(
            text.contains(&format!("`{name}` is a builtin, not a variable")),
            "{source}\n{text}"
        );
    }
    let text = rendered("process R[2] { MPI_Comm_size(MPI_COMM_WORLD, MPI_STATUS_IGNORE); }");
    assert!(
        text.contains("MPI_STATUS_IGNORE stands only for a status"),
        "{text}"
    );
}

#[test]
fn the_ignore_constants_are_accepted_where_they_are_meant_for() {
    let source = "process R[2] {\n\
        let rank = 0; let n = 0; let x = 0; let r = 0; let f = 0; let rs[2];\n\
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
        MPI_Comm_size(MPI_COMM_WORLD, n);\n\
        MPI_Isend(x, 1, MPI_INT, 1 - rank, 0, MPI_COMM_WORLD, &rs[0]);\n\
        MPI_Irecv(x, 1, MPI_INT, MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, rs[1]);\n\
        MPI_Waitall(2, rs, MPI_STATUSES_IGNORE);\n\
        MPI_Isend(x, 1, MPI_INT, 1 - rank, 1, MPI_COMM_WORLD, &r);\n\
        MPI_Test(&r, &f, MPI_STATUS_IGNORE);\n\
        MPI_Wait(&r, MPI_STATUS_IGNORE);\n\
        MPI_Recv(x, 1, MPI_INT, MPI_ANY_SOURCE, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);\n\
        }";
    if let Err(errors) = compile("test.ipc", source.as_bytes(), &[]) {
        panic!("{}", errors.render(false));
    }
}

#[test]
fn a_misspelt_process_with_an_index_suggests_the_process() {
    for body in [
        "send(Workr[0], 1);",
        "recv(Workr[1 - index], x);",
        "let x = Wrker[0];",
    ] {
        let source = format!("process Worker[2] {{ {body} }}");
        let text = rendered(&source);
        assert!(text.contains("is not an array"), "{source}\n{text}");
        assert!(
            text.contains("help: did you mean `Worker`? "),
            "{source}\n{text}"
        );
    }
    // A close array is suggested as before.
    let text = rendered("process P { let bufs[2]; let x = bufz[0]; }");
    assert!(text.contains("help: did you mean `bufs`? "), "{text}");
}

#[test]
fn recv_from_a_misspelt_any_suggests_any() {
    for peer in ["any", "AN"] {
        let text = rendered(&format!(
            "process A {{ recv({peer}, x); }}\nprocess B {{ }}"
        ));
        assert!(
            text.contains(&format!("unknown process or mailbox `{peer}`")),
            "{text}"
        );
        assert!(text.contains("help: did you mean `ANY`? "), "{text}");
    }
    // A send cannot name ANY: no hint towards it.
    let text = rendered("process A { send(any, 1); }\nprocess B { }");
    assert!(!text.contains("`ANY`"), "{text}");
}

#[test]
fn a_misspelt_nonblocking_flag_suggests_nonblocking() {
    let text = rendered("process A { send(B, 1, nonblock); }\nprocess B { }");
    assert!(text.contains("unknown flag `nonblock`"), "{text}");
    assert!(
        text.contains("help: did you mean `nonblocking`? "),
        "{text}"
    );
    let text = rendered("process A { let x = 0; recv(B, x, nonblockng); }\nprocess B { }");
    assert!(text.contains("did you mean `nonblocking`? "), "{text}");
    let text = rendered("semaphore s(1);\nprocess A { P(s, nonblokcing); }");
    assert!(text.contains("did you mean `nonblocking`? "), "{text}");
    // The options of a call that takes the flag list it.
    let text = rendered("process A { send(B, 1, tmeout = 3); }\nprocess B { }");
    assert!(
        text.contains("the options of `send` are: tag, timeout, nonblocking"),
        "{text}"
    );
    let text = rendered("process A { send(B, 1, nonblocking = 1); }\nprocess B { }");
    assert!(
        text.contains("`nonblocking` is a flag, written alone"),
        "{text}"
    );
}

#[test]
fn a_space_after_an_ampersand_hints_at_the_out_parameter() {
    let text =
        rendered("process A { let x = 0; MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, & st); }");
    assert!(
        text.contains("help: write `&st` with no space after `&`"),
        "{text}"
    );
    let text = rendered("process A { let x = 1 & 2; }");
    assert!(text.contains("help: logical and is `&&`"), "{text}");
}

#[test]
fn a_status_named_by_a_call_with_an_error_is_a_status_all_the_same() {
    // One mistake, one error: the status read after the faulty call is
    // no second error whose hint says to do what the program did.
    for call in [
        "MPI_Recv(x, 1, MPI_FLOAT, 0, 0, MPI_COMM_WORLD, &st);",
        "MPI_Recv(x, 1, MPI_INT, 7, 0, MPI_COMM_WORLD, &st);",
        "MPI_Probe(0, 0, MPI_COMM_WRLD, &st);",
    ] {
        let source = format!("process R[2] {{\n  {call}\n  print st.MPI_SOURCE;\n}}");
        let errors = errors_of(&source);
        assert_eq!(errors.errors.len(), 1, "{call}: {errors:?}");
        assert_eq!(errors.errors[0].line, 2, "{call}: {errors:?}");
    }
}

#[test]
fn a_misspelt_mpi_status_field_suggests_the_closest() {
    for read in ["st.MPI_SOURC", "status.MPI_TGA"] {
        assert_error(
            &format!(
                "process R[2] {{\n  MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n  print {read};\n}}"
            ),
            3,
            read.find('.').unwrap() + 10,
            "has no field",
            "did you mean `MPI_",
        );
    }
}

#[test]
fn a_handle_first_mentioned_in_a_mailbox_call_is_an_error_naming_the_mailboxes() {
    // `replys` would be a fresh variable holding 0: the handle of
    // `requests`, so the run would complete on the wrong mailbox.
    let source = "mailbox requests(capacity = 2);\nmailbox replies(capacity = 2);\n\
        process A { send(requests, 1); recv(replies, y); }\n\
        process B { mbox_recv(replys, x); send(replies, x); }";
    assert_error(
        source,
        4,
        23,
        "is no handle",
        "the mailboxes are requests, replies",
    );
    assert_error(
        "process A { mbox_destroy(h); }",
        1,
        26,
        "first mentioned here",
        "mbox_open",
    );
    // A handle the program opened first is fine.
    assert!(compile(
        "t.ipc",
        b"process A { h = mbox_create(\"m\", 1); mbox_send(h, 1); mbox_recv(h, x); mbox_destroy(h); }",
        &[]
    )
    .is_ok());
    // So is a declared mailbox, as the hint says: its name is its handle.
    assert!(compile(
        "t.ipc",
        b"mailbox replies(capacity = 2);\n\
          process A { mbox_send(replies, 1); mbox_recv(replies, x); close(replies); }",
        &[]
    )
    .is_ok());
}

#[test]
fn mpi_init_and_finalize_take_only_the_arguments_c_gives_them() {
    assert_error(
        "process R[2] { MPI_Init(MPI_COMM_WORLD, 5, \"x\"); }",
        1,
        16,
        "wrong arguments for `MPI_Init`",
        "MPI_Init(&argc, &argv);` or `MPI_Init();",
    );
    assert_error(
        "process R[2] { MPI_Init(); MPI_Finalize(1); }",
        1,
        28,
        "wrong arguments for `MPI_Finalize`",
        "MPI_Finalize();",
    );
    for fine in ["MPI_Init(&argc, &argv);", "MPI_Init(0, 0);", "MPI_Init();"] {
        let source = format!("process R[2] {{ {fine} MPI_Finalize(); }}");
        assert!(
            ipclab_sim::lang::compile("t.ipc", source.as_bytes(), &[]).is_ok(),
            "{fine}"
        );
    }
}

#[test]
fn an_mpi_program_with_more_ranks_than_the_kernel_allows_is_refused_at_its_declaration() {
    assert_error(
        "process A { yield; }\nprocess Rank[64] { MPI_Comm_rank(MPI_COMM_WORLD, &r); }",
        2,
        9,
        "MPI_COMM_WORLD would have 65 ranks, more than the kernel's 64",
        "at most 64 processes in all",
    );
    // Without MPI calls the same count is fine.
    let source = "process A { yield; }\nprocess Rank[64] { yield; }";
    assert!(ipclab_sim::lang::compile("t.ipc", source.as_bytes(), &[]).is_ok());
}

#[test]
fn a_shared_array_named_without_an_index_is_an_error_as_a_local_array_is() {
    // `c = 7;` on `shared c[2];` would quietly store into c[0].
    assert_error(
        "shared c[2];\nprocess A { c = 7; }",
        2,
        13,
        "shared `c` is an array of 2 words",
        "use one element: c[k]",
    );
    assert_error(
        "shared c[2];\nprocess A { print c; }",
        2,
        19,
        "is an array of 2 words",
        "c[k]",
    );
    // A one-word shared variable is named without an index.
    assert!(compile("t.ipc", b"shared c;\nprocess A { c = 7; print c; }", &[]).is_ok());
}

#[test]
fn an_assignment_where_a_condition_compares_hints_at_double_equals() {
    assert_error(
        "process A { let x = 3; if x = 3 { yield; } }",
        1,
        29,
        "expected `{`, found `=`",
        "to compare, write `==`",
    );
    assert_error(
        "process A { let k = 0; while k = 2 { k = k + 1; } }",
        1,
        32,
        "found `=`",
        "write `==`",
    );
}

#[test]
fn an_expect_line_missing_its_process_is_shown_one_of_this_file() {
    assert_error(
        "process W[2] { yield; }\nexpect blocked_forever;",
        2,
        8,
        "`blocked_forever` names a process",
        "write `expect blocked_forever(W[0]);`",
    );
    assert_error(
        "process Solo { yield; }\nexpect starvation;",
        2,
        8,
        "names a process",
        "write `expect starvation(Solo);`",
    );
}
