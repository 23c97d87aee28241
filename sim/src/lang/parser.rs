//! The parser: tokens to a syntax tree, by recursive descent with a nesting limit.
//!
//! Recursion is bounded by [`MAX_NESTING`] (blocks, parentheses, unary
//! operators and operator chains all count), so no input can overflow the
//! stack of the parser, of the compiler that walks the tree, or of the
//! destructor that drops it.

use super::ast::*;
use super::diagnostics::{did_you_mean, Diagnostic};
use super::lexer::{Token, TokenKind};
use super::Span;

/// The deepest nesting of blocks and expressions a scenario may use.
pub const MAX_NESTING: usize = 64;

/// Words that start a statement or a declaration and cannot name anything.
pub const KEYWORDS: &[&str] = &[
    "const", "kernel", "mailbox", "process", "expect", "let", "produce", "consume", "compute",
    "sleep", "yield", "print", "exit", "assert", "loop", "repeat", "while", "if", "else", "break",
    "continue",
];

/// The words that begin a declaration at the top level.
const DECLARATION_WORDS: &[&str] = &[
    "const",
    "kernel",
    "mailbox",
    "semaphore",
    "mutex",
    "condvar",
    "shared",
    "device",
    "process",
    "expect",
];

/// The hint for anything but a declaration at the top level.
const DECLARATIONS_HELP: &str = "a scenario declares `const`, `kernel { }`, `mailbox`, \
     `semaphore`, `mutex`, `condvar`, `shared`, `device`, `process` and `expect`; statements \
     go inside a `process { }` body";

/// How a name is spelt, for hints where one was expected.
const NAME_RULE: &str = "a name is letters, digits and `_`, not starting with a digit";

type Parsed<T> = Result<T, Diagnostic>;

