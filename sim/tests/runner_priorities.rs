//! Fixed priorities: the runner hands declared priorities to the kernel, unless `priorities = false`.

use ipclab_sim::lang::compile;
use ipclab_sim::runner::{run, RunOptions};

const SOURCE: &str = r#"
process Low { loop { compute 1; } }
process High priority 3 { loop { compute 1; } }
"#;

fn steps_of(source: &str, instance: usize) -> usize {
    let program = compile("prio.ipc", source.as_bytes(), &[]).expect("compiles");
    let options = RunOptions {
        max_steps: 40,
        ..RunOptions::default()
    };
    let result = run(&program, options).expect("boots");
    result
        .trace
        .steps
        .iter()
        .filter(|s| s.ran == Some(instance))
        .count()
}

#[test]
fn a_higher_priority_process_keeps_the_cpu() {
    assert_eq!(
        steps_of(SOURCE, 0),
        0,
        "Low must never run while High is ready"
    );
    assert_eq!(steps_of(SOURCE, 1), 40);
}

#[test]
fn priorities_false_gives_plain_round_robin() {
    let source = format!("kernel {{ priorities = false; }}\n{SOURCE}");
    assert!(steps_of(&source, 0) >= 15, "Low gets its turns");
    assert!(steps_of(&source, 1) >= 15, "High gets its turns");
}
