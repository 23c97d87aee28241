//! MPI in the simulator: buffer races, error messages that name the MPI call, schedule-dependent wildcard matches.

use std::path::PathBuf;

use ipclab_sim::lang::{compile, Program};
use ipclab_sim::runner::{run, RunOptions, RunResult, Schedule};
use ipclab_sim::verdict::Verdict;

fn load(name: &str) -> (Program, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.ipc"));
    let source = std::fs::read_to_string(&path).expect("a readable scenario");
    let program = compile(&format!("{name}.ipc"), source.as_bytes(), &[]).expect("compiles");
    (program, source)
}

fn compile_ok(source: &str) -> Program {
    match compile("t.ipc", source.as_bytes(), &[]) {
        Ok(program) => program,
        Err(d) => panic!("does not compile:\n{}", d.render(false)),
    }
}

/// The 1-based line of the first line of `source` containing `needle`.
fn line_of(source: &str, needle: &str) -> usize {
    source
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?}"))
        + 1
}

/// The message and line of an `error` verdict.
fn error_of(result: &RunResult) -> (String, usize) {
    match &result.verdict {
        Verdict::Error { message, line, .. } => (message.clone(), *line),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn isend_then_work_then_wait_completes_and_the_message_moves_before_the_wait() {
    let (program, _) = load("mpi-isend-overlap");
    let result = run(&program, RunOptions::default()).unwrap();
    assert!(
        matches!(result.verdict, Verdict::Completes),
        "{:?}",
        result.verdict
    );
    let position = |needle: &str| {
        result
            .output
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {:?}", result.output))
    };
    // Rank 1 got the message before rank 0 finished its work and waited:
    // the transfer overlapped the computation.
    assert!(position("got 42") < position("computed while sending 42"));
    assert!(position("out is mine again: 43") > position("got 42"));
}

#[test]
fn writing_a_pending_send_buffer_is_a_race_naming_both_lines() {
    let (program, source) = load("mpi-isend-race");
    let result = run(&program, RunOptions::default()).unwrap();
    let (message, line) = error_of(&result);
    let isend = line_of(&source, "MPI_Isend(");
    let write = line_of(&source, "out[0] = 7;");
    assert_eq!(line, write);
    assert!(message.contains("buffer race"), "{message}");
    assert!(
        message.contains(&format!("line {write} writes `out[0]`")),
        "{message}"
    );
    assert!(
        message.contains(&format!("MPI_Isend at line {isend}")),
        "{message}"
    );
    // The receive has already completed; the buffer is still the kernel's
    // until MPI_Wait, under every schedule.
    for seed in 0..20 {
        let options = RunOptions {
            seed,
            schedule: Schedule::Random,
            ..RunOptions::default()
        };
        let result = run(&program, options).unwrap();
        assert_eq!(error_of(&result).1, write, "seed {seed}");
    }
}

const IRECV_READ: &str = "
kernel { eager_limit = 0; }
process Rank[2] {
    let buf[2];
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if rank == 0 {
        MPI_Irecv(buf, 2, MPI_INT, 1, 0, MPI_COMM_WORLD, &request);
        let early = buf[1];
        MPI_Wait(&request, &st);
    } else {
        MPI_Send(buf, 2, MPI_INT, 0, 0, MPI_COMM_WORLD);
    }
}
";

#[test]
fn reading_a_pending_receive_buffer_is_a_race_and_reading_it_after_the_wait_is_not() {
    let result = run(&compile_ok(IRECV_READ), RunOptions::default()).unwrap();
    let (message, line) = error_of(&result);
    assert_eq!(line, line_of(IRECV_READ, "let early"));
    assert!(
        message.contains("reads `buf[1]`")
            && message.contains(&format!(
                "MPI_Irecv at line {}",
                line_of(IRECV_READ, "MPI_Irecv(")
            )),
        "{message}"
    );
    let fixed = IRECV_READ.replace(
        "        let early = buf[1];\n        MPI_Wait(&request, &st);",
        "        MPI_Wait(&request, &st);\n        let late = buf[1];",
    );
    let result = run(&compile_ok(&fixed), RunOptions::default()).unwrap();
    assert!(
        matches!(result.verdict, Verdict::Completes),
        "{:?}",
        result.verdict
    );
}

#[test]
fn a_successful_test_gives_the_buffer_back_and_other_memory_is_never_guarded() {
    let source = "
process Rank[2] {
    let x = 0;
    let other = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if rank == 0 {
        MPI_Irecv(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &request);
        let flag = 0;
        while flag == 0 {
            other = other + 1;
            MPI_Test(&request, &flag, &st);
        }
        x = x + 1;
        print x;
    } else {
        x = 41;
        MPI_Send(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD);
    }
}
";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    assert!(
        matches!(result.verdict, Verdict::Completes),
        "{:?}",
        result.verdict
    );
    assert!(result.output.iter().any(|l| l.ends_with("42")));
}

#[test]
fn touching_the_attached_buffer_before_detach_is_a_race() {
    let source = "
process Rank[2] {
    let pool[4];
    let x = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if rank == 0 {
        MPI_Buffer_attach(pool, 32);
        MPI_Bsend(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);
        pool[0] = 1;
    } else {
        MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);
    }
}
";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let (message, line) = error_of(&result);
    assert_eq!(line, line_of(source, "pool[0] = 1"));
    assert!(
        message.contains(&format!(
            "MPI_Buffer_attach at line {}",
            line_of(source, "MPI_Buffer_attach(")
        )),
        "{message}"
    );
}