/// Parses a whole file.
///
/// # Errors
/// The first syntax error.
pub fn parse(source: &str, tokens: Vec<Token>) -> Parsed<Vec<Item>> {
    let mut parser = Parser {
        source,
        tokens,
        position: 0,
        depth: 0,
    };
    let mut items = Vec::new();
    while !parser.at(&TokenKind::End) {
        items.push(parser.item()?);
    }
    Ok(items)
}

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    position: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The token list always ends with `End`, and `advance` never passes it.
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.position.min(last)]
    }

    fn peek_second(&self) -> &TokenKind {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[(self.position + 1).min(last)].kind
    }

    fn at(&self, kind: &TokenKind) -> bool {
        &self.peek().kind == kind
    }

    fn at_keyword(&self, word: &str) -> bool {
        matches!(&self.peek().kind, TokenKind::Identifier(name) if name == word)
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::End {
            self.position += 1;
        }
        token
    }

    fn previous_end(&self) -> usize {
        if self.position == 0 {
            0
        } else {
            self.tokens[self.position - 1].span.end as usize
        }
    }

    fn unexpected(&self, expected: &str) -> Diagnostic {
        let token = self.peek();
        let mut diagnostic = Diagnostic::at(
            token.span,
            format!("expected {expected}, found {}", token.kind.describe()),
            format!("expected {expected}"),
        )
        .with_help(expected_help(expected));
        if expected == "`{`" && token.kind == TokenKind::Assign {
            // `if x = 3 {`: the condition ended at `x`, a comparison was meant.
            diagnostic = diagnostic
                .with_help("to compare, write `==`: `if x == 3 { ... }`, `while k != N { ... }`");
        }
        if expected == "`;`" {
            // The missing semicolon belongs after the previous token, not at the next line.
            let end = self.previous_end();
            diagnostic = Diagnostic::at(
                Span::new(end, end),
                format!("expected `;`, found {}", token.kind.describe()),
                "add `;` here",
            )
            .with_help(expected_help(expected));
        }
        diagnostic
    }

    fn expect(&mut self, kind: TokenKind, expected: &str) -> Parsed<Token> {
        if self.at(&kind) {
            Ok(self.advance())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn name(&mut self, what: &str) -> Parsed<Name> {
        match &self.peek().kind {
            TokenKind::Identifier(text) if !KEYWORDS.contains(&text.as_str()) => {
                let token = self.advance();
                let TokenKind::Identifier(text) = token.kind else {
                    return Err(self.unexpected(what));
                };
                Ok(Name {
                    text,
                    span: token.span,
                })
            }
            TokenKind::Identifier(text) => {
                let text = text.clone();
                Err(Diagnostic::at(
                    self.peek().span,
                    format!("`{text}` is a keyword, not a name"),
                    format!("expected {what}"),
                )
                .with_help("choose another name"))
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn enter(&mut self, span: Span) -> Parsed<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(
                Diagnostic::at(span, "nesting too deep", "too deep here").with_help(format!(
                    "blocks, `else if` branches, parentheses and operators together may \
                     nest at most {MAX_NESTING} levels; split the work into simpler statements"
                )),
            );
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// The error for an operator chain `depth` deep that does not fit in the
    /// nesting around it. The blame goes to whichever is larger: a short
    /// condition deep in an `else if` chain is a nesting problem, not a long
    /// expression.
    fn too_deep_at_operator(&self, span: Span, depth: usize) -> Diagnostic {
        if self.depth > depth {
            Diagnostic::at(span, "nesting too deep", "too deep here").with_help(format!(
                "blocks, `else if` branches, parentheses and operators together may \
                 nest at most {MAX_NESTING} levels; split the work into simpler statements"
            ))
        } else {
            Diagnostic::at(span, "expression too long", "too many operators").with_help(format!(
                "an expression and the blocks around it may nest at most {MAX_NESTING} levels, \
                 and each operator in a chain is one level; use `let` to compute it in steps"
            ))
        }
    }

    /// `semaphore s(initial = 0);`, `mutex m;`, `condvar c;`, `shared x;`,
    /// `shared buf[4];`.
    fn object_item(&mut self, word: &str) -> Parsed<Item> {
        let kind = match word {
            "semaphore" => ObjectKind::Semaphore,
            "mutex" => ObjectKind::Mutex,
            "condvar" => ObjectKind::Condvar,
            _ => ObjectKind::Shared,
        };
        let start = self.advance().span;
        let name = self.name(&format!("a {} name", kind.keyword()))?;
        let mut argument = None;
        if kind == ObjectKind::Semaphore && self.at(&TokenKind::LeftParen) {
            self.advance();
            if self.at_keyword("initial") && self.peek_second() == &TokenKind::Assign {
                self.advance();
                self.advance();
            }
            argument = Some(self.expression()?);
            self.expect(TokenKind::RightParen, "`)`")?;
        } else if kind == ObjectKind::Shared && self.at(&TokenKind::LeftBracket) {
            self.advance();
            argument = Some(self.expression()?);
            self.expect(TokenKind::RightBracket, "`]`")?;
        }
        let end = self.expect(TokenKind::Semicolon, "`;`")?;
        Ok(Item::Object {
            kind,
            name,
            argument,
            span: start.join(end.span),
        })
    }

    fn item(&mut self) -> Parsed<Item> {
        let token = self.peek().clone();
        let TokenKind::Identifier(word) = &token.kind else {
            let error = self.unexpected("a declaration");
            if token.kind == TokenKind::RightBrace {
                return Err(error.with_help(
                    "this `}` closes no `{`: remove it, or look above for a `}` too many",
                ));
            }
            return Err(error);
        };
        match word.as_str() {
            "const" => {
                self.advance();
                let name = self.name("a constant name")?;
                self.expect(TokenKind::Assign, "`=`")?;
                let value = self.expression()?;
                self.expect(TokenKind::Semicolon, "`;`")?;
                Ok(Item::Const { name, value })
            }
            "kernel" => {
                self.advance();
                self.expect(TokenKind::LeftBrace, "`{`")?;
                let mut entries = Vec::new();
                while !self.at(&TokenKind::RightBrace) {
                    let key = self.name("a kernel option name")?;
                    self.expect(TokenKind::Assign, "`=`")?;
                    let value = self.expression()?;
                    self.expect(TokenKind::Semicolon, "`;`")?;
                    entries.push(KernelEntry { key, value });
                }
                let close = self.advance();
                Ok(Item::Kernel {
                    entries,
                    span: token.span.join(close.span),
                })
            }
            "semaphore" | "mutex" | "condvar" | "shared" => self.object_item(word),
            "mailbox" => {
                self.advance();
                let name = self.name("a mailbox name")?;
                let open = self.expect(TokenKind::LeftParen, "`(capacity = n)`")?;
                if self.at_keyword("capacity") && self.peek_second() == &TokenKind::Assign {
                    self.advance();
                    self.advance();
                }
                if self.at(&TokenKind::RightParen) {
                    return Err(Diagnostic::at(
                        open.span.join(self.peek().span),
                        "a mailbox needs a capacity",
                        "capacity missing",
                    )
                    .with_help("write `mailbox name(capacity = 4);` (0 means rendezvous)"));
                }
                let capacity = self.expression()?;
                self.expect(TokenKind::RightParen, "`)`")?;
                self.expect(TokenKind::Semicolon, "`;`")?;
                Ok(Item::Mailbox { name, capacity })
            }
            "process" => {
                self.advance();
                let name = self.name("a process name")?;
                let mut count = None;
                if self.at(&TokenKind::LeftBracket) {
                    self.advance();
                    count = Some(self.expression()?);
                    self.expect(TokenKind::RightBracket, "`]`")?;
                }
                let mut priority = None;
                if self.at_keyword("priority") {
                    self.advance();
                    priority = Some(self.expression()?);
                }
                if self.at(&TokenKind::LeftParen) {
                    // Mailboxes take options in parentheses; a process's
                    // count and priority are written without them.
                    return Err(Diagnostic::at(
                        self.peek().span,
                        "a process takes no options in parentheses",
                        "expected `[count]`, `priority n` or `{`",
                    )
                    .with_help(
                        "write `process Worker[3] priority 2 { ... }`: a count in brackets, \
                         then an optional priority, then the body",
                    ));
                }
                let body = self.block()?;
                Ok(Item::Process {
                    name,
                    count,
                    priority,
                    body,
                })
            }
            "expect" => {
                self.advance();
                let verdict = self.name("a verdict")?;
                let mut argument = None;
                if self.at(&TokenKind::LeftParen) {
                    self.advance();
                    argument = Some(self.expression()?);
                    self.expect(TokenKind::RightParen, "`)`")?;
                }
                let end = self.expect(TokenKind::Semicolon, "`;`")?;
                Ok(Item::Expect {
                    verdict,
                    argument,
                    span: token.span.join(end.span),
                })
            }
            "device" => {
                self.advance();
                let kind = self.name("a device kind (`keyboard`)")?;
                let mut options = Vec::new();
                if self.at(&TokenKind::LeftParen) {
                    self.advance();
                    while !self.at(&TokenKind::RightParen) {
                        let key = self.name("a device option (`ring`, `semaphore`)")?;
                        self.expect(TokenKind::Assign, "`=`")?;
                        let value = self.expression()?;
                        options.push(KernelEntry { key, value });
                        if !self.at(&TokenKind::RightParen) {
                            self.expect(TokenKind::Comma, "`,` or `)`")?;
                        }
                    }
                    self.advance();
                }
                self.expect(TokenKind::LeftBrace, "`{`")?;
                let mut inputs = Vec::new();
                while !self.at(&TokenKind::RightBrace) {
                    let start = self.peek().span;
                    if !self.at_keyword("at") {
                        return Err(self
                            .unexpected("`at tick: \"text\";`")
                            .with_help("a device block lists its input: `at 5: \"hi\\n\";`"));
                    }
                    self.advance();
                    let at = self.expression()?;
                    self.expect(TokenKind::Colon, "`:`")?;
                    let text = match self.peek().kind.clone() {
                        TokenKind::Text(text) => {
                            self.advance();
                            text
                        }
                        _ => return Err(self.unexpected("a string of typed characters")),
                    };
                    let end = self.expect(TokenKind::Semicolon, "`;`")?;
                    inputs.push(DeviceInput {
                        at,
                        text,
                        span: start.join(end.span),
                    });
                }
                let close = self.advance();
                Ok(Item::Device {
                    kind,
                    options,
                    inputs,
                    span: token.span.join(close.span),
                })
            }
            _ => Err(Diagnostic::at(
                token.span,
                format!("expected a declaration, found {}", token.kind.describe()),
                "not a declaration",
            )
            .with_help(format!(
                "{}{DECLARATIONS_HELP}",
                did_you_mean(word, DECLARATION_WORDS)
            ))),
        }
    }

    fn block(&mut self) -> Parsed<Vec<Statement>> {
        let open = self.expect(TokenKind::LeftBrace, "`{`")?;
        self.enter(open.span)?;
        let mut statements = Vec::new();
        while !self.at(&TokenKind::RightBrace) {
            if self.at(&TokenKind::End) {
                return Err(Diagnostic::at(
                    open.span,
                    "unclosed block",
                    "this `{` is never closed",
                )
                .with_help("add the matching `}`"));
            }
            statements.push(self.statement()?);
        }
        self.advance();
        self.leave();
        Ok(statements)
    }

    fn end_statement(&mut self, start: Span) -> Parsed<Span> {
        let end = self.expect(TokenKind::Semicolon, "`;`")?;
        Ok(start.join(end.span))
    }

    fn statement(&mut self) -> Parsed<Statement> {
        let start = self.peek().span;
        let word = match &self.peek().kind {
            TokenKind::Identifier(word) => word.clone(),
            _ => String::new(),
        };
        let simple =
            |kind: fn(Expression) -> StatementKind, parser: &mut Self| -> Parsed<Statement> {
                parser.advance();
                let value = parser.expression()?;
                let span = parser.end_statement(start)?;
                Ok(Statement {
                    kind: kind(value),
                    span,
                })
            };
        match word.as_str() {
            "let" => {
                self.advance();
                let name = self.name("a variable name")?;
                let kind = if self.at(&TokenKind::LeftBracket) {
                    self.advance();
                    let size = self.expression()?;
                    self.expect(TokenKind::RightBracket, "`]`")?;
                    StatementKind::LetArray(name, size)
                } else if self.at(&TokenKind::Assign) {
                    self.advance();
                    StatementKind::Let(name, Some(self.expression()?))
                } else {
                    StatementKind::Let(name, None)
                };
                let span = self.end_statement(start)?;
                Ok(Statement { kind, span })
            }
            "produce" => simple(StatementKind::Produce, self),
            "consume" => simple(StatementKind::Consume, self),
            "compute" => simple(StatementKind::Compute, self),
            "sleep" => simple(StatementKind::Sleep, self),
            "assert" => {
                self.advance();
                let condition = self.expression()?;
                let text = self
                    .source
                    .get(condition.span.start as usize..condition.span.end as usize)
                    .unwrap_or("")
                    .to_string();
                let span = self.end_statement(start)?;
                Ok(Statement {
                    kind: StatementKind::Assert(condition, text),
                    span,
                })
            }
            "yield" | "break" | "continue" => {
                self.advance();
                let span = self.end_statement(start)?;
                let kind = match word.as_str() {
                    "yield" => StatementKind::Yield,
                    "break" => StatementKind::Break,
                    _ => StatementKind::Continue,
                };
                Ok(Statement { kind, span })
            }
            "print" => {
                self.advance();
                let mut parts = vec![self.expression()?];
                while self.at(&TokenKind::Comma) {
                    self.advance();
                    parts.push(self.expression()?);
                }
                let span = self.end_statement(start)?;
                Ok(Statement {
                    kind: StatementKind::Print(parts),
                    span,
                })
            }
            "exit" => {
                self.advance();
                let code = if self.at(&TokenKind::Semicolon) {
                    None
                } else {
                    Some(self.expression()?)
                };
                let span = self.end_statement(start)?;
                Ok(Statement {
                    kind: StatementKind::Exit(code),
                    span,
                })
            }
            "loop" => {
                self.advance();
                let body = self.block()?;
                Ok(Statement {
                    kind: StatementKind::Loop(body),
                    span: start.join(Span::at(self.previous_end())),
                })
            }
            "repeat" | "while" => {
                self.advance();
                let head = self.expression()?;
                let body = self.block()?;
                let span = start.join(Span::at(self.previous_end()));
                let kind = if word == "repeat" {
                    StatementKind::Repeat(head, body)
                } else {
                    StatementKind::While(head, body)
                };
                Ok(Statement { kind, span })
            }
            "if" => {
                self.advance();
                let condition = self.expression()?;
                let then = self.block()?;
                let mut otherwise = Vec::new();
                if self.at_keyword("else") {
                    let else_span = self.advance().span;
                    if self.at_keyword("if") {
                        // `else if` nests an `if` without a block: it counts
                        // as one level, as a block does, so that a long
                        // chain cannot recurse without bound.
                        self.enter(else_span)?;
                        otherwise.push(self.statement()?);
                        self.leave();
                    } else {
                        otherwise = self.block()?;
                    }
                }
                Ok(Statement {
                    kind: StatementKind::If(condition, then, otherwise),
                    span: start.join(Span::at(self.previous_end())),
                })
            }
            "else" => Err(
                Diagnostic::at(start, "`else` without `if`", "no `if` before this")
                    .with_help("`else` follows the `}` of an `if` block"),
            ),
            "const" | "kernel" | "mailbox" | "process" | "expect" => Err(Diagnostic::at(
                start,
                format!("`{word}` declarations belong at the top level"),
                "inside a process body",
            )
            .with_help("move it out of the `process { }` block, or close the block before it")),
            _ => {
                let target = self.expression()?;
                if self.at(&TokenKind::Assign) {
                    self.advance();
                    let value = self.expression()?;
                    let span = self.end_statement(start)?;
                    return Ok(Statement {
                        kind: StatementKind::Assign(target, value),
                        span,
                    });
                }
                // `whlie x { ... }`, `yeild;`: a misspelt keyword reads
                // as a name; say which keyword it is close to.
                let guess = match &target.kind {
                    ExpressionKind::Name(name) => {
                        let statements: Vec<&str> = KEYWORDS
                            .iter()
                            .copied()
                            .filter(|word| !DECLARATION_WORDS.contains(word))
                            .collect();
                        did_you_mean(&name.text, &statements)
                    }
                    _ => String::new(),
                };
                match target.kind {
                    ExpressionKind::Call(call) => {
                        let span = self.end_statement(start)?;
                        Ok(Statement {
                            kind: StatementKind::Call(call),
                            span,
                        })
                    }
                    _ => {
                        if !self.at(&TokenKind::Semicolon) {
                            let error = self.unexpected("`;` or `=`");
                            let help = format!("{guess}{}", error.help.clone().unwrap_or_default());
                            return Err(error.with_help(help));
                        }
                        Err(Diagnostic::at(
                            target.span,
                            "this expression does nothing",
                            "not a statement",
                        )
                        .with_help(format!("{guess}{STATEMENT_HELP}")))
                    }
                }
            }
        }
    }

    fn expression(&mut self) -> Parsed<Expression> {
        let start = self.peek().span;
        self.enter(start)?;
        let (expression, _) = self.binary(0)?;
        self.leave();
        Ok(expression)
    }

    /// Precedence climbing; returns the expression and the depth of its tree
    /// so that long operator chains are bounded like nesting.
    fn binary(&mut self, minimum: u8) -> Parsed<(Expression, usize)> {
        let (mut left, mut depth) = self.unary()?;
        while let Some((operator, precedence)) = binary_operator(&self.peek().kind) {
            if precedence < minimum {
                break;
            }
            let operator_span = self.advance().span;
            let (right, right_depth) = self.binary(precedence + 1)?;
            depth = depth.max(right_depth) + 1;
            if depth + self.depth > MAX_NESTING {
                return Err(self.too_deep_at_operator(operator_span, depth));
            }
            let span = left.span.join(right.span);
            left = Expression {
                kind: ExpressionKind::Binary(operator, Box::new(left), Box::new(right)),
                span,
            };
        }
        Ok((left, depth))
    }

    fn unary(&mut self) -> Parsed<(Expression, usize)> {
        let token = self.peek().clone();
        let operator = match token.kind {
            TokenKind::Minus => Some(UnaryOperator::Negate),
            TokenKind::Not => Some(UnaryOperator::Not),
            TokenKind::Ampersand => Some(UnaryOperator::AddressOf),
            _ => None,
        };
        if let Some(operator) = operator {
            self.advance();
            self.enter(token.span)?;
            let (operand, depth) = self.unary()?;
            self.leave();
            // Fold `-5` into a number so constants and disassembly read naturally.
            if let (UnaryOperator::Negate, ExpressionKind::Integer(n)) = (operator, &operand.kind) {
                if let Some(negated) = n.checked_neg() {
                    return Ok((
                        Expression {
                            kind: ExpressionKind::Integer(negated),
                            span: token.span.join(operand.span),
                        },
                        depth,
                    ));
                }
            }
            let span = token.span.join(operand.span);
            return Ok((
                Expression {
                    kind: ExpressionKind::Unary(operator, Box::new(operand)),
                    span,
                },
                depth + 1,
            ));
        }
        Ok((self.primary()?, 1))
    }

    fn primary(&mut self) -> Parsed<Expression> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::Integer(value) => {
                self.advance();
                Ok(Expression {
                    kind: ExpressionKind::Integer(value),
                    span: token.span,
                })
            }
            TokenKind::Text(text) => {
                self.advance();
                Ok(Expression {
                    kind: ExpressionKind::Text(text),
                    span: token.span,
                })
            }
            TokenKind::LeftParen => {
                self.advance();
                let inner = self.expression()?;
                let close = self.expect(TokenKind::RightParen, "`)`")?;
                Ok(Expression {
                    kind: inner.kind,
                    span: token.span.join(close.span),
                })
            }
            TokenKind::Identifier(_) => {
                let name = self.name("an expression")?;
                match self.peek().kind {
                    TokenKind::LeftBracket => {
                        self.advance();
                        let index = self.expression()?;
                        let close = self.expect(TokenKind::RightBracket, "`]`")?;
                        Ok(Expression {
                            span: name.span.join(close.span),
                            kind: ExpressionKind::Index(name, Box::new(index)),
                        })
                    }
                    TokenKind::Dot => {
                        self.advance();
                        let field = self.name("a field name")?;
                        Ok(Expression {
                            span: name.span.join(field.span),
                            kind: ExpressionKind::Field(name, field),
                        })
                    }
                    TokenKind::LeftParen => {
                        self.advance();
                        let mut arguments = Vec::new();
                        while !self.at(&TokenKind::RightParen) {
                            let named = matches!(self.peek().kind, TokenKind::Identifier(_))
                                && self.peek_second() == &TokenKind::Assign;
                            if named {
                                let key = self.name("an argument name")?;
                                self.advance();
                                arguments.push(Argument::Named(key, self.expression()?));
                            } else {
                                arguments.push(Argument::Positional(self.expression()?));
                            }
                            if !self.at(&TokenKind::Comma) {
                                break;
                            }
                            self.advance();
                        }
                        let close = self.expect(TokenKind::RightParen, "`)` or `,`")?;
                        let span = name.span.join(close.span);
                        Ok(Expression {
                            kind: ExpressionKind::Call(Call {
                                name,
                                arguments,
                                span,
                            }),
                            span,
                        })
                    }
                    _ => Ok(Expression {
                        span: name.span,
                        kind: ExpressionKind::Name(name),
                    }),
                }
            }
            _ => Err(self.unexpected("an expression")),
        }
    }
}

/// What a statement is, for the hints of a body line that is none.
const STATEMENT_HELP: &str = "a statement is a call such as `send(P, x);`, an assignment \
     `x = e;`, or starts with a keyword (`let`, `produce`, `loop`, ...)";

/// The hint for a syntax error that expected `expected` (as
/// [`Parser::unexpected`] words it): what may stand there, with an example.
fn expected_help(expected: &str) -> String {
    let help = match expected {
        "`;`" => "every statement and declaration ends with `;`",
        "an expression" => {
            "an expression is a number, a name, a call, or arithmetic on them: `0`, `x + 1`, \
             `clock()`"
        }
        "`{`" => "a body or block is written in braces: `process P { yield; }`, `loop { ... }`",
        "`=`" => "write `name = value`: `const N = 3;`, `buffer_slots = 8;`, `ring = 4`",
        "`)`" => "every `(` needs its `)`: `(a + b) * 2`, `send(P, x)`",
        "`]`" => "every `[` needs its `]`: `buf[i]`, `process W[3] { ... }`",
        "`)` or `,`" => {
            "separate a call's arguments with `,` and close it with `)`: `send(P, x, tag = 1)`"
        }
        "`,` or `)`" => {
            "separate the options with `,` and close them with `)`: \
             `device keyboard(ring = 4, semaphore = chars)`"
        }
        "`:`" => "an input line is `at tick: \"text\";`: `at 5: \"hi\";`",
        "`;` or `=`" => STATEMENT_HELP,
        "`(capacity = n)`" => "write `mailbox jobs(capacity = 4);` (0 means rendezvous)",
        "a string of typed characters" => "the typed characters are a string: `at 5: \"hi\\n\";`",
        "a declaration" => DECLARATIONS_HELP,
        "a variable name" => {
            "write `let x = 0;`, `let x;` or `let buf[4];`; a name is letters, digits and `_`, \
             not starting with a digit"
        }
        "a process name" => "write `process Worker { ... }` or `process Worker[3] { ... }`",
        "a mailbox name" => "write `mailbox jobs(capacity = 4);`",
        "a constant name" => "write `const N = 3;`",
        "a field name" => "a field follows the dot: `status.source`, `st.MPI_SOURCE`",
        "a device kind (`keyboard`)" => {
            "the one device kind is `keyboard`: `device keyboard(ring = 4, semaphore = chars) \
             { at 5: \"hi\"; }`"
        }
        "a device option (`ring`, `semaphore`)" => "the options are `ring = n` and `semaphore = s`",
        "a kernel option name" => {
            let keys: Vec<&str> = super::KernelOptions::KEYS.iter().map(|(k, _)| *k).collect();
            return format!(
                "write `key = value;`; the kernel options are: {}",
                keys.join(", ")
            );
        }
        "a verdict" => return format!("the verdicts are: {}", super::compiler::VERDICTS),
        _ => NAME_RULE,
    };
    help.to_string()
}

fn binary_operator(kind: &TokenKind) -> Option<(BinaryOperator, u8)> {
    Some(match kind {
        TokenKind::Or => (BinaryOperator::Or, 1),
        TokenKind::And => (BinaryOperator::And, 2),
        TokenKind::Equal => (BinaryOperator::Equal, 3),
        TokenKind::NotEqual => (BinaryOperator::NotEqual, 3),
        TokenKind::Less => (BinaryOperator::Less, 3),
        TokenKind::LessEqual => (BinaryOperator::LessEqual, 3),
        TokenKind::Greater => (BinaryOperator::Greater, 3),
        TokenKind::GreaterEqual => (BinaryOperator::GreaterEqual, 3),
        TokenKind::Plus => (BinaryOperator::Add, 4),
        TokenKind::Minus => (BinaryOperator::Subtract, 4),
        TokenKind::Star => (BinaryOperator::Multiply, 5),
        TokenKind::Slash => (BinaryOperator::Divide, 5),
        TokenKind::Percent => (BinaryOperator::Remainder, 5),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::lexer::tokenize;

    fn parse_text(source: &str) -> Parsed<Vec<Item>> {
        parse(source, tokenize(source)?)
    }

    #[test]
    fn else_if_chains_parse_as_nested_ifs() {
        let items = parse_text("process P { if a { } else if b { } else { x = 1; } }").unwrap();
        let Item::Process { body, .. } = &items[0] else {
            panic!("{items:?}");
        };
        let StatementKind::If(_, _, otherwise) = &body[0].kind else {
            panic!("{body:?}");
        };
        assert!(matches!(otherwise[0].kind, StatementKind::If(..)));
    }

    #[test]
    fn a_missing_semicolon_points_just_after_the_previous_token() {
        let error = parse_text("process P { x = 1\n y = 2; }").unwrap_err();
        assert_eq!(error.span, Some(Span::at(17)));
    }

    #[test]
    fn multiplication_binds_tighter_than_addition() {
        let items = parse_text("const A = 1 + 2 * 3;").unwrap();
        let Item::Const { value, .. } = &items[0] else {
            panic!("{items:?}");
        };
        assert!(matches!(
            value.kind,
            ExpressionKind::Binary(BinaryOperator::Add, _, _)
        ));
    }
}
