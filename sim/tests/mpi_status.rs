//! The builtin `status` after MPI calls: `len`, `source` and `tag` describe the last message as they do after `recv`.

use ipclab_sim::lang::compile;
use ipclab_sim::runner::{run, RunOptions};
use ipclab_sim::verdict::Verdict;

/// The output of a run of `source` that must complete.
#[track_caller]
fn output_of_completed(source: &str) -> Vec<String> {
    let program = match compile("t.ipc", source.as_bytes(), &[]) {
        Ok(program) => program,
        Err(d) => panic!("does not compile:\n{}", d.render(false)),
    };
    let result = run(&program, RunOptions::default()).expect("boots");
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
    result.output
}

/// Rank 0 sends 16 bytes with tag 4; rank 1 runs `receive`, prints the
/// builtin status, and takes the message if `receive` only probed for it.
fn after(receive: &str) -> String {
    let source = format!(
        "process Rank[2] {{\n\
            let data[2]; let small[1];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {{\n\
                MPI_Send(data, 2, MPI_INT, 1, 4, MPI_COMM_WORLD);\n\
            }} else {{\n\
                {receive}\n\
                print \"len\", status.len, \"source\", status.source, \"tag\", status.tag;\n\
                MPI_Iprobe(0, 4, MPI_COMM_WORLD, &left, MPI_STATUS_IGNORE);\n\
                if left {{ MPI_Recv(data, 2, MPI_INT, 0, 4, MPI_COMM_WORLD, MPI_STATUS_IGNORE); }}\n\
            }}\n\
        }}"
    );
    let output = output_of_completed(&source);
    output
        .iter()
        .find(|l| l.contains("len "))
        .unwrap_or_else(|| panic!("{receive}: no status line in {output:?}"))
        .clone()
}

#[test]
fn after_an_mpi_receive_the_builtin_status_is_the_message_s() {
    // It read the MPI registers as a plain call's: len 1, source -1.
    for receive in [
        "MPI_Recv(data, 2, MPI_INT, 0, 4, MPI_COMM_WORLD, &st);",
        "MPI_Recv(data, 2, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &status);",
        "MPI_Irecv(data, 2, MPI_INT, 0, 4, MPI_COMM_WORLD, &r); MPI_Wait(&r, &st);",
        "MPI_Irecv(data, 2, MPI_INT, 0, 4, MPI_COMM_WORLD, &r); \
         let f = 0; while f == 0 { MPI_Test(&r, &f, &st); }",
        "let reqs[1]; MPI_Irecv(data, 2, MPI_INT, 0, 4, MPI_COMM_WORLD, &reqs[0]); \
         MPI_Waitany(1, reqs, &i, &st);",
        "MPI_Probe(0, 4, MPI_COMM_WORLD, &st);",
        "let f = 0; while f == 0 { MPI_Iprobe(0, 4, MPI_COMM_WORLD, &f, &st); }",
    ] {
        let line = after(receive);
        assert!(line.ends_with("len 16 source 0 tag 4"), "{receive}: {line}");
    }
}

#[test]
fn after_emsgsize_the_builtin_status_is_the_message_that_did_not_fit() {
    let line = after(
        "let e = MPI_Recv(small, 1, MPI_INT, 0, 4, MPI_COMM_WORLD, &st);\n\
         assert e == EMSGSIZE;",
    );
    assert!(line.ends_with("len 16 source 0 tag 4"), "{line}");
}

#[test]
fn after_an_mpi_call_that_receives_nothing_the_builtin_status_has_no_message() {
    for call in [
        "MPI_Comm_size(MPI_COMM_WORLD, &size);",
        "MPI_Send(data, 2, MPI_INT, 1, 4, MPI_COMM_WORLD);",
        "let pool[4]; MPI_Buffer_attach(pool, 32); MPI_Buffer_detach(&pool, &n);",
        "MPI_Iprobe(1, 9, MPI_COMM_WORLD, &f, &st);",
    ] {
        let source = format!(
            "process Rank[2] {{\n\
                let data[2];\n\
                MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
                if rank == 1 {{\n\
                    {call}\n\
                    print \"len\", status.len, \"source\", status.source, \"tag\", status.tag;\n\
                }}\n\
            }}"
        );
        let output = output_of_completed(&source);
        assert!(
            output.iter().any(|l| l.ends_with("len 0 source -1 tag 0")),
            "{call}: {output:?}"
        );
    }
}

#[test]
fn plain_calls_after_mpi_calls_read_the_plain_layout_again() {
    let output = output_of_completed(
        "process A {\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            send(B, 7, tag = 3);\n\
        }\n\
        process B {\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            recv(A, x);\n\
            print \"len\", status.len, \"source\", status.source, \"tag\", status.tag;\n\
        }",
    );
    assert!(
        output.iter().any(|l| l.ends_with("len 8 source 0 tag 3")),
        "{output:?}"
    );
}

#[test]
fn the_checker_keeps_the_status_layout_in_its_states() {
    use ipclab_sim::check::{self, CheckOptions, Output};
    // Every schedule receives before it reads: a state decoded without its
    // layout would read the MPI registers as a plain call's and fail.
    let source = "process Rank[2] {\n\
            let data[2];\n\
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
            if rank == 0 {\n\
                MPI_Send(data, 2, MPI_INT, 1, 4, MPI_COMM_WORLD);\n\
            } else {\n\
                MPI_Recv(data, 2, MPI_INT, MPI_ANY_SOURCE, 4, MPI_COMM_WORLD, &st);\n\
                yield;\n\
                MPI_Probe(0, 5, MPI_COMM_WORLD, MPI_STATUS_IGNORE);\n\
            }\n\
            if rank == 0 { MPI_Send(data, 1, MPI_INT, 1, 5, MPI_COMM_WORLD); }\n\
            if rank == 1 { assert status.len == 8 && status.source == 0 && status.tag == 5; }\n\
        }";
    let program = compile("t.ipc", source.as_bytes(), &[]).expect("compiles");
    let options = CheckOptions {
        output: Output::None,
        progress_bar: false,
        jobs: 1,
        ..CheckOptions::default()
    };
    let report = check::check(&program, &options).unwrap();
    assert_eq!(report.answer(), "safe", "{report}");
}