#[test]
fn a_failed_bsend_names_the_mpi_call_and_the_sizes() {
    let (program, source) = load("mpi-bsend-small");
    let result = run(&program, RunOptions::default()).unwrap();
    let (message, line) = error_of(&result);
    assert_eq!(line, line_of(&source, "MPI_Bsend("));
    assert!(
        message.starts_with("MPI_Bsend failed with ENOBUFS"),
        "{message}"
    );
    assert!(
        message.contains(
            "needs 128 bytes of attached buffer, 64 available (the attached buffer is only 64 bytes)"
        ),
        "{message}"
    );
}

#[test]
fn a_bsend_with_no_buffer_attached_says_to_attach_one() {
    let source = "
process Rank[2] {
    let x = 5;
    if index == 0 { MPI_Bsend(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD); }
    else { MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st); }
}
";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let (message, _) = error_of(&result);
    assert!(
        message.contains("needs 8 bytes of attached buffer, 0 available (no buffer is attached: MPI_Buffer_attach one first)"),
        "{message}"
    );
    // Attached, but every byte of it holds a message not yet received.
    let source = "kernel { eager_limit = 0; }
        process Rank[2] {
            let x = 5; let pool[2];
            if index == 0 {
                MPI_Buffer_attach(pool, 16);
                MPI_Bsend(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);
                MPI_Bsend(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);
                MPI_Bsend(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);
            } else { sleep 10; repeat 3 { MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st); } }
        }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let (message, line) = error_of(&result);
    assert_eq!(line, 8);
    assert!(
        message.contains("0 available (all 16 bytes attached hold messages not yet delivered)"),
        "{message}"
    );
}

#[test]
fn a_waitall_naming_one_request_twice_says_where() {
    let source = "
process Rank[2] {
    let x = 0;
    if index == 0 { MPI_Send(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD); }
    else {
        let reqs[3];
        MPI_Irecv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &reqs[0]);
        reqs[2] = reqs[0];
        MPI_Waitall(3, reqs, MPI_STATUSES_IGNORE);
    }
}
";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let (message, line) = error_of(&result);
    assert_eq!(line, line_of(source, "MPI_Waitall("));
    assert!(
        message.starts_with("MPI_Waitall failed with EINVAL (invalid argument): the handle at index 2 names a request an earlier handle of the array names too"),
        "{message}"
    );
}

#[test]
fn a_failed_wait_names_mpi_wait_not_its_syscall() {
    let source = "
process Rank[1] {
    let request = 12345;
    MPI_Wait(&request, &st);
}
";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let (message, _) = error_of(&result);
    assert!(
        message.starts_with("MPI_Wait failed with EBADRQC"),
        "{message}"
    );
}

/// The rank rank 0 printed as its first match under `seed`.
fn first_match(program: &Program, seed: u64) -> String {
    let options = RunOptions {
        seed,
        schedule: Schedule::Random,
        ..RunOptions::default()
    };
    let result = run(program, options).unwrap();
    assert!(
        matches!(result.verdict, Verdict::Completes),
        "{:?}",
        result.verdict
    );
    result
        .output
        .iter()
        .find_map(|l| l.split("first from rank ").nth(1))
        .unwrap_or_else(|| panic!("no first match in {:?}", result.output))
        .trim()
        .to_string()
}

#[test]
fn the_two_seeds_of_mpi_any_source_give_two_different_matches() {
    let (program, source) = load("mpi-any-source");
    // The header names the seeds and the senders they give.
    let header = source.lines().next().unwrap();
    assert!(header.contains("seeds 1 and 4"), "{header}");
    assert_eq!(first_match(&program, 1), "1");
    assert_eq!(first_match(&program, 4), "2");
}

#[test]
fn the_checker_proves_the_overlap_safe_and_finds_the_race_in_every_schedule() {
    use ipclab_sim::check::{self, CheckOptions, Kind, Output};
    let options = CheckOptions {
        output: Output::None,
        progress_bar: false,
        jobs: 1,
        ..CheckOptions::default()
    };
    let (overlap, _) = load("mpi-isend-overlap");
    let report = check::check(&overlap, &options).unwrap();
    assert!(report.is_proof_of_safety(), "{:?}", report.findings);
    let (race, _) = load("mpi-isend-race");
    // Without reduction too: the guards are part of the state the checker
    // encodes, restores and compares.
    for reduction in [true, false] {
        let options = CheckOptions {
            reduction,
            ..options.clone()
        };
        let report = check::check(&race, &options).unwrap();
        assert!(
            report.finding(Kind::Error).is_some(),
            "{:?}",
            report.findings
        );
    }
}

