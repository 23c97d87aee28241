//! CLI tests of `ipclab list` and `ipclab show`: the bundled scenarios, by name, with or without `.ipc`.

use std::process::{Command, Output};

fn ipclab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipclab"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The first bundled scenario's name.
fn first_bundled() -> String {
    let out = ipclab(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    stdout(&out)
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().next())
        .expect("ipclab list names at least one bundled scenario")
        .to_string()
}

#[test]
fn list_names_every_bundled_scenario_with_a_summary() {
    let out = ipclab(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(!text.trim().is_empty());
    for line in text.lines() {
        let mut parts = line.splitn(2, "  ");
        let name = parts.next().unwrap();
        assert!(!name.contains(' ') && !name.ends_with(".ipc"), "{line}");
    }
}

#[test]
fn show_prints_the_source_by_name_with_or_without_extension() {
    let name = first_bundled();
    let plain = ipclab(&["show", &name]);
    assert_eq!(plain.status.code(), Some(0));
    let text = stdout(&plain);
    assert!(text.contains("process"), "{text}");
    let with_ext = ipclab(&["show", &format!("{name}.ipc")]);
    assert_eq!(stdout(&with_ext), text);
}

#[test]
fn show_bytecode_disassembles_every_process() {
    let name = first_bundled();
    let out = ipclab(&["show", &name, "--bytecode"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with("process "), "{text}");
    assert!(text.contains("syscall"), "{text}");
}

#[test]
fn a_bundled_scenario_runs_by_name() {
    let name = first_bundled();
    let out = ipclab(&["run", &name, "--quiet", "--steps", "200"]);
    // 0 or 1 depending on the scenario's expect line and the shorter run;
    // never a usage or scenario error.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    assert!(stdout(&out).contains("expect"));
}

#[test]
fn show_of_an_unknown_name_exits_2() {
    let out = ipclab(&["show", "no-such-scenario-anywhere"]);
    assert_eq!(out.status.code(), Some(2));
    // A one-letter name is in too many bundled names to suggest any.
    let out = ipclab(&["show", "/no/such/dir/x.ipc"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("did you mean"), "{text}");
}

#[test]
fn show_refuses_a_define_it_would_ignore() {
    // The source is shown as written: -D only changes `--bytecode`.
    let out = ipclab(&["show", "credit-direct", "-D", "N=3"]);
    assert_eq!(out.status.code(), Some(2));
    let out = ipclab(&["show", "credit-direct", "--bytecode", "-D", "N=3"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_define_too_large_says_so_with_the_limit() {
    let out = ipclab(&["run", "credit-direct", "-D", "N=99999999999999999999"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("too large"), "{text}");
    assert!(text.contains("9223372036854775807"), "{text}");
}

/// A device that never ends (`/dev/zero`) is refused at its first byte, in
/// well under the time it would take to fill memory.
#[cfg(unix)]
#[test]
fn show_refuses_an_endless_device_at_once() {
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_ipclab"))
        .args(["show", "/dev/zero"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("ipclab show /dev/zero still reading after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("binary file"), "{stderr}");
}
