//! Constant expression evaluation (C semantics on 128-bit integers, so no intermediate of a
//! 64-bit IDL constant overflows).

use crate::ast::Expr;
use crate::error::Span;

/// Evaluates `e`; `lookup` gives the value of a name (`None`: not a constant), `size_of` the
/// size of a typedef name in `sizeof(NAME)` (`None`: no fixed size).
pub fn eval(
    e: &Expr,
    lookup: &dyn Fn(&str) -> Option<i128>,
    size_of: &dyn Fn(&str) -> Option<i128>,
) -> Result<i128, (Span, String)> {
    let ev = |x: &Expr| eval(x, lookup, size_of);
    Ok(match e {
        Expr::Int(v, _) => i128::from(*v),
        Expr::Name(n, s) => lookup(n).ok_or_else(|| (*s, format!("`{n}` is not a constant")))?,
        Expr::Str(_, s) => return Err((*s, "a string is not an integer constant".into())),
        Expr::Unary(op, a, s) => {
            let a = ev(a)?;
            match *op {
                "-" => a.checked_neg().ok_or((*s, "overflow".to_string()))?,
                "+" => a,
                "~" => !a,
                "!" => i128::from(a == 0),
                _ => return Err((*s, format!("`{op}` in a constant expression"))),
            }
        }
        Expr::Binary(op, a, b, s) => {
            let (a, b) = (ev(a)?, ev(b)?);
            let ovf = || (*s, "overflow in a constant expression".to_string());
            match *op {
                "+" => a.checked_add(b).ok_or_else(ovf)?,
                "-" => a.checked_sub(b).ok_or_else(ovf)?,
                "*" => a.checked_mul(b).ok_or_else(ovf)?,
                "/" => a
                    .checked_div(b)
                    .ok_or((*s, "division by zero".to_string()))?,
                "%" => a
                    .checked_rem(b)
                    .ok_or((*s, "division by zero".to_string()))?,
                "<<" => u32::try_from(b)
                    .ok()
                    .filter(|b| *b < 127)
                    .map(|b| a << b)
                    .ok_or_else(ovf)?,
                ">>" => u32::try_from(b)
                    .ok()
                    .filter(|b| *b < 127)
                    .map(|b| a >> b)
                    .ok_or_else(ovf)?,
                "&" => a & b,
                "|" => a | b,
                "^" => a ^ b,
                "&&" => i128::from(a != 0 && b != 0),
                "||" => i128::from(a != 0 || b != 0),
                "==" => i128::from(a == b),
                "!=" => i128::from(a != b),
                "<" => i128::from(a < b),
                ">" => i128::from(a > b),
                "<=" => i128::from(a <= b),
                ">=" => i128::from(a >= b),
                _ => return Err((*s, format!("`{op}` in a constant expression"))),
            }
        }
        Expr::Cond(c, a, b, _) => {
            if ev(c)? != 0 {
                ev(a)?
            } else {
                ev(b)?
            }
        }
        Expr::Cast(_, a, _) => ev(a)?,
        Expr::Sizeof(Some(v), _) => i128::from(*v),
        Expr::SizeofType(n, s) => size_of(n).ok_or_else(|| {
            (
                *s,
                format!("`sizeof({n})`: `{n}` is not a type of fixed size known here"),
            )
        })?,
        Expr::Member(_, _, s) | Expr::Index(_, _, s) | Expr::Sizeof(None, s) => {
            return Err((*s, "not a constant expression".into()))
        }
    })
}
