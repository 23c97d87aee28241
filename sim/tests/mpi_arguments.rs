//! MPI arguments judged at run time: counts and sizes against their buffers, and the errors that name the argument at fault.

use ipclab_sim::lang::{compile, Program};
use ipclab_sim::runner::{run, RunOptions, RunResult};
use ipclab_sim::threads::{run_threaded, ThreadOptions};
use ipclab_sim::verdict::Verdict;

fn compile_ok(source: &str) -> Program {
    match compile("t.ipc", source.as_bytes(), &[]) {
        Ok(program) => program,
        Err(d) => panic!("does not compile:\n{}", d.render(false)),
    }
}

fn run_source(source: &str) -> RunResult {
    run(&compile_ok(source), RunOptions::default()).expect("boots")
}

/// The message and line of the `error` verdict of running `source`.
#[track_caller]
fn error_of(source: &str) -> (String, usize) {
    match run_source(source).verdict {
        Verdict::Error { message, line, .. } => (message, line),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// A two-rank scenario whose rank 1 runs `body` (rank 0 waits for nothing).
fn rank_1_runs(body: &str) -> String {
    format!(
        "process Rank[2] {{\n\
            let buf[4];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 1 {{\n\
                {body}\n\
            }}\n\
        }}"
    )
}

#[test]
fn a_count_whose_bytes_overflow_64_bits_is_refused_with_its_true_size() {
    // Wrapped, 2^62 × 8 bytes was 0 and 2^61 + 1 was 8: sends that "fit".
    for (count, bytes) in [
        ("4611686018427387904", "36893488147419103232"),
        ("2305843009213693953", "18446744073709551624"),
        ("9223372036854775807", "73786976294838206456"),
    ] {
        for call in [
            "MPI_Send(buf, n, MPI_INT, 0, 0, MPI_COMM_WORLD);",
            "MPI_Recv(buf, n, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);",
            "MPI_Isend(buf, n, MPI_INT, 0, 0, MPI_COMM_WORLD, &r);",
            "MPI_Irecv(buf, n, MPI_INT, 0, 0, MPI_COMM_WORLD, &r);",
        ] {
            let source = rank_1_runs(&format!("let n = {count};\n{call}"));
            let (message, line) = error_of(&source);
            assert_eq!(line, 6, "{call}: {message}");
            assert_eq!(
                message,
                format!("count {count} × 8 bytes (MPI_INT) is {bytes} bytes, but `buf` holds 32"),
                "{call}"
            );
        }
    }
}

#[test]
fn a_count_that_fits_exactly_is_sent_whole() {
    let source = "process Rank[2] {\n\
            let buf[4]; let got[4];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            let n = 32;\n\
            if rank == 0 {\n\
                buf[3] = 9;\n\
                MPI_Send(buf, n, MPI_BYTE, 1, 0, MPI_COMM_WORLD);\n\
            } else {\n\
                MPI_Recv(got, 4, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
                MPI_Get_count(&st, MPI_INT, &c);\n\
                print \"got\", c, got[3];\n\
            }\n\
        }";
    let result = run_source(source);
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
    assert!(
        result.output.iter().any(|l| l.contains("got 4 9")),
        "{:?}",
        result.output
    );
}

#[test]
fn a_negative_count_or_size_computed_at_run_time_is_an_error_saying_so() {
    for (call, expected) in [
        (
            "MPI_Send(buf, n, MPI_INT, 0, 0, MPI_COMM_WORLD);",
            "count -1 is negative",
        ),
        (
            "MPI_Recv(buf, n, MPI_BYTE, 0, 0, MPI_COMM_WORLD, &st);",
            "count -1 is negative",
        ),
        (
            "MPI_Waitall(n, buf, MPI_STATUSES_IGNORE);",
            "count -1 is negative",
        ),
        ("MPI_Buffer_attach(buf, n);", "size -1 is negative"),
    ] {
        let (message, line) = error_of(&rank_1_runs(&format!("let n = 0 - 1;\n{call}")));
        assert_eq!((message.as_str(), line), (expected, 6), "{call}");
    }
}

#[test]
fn a_waitall_count_past_its_array_counts_requests_not_bytes() {
    let (message, _) = error_of(&rank_1_runs(
        "let n = 5;\nMPI_Waitall(n, buf, MPI_STATUSES_IGNORE);",
    ));
    assert_eq!(message, "count 5 is more than `buf` holds (4 requests)");
}

#[test]
fn an_attached_buffer_from_an_element_runs_to_the_array_s_end() {
    // `&buf[0]` was one 8-byte element: attaching 32 bytes failed.
    let source = "process Rank[2] {\n\
            let buf[4]; let out[1];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                MPI_Buffer_attach(&buf[0], 32);\n\
                MPI_Buffer_detach(&p, &whole);\n\
                let k = 1;\n\
                MPI_Buffer_attach(&buf[k], 24);\n\
                buf[0] = 5;\n\
                out[0] = 7;\n\
                MPI_Bsend(out, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
                MPI_Buffer_detach(&p, &rest);\n\
                print \"detached\", whole, rest;\n\
            } else {\n\
                MPI_Recv(out, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
                print \"got\", out[0];\n\
            }\n\
        }";
    let result = run_source(source);
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
    for line in ["detached 32 24", "got 7"] {
        assert!(
            result.output.iter().any(|l| l.contains(line)),
            "{line}: {:?}",
            result.output
        );
    }
}

#[test]
fn an_attach_size_past_its_buffer_names_the_buffer_not_a_message() {
    // A computed size (a constant one is a compile error: lang_diagnostics).
    let (message, _) =
        error_of("process R {\n let pool[8]; let n = 65;\n MPI_Buffer_attach(pool, n);\n}");
    assert_eq!(
        message,
        "size 65 bytes is more than `pool` holds (64 bytes)"
    );
    let (message, _) =
        error_of("process R {\n let buf[4]; let k = 1;\n MPI_Buffer_attach(&buf[k], 32);\n}");
    assert_eq!(
        message,
        "size 32 bytes is more than `buf[1..]` holds (24 bytes)"
    );
}

#[test]
fn the_attached_part_of_an_array_is_the_kernel_s_and_the_rest_is_not() {
    let source = "process R {\n\
            let buf[4];\n\
            MPI_Buffer_attach(&buf[2], 16);\n\
            buf[1] = 1;\n\
            buf[2] = 1;\n\
        }";
    let (message, line) = error_of(source);
    assert_eq!(line, 5, "{message}");
    assert!(
        message.starts_with("buffer race: line 5 writes `buf[2]`"),
        "{message}"
    );
}

#[test]
fn a_computed_argument_the_kernel_refuses_is_named_with_the_reason() {
    // Each was only "MPI_... failed with EINVAL (invalid argument)".
    for (setup, call, reason) in [
        (
            "let d = 5;",
            "MPI_Send(buf, 4, MPI_INT, d, 0, MPI_COMM_WORLD);",
            "rank 5 is not in MPI_COMM_WORLD (2 ranks)",
        ),
        (
            "let d = MPI_ANY_SOURCE;",
            "MPI_Isend(buf, 4, MPI_INT, d, 0, MPI_COMM_WORLD, &r);",
            "rank -1 (MPI_ANY_SOURCE) is no destination: a send names one rank",
        ),
        (
            "let t = 0 - 5;",
            "MPI_Send(buf, 4, MPI_INT, 0, t, MPI_COMM_WORLD);",
            "tag -5 is negative",
        ),
        (
            "let c = 7;",
            "MPI_Ssend(buf, 4, MPI_INT, 0, 0, c);",
            "communicator 7 does not exist",
        ),
        (
            "let s = rank + 1; let t = 4294967296;",
            "MPI_Recv(buf, 4, MPI_INT, s, t, MPI_COMM_WORLD, &st);",
            "rank 2 is not in MPI_COMM_WORLD (2 ranks); tag 4294967296 is more than 4294967295",
        ),
        (
            "let s = 0 - 2;",
            "MPI_Probe(s, 0, MPI_COMM_WORLD, &st);",
            "rank -2 is negative",
        ),
        (
            "let c = 0;",
            "MPI_Comm_size(c, &size);",
            "communicator 0 does not exist",
        ),
        (
            "let reqs[20]; let n = 20;",
            "MPI_Waitall(n, reqs, MPI_STATUSES_IGNORE);",
            "count 20 is more than the 16 requests one call may wait for",
        ),
        (
            "let a[2]; let b[2]; MPI_Buffer_attach(a, 16);",
            "MPI_Buffer_attach(b, 16);",
            "a buffer is attached already (MPI_Buffer_detach it first)",
        ),
        ("", "MPI_Buffer_detach(&p, &n);", "no buffer is attached"),
    ] {
        let (message, line) = error_of(&rank_1_runs(&format!("{setup}\n{call}")));
        let name = &call[..call.find('(').unwrap()];
        assert_eq!(line, 6, "{call}: {message}");
        assert_eq!(
            message,
            format!(
                "{name} failed with EINVAL (invalid argument): {reason}, \
                 and the program does not check the result"
            ),
            "{call}"
        );
    }
}

#[test]
fn the_checker_s_error_names_the_refused_argument_too() {
    use ipclab_sim::check::{self, CheckOptions, Kind, Output};
    let source = rank_1_runs("let d = rank + 4;\nMPI_Send(buf, 4, MPI_INT, d, 0, MPI_COMM_WORLD);");
    let program = compile_ok(&source);
    let options = CheckOptions {
        output: Output::None,
        progress_bar: false,
        jobs: 1,
        ..CheckOptions::default()
    };
    let report = check::check(&program, &options).unwrap();
    let finding = report.finding(Kind::Error).expect("an error");
    match &finding.verdict {
        Verdict::Error { message, .. } => assert!(
            message.contains("rank 5 is not in MPI_COMM_WORLD (2 ranks)"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_threaded_runner_names_the_refused_argument_too() {
    let source = rank_1_runs("let d = rank + 4;\nMPI_Send(buf, 4, MPI_INT, d, 0, MPI_COMM_WORLD);");
    let options = ThreadOptions {
        cpus: 2,
        max_steps: 10_000,
        ..ThreadOptions::default()
    };
    let result = run_threaded(&compile_ok(&source), options).expect("boots");
    match result.verdict {
        Verdict::Error { message, .. } => assert!(
            message.contains("rank 5 is not in MPI_COMM_WORLD (2 ranks)"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
}
