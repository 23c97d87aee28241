//! The lexer: source text to tokens, with comments skipped and every bad character reported.
//!
//! Numbers that do not fit an `i64` are reported here rather than wrapped, so
//! `const N = 99999999999999999999;` points at the number.

use super::diagnostics::Diagnostic;
use super::Span;

/// The kinds of token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Identifier(String),
    Integer(i64),
    Text(String),
    LeftBrace,
    RightBrace,
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Semicolon,
    /// `:`: after the tick of a device input (`at 5: "hi";`).
    Colon,
    Comma,
    Dot,
    Assign,
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Not,
    /// `&`: the address of a variable, in MPI calls (`&status`).
    Ampersand,
    And,
    Or,
    End,
}

impl TokenKind {
    /// How the token is written, for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Identifier(name) => format!("`{name}`"),
            TokenKind::Integer(n) => format!("number `{n}`"),
            TokenKind::Text(_) => "a string".to_string(),
            TokenKind::End => "end of file".to_string(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            TokenKind::LeftBrace => "{",
            TokenKind::RightBrace => "}",
            TokenKind::LeftParen => "(",
            TokenKind::RightParen => ")",
            TokenKind::LeftBracket => "[",
            TokenKind::RightBracket => "]",
            TokenKind::Semicolon => ";",
            TokenKind::Colon => ":",
            TokenKind::Comma => ",",
            TokenKind::Dot => ".",
            TokenKind::Assign => "=",
            TokenKind::Equal => "==",
            TokenKind::NotEqual => "!=",
            TokenKind::Less => "<",
            TokenKind::LessEqual => "<=",
            TokenKind::Greater => ">",
            TokenKind::GreaterEqual => ">=",
            TokenKind::Plus => "+",
            TokenKind::Minus => "-",
            TokenKind::Star => "*",
            TokenKind::Slash => "/",
            TokenKind::Percent => "%",
            TokenKind::Not => "!",
            TokenKind::Ampersand => "&",
            TokenKind::And => "&&",
            TokenKind::Or => "||",
            _ => "?",
        }
    }
}

