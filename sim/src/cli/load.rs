//! Finding a scenario: a file path, else a bundled name; and refusing input that is not UTF-8 text.
//!
//! Resolution order: an existing path wins; otherwise a bundled scenario
//! named with or without `.ipc`; otherwise an error that lists close names.

use std::path::Path;

use crate::bundled;

/// A scenario's bytes and the name its diagnostics show.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The file name as given, or `name.ipc` for a bundled scenario.
    pub file_name: String,
    /// The source text, checked to be UTF-8 without NUL bytes.
    pub source: String,
}

/// Finds and reads the scenario `name`.
///
/// # Errors
/// A message for people: the file cannot be read, is a directory, is binary
/// or not UTF-8 (with the line and column of the first bad byte), or no
/// file and no bundled scenario has that name (with close names).
pub fn load(name: &str) -> Result<Loaded, String> {
    let path = Path::new(name);
    if path.exists() {
        if path.is_dir() {
            return Err(format!("{name} is a directory, not a scenario file"));
        }
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"))?;
        let source = check_text(name, bytes)?;
        return Ok(Loaded {
            file_name: name.to_string(),
            source,
        });
    }
    if let Some(found) = bundled::find(name) {
        return Ok(Loaded {
            file_name: found.file_name(),
            source: found.source.to_string(),
        });
    }
    let mut message = format!("no scenario file or bundled scenario named `{name}`");
    let close = bundled::close_names(name);
    if !close.is_empty() {
        message.push_str(&format!("\n  did you mean: {}?", close.join(", ")));
    }
    message.push_str("\n  `ipclab list` shows the bundled scenarios");
    Err(message)
}

/// The bytes as text, or why they are not a scenario.
fn check_text(name: &str, bytes: Vec<u8>) -> Result<String, String> {
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        let (line, column) = place(&bytes, at);
        return Err(format!(
            "{name} looks like a binary file (a NUL byte at line {line}, column {column}); \
             a scenario is UTF-8 text"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let (line, column) = place(&bytes, at);
        format!(
            "{name} is not UTF-8 text: byte 0x{:02x} at line {line}, column {column} \
             is not valid UTF-8; save the file as UTF-8",
            bytes.get(at).copied().unwrap_or(0)
        )
    })
}

/// The 1-based line and character column of byte `at`.
fn place(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_reported_with_its_place() {
        let error = check_text("x.ipc", b"process A {}\n  \xff".to_vec()).unwrap_err();
        assert!(error.contains("line 2, column 3"), "{error}");
        assert!(error.contains("0xff"), "{error}");
    }

    #[test]
    fn nul_bytes_mean_binary() {
        let error = check_text("x.bin", b"ab\0cd".to_vec()).unwrap_err();
        assert!(error.contains("binary"), "{error}");
    }

    #[test]
    fn text_passes() {
        assert_eq!(check_text("x", b"ok\n".to_vec()).unwrap(), "ok\n");
    }
}
