//! The preprocessor MIDL runs first: `#define` of object-like constants, `#undef`,
//! `#ifdef`/`#ifndef`/`#if`/`#elif`/`#else`/`#endif` (with `__midl` defined), `#include "..."`
//! of files next to the including one or on the include path, and `#pragma`/`#line`/`#error`
//! lines read and skipped (`#error` in a taken branch is an error). Function-like macros are
//! recorded (so `#ifdef` sees them) but not expanded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{ErrorKind, Result, SourceMap, Span};
use crate::lex::{self, Tok, Token};
use crate::parse::Parser;

/// The value MIDL gives `__midl` (its version, 5.01).
pub const MIDL_VERSION: u64 = 501;

/// How deep `#include`s and macro expansions may nest.
pub const MAX_DEPTH: usize = 32;

/// Preprocessor state across one file and what it includes.
pub struct Preprocessor<'a> {
    map: &'a mut SourceMap,
    defines: HashMap<String, Option<Vec<Token>>>,
    include_dirs: &'a [PathBuf],
    depth: usize,
}

struct Cond {
    /// This branch is taken.
    active: bool,
    /// Some branch of this `#if` chain was taken already.
    done: bool,
    /// The enclosing branch is taken.
    parent: bool,
    span: Span,
}

impl<'a> Preprocessor<'a> {
    /// A preprocessor with `__midl` defined.
    pub fn new(map: &'a mut SourceMap, include_dirs: &'a [PathBuf]) -> Self {
        let mut defines = HashMap::new();
        let one = |v| {
            Some(vec![Token {
                tok: Tok::Int(v),
                span: Span::default(),
                bol: false,
                space_before: true,
            }])
        };
        defines.insert("__midl".to_string(), one(MIDL_VERSION));
        defines.insert("__MIDL__".to_string(), one(1));
        Preprocessor {
            map,
            defines,
            include_dirs,
            depth: 0,
        }
    }

    /// The source map (to add files and report errors).
    pub fn map(&mut self) -> &mut SourceMap {
        self.map
    }

    /// Preprocesses `text`, the contents of file `file`.
    pub fn run(&mut self, text: &str, file: u32, dir: Option<&Path>) -> Result<Vec<Token>> {
        let toks = lex::lex(text, file, self.map)?;
        let mut out = Vec::new();
        let mut conds: Vec<Cond> = Vec::new();
        let mut i = 0;
        while let Some(t) = toks.get(i) {
            let active = conds.last().is_none_or(|c| c.active);
            if t.bol && t.tok == Tok::Punct("#") {
                let mut j = i + 1;
                while toks.get(j).is_some_and(|x| !x.bol) {
                    j += 1;
                }
                let line = toks.get(i + 1..j).unwrap_or(&[]);
                self.directive(t.span, line, active, &mut conds, &mut out, dir)?;
                i = j;
                continue;
            }
            i += 1;
            if !active {
                continue;
            }
            self.expand(t.clone(), &mut out, 0)?;
        }
        if let Some(c) = conds.last() {
            return Err(self
                .map
                .error(ErrorKind::Preprocessor, c.span, "unterminated conditional")
                .expected_found("`#endif`", "end of file"));
        }
        Ok(out)
    }

    fn expand(&self, t: Token, out: &mut Vec<Token>, depth: usize) -> Result<()> {
        if let Tok::Ident(name) = &t.tok {
            if let Some(Some(body)) = self.defines.get(name) {
                if depth >= MAX_DEPTH {
                    return Err(self.map.error(
                        ErrorKind::Preprocessor,
                        t.span,
                        format!("macro `{name}` expands more than {MAX_DEPTH} levels deep"),
                    ));
                }
                for b in body {
                    let mut b = b.clone();
                    b.span = t.span;
                    b.bol = false;
                    self.expand(b, out, depth + 1)?;
                }
                return Ok(());
            }
        }
        out.push(t);
        Ok(())
    }