/// Rank 0 receives into the buffer its pending `MPI_Isend` still owns; with
/// `MODE = 1` it sends from its pending `MPI_Irecv`'s buffer instead.
const CALL_RACE: &str = "const MODE = 0;\n\
    kernel { eager_limit = 0; }\n\
    process Rank[2] {\n\
        let buf[1];\n\
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
        if rank == 0 {\n\
            if MODE == 0 { MPI_Isend(buf, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &req); }\n\
            else { MPI_Irecv(buf, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &req); }\n\
            if MODE == 0 { MPI_Recv(buf, 1, MPI_INT, 1, 1, MPI_COMM_WORLD, &st); }\n\
            else { MPI_Send(buf, 1, MPI_INT, 1, 1, MPI_COMM_WORLD); }\n\
            MPI_Wait(&req, &st);\n\
        } else {\n\
            MPI_Recv(buf, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
            MPI_Send(buf, 1, MPI_INT, 0, 1, MPI_COMM_WORLD);\n\
        }\n\
    }";

#[test]
fn handing_a_pending_request_s_buffer_to_another_call_is_a_race_naming_both_lines() {
    for (mode, call, request, verb) in [
        (0, "MPI_Recv", "MPI_Isend", "writes into"),
        (1, "MPI_Send", "MPI_Irecv", "reads"),
    ] {
        let program = compile("t.ipc", CALL_RACE.as_bytes(), &[("MODE".to_string(), mode)])
            .expect("compiles");
        let result = run(&program, RunOptions::default()).expect("boots");
        let (message, line) = error_of(&result);
        assert_eq!(
            line,
            line_of(CALL_RACE, &format!("{{ {call}(buf")),
            "{message}"
        );
        let request_line = line_of(CALL_RACE, &format!("{request}(buf"));
        assert!(
            message.contains(&format!(
                "line {line}'s {call} {verb} `buf` while the {request} at line {request_line}"
            )),
            "{message}"
        );
    }
}

#[test]
fn two_pending_sends_may_share_a_buffer() {
    // Reading a send buffer twice is allowed: only writes race with a send.
    let source = "process Rank[2] {\n\
        let buf[1];\n\
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
        if rank == 0 {\n\
            MPI_Isend(buf, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &a);\n\
            MPI_Isend(buf, 1, MPI_INT, 1, 1, MPI_COMM_WORLD, &b);\n\
            MPI_Wait(&a, &st); MPI_Wait(&b, &st);\n\
        } else {\n\
            MPI_Recv(buf, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
            MPI_Recv(buf, 1, MPI_INT, 0, 1, MPI_COMM_WORLD, &st);\n\
        }\n\
    }\nexpect completes;";
    let result = run(&compile_ok(source), RunOptions::default()).expect("boots");
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
}

#[test]
fn a_waitany_that_another_rank_could_complete_is_part_of_a_deadlock() {
    // Rank 1 exits at once; Rank 2 could complete Rank 0's MPI_Waitany, and
    // waits for Rank 0 itself: a cycle, not a wait on the dead Rank 1.
    let source = "kernel { eager_limit = 0; }\n\
        process Rank[3] {\n\
            let x = 0; let y = 0; let reqs[2];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                MPI_Irecv(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &r0);\n\
                MPI_Irecv(y, 1, MPI_INT, 2, 0, MPI_COMM_WORLD, &r1);\n\
                reqs[0] = r0; reqs[1] = r1;\n\
                MPI_Waitany(2, reqs, &idx, &st);\n\
                MPI_Send(x, 1, MPI_INT, 2, 5, MPI_COMM_WORLD);\n\
            } else { if rank == 2 {\n\
                MPI_Recv(y, 1, MPI_INT, 0, 5, MPI_COMM_WORLD, &st);\n\
                MPI_Send(y, 1, MPI_INT, 0, 0, MPI_COMM_WORLD);\n\
            } }\n\
        }\nexpect deadlock;";
    let result = run(&compile_ok(source), RunOptions::default()).expect("boots");
    let Verdict::Deadlock { cycle, .. } = &result.verdict else {
        panic!("expected a deadlock, got {:?}", result.verdict);
    };
    let names: Vec<&str> = cycle.iter().map(|s| s.process.as_str()).collect();
    assert_eq!(names, ["Rank[0]", "Rank[2]"]);
    assert!(
        cycle[0].why.contains("MPI_Irecv from Rank[2]"),
        "{}",
        cycle[0].why
    );
}

/// The lines printed by a run of `source` that must complete.
fn output_of_completed(source: &str) -> Vec<String> {
    let result = run(&compile_ok(source), RunOptions::default()).expect("boots");
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
    result.output
}

#[test]
fn get_count_of_a_length_that_is_not_a_whole_number_of_elements_is_mpi_undefined() {
    let output = output_of_completed(
        "process Rank[2] {\n\
            let data[2]; let inb[2];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                MPI_Send(data, 12, MPI_BYTE, 1, 0, MPI_COMM_WORLD);\n\
            } else {\n\
                MPI_Probe(0, 0, MPI_COMM_WORLD, &st);\n\
                MPI_Get_count(&st, MPI_INT, &n);\n\
                MPI_Get_count(&st, MPI_BYTE, &bytes);\n\
                print \"ints\", n, n == MPI_UNDEFINED, \"bytes\", bytes;\n\
                MPI_Recv(inb, bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD, &st);\n\
            }\n\
        }",
    );
    assert!(
        output.iter().any(|l| l.contains("ints -32766 1 bytes 12")),
        "{output:?}"
    );
}

