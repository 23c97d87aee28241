//! CLI tests of `ipclab run`: exit codes, --quiet, --json, -D overrides, colour rules, unreadable input.

use std::path::PathBuf;
use std::process::{Command, Output};

const COMPLETES: &str = "\
// Ping-pong: completes
process A { send(B, 1); recv(B, x); }
process B { recv(A, x); send(A, x); }
expect completes;
";

const DEADLOCK: &str = "\
// Both receive first
process A { recv(B, x); send(B, x); }
process B { recv(A, x); send(A, x); }
expect deadlock;
";

const COUNTED: &str = "\
// N items
const N = 1;
process A { repeat N { produce x; } }
expect completes;
";

/// Writes `source` to a file in the test's scratch directory.
fn scenario(name: &str, source: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_run");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, source).unwrap();
    path
}

fn ipclab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipclab"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn a_verdict_that_matches_expect_exits_0() {
    let path = scenario("completes.ipc", COMPLETES.as_bytes());
    let out = ipclab(&["run", path.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("completes: every process exited"), "{text}");
    assert!(text.contains("expected completes: matches"), "{text}");
}

#[test]
fn a_verdict_that_does_not_match_expect_exits_1() {
    let source = DEADLOCK.replace("expect deadlock", "expect completes");
    let path = scenario("mismatch.ipc", source.as_bytes());
    let out = ipclab(&["run", path.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("expected completes: got deadlock, does not match"));
}

#[test]
fn a_mismatch_on_a_named_process_names_the_processes_it_got() {
    let source = "mutex m;\nprocess A { compute 1; lock(m); }\nprocess B { lock(m); }\n\
                  expect blocked_forever(A);\n";
    let path = scenario("named-mismatch.ipc", source.as_bytes());
    let out = ipclab(&["run", path.to_str().unwrap(), "-q"]);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out)
            .contains("expected blocked_forever(A): got blocked_forever(B), does not match"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn no_expect_line_exits_0() {
    let source = DEADLOCK.replace("expect deadlock;", "");
    let path = scenario("noexpect.ipc", source.as_bytes());
    let out = ipclab(&["run", path.to_str().unwrap(), "--quiet"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("no expect line"));
}

#[test]
fn a_compile_error_exits_2_with_a_diagnostic() {
    let path = scenario("broken.ipc", b"process A { sendd(B, 1); }\n");
    let out = ipclab(&["run", path.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("broken.ipc:1:"), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn binary_and_non_utf8_files_exit_2_without_a_panic() {
    let binary = scenario("binary.ipc", &[0x7f, b'E', b'L', b'F', 0, 1, 2, 0xff]);
    let out = ipclab(&["run", binary.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("binary file"), "{}", stderr(&out));

    let latin1 = scenario("latin1.ipc", b"// caf\xe9\nprocess A { }\n");
    let out = ipclab(&["run", latin1.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("not UTF-8") && err.contains("line 1"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(code(&ipclab(&["run"])), 2);
    assert_eq!(code(&ipclab(&["frobnicate"])), 2);
    let path = scenario("usage.ipc", COMPLETES.as_bytes());
    let path = path.to_str().unwrap();
    assert_eq!(code(&ipclab(&["run", path, "--schedule", "fifo"])), 2);
    assert_eq!(code(&ipclab(&["run", path, "-D", "N"])), 2);
    assert_eq!(code(&ipclab(&["run", path, "-D", "N=many"])), 2);
    assert_eq!(code(&ipclab(&["run", path, "--quiet", "--json"])), 2);
}

#[test]
fn unknown_scenario_names_exit_2_and_suggest_close_names() {
    let out = ipclab(&["run", "no-such-scenario-anywhere"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("ipclab list"), "{}", stderr(&out));

    // A bundled name with its last letter dropped is suggested back.
    let list = stdout(&ipclab(&["list"]));
    if let Some(name) = list
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().next())
    {
        let typo = &name[..name.len() - 1];
        if !list
            .lines()
            .any(|l| l.split_whitespace().next() == Some(typo))
        {
            let out = ipclab(&["run", typo]);
            assert_eq!(code(&out), 2);
            let err = stderr(&out);
            assert!(err.contains("did you mean") && err.contains(name), "{err}");
        }
    }
}

#[test]
fn quiet_prints_only_the_verdict() {
    let path = scenario("quiet.ipc", DEADLOCK.as_bytes());
    let out = ipclab(&["run", path.to_str().unwrap(), "--quiet"]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(text.starts_with("deadlock:"), "{text}");
    assert!(!text.contains("step"), "{text}");
    assert!(text
        .lines()
        .last()
        .unwrap()
        .contains("expected deadlock: matches"));
}

#[test]
fn json_prints_one_object_per_line_ending_with_the_verdict() {
    let path = scenario("json.ipc", DEADLOCK.as_bytes());
    let out = ipclab(&["run", path.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.first().unwrap()["type"], "run");
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "verdict");
    assert_eq!(last["verdict"], "deadlock");
    assert_eq!(last["matches"], true);
    for line in &lines[1..lines.len() - 1] {
        assert!(line["step"].is_u64() && line["tick"].is_u64(), "{line}");
        assert!(line["type"].is_string(), "{line}");
    }
    assert!(lines.iter().any(|l| l["type"] == "block"));
}

#[test]
fn defines_override_constants() {
    let path = scenario("counted.ipc", COUNTED.as_bytes());
    let produced = |args: &[&str]| {
        let mut all = vec!["run", path.to_str().unwrap(), "--json"];
        all.extend_from_slice(args);
        let out = ipclab(&all);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        stdout(&out)
            .lines()
            .filter(|l| l.contains(r#""type":"produce""#))
            .count()
    };
    assert_eq!(produced(&[]), 1);
    assert_eq!(produced(&["-D", "N=3"]), 3);
    let out = ipclab(&["run", path.to_str().unwrap(), "-D", "NOPE=3"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn a_constant_given_twice_with_d_is_a_usage_error_in_every_command() {
    let path = scenario("counted-twice.ipc", COUNTED.as_bytes());
    let path = path.to_str().unwrap();
    for command in [
        &["run", path][..],
        &["check", path, "--no-save"],
        &["replay", path, "--schedule", "0"],
        &["show", path, "--bytecode"],
    ] {
        let mut args = command.to_vec();
        args.extend(["-D", "N=3", "-D", "M=1", "-D", "N=7"]);
        let out = ipclab(&args);
        assert_eq!(code(&out), 2, "{command:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            "error: -D N given twice (3 and 7): give each constant once\n",
            "{command:?}"
        );
        assert!(stdout(&out).is_empty(), "{command:?}: {}", stdout(&out));
    }
}

#[test]
fn steps_limits_the_run() {
    let path = scenario(
        "forever.ipc",
        b"// forever\nprocess A { loop { produce x; } }\nexpect runs;\n",
    );
    let out = ipclab(&["run", path.to_str().unwrap(), "--steps", "5", "--json"]);
    assert_eq!(code(&out), 0);
    let last: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    assert_eq!(last["verdict"], "runs");
    assert_eq!(last["steps"], 5);
}

#[test]
fn piped_output_and_no_color_have_no_ansi_escapes() {
    let path = scenario("color.ipc", DEADLOCK.as_bytes());
    let path = path.to_str().unwrap();
    // Piped (the test captures stdout): no colour.
    assert!(!stdout(&ipclab(&["run", path])).contains('\x1b'));
    // NO_COLOR wins even when colour would be on.
    let out = Command::new(env!("CARGO_BIN_EXE_ipclab"))
        .args(["run", path])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
    // Forced colour does colour.
    assert!(stdout(&ipclab(&["run", path, "--color", "always"])).contains('\x1b'));
    assert!(!stdout(&ipclab(&["run", path, "--color", "never"])).contains('\x1b'));
}

#[test]
fn dot_prints_a_digraph_of_the_cycle() {
    let path = scenario("dot.ipc", DEADLOCK.as_bytes());
    let out = ipclab(&["run", path.to_str().unwrap(), "--dot"]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(text.starts_with("digraph waitfor {"), "{text}");
    assert!(text.contains(r#""A" -> "B""#) && text.contains(r#""B" -> "A""#));
}

#[test]
fn help_works_on_every_command() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["list", "--help"],
        &["show", "--help"],
    ] {
        let out = ipclab(args);
        assert_eq!(code(&out), 0, "{args:?}");
        assert!(stdout(&out).contains("Examples:"), "{args:?}");
    }
    // `help` is a command too: its own `--help`, and the help of another.
    let out = ipclab(&["help", "--help"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("Usage: ipclab help [COMMAND]"));
    let out = ipclab(&["help", "check"]);
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).contains("Usage: ipclab check"),
        "{}",
        stdout(&out)
    );
    let out = ipclab(&["help", "nosuch"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn run_wraps_every_line_to_the_width_option() {
    let out = ipclab(&[
        "run",
        "dead-sender-notify",
        "--width",
        "60",
        "--color",
        "never",
    ]);
    let text = stdout(&out);
    let wide: Vec<&str> = text.lines().filter(|l| l.chars().count() > 60).collect();
    assert!(wide.is_empty(), "wider than 60: {wide:#?}\n{text}");
    assert!(text.contains("EDEADPEER"), "{text}");
    // Too narrow for a timeline: a usage error, not a column of words.
    let out = ipclab(&["run", "hello", "--width", "0"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("give at least 40"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_threaded_run_at_the_step_limit_names_the_limit() {
    let path = scenario(
        "spin.ipc",
        b"process A { loop { send(B, 1); } }\nprocess B { loop { recv(A, x); } }\n",
    );
    let out = ipclab(&[
        "run",
        path.to_str().unwrap(),
        "--cpus",
        "2",
        "--threads",
        "--steps",
        "200",
        "-q",
    ]);
    assert!(
        stdout(&out).starts_with("runs: still live at the step limit (200 steps)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_threaded_run_that_sleeps_past_the_tick_limit_ends_there_quickly() {
    let path = scenario(
        "long-sleep.ipc",
        b"process A { sleep 9223372036854775807; print \"woke\", clock(); }\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_ipclab"))
        .args(["run", path.to_str().unwrap(), "--threads", "--steps", "10"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It used to tick the clock one by one towards 2^63 at 100% CPU.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("ipclab run --threads still sleeping after 10 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}");
    assert!(
        text.contains("runs: still live at the tick limit (100000 ticks)"),
        "{text}"
    );
    assert!(text.contains(", 100000 ticks;"), "{text}");
}

#[test]
fn a_threaded_run_writes_out_control_characters_of_printed_text() {
    let path = scenario(
        "print-controls.ipc",
        b"process A { print \"red \x1b[31mX\\nY\x07\"; }\n",
    );
    let out = ipclab(&["run", path.to_str().unwrap(), "--threads"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}");
    assert!(text.starts_with("A: red \\e[31mX\\nY\\x07\n"), "{text}");
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
}

#[test]
fn the_trace_shows_a_semaphore_call_with_its_timeout_or_nonblocking() {
    let source =
        "semaphore z(0);\nprocess A { let r = P(z, nonblocking); r = P(z, timeout = 2); }\n";
    let path = scenario("p-timeout.ipc", source.as_bytes());
    let out = ipclab(&["run", path.to_str().unwrap(), "--color", "never"]);
    let text = stdout(&out);
    assert!(text.contains("P(z, nonblocking) -> EAGAIN"), "{text}");
    assert!(text.contains("P(z, timeout 2) -> blocks"), "{text}");
}

#[test]
fn the_trace_names_the_mailbox_a_create_or_open_call_reads() {
    let source =
        "process A { let h = mbox_create(\"rt\", capacity = 1); let g = mbox_open(\"nope\"); }\n";
    let path = scenario("mbox-names.ipc", source.as_bytes());
    let out = ipclab(&["run", path.to_str().unwrap(), "--color", "never"]);
    let text = stdout(&out);
    assert!(
        text.contains("mbox_create(\"rt\", capacity 1) -> ok"),
        "{text}"
    );
    assert!(text.contains("mbox_open(\"nope\") -> ENOENT"), "{text}");
}

#[test]
fn a_mailbox_its_last_close_destroys_keeps_its_name_in_the_trace() {
    let source = "process A { let h = mbox_create(\"box\", 2); mbox_send(h, 1); close(h); }\n";
    let path = scenario("close-name.ipc", source.as_bytes());
    let out = ipclab(&["run", path.to_str().unwrap(), "--color", "never"]);
    let text = stdout(&out);
    assert!(
        text.contains("A -> box  msg 1 undeliverable: mailbox destroyed"),
        "{text}"
    );
    assert!(text.contains("mailbox box destroyed"), "{text}");
    assert!(!text.contains("mailbox #"), "{text}");
}
