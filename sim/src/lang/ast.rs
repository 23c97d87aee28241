//! The syntax tree of a scenario, as the parser builds it and before any name is resolved.

use super::Span;

/// An identifier and where it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOperator {
    Add,
    Subtract,
    Multiply,
    Divide,
    Remainder,
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    And,
    Or,
}

impl BinaryOperator {
    /// How the operator is written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOperator::Add => "+",
            BinaryOperator::Subtract => "-",
            BinaryOperator::Multiply => "*",
            BinaryOperator::Divide => "/",
            BinaryOperator::Remainder => "%",
            BinaryOperator::Equal => "==",
            BinaryOperator::NotEqual => "!=",
            BinaryOperator::Less => "<",
            BinaryOperator::LessEqual => "<=",
            BinaryOperator::Greater => ">",
            BinaryOperator::GreaterEqual => ">=",
            BinaryOperator::And => "&&",
            BinaryOperator::Or => "||",
        }
    }
}

/// A unary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOperator {
    Negate,
    Not,
    /// `&x`: only as an argument of an MPI call (`&status`, `&request`).
    AddressOf,
}

/// An argument of a call: `x`, `tag = 3`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Argument {
    Positional(Expression),
    Named(Name, Expression),
}

/// A call written `name(arguments)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub name: Name,
    pub arguments: Vec<Argument>,
    pub span: Span,
}

/// An expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpressionKind {
    Integer(i64),
    Text(String),
    /// A variable, constant, process, mailbox or builtin: resolved later.
    Name(Name),
    /// `name[index]`: an array element or one instance of a process.
    Index(Name, Box<Expression>),
    /// `status.source` and friends.
    Field(Name, Name),
    Unary(UnaryOperator, Box<Expression>),
    Binary(BinaryOperator, Box<Expression>, Box<Expression>),
    Call(Call),
}

/// An expression and its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression {
    pub kind: ExpressionKind,
    pub span: Span,
}

/// A statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatementKind {
    Let(Name, Option<Expression>),
    LetArray(Name, Expression),
    Assign(Expression, Expression),
    /// A call used as a statement: its failure is a program error.
    Call(Call),
    Produce(Expression),
    Consume(Expression),
    Compute(Expression),
    Sleep(Expression),
    Yield,
    Print(Vec<Expression>),
    Exit(Option<Expression>),
    /// The condition and its source text, for the report.
    Assert(Expression, String),
    Loop(Vec<Statement>),
    Repeat(Expression, Vec<Statement>),
    While(Expression, Vec<Statement>),
    If(Expression, Vec<Statement>, Vec<Statement>),
    Break,
    Continue,
}

/// A statement and its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub kind: StatementKind,
    pub span: Span,
}

/// One `key = value;` of the kernel block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelEntry {
    pub key: Name,
    pub value: Expression,
}

/// One `at tick: "text";` of a device block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInput {
    pub at: Expression,
    pub text: String,
    pub span: Span,
}

/// The kind of a declared synchronisation object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Semaphore,
    Mutex,
    Condvar,
    Shared,
}

impl ObjectKind {
    /// The declaration keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            ObjectKind::Semaphore => "semaphore",
            ObjectKind::Mutex => "mutex",
            ObjectKind::Condvar => "condvar",
            ObjectKind::Shared => "shared",
        }
    }

    /// The kind with its article, for prose: "a semaphore", "a condition
    /// variable".
    pub fn noun(self) -> &'static str {
        match self {
            ObjectKind::Semaphore => "a semaphore",
            ObjectKind::Mutex => "a mutex",
            ObjectKind::Condvar => "a condition variable",
            ObjectKind::Shared => "a shared variable",
        }
    }
}

/// A top-level declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Const {
        name: Name,
        value: Expression,
    },
    Kernel {
        entries: Vec<KernelEntry>,
        span: Span,
    },
    Mailbox {
        name: Name,
        capacity: Expression,
    },
    /// `semaphore s(initial = 0);`, `mutex m;`, `condvar c;`, `shared x;`,
    /// `shared buf[4];` (`sim/src/lang/sync.rs`). `argument` is the initial
    /// count or the number of words.
    Object {
        kind: ObjectKind,
        name: Name,
        argument: Option<Expression>,
        span: Span,
    },
    Process {
        name: Name,
        count: Option<Expression>,
        priority: Option<Expression>,
        body: Vec<Statement>,
    },
    Expect {
        verdict: Name,
        argument: Option<Expression>,
        span: Span,
    },
    /// `device keyboard(ring = 4, semaphore = s) { at 5: "hi\n"; }`
    /// (`sim/src/lang/device.rs`).
    Device {
        kind: Name,
        options: Vec<KernelEntry>,
        inputs: Vec<DeviceInput>,
        span: Span,
    },
}