#[test]
fn waitany_over_only_null_requests_gives_mpi_undefined() {
    let output = output_of_completed(
        "process Rank[1] {\n\
            let reqs[2];\n\
            reqs[0] = MPI_REQUEST_NULL; reqs[1] = MPI_REQUEST_NULL;\n\
            MPI_Waitany(2, reqs, &idx, &st);\n\
            print \"index\", idx == MPI_UNDEFINED;\n\
        }",
    );
    assert!(output.iter().any(|l| l.contains("index 1")), "{output:?}");
}

#[test]
fn array_elements_are_accepted_as_requests_and_out_parameters() {
    let output = output_of_completed(
        "process Rank[2] {\n\
            let reqs[2]; let a = 0; let b = 0; let out[4]; let flags[2];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &out[3]);\n\
            let rank = out[3];\n\
            if rank == 0 {\n\
                let i = 1;\n\
                MPI_Irecv(a, 1, MPI_INT, 1, 5, MPI_COMM_WORLD, &reqs[0]);\n\
                MPI_Irecv(b, 1, MPI_INT, 1, 6, MPI_COMM_WORLD, &reqs[i]);\n\
                MPI_Wait(&reqs[0], &st);\n\
                MPI_Get_count(&st, MPI_INT, &out[0]);\n\
                MPI_Test(&reqs[i], &flags[0], MPI_STATUS_IGNORE);\n\
                while flags[0] == 0 { MPI_Test(&reqs[i], &flags[0], MPI_STATUS_IGNORE); }\n\
                print \"got\", a, b, \"count\", out[0], \"nulled\", reqs[0] == MPI_REQUEST_NULL, reqs[1] == MPI_REQUEST_NULL;\n\
            } else {\n\
                let x = 41; let y = 42;\n\
                MPI_Send(x, 1, MPI_INT, 0, 5, MPI_COMM_WORLD);\n\
                MPI_Send(y, 1, MPI_INT, 0, 6, MPI_COMM_WORLD);\n\
            }\n\
        }",
    );
    assert!(
        output
            .iter()
            .any(|l| l.contains("got 41 42 count 1 nulled 1 1")),
        "{output:?}"
    );
}

#[test]
fn an_out_parameter_element_outside_its_array_is_a_runtime_error() {
    let source = "process Rank[1] {\n\
            let reqs[2]; let x = 0; let i = 2;\n\
            MPI_Irecv(x, 1, MPI_INT, 0, 5, MPI_COMM_WORLD, &reqs[i]);\n\
        }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let (message, line) = error_of(&result);
    assert_eq!(line, 3);
    assert!(
        message.contains("index 2 is out of range for an array of 2 words"),
        "{message}"
    );
}

#[test]
fn a_buffer_from_an_element_on_is_the_rest_of_the_array() {
    let output = output_of_completed(
        "process Rank[2] {\n\
            let buf[4]; let got[2];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                buf[2] = 7; buf[3] = 8;\n\
                MPI_Send(&buf[2], 2, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
            } else {\n\
                MPI_Recv(&buf[1], 2, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
                print \"got\", buf[0], buf[1], buf[2], buf[3];\n\
            }\n\
        }",
    );
    assert!(
        output.iter().any(|l| l.contains("got 0 7 8 0")),
        "{output:?}"
    );
}

#[test]
fn a_count_past_the_end_of_the_array_names_the_buffer_from_its_element() {
    let source = "process Rank[2] {\n\
            let buf[4]; let k = 2;\n\
            MPI_Send(&buf[k], 3, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
        }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let (message, _) = error_of(&result);
    assert!(
        message.contains("count 3 × 8 bytes (MPI_INT) is 24 bytes, but `buf[2..]` holds 16"),
        "{message}"
    );
}

/// Every event of a recorded run.
fn events(result: &RunResult) -> impl Iterator<Item = &ipclab_sim::trace::TraceEvent> {
    result.trace.steps.iter().flat_map(|s| &s.events)
}

#[test]
fn the_timeline_names_mpi_wait_as_written_and_counts_requests_in_words() {
    use ipclab_sim::trace::TraceEvent;
    let source = "process Rank[2] {\n\
            let x = 0; let reqs[1];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                MPI_Irecv(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &request);\n\
                MPI_Wait(&request, &st);\n\
                MPI_Irecv(x, 1, MPI_INT, 1, 1, MPI_COMM_WORLD, &reqs[0]);\n\
                MPI_Waitall(1, reqs, MPI_STATUSES_IGNORE);\n\
            } else {\n\
                MPI_Send(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD);\n\
                MPI_Send(x, 1, MPI_INT, 0, 1, MPI_COMM_WORLD);\n\
            }\n\
        }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
    let calls: Vec<(&str, usize)> = events(&result)
        .filter_map(|e| match e {
            TraceEvent::Syscall { call, line, .. } if call.starts_with("MPI_Wait") => {
                Some((call.as_str(), *line))
            }
            _ => None,
        })
        .collect();
    assert_eq!(calls, [("MPI_Wait", 6), ("MPI_Waitall(1 request)", 8)]);
}