    fn directive(
        &mut self,
        span: Span,
        line: &[Token],
        active: bool,
        conds: &mut Vec<Cond>,
        out: &mut Vec<Token>,
        dir: Option<&Path>,
    ) -> Result<()> {
        let Some(first) = line.first() else {
            return Ok(()); // a lone `#`
        };
        let name = match &first.tok {
            Tok::Ident(n) => n.as_str(),
            other => {
                return Err(self
                    .map
                    .error(ErrorKind::Preprocessor, first.span, "malformed directive")
                    .expected_found("a directive name", other.describe()))
            }
        };
        let rest = line.get(1..).unwrap_or(&[]);
        match name {
            "if" | "ifdef" | "ifndef" => {
                let value = if !active {
                    false
                } else if name == "if" {
                    self.eval_if(first.span, rest)?
                } else {
                    let Some(Token {
                        tok: Tok::Ident(m), ..
                    }) = rest.first()
                    else {
                        return Err(self
                            .map
                            .error(
                                ErrorKind::Preprocessor,
                                first.span,
                                format!("`#{name}` needs a name"),
                            )
                            .expected_found("a macro name", describe_opt(rest.first())));
                    };
                    self.defines.contains_key(m) == (name == "ifdef")
                };
                conds.push(Cond {
                    active: value,
                    done: value,
                    parent: active,
                    span,
                });
            }
            "elif" | "else" => {
                let c_parent;
                let c_done;
                match conds.last() {
                    Some(c) => {
                        c_parent = c.parent;
                        c_done = c.done;
                    }
                    None => {
                        return Err(self.map.error(
                            ErrorKind::Preprocessor,
                            span,
                            format!("`#{name}` without `#if`"),
                        ))
                    }
                }
                let value =
                    c_parent && !c_done && (name == "else" || self.eval_if(first.span, rest)?);
                if let Some(c) = conds.last_mut() {
                    c.active = value;
                    c.done |= value;
                }
            }
            "endif" => {
                if conds.pop().is_none() {
                    return Err(self.map.error(
                        ErrorKind::Preprocessor,
                        span,
                        "`#endif` without `#if`",
                    ));
                }
            }
            _ if !active => {}
            "define" => {
                let Some(Token {
                    tok: Tok::Ident(m), ..
                }) = rest.first()
                else {
                    return Err(self
                        .map
                        .error(
                            ErrorKind::Preprocessor,
                            first.span,
                            "`#define` needs a name",
                        )
                        .expected_found("a macro name", describe_opt(rest.first())));
                };
                let body = rest.get(1..).unwrap_or(&[]);
                let function_like = body
                    .first()
                    .is_some_and(|t| t.tok == Tok::Punct("(") && !t.space_before);
                let value = (!function_like).then(|| body.to_vec());
                self.defines.insert(m.clone(), value);
            }
            "undef" => {
                if let Some(Token {
                    tok: Tok::Ident(m), ..
                }) = rest.first()
                {
                    self.defines.remove(m);
                }
            }
            "include" => match rest.first().map(|t| &t.tok) {
                Some(Tok::Str(file)) => {
                    let file = file.clone();
                    self.include(span, &file, out, dir)?;
                }
                // `#include <...>`: a system header; MIDL's own types come from the prelude
                Some(Tok::Punct("<")) => {}
                _ => {
                    return Err(self
                        .map
                        .error(ErrorKind::Preprocessor, first.span, "malformed `#include`")
                        .expected_found("a file name in quotes", describe_opt(rest.first())))
                }
            },
            "error" => {
                return Err(self.map.error(
                    ErrorKind::Preprocessor,
                    span,
                    "`#error` in a branch the preprocessor takes",
                ))
            }
            "pragma" | "line" | "warning" | "ident" => {}
            other => {
                return Err(self
                    .map
                    .error(ErrorKind::Preprocessor, first.span, "unknown directive")
                    .expected_found(
                        "define, undef, if, ifdef, ifndef, elif, else, endif, include or pragma",
                        format!("`{other}`"),
                    ))
            }
        }
        Ok(())
    }

    fn include(
        &mut self,
        span: Span,
        file: &str,
        out: &mut Vec<Token>,
        dir: Option<&Path>,
    ) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(self.map.error(
                ErrorKind::Preprocessor,
                span,
                format!("`#include` nested more than {MAX_DEPTH} deep"),
            ));
        }
        let Some(path) = find_file(file, dir, self.include_dirs) else {
            return Err(self
                .map
                .error(
                    ErrorKind::Io(file.to_string()),
                    span,
                    format!("cannot find `{file}`"),
                )
                .expected_found("a file next to this one or on the include path", "none"));
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            self.map.error(
                ErrorKind::Io(e.to_string()),
                span,
                format!("cannot read `{}`: {e}", path.display()),
            )
        })?;
        let id = self.map.add(path.clone());
        self.depth += 1;
        let toks = self.run(&text, id, path.parent());
        self.depth -= 1;
        out.extend(toks?);
        Ok(())
    }

    /// Evaluates an `#if` line: `defined X` / `defined(X)` first, then macros, then unknown
    /// names count as 0.
    fn eval_if(&self, span: Span, rest: &[Token]) -> Result<bool> {
        let mut toks = Vec::new();
        let mut i = 0;
        while let Some(t) = rest.get(i) {
            if t.tok == Tok::Ident("defined".into()) {
                let (name, skip) = match (rest.get(i + 1), rest.get(i + 2)) {
                    (
                        Some(Token {
                            tok: Tok::Punct("("),
                            ..
                        }),
                        Some(Token {
                            tok: Tok::Ident(n), ..
                        }),
                    ) => (n, 4),
                    (
                        Some(Token {
                            tok: Tok::Ident(n), ..
                        }),
                        _,
                    ) => (n, 2),
                    (other, _) => {
                        return Err(self
                            .map
                            .error(ErrorKind::Preprocessor, t.span, "malformed `defined`")
                            .expected_found("a macro name", describe_opt(other)))
                    }
                };
                toks.push(Token {
                    tok: Tok::Int(u64::from(self.defines.contains_key(name))),
                    span: t.span,
                    bol: false,
                    space_before: true,
                });
                i += skip;
                continue;
            }
            self.expand(t.clone(), &mut toks, 0)?;
            i += 1;
        }
        let mut p = Parser::new(toks, self.map);
        let e = p.expr()?;
        p.expect_end("end of the `#if` line")?;
        let v = crate::eval::eval(&e, &|_| Some(0), &|_| Some(0)).map_err(|(s, m)| {
            let s = if s == Span::default() { span } else { s };
            self.map.error(ErrorKind::Preprocessor, s, m)
        })?;
        Ok(v != 0)
    }
}

fn describe_opt(t: Option<&Token>) -> String {
    t.map_or_else(|| "end of line".to_string(), |t| t.tok.describe())
}

/// Finds `file` next to the including file, then on the include path.
pub fn find_file(file: &str, dir: Option<&Path>, include_dirs: &[PathBuf]) -> Option<PathBuf> {
    let direct = Path::new(file);
    if direct.is_absolute() {
        return direct.is_file().then(|| direct.to_path_buf());
    }
    dir.into_iter()
        .chain(include_dirs.iter().map(PathBuf::as_path))
        .map(|d| d.join(file))
        .find(|p| p.is_file())
}
