//! The trace as JSON lines: a `run` header, then per step a `step` line and one line per event, then the `verdict`.
//!
//! Every line is one JSON object with a `type`. Event lines are the
//! serde form of [`TraceEvent`] (`#[serde(tag = "type")]`) with `step` and
//! `tick` put first, e.g.
//! `{"step":3,"tick":4,"type":"enqueue","message":7,"from":"Producer[0]",...}`.
//! The schema, every type and field, is `docs/trace-json.md`; change the two
//! together.

use serde::Serialize;
use serde_json::{json, Value};

use crate::lang::Program;
use crate::runner::RunResult;
use crate::trace::{ProcView, TraceEvent};
use crate::verdict::expectation_text;

use super::RunSetup;

/// The version of the line format, in the `run` line; bumped on any
/// change that is not a new optional field or a new event type.
pub const SCHEMA_VERSION: u32 = 1;

/// Every line of the JSON rendering, each ending in `\n`.
pub fn json_lines(program: &Program, setup: &RunSetup, result: &RunResult) -> String {
    let mut out = String::new();
    let header = json!({
        "type": "run",
        "schema": SCHEMA_VERSION,
        "scenario": program.file_name,
        "processes": result.trace.labels,
        "mailboxes": program.mailboxes.iter().map(|m| json!({
            "name": m.name,
            "capacity": m.capacity,
        })).collect::<Vec<_>>(),
        "schedule": setup.schedule_name(),
        "seed": setup.options.seed,
        "max_steps": setup.options.max_steps,
    });
    push_line(&mut out, &first_key(&header, "type"));

    for step in &result.trace.steps {
        let states: Vec<Value> = result
            .trace
            .labels
            .iter()
            .zip(&step.states)
            .map(|(label, state)| state_value(label, state))
            .collect();
        let ran = step.ran.and_then(|k| result.trace.labels.get(k));
        let line = format!(
            "{{\"step\":{},\"tick\":{},\"type\":\"step\",\"ran\":{},\"states\":{}}}",
            step.step,
            step.tick,
            to_json(&ran),
            to_json(&states)
        );
        push_line(&mut out, &line);
        for event in &step.events {
            push_line(&mut out, &event_line(step.step, step.tick, event));
        }
    }

    let verdict = &result.verdict;
    let expected = program.expect.as_ref();
    let extra = json!({
        "explanation": verdict.explain_at(setup.limit_of(result)),
        "expected": expected.map(expectation_text),
        "matches": expected.is_none_or(|e| verdict.matches(e)),
        "steps": result.steps,
        "ticks": result.ticks,
        "stats": {
            "syscalls": result.stats.syscalls,
            "accepted": result.stats.accepted,
            "delivered": result.stats.delivered,
            "undeliverable": result.stats.undeliverable,
            "cancelled": result.stats.cancelled,
            "copies_to_kernel": result.stats.copies_to_kernel,
            "copies_to_user": result.stats.copies_to_user,
            "copies_user_to_user": result.stats.copies_user_to_user,
            "bytes_copied": result.stats.bytes_copied,
        },
        "output": result.output,
    });
    let body = splice(&to_json(verdict), &to_json(&extra));
    push_line(&mut out, &format!("{{\"type\":\"verdict\",{}", &body[1..]));
    out
}

/// One event as a line: `{"step":..,"tick":..,"type":..,...}`.
pub fn event_line(step: u64, tick: u64, event: &TraceEvent) -> String {
    let body = match event {
        // The timeline's `'a'` is a picture of the character; JSON gives
        // the character itself (`"a"`, `"\n"`).
        TraceEvent::Interrupt { character, .. } | TraceEvent::Overrun { character, .. } => {
            let mut event = event.clone();
            if let TraceEvent::Interrupt { character: c, .. }
            | TraceEvent::Overrun { character: c, .. } = &mut event
            {
                *c = crate::lang::device::character_shown(character);
            }
            to_json(&event)
        }
        _ => to_json(event),
    };
    // A tagged enum always serialises as a non-empty object `{"type":...}`.
    let rest = body.strip_prefix('{').unwrap_or("}");
    format!("{{\"step\":{step},\"tick\":{tick},{rest}")
}

/// A process's state: `{"process":"A","state":"blocked","reason":"..."}`.
fn state_value(label: &str, state: &ProcView) -> Value {
    let mut value = serde_json::to_value(state).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("process".into(), Value::String(label.to_string()));
    }
    value
}

/// Serialises a value that cannot fail (no maps with non-string keys).
fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// The fields of two JSON objects in one object (`a`'s first).
fn splice(a: &str, b: &str) -> String {
    let a_inner = a.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
    let b_inner = b.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
    match (a_inner, b_inner) {
        (Some(x), Some(y)) if !x.is_empty() && !y.is_empty() => format!("{{{x},{y}}}"),
        (Some(x), _) if !x.is_empty() => a.to_string(),
        (_, Some(_)) => b.to_string(),
        _ => "{}".into(),
    }
}

/// An object with `key` moved to the front (`serde_json` sorts keys).
fn first_key(value: &Value, key: &str) -> String {
    let Value::Object(map) = value else {
        return to_json(value);
    };
    let mut parts = Vec::new();
    if let Some(v) = map.get(key) {
        parts.push(format!("{}:{}", to_json(key), to_json(v)));
    }
    for (k, v) in map {
        if k != key {
            parts.push(format!("{}:{}", to_json(k), to_json(v)));
        }
    }
    format!("{{{}}}", parts.join(","))
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_put_step_and_tick_first() {
        let line = event_line(
            3,
            4,
            &TraceEvent::Exit {
                process: "A".into(),
                code: 0,
            },
        );
        assert_eq!(
            line,
            r#"{"step":3,"tick":4,"type":"exit","process":"A","code":0}"#
        );
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["type"], "exit");
    }

    #[test]
    fn an_interrupt_line_gives_the_character_itself() {
        let line = event_line(
            1,
            2,
            &TraceEvent::Interrupt {
                device: "keyboard".into(),
                character: crate::lang::device::character(b'\n'),
                queued: 1,
                capacity: 4,
                semaphore: "chars".into(),
            },
        );
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["character"], "\n", "{line}");
        let line = event_line(
            1,
            2,
            &TraceEvent::Overrun {
                device: "keyboard".into(),
                character: crate::lang::device::character(b'a'),
                capacity: 4,
                overruns: 1,
            },
        );
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["character"], "a", "{line}");
    }

    #[test]
    fn splice_joins_objects() {
        assert_eq!(splice(r#"{"a":1}"#, r#"{"b":2}"#), r#"{"a":1,"b":2}"#);
        assert_eq!(splice("{}", r#"{"b":2}"#), r#"{"b":2}"#);
    }
}