#[test]
fn a_blocked_buffer_detach_names_the_buffered_message_not_mpi_ibsend() {
    use ipclab_sim::trace::TraceEvent;
    let source = "kernel { eager_limit = 0; }\n\
        process Rank[2] {\n\
            let x = 0; let pool[4];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                MPI_Buffer_attach(pool, 32);\n\
                MPI_Bsend(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
                MPI_Buffer_detach(&pool, &size);\n\
            } else {\n\
                sleep 5;\n\
                MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
            }\n\
        }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
    let reasons: Vec<&str> = events(&result)
        .filter_map(|e| match e {
            TraceEvent::Block { process, reason } if process == "Rank[0]" => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        ["MPI_Buffer_detach(buffered message to Rank[1], tag 0) [not yet received]"]
    );
}

#[test]
fn buffer_detach_gives_back_the_size_of_the_attached_buffer() {
    let source = "process Rank[1] {
            let pool[4];
            MPI_Buffer_attach(pool, 32);
            MPI_Buffer_detach(&pool, &size);
            print size;
        }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
    assert_eq!(result.output, ["Rank: 32"]);
}

#[test]
fn a_receive_into_too_small_a_buffer_names_the_message_s_size() {
    let source = "process Rank[2] {\n\
            let big[3]; let small = 0;\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                MPI_Send(big, 3, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
            } else {\n\
                MPI_Recv(small, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
            }\n\
        }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let (message, line) = error_of(&result);
    assert_eq!(line, 7);
    assert!(
        message.starts_with(
            "MPI_Recv failed with EMSGSIZE (message too long for the buffer): the message is 24 bytes"
        ),
        "{message}"
    );
    assert!(
        message
            .contains("the buffer (count × datatype size) 8 bytes: its first 8 bytes were copied"),
        "{message}"
    );
}

#[test]
fn an_isend_past_the_per_process_limit_says_the_request_table_is_full() {
    let source = "process Rank[2] {\n\
            let x = 0; let reqs[17];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                let i = 0;\n\
                while i < 17 {\n\
                    MPI_Isend(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &reqs[i]);\n\
                    i = i + 1;\n\
                }\n\
            }\n\
        }";
    let options = RunOptions {
        record: false,
        ..RunOptions::default()
    };
    let result = run(&compile_ok(source), options).unwrap();
    let (message, line) = error_of(&result);
    assert_eq!(line, 7);
    assert!(
        message.starts_with(
            "MPI_Isend failed with EMFILE (request table full): a process may have 16 requests pending"
        ),
        "{message}"
    );
}

#[test]
fn blocking_calls_still_work_with_sixteen_requests_pending() {
    // Sixteen pending receives is the limit, not one past it: the blocking
    // MPI_Recv, MPI_Send and MPI_Ssend after them hold no handle, so they
    // are not refused with EMFILE (a QA finding: they were).
    let source = "process Rank[2] {\n\
            let reqs[16]; let bufs[16]; let x = 0;\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            let i = 0;\n\
            while i < 16 {\n\
                MPI_Irecv(&bufs[i], 1, MPI_INT, 1 - rank, i + 1, MPI_COMM_WORLD, &reqs[i]);\n\
                i = i + 1;\n\
            }\n\
            if rank == 0 {\n\
                MPI_Send(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
                MPI_Ssend(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
            } else {\n\
                MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
                MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
            }\n\
            i = 0;\n\
            while i < 16 {\n\
                MPI_Send(i, 1, MPI_INT, 1 - rank, i + 1, MPI_COMM_WORLD);\n\
                i = i + 1;\n\
            }\n\
            MPI_Waitall(16, reqs, MPI_STATUSES_IGNORE);\n\
        }\n\
        expect completes;";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    assert!(
        matches!(result.verdict, Verdict::Completes),
        "{:?}",
        result.verdict
    );
}

#[test]
fn rank_0_s_comm_rank_shows_its_value_in_the_trace() {
    use ipclab_sim::trace::TraceEvent;
    let source = "process Rank[2] { MPI_Comm_rank(MPI_COMM_WORLD, &rank); }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let returns: Vec<(&str, &str)> = events(&result)
        .filter_map(|e| match e {
            TraceEvent::Return { process, result } => Some((process.as_str(), result.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(returns, [("Rank[0]", "ok 0"), ("Rank[1]", "ok 1")]);
}

#[test]
fn a_waitall_naming_one_request_twice_fails_with_einval_and_leaves_the_requests_alone() {
    // QA: this used to block forever, the message delivered, with a reason
    // naming no request ("from MPI_ANY_SOURCE").
    let source = "process Rank[2] {\n\
            let reqs[2];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                MPI_Isend(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &reqs[0]);\n\
                reqs[1] = reqs[0];\n\
                let e = MPI_Waitall(2, reqs, MPI_STATUSES_IGNORE);\n\
                print e == MPI_SUCCESS, reqs[0] == reqs[1], reqs[0] != MPI_REQUEST_NULL;\n\
                let i = MPI_Waitany(2, reqs, &idx, &st);\n\
                print i == MPI_SUCCESS;\n\
                reqs[1] = MPI_REQUEST_NULL;\n\
                MPI_Waitall(2, reqs, MPI_STATUSES_IGNORE);\n\
                print reqs[0];\n\
            } else {\n\
                MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
            }\n\
        }";
    assert_eq!(
        output_of_completed(source),
        ["Rank[0]: 0 1 1", "Rank[0]: 0", "Rank[0]: 0"]
    );
    // Unchecked, it is a program error naming the call.
    let source = "process Rank[2] {\n\
            let reqs[2];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                MPI_Isend(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &reqs[0]);\n\
                reqs[1] = reqs[0];\n\
                MPI_Waitall(2, reqs, MPI_STATUSES_IGNORE);\n\
            } else {\n\
                MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
            }\n\
        }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let (message, line) = error_of(&result);
    assert_eq!(line, 7);
    assert!(
        message.starts_with("MPI_Waitall failed with EINVAL"),
        "{message}"
    );
}

