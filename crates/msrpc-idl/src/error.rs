//! Located errors: every error names the file, line and column it is about.

use std::fmt;
use std::path::PathBuf;

/// A position in a source file (1-based line and column; the column counts characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Index into the [`SourceMap`](crate::SourceMap).
    pub file: u32,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

/// What kind of error an [`Error`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Reading a file failed.
    Io(String),
    /// The lexer met a character or literal it cannot read.
    Lex,
    /// A preprocessor directive is malformed or unbalanced.
    Preprocessor,
    /// The parser expected one thing and found another.
    Syntax,
    /// The IDL is well formed but inconsistent (an undefined type or name, a bad attribute).
    Type,
    /// The IDL is valid but the code generator cannot express it yet.
    Unsupported,
}

/// A located error (boxed, so results stay small). Displayed as `file:line:col: message`
/// (then `expected X, found Y` when the parser knows both); its fields are those of
/// [`ErrorInfo`], reached through `Deref`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(Box<ErrorInfo>);

impl Error {
    /// An error from its parts.
    pub fn new(info: ErrorInfo) -> Self {
        Error(Box::new(info))
    }
}

impl std::ops::Deref for Error {
    type Target = ErrorInfo;
    fn deref(&self) -> &ErrorInfo {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut ErrorInfo {
        &mut self.0
    }
}

/// What an [`Error`] says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorInfo {
    /// The kind.
    pub kind: ErrorKind,
    /// The file (as given or found on the include path).
    pub file: PathBuf,
    /// Line, from 1 (0 when not known, as for a file that cannot be opened).
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
    /// What went wrong.
    pub message: String,
    /// What the parser expected, if it says.
    pub expected: Option<String>,
    /// What it found instead.
    pub found: Option<String>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.col)?;
        }
        write!(f, ": ")?;
        if self.kind == ErrorKind::Unsupported {
            write!(f, "not supported by the code generator: ")?;
        }
        write!(f, "{}", self.message)?;
        match (&self.expected, &self.found) {
            (Some(e), Some(x)) => write!(f, ": expected {e}, found {x}"),
            (Some(e), None) => write!(f, ": expected {e}"),
            (None, Some(x)) => write!(f, ": found {x}"),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The files read so far (the prelude is file 0), to turn a [`Span`] into a path.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<PathBuf>,
}

impl SourceMap {
    /// Adds a file and returns its index.
    pub fn add(&mut self, path: PathBuf) -> u32 {
        self.files.push(path);
        u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX)
    }

    /// The path of file `id`.
    pub fn path(&self, id: u32) -> PathBuf {
        self.files
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| PathBuf::from("<unknown>"))
    }

    /// `file:line:col` of `span`, for messages naming a second place.
    pub fn locate(&self, span: Span) -> String {
        format!(
            "{}:{}:{}",
            self.path(span.file).display(),
            span.line,
            span.col
        )
    }

    /// An error at `span`.
    pub fn error(&self, kind: ErrorKind, span: Span, message: impl Into<String>) -> Error {
        Error::new(ErrorInfo {
            kind,
            file: self.path(span.file),
            line: span.line,
            col: span.col,
            message: message.into(),
            expected: None,
            found: None,
        })
    }
}

impl Error {
    /// Adds what was expected and what was found.
    pub fn expected_found(mut self, expected: impl Into<String>, found: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.found = Some(found.into());
        self
    }
}