/// A token and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Splits `source` into tokens, ending with [`TokenKind::End`].
///
/// # Errors
/// The first bad character, unterminated comment or string, or number too
/// large. Lexing stops there: later errors would mostly be echoes.
pub fn tokenize(source: &str) -> Result<Vec<Token>, Diagnostic> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut position = 0usize;
    while position < bytes.len() {
        let start = position;
        let byte = bytes[position];
        if byte.is_ascii_whitespace() {
            position += 1;
            continue;
        }
        if byte == b'/' && bytes.get(position + 1) == Some(&b'/') {
            // A lone `\r` ends a line too (old Mac files), so it ends the comment.
            while position < bytes.len() && !matches!(bytes[position], b'\n' | b'\r') {
                position += 1;
            }
            continue;
        }
        if byte == b'/' && bytes.get(position + 1) == Some(&b'*') {
            position += 2;
            loop {
                if position + 1 >= bytes.len() {
                    return Err(Diagnostic::at(
                        Span::new(start, start + 2),
                        "unterminated comment",
                        "this comment is never closed",
                    )
                    .with_help("close it with `*/`"));
                }
                if bytes[position] == b'*' && bytes[position + 1] == b'/' {
                    position += 2;
                    break;
                }
                position += 1;
            }
            continue;
        }
        if byte.is_ascii_alphabetic() || byte == b'_' {
            while position < bytes.len()
                && (bytes[position].is_ascii_alphanumeric() || bytes[position] == b'_')
            {
                position += 1;
            }
            tokens.push(Token {
                kind: TokenKind::Identifier(source[start..position].to_string()),
                span: Span::new(start, position),
            });
            continue;
        }
        if byte.is_ascii_digit() {
            while position < bytes.len()
                && (bytes[position].is_ascii_alphanumeric() || bytes[position] == b'_')
            {
                position += 1;
            }
            let span = Span::new(start, position);
            let value = integer_literal(&source[start..position]).map_err(|why| {
                Diagnostic::at(span, why, "here").with_help(format!(
                    "numbers are 64-bit signed integers: at most {}",
                    i64::MAX
                ))
            })?;
            tokens.push(Token {
                kind: TokenKind::Integer(value),
                span,
            });
            continue;
        }
        if byte == b'"' {
            position += 1;
            let mut text = String::new();
            loop {
                let Some(&c) = bytes.get(position) else {
                    return Err(Diagnostic::at(
                        Span::new(start, start + 1),
                        "unterminated string",
                        "this string is never closed",
                    )
                    .with_help("close it with `\"` on the same line"));
                };
                match c {
                    b'"' => {
                        position += 1;
                        break;
                    }
                    b'\n' | b'\r' => {
                        return Err(Diagnostic::at(
                            Span::new(start, start + 1),
                            "unterminated string",
                            "this string is never closed",
                        )
                        .with_help("close it with `\"` on the same line"));
                    }
                    b'\\' => {
                        let escaped = bytes.get(position + 1).copied();
                        let replacement = match escaped {
                            Some(b'n') => '\n',
                            Some(b't') => '\t',
                            Some(b'"') => '"',
                            Some(b'\\') => '\\',
                            _ => {
                                return Err(Diagnostic::at(
                                    Span::new(position, (position + 2).min(bytes.len())),
                                    "unknown escape in string",
                                    "here",
                                )
                                .with_help("the escapes are \\n, \\t, \\\" and \\\\"));
                            }
                        };
                        text.push(replacement);
                        position += 2;
                    }
                    _ => {
                        // Copy one whole character (the source is valid UTF-8).
                        let rest = &source[position..];
                        let ch = rest.chars().next().unwrap_or('\u{fffd}');
                        text.push(ch);
                        position += ch.len_utf8().max(1);
                    }
                }
            }
            tokens.push(Token {
                kind: TokenKind::Text(text),
                span: Span::new(start, position),
            });
            continue;
        }
        let two = bytes.get(position + 1).copied();
        let (kind, width) = match (byte, two) {
            (b'=', Some(b'=')) => (TokenKind::Equal, 2),
            (b'!', Some(b'=')) => (TokenKind::NotEqual, 2),
            (b'<', Some(b'=')) => (TokenKind::LessEqual, 2),
            (b'>', Some(b'=')) => (TokenKind::GreaterEqual, 2),
            (b'&', Some(b'&')) => (TokenKind::And, 2),
            (b'|', Some(b'|')) => (TokenKind::Or, 2),
            (b'{', _) => (TokenKind::LeftBrace, 1),
            (b'}', _) => (TokenKind::RightBrace, 1),
            (b'(', _) => (TokenKind::LeftParen, 1),
            (b')', _) => (TokenKind::RightParen, 1),
            (b'[', _) => (TokenKind::LeftBracket, 1),
            (b']', _) => (TokenKind::RightBracket, 1),
            (b';', _) => (TokenKind::Semicolon, 1),
            (b':', _) => (TokenKind::Colon, 1),
            (b',', _) => (TokenKind::Comma, 1),
            (b'.', _) => (TokenKind::Dot, 1),
            (b'=', _) => (TokenKind::Assign, 1),
            (b'<', _) => (TokenKind::Less, 1),
            (b'>', _) => (TokenKind::Greater, 1),
            (b'+', _) => (TokenKind::Plus, 1),
            (b'-', _) => (TokenKind::Minus, 1),
            (b'*', _) => (TokenKind::Star, 1),
            (b'/', _) => (TokenKind::Slash, 1),
            (b'%', _) => (TokenKind::Percent, 1),
            (b'!', _) => (TokenKind::Not, 1),
            // `&x` (an MPI call's argument); a lone `&` stays an error with a hint.
            (b'&', Some(c)) if c == b'_' || c.is_ascii_alphabetic() => (TokenKind::Ampersand, 1),
            _ => {
                let ch = source[position..].chars().next().unwrap_or('\u{fffd}');
                let span = Span::new(position, position + ch.len_utf8().max(1));
                let help = match ch {
                    '&' => ampersand_hint(&source[position + 1..]),
                    '|' => "logical or is `||`".to_string(),
                    '\'' => "strings use double quotes: \"text\"".to_string(),
                    _ => "statements use letters, digits, `_`, operators and `{ } ( ) [ ] ; , .`"
                        .to_string(),
                };
                return Err(Diagnostic::at(
                    span,
                    format!("unexpected character {ch:?}"),
                    "not part of the language",
                )
                .with_help(help));
            }
        };
        position += width;
        tokens.push(Token {
            kind,
            span: Span::new(start, position),
        });
    }
    tokens.push(Token {
        kind: TokenKind::End,
        span: Span::new(bytes.len(), bytes.len()),
    });
    Ok(tokens)
}