#[test]
fn a_message_too_long_for_the_first_posted_receive_truncates_there_not_in_the_second() {
    // MPI-3.1 §3.5: the second of two matching receives cannot take the
    // message while the first is pending; too small, the first completes
    // with the truncation error (EMSGSIZE) and the message is consumed.
    let source = "process Rank[2] {\n\
            let two[2]; let four[4]; let big[4];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                two[0] = 5; two[1] = 6; four[0] = 9;\n\
                MPI_Recv(go, 1, MPI_INT, 1, 9, MPI_COMM_WORLD, MPI_STATUS_IGNORE);\n\
                MPI_Send(two, 2, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
                MPI_Send(four, 4, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
            } else {\n\
                MPI_Irecv(small, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &r1);\n\
                MPI_Irecv(big, 4, MPI_INT, 0, 0, MPI_COMM_WORLD, &r2);\n\
                MPI_Send(go, 1, MPI_INT, 0, 9, MPI_COMM_WORLD);\n\
                let e1 = MPI_Wait(&r1, &st1);\n\
                MPI_Get_count(&st1, MPI_INT, &c1);\n\
                print \"first\", e1 == EMSGSIZE, c1, small;\n\
                let e2 = MPI_Wait(&r2, &st2);\n\
                MPI_Get_count(&st2, MPI_INT, &c2);\n\
                print \"second\", e2, c2, big[0];\n\
            }\n\
        }";
    assert_eq!(
        output_of_completed(source),
        ["Rank[1]: first 1 2 5", "Rank[1]: second 0 4 9"]
    );
    // A blocking MPI_Recv too small for the message takes it too: the next
    // receive gets the next message.
    let source = "process Rank[2] {\n\
            let two[2];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                two[0] = 1; MPI_Send(two, 2, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
                two[0] = 2; MPI_Send(two, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
            } else {\n\
                let e = MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
                print e == EMSGSIZE, x;\n\
                MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
                print x;\n\
            }\n\
        }";
    assert_eq!(output_of_completed(source), ["Rank[1]: 1 1", "Rank[1]: 2"]);
}

#[test]
fn a_truncated_message_is_traced_as_truncated_and_counted_delivered() {
    use ipclab_sim::trace::TraceEvent;
    let source = "process Rank[2] {\n\
            let three[3];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                MPI_Send(three, 3, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
            } else {\n\
                let e = MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
            }\n\
        }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
    let truncated: Vec<_> = events(&result)
        .filter_map(|e| match e {
            TraceEvent::Truncated {
                to, len, copied, ..
            } => Some((to.as_str(), *len, *copied)),
            _ => None,
        })
        .collect();
    assert_eq!(truncated, [("Rank[1]", 24, 8)]);
    assert_eq!(result.stats.delivered, 1);
    assert_eq!(result.stats.undeliverable, 0);
}

#[test]
fn a_null_request_gives_the_empty_status_mpi_any_source_mpi_any_tag_count_0() {
    // MPI-3.1 §3.7.3; the status was source 0, tag 0 (QA).
    let output = output_of_completed(
        "process Rank[2] {\n\
            let reqs[2];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 1 {\n\
                MPI_Send(x, 1, MPI_INT, 0, 7, MPI_COMM_WORLD);\n\
            } else {\n\
                MPI_Recv(y, 1, MPI_INT, 1, 7, MPI_COMM_WORLD, &st);\n\
                print \"recv\", st.MPI_SOURCE, st.MPI_TAG;\n\
                req = MPI_REQUEST_NULL;\n\
                MPI_Wait(&req, &st);\n\
                MPI_Get_count(&st, MPI_INT, &c);\n\
                print \"wait\", st.MPI_SOURCE == MPI_ANY_SOURCE, st.MPI_TAG == MPI_ANY_TAG, st.MPI_ERROR, c;\n\
                MPI_Test(&req, &flag, &st2);\n\
                print \"test\", flag, st2.MPI_SOURCE, st2.MPI_TAG, status.MPI_SOURCE;\n\
                reqs[0] = MPI_REQUEST_NULL; reqs[1] = MPI_REQUEST_NULL;\n\
                MPI_Waitany(2, reqs, &idx, &st3);\n\
                print \"waitany\", idx == MPI_UNDEFINED, st3.MPI_SOURCE, st3.MPI_TAG;\n\
            }\n\
        }",
    );
    assert_eq!(
        output,
        [
            "Rank[0]: recv 1 7",
            "Rank[0]: wait 1 1 0 0",
            "Rank[0]: test 1 -1 -1 -1",
            "Rank[0]: waitany 1 -1 -1"
        ]
    );
}

