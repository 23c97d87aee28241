//! Finding a scenario: a file path, else a bundled name; and refusing input that is not UTF-8 text.
//!
//! Resolution order: an existing path wins; otherwise a bundled scenario
//! named with or without `.ipc`; otherwise an error that lists close names.
//! Reading stops at [`MAX_SOURCE_BYTES`] and at the first NUL byte, so a
//! device that never ends (`/dev/zero`) is refused at once instead of
//! filling memory.

use std::io::Read;
use std::path::Path;

use crate::bundled;

/// The largest scenario file read: far above any hand-written or generated
/// scenario (tens of megabytes still compile), far below what would
/// exhaust memory.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024 * 1024;

/// Bytes read at a time; each chunk is checked for NUL before the next.
const CHUNK_BYTES: usize = 64 * 1024;

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
        let source = read_text_file(name, path, "scenario")?;
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

/// Reads the text file at `path` (a `what`: "scenario", "schedule") as
/// scenarios are read: at most [`MAX_SOURCE_BYTES`], refused at the first
/// NUL byte or at bytes that are not UTF-8, a byte-order mark dropped.
///
/// # Errors
/// A message for people, naming the file as `name`.
pub fn read_text_file(name: &str, path: &Path, what: &str) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let bytes = read_capped(name, file, MAX_SOURCE_BYTES, what)?;
    check_text(name, bytes, what)
}

/// Reads at most `limit` bytes of `reader`, stopping at the first NUL byte.
///
/// # Errors
/// The reader fails, the input is longer than `limit` (nothing beyond
/// `limit + 1` bytes is read), or it contains a NUL byte (a binary file).
fn read_capped(
    name: &str,
    mut reader: impl Read,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut chunk = vec![0; CHUNK_BYTES];
    loop {
        // One byte past the limit tells "exactly the limit" from "more".
        let wanted = CHUNK_BYTES.min(limit + 1 - bytes.len());
        let read = match reader.read(&mut chunk[..wanted]) {
            Ok(0) => return Ok(bytes),
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot read {name}: {e}")),
        };
        let start = bytes.len();
        bytes.extend_from_slice(&chunk[..read]);
        if let Some(at) = chunk[..read].iter().position(|b| *b == 0) {
            // The first bad byte may come before the NUL (invalid UTF-8),
            // and a byte-order mark does not count as a column.
            bytes.truncate(start + at + 1);
            return Err(check_text(name, bytes, what)
                .err()
                .unwrap_or_else(|| binary_file(name, &[], 0, what)));
        }
        if bytes.len() > limit {
            return Err(format!(
                "{name} is too large: a {what} has at most {} MiB",
                limit / (1024 * 1024)
            ));
        }
    }
}

fn binary_file(name: &str, bytes: &[u8], at: usize, what: &str) -> String {
    let (line, column) = place(bytes, at);
    format!(
        "{name} looks like a binary file (a NUL byte at line {line}, column {column}); \
         a {what} is UTF-8 text"
    )
}

/// The bytes as text, or why they are not a scenario. A leading byte-order
/// mark is dropped, so columns count from the first character after it.
fn check_text(name: &str, mut bytes: Vec<u8>, what: &str) -> Result<String, String> {
    if bytes.starts_with(ipclab_sim::lang::BYTE_ORDER_MARK) {
        bytes.drain(..ipclab_sim::lang::BYTE_ORDER_MARK.len());
    }
    // Whichever comes first: a NUL byte or a byte that is not UTF-8.
    let nul = bytes.iter().position(|b| *b == 0);
    if let Err(e) = std::str::from_utf8(&bytes[..nul.unwrap_or(bytes.len())]) {
        let at = e.valid_up_to();
        let (line, column) = place(&bytes, at);
        return Err(format!(
            "{name} is not UTF-8 text: byte 0x{:02x} at line {line}, column {column} \
             is not valid UTF-8; save the file as UTF-8",
            bytes.get(at).copied().unwrap_or(0)
        ));
    }
    if let Some(at) = nul {
        return Err(binary_file(name, &bytes, at, what));
    }
    String::from_utf8(bytes).map_err(|_| format!("{name} is not UTF-8 text"))
}