/// The hint for a lone `&` followed by `rest`: `& st` (a space after it)
/// is `&st` mistyped; anything else is most likely a logical and.
fn ampersand_hint(rest: &str) -> String {
    let word = rest.trim_start_matches([' ', '\t']);
    let spaced = word.len() < rest.len();
    let name: String = word
        .chars()
        .take_while(|c| *c == '_' || c.is_ascii_alphanumeric())
        .collect();
    match name.chars().next() {
        Some(first) if spaced && (first == '_' || first.is_ascii_alphabetic()) => {
            format!("write `&{name}` with no space after `&`; logical and is `&&`")
        }
        _ => "logical and is `&&`".to_string(),
    }
}

/// The value of an integer literal as the language writes it: decimal or
/// `0x` hexadecimal, with every `_` ignored (`1_000`, `0x2a`). A leading
/// `-` negates it, so that the command line's `-D N=-0x10` reads as the
/// source's `-0x10` does.
///
/// # Errors
/// Why the text is not such a literal, or that it does not fit an `i64`.
pub fn integer_literal(text: &str) -> Result<i64, String> {
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let not_a_number = || format!("`{text}` is not a number");
    if !magnitude.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(not_a_number());
    }
    let digits: String = magnitude.chars().filter(|c| *c != '_').collect();
    let (digits, radix) = match digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (digits.as_str(), 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(not_a_number());
    }
    let too_large = || format!("number `{text}` is too large");
    // In i128 first, so that -9223372036854775808 (i64::MIN) fits.
    let value = i128::from_str_radix(digits, radix).map_err(|_| too_large())?;
    let value = if negative { -value } else { value };
    i64::try_from(value).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_skipped() {
        let tokens = tokenize("a /* b */ c // d\n e").unwrap();
        assert_eq!(tokens.len(), 4);
    }

    #[test]
    fn huge_numbers_are_a_diagnostic() {
        let error = tokenize("x = 99999999999999999999;").unwrap_err();
        assert!(error.message.contains("too large"));
    }

    #[test]
    fn literals_read_alone_as_in_the_source() {
        assert_eq!(integer_literal("0x10"), Ok(16));
        assert_eq!(integer_literal("1_0"), Ok(10));
        assert_eq!(integer_literal("-0x10"), Ok(-16));
        assert_eq!(integer_literal("-9223372036854775808"), Ok(i64::MIN));
        assert!(integer_literal("9223372036854775808").is_err());
        assert!(integer_literal("ten").is_err());
        assert!(integer_literal("0x").is_err());
        assert!(integer_literal("_1").is_err());
        assert!(integer_literal("").is_err());
    }

    #[test]
    fn a_lone_carriage_return_ends_a_comment() {
        let tokens = tokenize("a // note\rb").unwrap();
        assert_eq!(tokens.len(), 3);
    }

    #[test]
    fn hexadecimal_numbers_are_read() {
        let tokens = tokenize("0x10").unwrap();
        assert_eq!(tokens[0].kind, TokenKind::Integer(16));
    }
}