#[test]
fn a_cancelled_send_is_its_own_event_in_the_timeline_and_json_and_not_counted_undeliverable() {
    use ipclab_sim::render::{self, RunSetup, TimelineOptions};
    use ipclab_sim::trace::TraceEvent;
    // Rank 1's rendezvous send is pending when it exits: never accepted.
    let source = "kernel { policy = notify; eager_limit = 8; }\n\
        process Rank[2] {\n\
            let big[4];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 1 {\n\
                MPI_Isend(big, 4, MPI_INT, 0, 0, MPI_COMM_WORLD, &r);\n\
            } else {\n\
                compute 5;\n\
                let e = MPI_Recv(big, 4, MPI_INT, 1, 0, MPI_COMM_WORLD, &st);\n\
                print e == EDEADPEER;\n\
            }\n\
        }";
    let program = compile_ok(source);
    let options = RunOptions::default();
    let result = run(&program, options).unwrap();
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
    assert_eq!(result.output, ["Rank[0]: 1"]);
    let cancelled: Vec<_> = events(&result)
        .filter_map(|e| match e {
            TraceEvent::SendCancelled { from, dest, .. } => Some((from.as_str(), dest.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(cancelled, [("Rank[1]", "Rank[0]")]);
    assert!(!events(&result).any(|e| matches!(e, TraceEvent::Undeliverable { .. })));
    assert_eq!(result.stats.undeliverable, 0);
    let setup = RunSetup {
        options,
        replayed: false,
    };
    let json = render::json_lines(&program, &setup, &result);
    assert!(json.contains("\"type\":\"send_cancelled\""), "{json}");
    assert!(!json.contains("\"type\":\"undeliverable\""), "{json}");
    let text = render::timeline(&program, &setup, &result, &TimelineOptions::default());
    assert!(text.contains("send cancelled"), "{text}");
    assert!(!text.contains("undeliverable:"), "{text}");
}

#[test]
fn a_wait_handed_a_pending_receive_buffer_as_its_request_is_a_race() {
    // `h` belongs to the pending MPI_Irecv: a wait reads its handles there
    // and nulls them, so it races as a load and a store would.
    let source = "process Rank[2] { let h = 0; let x = 0;\n\
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
        if rank == 0 { MPI_Irecv(h, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &r); compute 3;\n\
        MPI_Wait(&h, &st);\n\
        MPI_Wait(&r, &st); }\n\
        else { MPI_Send(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD); } }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let (message, line) = error_of(&result);
    assert!(message.contains("buffer race"), "{message}");
    assert!(message.contains("MPI_Wait writes into `h`"), "{message}");
    assert_eq!(line, 4);
}

#[test]
fn a_refused_wait_or_test_leaves_its_index_and_flag_as_they_were() {
    // A stale handle is refused (EBADRQC): the call changes nothing, its
    // out-parameters included (index used to read 0, a live request).
    let source = "process Rank[2] { let idx = 9; let flag = 5; let reqs[2]; let x = 0;\n\
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
        if rank == 0 { reqs[0] = 12345; reqs[1] = 12345;\n\
        let r = MPI_Waitany(2, reqs, &idx, MPI_STATUS_IGNORE);\n\
        let t = MPI_Test(&reqs[0], &flag, MPI_STATUS_IGNORE);\n\
        print r, idx, t, flag; } }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let printed: Vec<String> = result.output.iter().map(|l| l.to_string()).collect();
    let ebadrqc = ipclab_syscalls::Errno::EBADRQC.number();
    assert_eq!(
        printed,
        [format!("Rank[0]: {ebadrqc} 9 {ebadrqc} 5")],
        "{:?}",
        result.verdict
    );
}

#[test]
fn an_out_parameter_written_without_its_ampersand_is_stored_into_all_the_same() {
    let program = compile_ok(
        "process R[2] { MPI_Comm_rank(MPI_COMM_WORLD, rank); MPI_Comm_size(MPI_COMM_WORLD, size);\n\
         assert rank == index; assert size == 2; }",
    );
    let result = run(&program, RunOptions::default()).expect("boots");
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
}

/// Rank 0 sends three computed values with pending `MPI_Isend`s from one
/// call in a loop (rendezvous: each value stays in rank 0's memory until
/// rank 1 receives it), and rank 1 checks each value it gets.
const VALUES_IN_A_LOOP: &str = "kernel { eager_limit = 0; }\n\
    process Rank[2] {\n\
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
        if rank == 0 {\n\
            let reqs[3];\n\
            k = 0;\n\
            repeat 3 { MPI_Isend(k * 10 + 1, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &reqs[k]); k = k + 1; }\n\
            MPI_Waitall(3, reqs, MPI_STATUSES_IGNORE);\n\
        } else {\n\
            j = 0;\n\
            repeat 3 {\n\
                MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
                assert x == j * 10 + 1;\n\
                j = j + 1;\n\
            }\n\
        }\n\
    }";

#[test]
fn pending_sends_of_values_from_one_call_in_a_loop_keep_their_own_values() {
    use ipclab_sim::check::{self, CheckOptions, Output};
    use ipclab_sim::threads::{run_threaded, ThreadOptions};
    let program = compile_ok(VALUES_IN_A_LOOP);
    // Not a buffer race (the program writes no buffer), and the second
    // pass does not overwrite the value the first request still owns.
    for schedule in [Schedule::RoundRobin, Schedule::Random] {
        for seed in 0..8 {
            let options = RunOptions {
                schedule,
                seed,
                ..RunOptions::default()
            };
            let result = run(&program, options).unwrap();
            assert!(
                matches!(result.verdict, Verdict::Completes),
                "{schedule:?} seed {seed}: {:?}",
                result.verdict
            );
        }
    }
    let options = CheckOptions {
        output: Output::None,
        progress_bar: false,
        jobs: 1,
        ..CheckOptions::default()
    };
    let report = check::check(&program, &options).unwrap();
    assert!(report.is_proof_of_safety(), "{:?}", report.findings);
    // The threaded runner keeps the values apart too.
    for _ in 0..4 {
        let result = run_threaded(&program, ThreadOptions::default()).expect("boots");
        assert!(
            matches!(result.verdict, Verdict::Completes),
            "{:?}",
            result.verdict
        );
    }
}

#[test]
fn a_seventeenth_pending_send_of_a_value_is_emfile_not_a_race() {
    let source = "process Rank[2] {\n\
            let reqs[17];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                let i = 0;\n\
                while i < 17 {\n\
                    MPI_Isend(i * 2, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &reqs[i]);\n\
                    i = i + 1;\n\
                }\n\
            }\n\
        }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let (message, line) = error_of(&result);
    assert_eq!(line, 7);
    assert!(message.contains("EMFILE"), "{message}");
}

/// `MPI_Ibsend` of `x`, then `then`, then `MPI_Waitany` on its request.
fn ibsend_then(then: &str) -> String {
    format!(
        "process Rank[2] {{\n\
            let reqs[1]; let x = 1; let pool[4];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {{\n\
                MPI_Buffer_attach(pool, 32);\n\
                MPI_Ibsend(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &reqs[0]);\n\
                {then}\n\
                MPI_Waitany(1, reqs, &idx, &st);\n\
                print \"index\", idx, \"null after\", reqs[0] == MPI_REQUEST_NULL;\n\
                MPI_Buffer_detach(&pool, &size);\n\
            }} else {{\n\
                MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
            }}\n\
        }}"
    )
}