/// The 1-based line and character column of byte `at`. A line ends at
/// `\n`, `\r\n` or a lone `\r`, as the compiler counts lines.
fn place(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let mut line = 1;
    let mut line_start = 0;
    for (i, byte) in before.iter().enumerate() {
        let crlf = *byte == b'\r' && bytes.get(i + 1) == Some(&b'\n');
        if *byte == b'\n' || (*byte == b'\r' && !crlf) {
            line += 1;
            line_start = i + 1;
        }
    }
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
        let error = check_text("x.ipc", b"process A {}\n  \xff".to_vec(), "scenario").unwrap_err();
        assert!(error.contains("line 2, column 3"), "{error}");
        assert!(error.contains("0xff"), "{error}");
    }

    #[test]
    fn the_place_of_a_bad_byte_counts_every_line_break_and_skips_the_mark() {
        let place_in = |bytes: &[u8]| check_text("x.ipc", bytes.to_vec(), "scenario").unwrap_err();
        // A lone `\r`, `\r\n` and `\n` each end a line.
        let error = place_in(b"a\r\r\xff");
        assert!(error.contains("line 3, column 1"), "{error}");
        let error = place_in(b"a\rb\r\nc\0");
        assert!(error.contains("NUL byte at line 3, column 2"), "{error}");
        // The first bad byte is named, whichever kind it is.
        let error = place_in(b"\xff\n\n\0");
        assert!(error.contains("byte 0xff at line 1, column 1"), "{error}");
        // A byte-order mark is not a column.
        let error = place_in(b"\xef\xbb\xbfab\0");
        assert!(error.contains("NUL byte at line 1, column 3"), "{error}");
        // Read from a file, the same: the NUL stops reading, not the report.
        let error = read_capped("x.ipc", &b"\xef\xbb\xbf\xff\0"[..], 100, "scenario").unwrap_err();
        assert!(error.contains("byte 0xff at line 1, column 1"), "{error}");
    }

    #[test]
    fn nul_bytes_mean_binary() {
        let error = check_text("x.bin", b"ab\0cd".to_vec(), "scenario").unwrap_err();
        assert!(error.contains("binary"), "{error}");
    }

    #[test]
    fn an_endless_stream_of_nul_bytes_is_refused_as_binary_at_once() {
        let error =
            read_capped("zero", std::io::repeat(0), MAX_SOURCE_BYTES, "scenario").unwrap_err();
        assert!(
            error.contains("binary") && error.contains("line 1, column 1"),
            "{error}"
        );
    }

    #[test]
    fn an_endless_stream_of_text_stops_at_the_size_limit() {
        let limit = 3 * 1024 * 1024;
        let error = read_capped("yes", std::io::repeat(b'y'), limit, "scenario").unwrap_err();
        assert!(
            error.contains("too large") && error.contains("3 MiB"),
            "{error}"
        );
    }

    #[test]
    fn a_file_of_exactly_the_limit_is_read_whole() {
        let text = vec![b'a'; 2 * CHUNK_BYTES + 3];
        let read = read_capped("a", &text[..], text.len(), "scenario").unwrap();
        assert_eq!(read, text);
        assert!(read_capped("a", &text[..], text.len() - 1, "scenario").is_err());
    }

    #[test]
    fn a_byte_order_mark_is_dropped_and_columns_count_after_it() {
        assert_eq!(
            check_text("x", b"\xef\xbb\xbfok".to_vec(), "scenario").unwrap(),
            "ok"
        );
        let error = check_text("x", b"\xef\xbb\xbf\xff".to_vec(), "scenario").unwrap_err();
        assert!(error.contains("line 1, column 1"), "{error}");
    }

    #[test]
    fn text_passes() {
        assert_eq!(
            check_text("x", b"ok\n".to_vec(), "scenario").unwrap(),
            "ok\n"
        );
    }
}
