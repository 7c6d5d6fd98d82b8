//! The lexer: MIDL's C-like tokens, with `//` and `/* */` comments, wide (`L"..."`) strings,
//! and the bare UUIDs of `uuid(...)` read as one token.

use crate::error::{ErrorKind, Result, SourceMap, Span};

/// A token's kind and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// An identifier or keyword.
    Ident(String),
    /// An integer literal (suffixes dropped). Values above `u64::MAX` are refused.
    Int(u64),
    /// A literal with a dot (`1.0` in `version(1.0)`), kept as written.
    Float(String),
    /// A string literal (escapes resolved; `L` prefix dropped).
    Str(String),
    /// A character literal's code.
    Char(u32),
    /// A UUID written bare inside `uuid(...)`.
    Uuid(String),
    /// Punctuation (one to three characters).
    Punct(&'static str),
}

impl Tok {
    /// How the token is shown in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int(v) => format!("number {v}"),
            Tok::Float(s) => format!("number {s}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Char(c) => format!("character {c}"),
            Tok::Uuid(s) => format!("uuid {s}"),
            Tok::Punct(p) => format!("`{p}`"),
        }
    }
}

/// A token with its position. `bol` is true for the first token of a (logical) line, which is
/// how the preprocessor finds its directives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Kind and value.
    pub tok: Tok,
    /// Where it starts.
    pub span: Span,
    /// First token on its line.
    pub bol: bool,
    /// Whitespace came right before it (tells `#define F(x)` from `#define F (x)`).
    pub space_before: bool,
}

const PUNCTS: &[&str] = &[
    "<<=", ">>=", "...", "->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "::", "##", "++",
    "--", "+=", "-=", "*=", "/=", "|=", "&=", "^=", "..", "(", ")", "[", "]", "{", "}", ";", ",",
    ":", "*", "&", "=", "<", ">", "+", "-", "/", "%", "|", "^", "~", "!", "?", ".", "#",
];

/// Splits `text` (file `file`) into tokens.
pub fn lex(text: &str, file: u32, map: &SourceMap) -> Result<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0usize;
    let mut line = 1u32;
    let mut col = 1u32;
    let mut bol = true;
    let mut space = true;
    let at = |i: usize| chars.get(i).copied();
    macro_rules! bump {
        () => {{
            if at(i) == Some('\n') {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
            i += 1;
        }};
    }
    while let Some(c) = at(i) {
        if c == '\n' {
            bol = true;
            space = true;
            bump!();
            continue;
        }
        if c == '\\'
            && (at(i + 1) == Some('\n') || (at(i + 1) == Some('\r') && at(i + 2) == Some('\n')))
        {
            // a line continuation: the logical line goes on
            bump!();
            while at(i) != Some('\n') {
                bump!();
            }
            bump!();
            space = true;
            continue;
        }
        if c.is_whitespace() {
            space = true;
            bump!();
            continue;
        }
        if c == '/' && at(i + 1) == Some('/') {
            while at(i).is_some_and(|c| c != '\n') {
                bump!();
            }
            continue;
        }
        if c == '/' && at(i + 1) == Some('*') {
            let start = Span { file, line, col };
            bump!();
            bump!();
            loop {
                match at(i) {
                    None => {
                        return Err(map
                            .error(ErrorKind::Lex, start, "unterminated comment")
                            .expected_found("`*/`", "end of file"))
                    }
                    Some('*') if at(i + 1) == Some('/') => {
                        bump!();
                        bump!();
                        break;
                    }
                    Some(_) => bump!(),
                }
            }
            space = true;
            continue;
        }
        let span = Span { file, line, col };
        let prev_is_uuid_open = matches!(
            out.as_slice(),
            [.., Token { tok: Tok::Ident(a), .. }, Token { tok: Tok::Punct("("), .. }]
                if a.eq_ignore_ascii_case("uuid")
        );
        let tok = if prev_is_uuid_open && c.is_ascii_hexdigit() {
            let mut s = String::new();
            while let Some(c) = at(i).filter(|c| c.is_ascii_hexdigit() || *c == '-') {
                s.push(c);
                bump!();
            }
            Tok::Uuid(s)
        } else if c == '"' || (c == 'L' && at(i + 1) == Some('"')) {
            if c == 'L' {
                bump!();
            }
            bump!();
            let mut s = String::new();
            loop {
                match at(i) {
                    None | Some('\n') => {
                        return Err(map
                            .error(ErrorKind::Lex, span, "unterminated string")
                            .expected_found("`\"`", "end of line"))
                    }
                    Some('"') => {
                        bump!();
                        break;
                    }
                    Some('\\') => {
                        bump!();
                        let e = at(i).unwrap_or('\\');
                        bump!();
                        s.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            '0' => '\0',
                            other => other,
                        });
                    }
                    Some(ch) => {
                        s.push(ch);
                        bump!();
                    }
                }
            }
            Tok::Str(s)
        } else if c == '\'' || (c == 'L' && at(i + 1) == Some('\'')) {
            if c == 'L' {
                bump!();
            }
            bump!();
            let v = match at(i) {
                Some('\\') => {
                    bump!();
                    let e = at(i).unwrap_or('\\');
                    bump!();
                    match e {
                        'n' => 10,
                        't' => 9,
                        '0' => 0,
                        other => other as u32,
                    }
                }
                Some(ch) if ch != '\n' => {
                    bump!();
                    ch as u32
                }
                _ => {
                    return Err(map
                        .error(ErrorKind::Lex, span, "malformed character literal")
                        .expected_found("a character", "end of line"))
                }
            };
            if at(i) != Some('\'') {
                return Err(map
                    .error(ErrorKind::Lex, span, "malformed character literal")
                    .expected_found("`'`", found_char(at(i))));
            }
            bump!();
            Tok::Char(v)
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut s = String::new();
            while let Some(c) = at(i).filter(|c| c.is_ascii_alphanumeric() || *c == '_') {
                s.push(c);
                bump!();
            }
            Tok::Ident(s)
        } else if c.is_ascii_digit() || (c == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let mut s = String::new();
            while let Some(c) =
                at(i).filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
            {
                // `0..9` is a range, not a number with two dots
                if c == '.' && at(i + 1) == Some('.') {
                    break;
                }
                s.push(c);
                bump!();
            }
            number(&s).ok_or_else(|| {
                map.error(ErrorKind::Lex, span, "malformed number")
                    .expected_found("a decimal, octal or hexadecimal integer", format!("`{s}`"))
            })?
        } else {
            let rest: String = chars.iter().skip(i).take(3).collect();
            let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) else {
                return Err(map
                    .error(ErrorKind::Lex, span, "unexpected character")
                    .expected_found("a token", format!("{c:?}")));
            };
            for _ in 0..p.len() {
                bump!();
            }
            Tok::Punct(p)
        };
        out.push(Token {
            tok,
            span,
            bol,
            space_before: space,
        });
        bol = false;
        space = false;
    }
    Ok(out)
}

fn found_char(c: Option<char>) -> String {
    c.map_or_else(|| "end of file".to_string(), |c| format!("{c:?}"))
}

/// Reads an integer literal (with `u`/`l` suffixes), or a literal with a dot as [`Tok::Float`].
fn number(s: &str) -> Option<Tok> {
    if s.contains('.') {
        return s
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.')
            .then(|| Tok::Float(s.to_string()));
    }
    let t = s.trim_end_matches(['u', 'U', 'l', 'L']);
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(t.get(1..)?, 8).ok()?
    } else {
        t.parse::<u64>().ok()?
    };
    Some(Tok::Int(v))
}