#[test]
fn an_ibsend_gives_a_request_that_waitany_completes_and_nulls() {
    let output = output_of_completed(&ibsend_then(
        "print \"active\", reqs[0] != MPI_REQUEST_NULL;",
    ));
    assert!(
        output.iter().any(|l| l == "Rank[0]: active 1"),
        "{output:?}"
    );
    assert!(
        output.iter().any(|l| l == "Rank[0]: index 0 null after 1"),
        "{output:?}"
    );
}

#[test]
fn writing_an_ibsend_buffer_before_its_wait_is_a_race() {
    let source = ibsend_then("x = 2;");
    let result = run(&compile_ok(&source), RunOptions::default()).unwrap();
    let (message, line) = error_of(&result);
    assert!(
        message.contains("buffer race") && message.contains("MPI_Ibsend"),
        "{message}"
    );
    assert_eq!(line, line_of(&source, "x = 2;"));
}

#[test]
fn ibsends_of_values_in_a_loop_are_no_race() {
    let output = output_of_completed(
        "process Rank[2] {\n\
            let reqs[3]; let pool[12];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                MPI_Buffer_attach(pool, 96);\n\
                let k = 0;\n\
                while k < 3 { MPI_Ibsend(k * 10 + 1, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &reqs[k]); k = k + 1; }\n\
                MPI_Waitall(3, reqs, MPI_STATUSES_IGNORE);\n\
                MPI_Buffer_detach(&pool, &size);\n\
            } else {\n\
                repeat 3 { MPI_Recv(v, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st); print \"got\", v; }\n\
            }\n\
        }",
    );
    assert_eq!(
        output,
        ["Rank[1]: got 1", "Rank[1]: got 11", "Rank[1]: got 21"]
    );
}

#[test]
fn attaching_the_attached_buffer_again_is_attached_already_not_a_race() {
    let source = "process Rank[2] {\n\
        let pool[4];\n\
        MPI_Buffer_attach(pool, 32);\n\
        MPI_Buffer_attach(pool, 32);\n\
    }";
    let result = run(&compile_ok(source), RunOptions::default()).unwrap();
    let (message, line) = error_of(&result);
    assert_eq!(line, 4);
    assert!(
        message.contains("a buffer is attached already") && !message.contains("race"),
        "{message}"
    );
}
