//! Golden snapshots of the text timeline (and one JSON trace) of small inline scenarios.
//!
//! These pin output people read: review a changed `.snap` by eye before
//! accepting it (`INSTA_UPDATE=always cargo test -p ipclab-sim --test render_timeline`).

use ipclab_sim::lang;
use ipclab_sim::render::{self, RunSetup, TimelineOptions};
use ipclab_sim::runner::{self, RunOptions};

fn render(source: &str, options: RunOptions, timeline: TimelineOptions) -> String {
    let program = lang::compile("scenario.ipc", source.as_bytes(), &[])
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    let result = runner::run(&program, options).unwrap();
    render::timeline(
        &program,
        &RunSetup {
            options,
            replayed: false,
        },
        &result,
        &timeline,
    )
}

fn plain() -> TimelineOptions {
    TimelineOptions::default()
}

#[test]
fn direct_ping_pong_completes() {
    let text = render(
        "// Ping-pong with direct addressing
kernel { buffer_slots = 4; }
process Client { send(Server, 7); recv(Server, answer); print answer; }
process Server { recv(Client, request); send(Client, request + 1); }
expect completes;
",
        RunOptions::default(),
        plain(),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn full_mailboxes_deadlock_with_a_drawn_cycle() {
    let text = render(
        "// Both sides send first into mailboxes of capacity 1
kernel { buffer_slots = 8; }
mailbox prodMbox(capacity = 1);
mailbox consMbox(capacity = 1);
process Producer { loop { produce x; send(consMbox, x); send(consMbox, x); recv(prodMbox, c); } }
process Consumer { loop { send(prodMbox, 1); send(prodMbox, 1); recv(consMbox, x); consume x; } }
expect deadlock;
",
        RunOptions::default(),
        plain(),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn credits_through_mailboxes_elide_the_middle_of_a_long_run() {
    let text = render(
        "// Indirect addressing with credits
const N = 2;
kernel { buffer_slots = 8; }
mailbox prodMbox(capacity = 4);
mailbox consMbox(capacity = 4);
process Producer[2] { loop { produce item; recv(prodMbox, credit); send(consMbox, item); } }
process Consumer {
    repeat N { send(prodMbox, credit); }
    loop { recv(consMbox, item); send(prodMbox, credit); consume item; }
}
expect runs;
",
        RunOptions {
            max_steps: 60,
            ..RunOptions::default()
        },
        TimelineOptions {
            head: 14,
            tail: 4,
            ..plain()
        },
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_receiver_of_a_terminated_sender_is_blocked_forever() {
    let text = render(
        "// The sender exits before sending
kernel { policy = classic; }
process Sender { exit; }
process Receiver { recv(Sender, x); }
expect blocked_forever(Receiver);
",
        RunOptions::default(),
        plain(),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn five_processes_widen_the_table() {
    let text = render(
        "// Five workers report to one collector through a mailbox
mailbox results(capacity = 2);
process Worker[4] { send(results, index); }
process Collector { repeat 4 { recv(results, r); consume r; } }
expect completes;
",
        RunOptions::default(),
        plain(),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn json_trace_of_a_deadlock() {
    let source = "// Both receive first
process A { recv(B, x); send(B, x); }
process B { recv(A, x); send(A, x); }
expect deadlock;
";
    let program = lang::compile("deadlock.ipc", source.as_bytes(), &[]).unwrap();
    let options = RunOptions::default();
    let result = runner::run(&program, options).unwrap();
    insta::assert_snapshot!(render::json_lines(
        &program,
        &RunSetup {
            options,
            replayed: false,
        },
        &result
    ));
}

/// Every bundled scenario (`scenarios/*.ipc`), compiled, with its file name.
fn bundled_scenarios() -> Vec<(String, lang::Program)> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("the scenarios directory exists")
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "ipc"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let source = std::fs::read(path).expect("a readable scenario");
            let program = lang::compile(&name, &source, &[])
                .unwrap_or_else(|d| panic!("{name}: {}", d.render(false)));
            (name, program)
        })
        .collect()
}

/// The lines of `text` wider than `max` characters.
fn wider_than(text: &str, max: usize) -> Vec<&str> {
    text.lines().filter(|l| l.chars().count() > max).collect()
}

/// A row of the process table (or its heading or rule): what more than
/// four processes may widen past the terminal.
fn is_table_line(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let numbers = |w: Option<&str>| w.is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()));
    line.starts_with(" step")
        || line.starts_with('─')
        || (numbers(words.next()) && numbers(words.next()))
}

#[test]
fn every_bundled_scenario_fits_eighty_columns() {
    let mut wide = Vec::new();
    let scenarios = bundled_scenarios();
    assert!(scenarios.len() > 40, "{} scenarios", scenarios.len());
    for (name, program) in &scenarios {
        let options = RunOptions::default();
        let result = runner::run(program, options).unwrap();
        let text = render::timeline(
            program,
            &RunSetup {
                options,
                replayed: false,
            },
            &result,
            &plain(),
        );
        // The spec promises the table for up to four processes.
        let table_may_widen = result.trace.labels.len() > 4;
        for line in wider_than(&text, 80) {
            if !(table_may_widen && is_table_line(line)) {
                wide.push(format!("{name}: {line}"));
            }
        }
    }
    assert!(wide.is_empty(), "lines wider than 80:\n{}", wide.join("\n"));
}

#[test]
fn long_lines_wrap_to_the_width_under_a_hanging_indent() {
    let (_, program) = bundled_scenarios()
        .into_iter()
        .find(|(name, _)| name == "mpi-exchange-ssend.ipc")
        .expect("the scenario is bundled");
    let options = RunOptions::default();
    let result = runner::run(&program, options).unwrap();
    let timeline = TimelineOptions {
        width: 60,
        ..plain()
    };
    let text = render::timeline(
        &program,
        &RunSetup {
            options,
            replayed: false,
        },
        &result,
        &timeline,
    );
    assert_eq!(wider_than(&text, 60), Vec::<&str>::new(), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let blocks = lines
        .iter()
        .position(|l| l.trim_start().starts_with("-> blocks: MPI_Ssend"))
        .unwrap_or_else(|| panic!("{text}"));
    let indent = |line: &str| line.len() - line.trim_start().len();
    // The continuation starts deeper than the line it continues.
    assert!(indent(lines[blocks + 1]) > indent(lines[blocks]), "{text}");
    assert!(text.contains("no matching recv posted"), "{text}");
}

#[test]
fn a_six_digit_tick_widens_the_tick_column() {
    let text = render(
        "process A { sleep 1000000000; }\nexpect completes;\n",
        RunOptions::default(),
        plain(),
    );
    let heading = text.lines().find(|l| l.starts_with(" step")).unwrap();
    let row = text
        .lines()
        .find(|l| l.contains(" 100000 "))
        .unwrap_or_else(|| panic!("{text}"));
    // The tick column ends where its heading does; the cell starts under the name.
    assert_eq!(row.find(" BLK"), heading.find(" A"), "{text}");
    assert!(row.starts_with("    1 100000 BLK"), "{text}");
}

#[test]
fn control_characters_in_print_text_are_written_out() {
    let text = render(
        "process A { print \"red \x1b[31mX\\tY\\nZ\x07\"; }\nexpect completes;\n",
        RunOptions::default(),
        plain(),
    );
    assert!(
        text.contains("A prints: red \\e[31mX\\tY\\nZ\\x07\n"),
        "{text}"
    );
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
}

#[test]
fn control_characters_in_a_mailbox_name_are_written_out_in_the_state_cells() {
    // A quote, a newline (`\n` in the literal), braces, a backslash; then
    // raw ESC and BEL bytes in the literal.
    for (literal, written) in [
        ("a\\\"b\\n{}\\\\", "a\"b\\n{}\\"),
        ("\x1b[31mZ\x07", "\\e[31mZ\\x07"),
    ] {
        let text = render(
            &format!(
                "process A {{ let h = mbox_create(\"{literal}\", capacity = 0); mbox_send(h, 1); }}\n\
                 process B {{ recv(A, x); }}\n"
            ),
            RunOptions::default(),
            plain(),
        );
        let cell = format!("    1     2 BLK send({written})");
        let row = text
            .lines()
            .find(|l| l.starts_with(&cell))
            .unwrap_or_else(|| panic!("no row `{cell}`:\n{text}"));
        // The next cell starts under its heading: the column was cut after
        // the escape, not before.
        let heading = text.lines().find(|l| l.starts_with(" step")).unwrap();
        assert_eq!(row.find(" READY"), heading.find(" B"), "{text}");
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
        // One line per row: no raw newline split a cell.
        assert!(!text.lines().any(|l| l.starts_with("{}")), "{text}");
    }
}

#[test]
fn the_footer_counts_one_of_a_thing_in_the_singular() {
    let text = render(
        "process B { recv(A, x); }\nprocess A { send(B, 1); }\nexpect completes;\n",
        RunOptions {
            max_steps: 1,
            ..RunOptions::default()
        },
        plain(),
    );
    assert!(text.contains("\n1 step, 1 tick · 1 call · "), "{text}");
    let text = render(
        "process B { recv(A, x); }\nprocess A { send(B, 1); }\nexpect completes;\n",
        RunOptions::default(),
        plain(),
    );
    assert!(
        text.contains(" · 1 message delivered · 1 copy, 8 B\n"),
        "{text}"
    );
}

#[test]
fn a_queue_shows_the_capacity_the_kernel_gives_it() {
    // A mailbox made at run time: its capacity is known when it fills.
    let text = render(
        "process A { let h = mbox_create(\"x\", capacity = 2); mbox_send(h, 1); }\n\
         process B { sleep 20; }",
        RunOptions::default(),
        plain(),
    );
    assert!(text.contains("A -> x  msg 1 (8 B) queued 1/2\n"), "{text}");
    // A receiver quota above the buffer slots is capped by them.
    let text = render(
        "kernel { buffer_slots = 2; receiver_quota = 100; }\n\
         process A { send(B, 1); }\nprocess B { sleep 20; recv(A, x); }",
        RunOptions::default(),
        plain(),
    );
    assert!(text.contains("A -> B  msg 1 (8 B) queued 1/2\n"), "{text}");
}

#[test]
fn a_yield_returns_ok_on_the_timeline_and_in_json() {
    // `yield` is a call that succeeds at once: its line ends in `-> ok`
    // like any other, and the JSON trace has its `return` before the
    // switch away from the caller.
    let source = "process A { yield; }\nprocess B { yield; }\n";
    let text = render(source, RunOptions::default(), plain());
    assert!(text.contains("A  yield -> ok"), "{text}");
    let program = lang::compile("y.ipc", source.as_bytes(), &[]).unwrap();
    let options = RunOptions::default();
    let result = runner::run(&program, options).unwrap();
    let json = render::json_lines(
        &program,
        &RunSetup {
            options,
            replayed: false,
        },
        &result,
    );
    let kinds: Vec<&str> = json
        .lines()
        .filter(|l| !l.contains("\"type\":\"step\""))
        .filter(|l| l.contains("\"process\":\"A\"") || l.contains("\"from\":\"A\""))
        .filter_map(|l| l.split("\"type\":\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(kinds[..3], ["syscall", "return", "switch"], "{json}");
}

#[test]
fn long_instance_labels_keep_their_index_in_the_column_heads() {
    let source = "process ProducerProcess[2] { yield; }\nprocess ConsumerProcess[2] { yield; }\n";
    let text = render(source, RunOptions::default(), plain());
    let head = text
        .lines()
        .find(|l| l.contains("step  tick"))
        .expect("a heading");
    for label in [
        "ProducerProc…[0]",
        "ProducerProc…[1]",
        "ConsumerProc…[0]",
        "ConsumerProc…[1]",
    ] {
        assert!(head.contains(label), "{head}");
    }
}

#[test]
fn message_numbers_count_without_gaps_when_blocked_sends_move_into_slots() {
    // Each of A's second and third sends blocks on B's quota of 1 and moves
    // into the slot later: the trace still numbers the messages 1, 2, 3.
    let source = "kernel { receiver_quota = 1; }\n\
                  process A { send(B, 1); send(B, 2); send(B, 3); }\n\
                  process B { sleep 5; recv(A, x); recv(A, x); recv(A, x); }\n";
    let text = render(source, RunOptions::default(), plain());
    let mut numbers: Vec<u64> = text
        .split("msg ")
        .skip(1)
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect();
    numbers.dedup();
    assert_eq!(numbers, [1, 2, 3], "{text}");
}

#[test]
fn the_totals_count_undeliverable_messages() {
    // B takes one message and exits: A's second is reported undeliverable,
    // in its event line and in the totals.
    let source = "process A { send(B, 1); send(B, 2); }\nprocess B { recv(A, x); }\n";
    let text = render(source, RunOptions::default(), plain());
    assert!(
        text.contains("undeliverable: receiver terminated"),
        "{text}"
    );
    assert!(
        text.contains("1 message delivered · 1 undeliverable"),
        "{text}"
    );
}

#[test]
fn mpi_waits_tests_and_probes_show_their_results_in_mpi_words() {
    let source = "process Rank[2] {\n\
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
        if rank == 0 {\n\
            let reqs[2];\n\
            MPI_Irecv(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &req);\n\
            MPI_Test(&req, &flag, &st);\n\
            MPI_Iprobe(1, 5, MPI_COMM_WORLD, &f2, &st);\n\
            MPI_Wait(&req, &st);\n\
            reqs[0] = MPI_REQUEST_NULL; reqs[1] = MPI_REQUEST_NULL;\n\
            MPI_Waitany(2, reqs, &idx, &st);\n\
        } else { MPI_Send(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD); }\n\
    }\n";
    let text = render(source, RunOptions::default(), plain());
    for line in [
        "MPI_Test -> ok, flag 0",
        "MPI_Iprobe(Rank[1], tag 5) -> ok, flag 0",
        "MPI_Wait -> ok\n",
        "MPI_Waitany(2 requests) -> ok, index MPI_UNDEFINED",
        "cap 8) -> ok, request ",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
}

#[test]
fn a_clock_jump_to_a_timer_says_that_no_process_can_run_before_the_timer() {
    // Both block (one with a timeout of 5, one asleep): the clock jumps
    // from tick 2 to the timeout, and the row says why before what fired.
    let source = "process R { recv(S, x, timeout = 5); }\n\
        process S { sleep 20; }\n";
    let text = render(source, RunOptions::default(), plain());
    let note = text
        .find("(no process can run: the clock advances to tick 5)")
        .unwrap_or_else(|| panic!("no note in\n{text}"));
    let timer = text.find("timer: R timeout").expect("the timeout fires");
    assert!(note < timer, "{text}");
}

#[test]
fn a_probe_that_finds_a_message_names_its_sender_tag_and_length() {
    // Rank 1 probes before rank 0 sends (it blocks, then wakes), then
    // probes again without blocking, then receives what it found.
    let source = "process Rank[2] {\n\
        let buf[5];\n\
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
        if rank == 0 { compute 3; MPI_Send(buf, 5, MPI_INT, 1, 7, MPI_COMM_WORLD); }\n\
        else {\n\
            MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);\n\
            MPI_Iprobe(0, 7, MPI_COMM_WORLD, &flag, &st);\n\
            MPI_Recv(buf, 5, MPI_INT, 0, 7, MPI_COMM_WORLD, &st);\n\
        }\n\
    }\n";
    let text = render(source, RunOptions::default(), plain());
    for line in [
        "Rank[1] wakes up -> ok, rank 0, tag 7, 40 B",
        "-> ok, flag 1: rank 0, tag 7, 40 B",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
}

#[test]
fn mpi_receives_and_detaches_show_their_sizes_and_an_undecodable_call_its_source() {
    let source = "process R0 {\n\
        let a[3]; let pool[8]; let sz = 0;\n\
        MPI_Send(a, 3, MPI_INT, 1, 4, MPI_COMM_WORLD);\n\
        MPI_Buffer_attach(pool, 16); MPI_Buffer_detach(&pool, &sz);\n\
    }\n\
    process R1 {\n\
        let b[3];\n\
        MPI_Recv(b, 3, MPI_INT, 0, 4, MPI_COMM_WORLD, &st);\n\
        let r = -5;\n\
        MPI_Recv(b, 1, MPI_INT, r, 0, MPI_COMM_WORLD, &st);\n\
    }\n";
    let text = render(source, RunOptions::default(), plain());
    for line in [
        "cap 24) -> ok 24",
        "MPI_Buffer_detach -> ok, 16 B detached",
        "R1  MPI_Recv(b, 1, MPI_INT, r, 0, MPI_COMM_WORLD, &st)",
        "-> EINVAL (its registers do not decode)",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
}

#[test]
fn a_failed_assertion_is_named_so_on_the_timeline_and_in_json() {
    let source = "process A { let x = 1; assert x == 2; }\n";
    let text = render(source, RunOptions::default(), plain());
    assert!(
        text.contains("assertion failed in A at line 1, column 24: x == 2"),
        "{text}"
    );
    assert!(!text.contains("error in A"), "{text}");
    let program = lang::compile("a.ipc", source.as_bytes(), &[]).unwrap();
    let options = RunOptions::default();
    let result = runner::run(&program, options).unwrap();
    let json = render::json_lines(
        &program,
        &RunSetup {
            options,
            replayed: false,
        },
        &result,
    );
    assert!(
        json.contains(r#""message":"assertion failed: x == 2""#),
        "{json}"
    );
}

#[test]
fn a_call_with_a_timeout_shows_it_on_its_line() {
    let source = "process A { recv(B, x, timeout = 3); }\nprocess B { recv(A, y, nonblocking); }\n";
    let text = render(source, RunOptions::default(), plain());
    assert!(text.contains("recv(B, cap 8, timeout 3)"), "{text}");
    assert!(text.contains("recv(A, cap 8, nonblocking)"), "{text}");
}

#[test]
fn the_totals_line_breaks_between_its_fields_not_inside_one() {
    // 80 columns: the totals with undeliverable messages need two lines.
    let text = render(
        "kernel { buffer_slots = 2; }\n\
         process A { send(B, 1); send(B, 2); exit; }\nprocess B { sleep 5; }",
        RunOptions::default(),
        plain(),
    );
    let totals = text
        .lines()
        .skip_while(|l| !l.contains(" steps, "))
        .take(2)
        .collect::<Vec<_>>();
    assert!(totals[0].ends_with(" ·"), "{totals:?}");
    assert_eq!(totals[1], "  2 copies, 16 B", "{totals:?}");
}

#[test]
fn a_timer_that_fires_at_a_calls_tick_is_not_drawn_as_the_calls_doing() {
    let text = render(
        "process A { sleep 2; }\nprocess B { send(C, 1); send(C, 2); }\n\
         process C { compute 5; recv(B, x); recv(B, x); }",
        RunOptions::default(),
        TimelineOptions {
            full: true,
            ..plain()
        },
    );
    let indent_of = |needle: &str| {
        let line = text
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in\n{text}"));
        line.len() - line.trim_start().len()
    };
    // The copy is the send's doing, one level in; the timer is the tick's.
    assert!(
        indent_of("copy B -> kernel") > indent_of("timer: A sleep done"),
        "{text}"
    );
    assert_eq!(
        indent_of("timer: A sleep done"),
        indent_of("A wakes up"),
        "{text}"
    );
}
