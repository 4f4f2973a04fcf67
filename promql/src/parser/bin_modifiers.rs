//! The modifiers of binary operators: `bool`, `on`/`ignoring`,
//! `group_left`/`group_right` and the experimental `fill(...)`.

use super::state::{PErr, PResult, Parser};
use super::token::{Keyword, Tok};
use crate::ast::{BinaryOp, Cardinality, FillValues, VectorMatching};

impl<'a> Parser<'a> {
    /// `bool`, `on`/`ignoring`, `group_left`/`group_right`, `fill*` after a
    /// binary operator.
    pub(super) fn parse_bin_modifiers(&mut self) -> PResult<(bool, VectorMatching)> {
        let mut m = VectorMatching {
            card: Cardinality::OneToOne,
            matching_labels: Vec::new(),
            on: false,
            include: Vec::new(),
            fill: FillValues::default(),
        };
        let mut return_bool = false;
        if self.peek()?.tok == Tok::Keyword(Keyword::Bool) {
            self.next()?;
            return_bool = true;
        }
        if let Tok::Keyword(k @ (Keyword::On | Keyword::Ignoring)) = self.peek()?.tok {
            self.next()?;
            m.on = k == Keyword::On;
            m.matching_labels = self.parse_grouping_labels()?;
            if let Tok::Keyword(g @ (Keyword::GroupLeft | Keyword::GroupRight)) = self.peek()?.tok {
                self.next()?;
                m.card = if g == Keyword::GroupLeft {
                    Cardinality::ManyToOne
                } else {
                    Cardinality::OneToMany
                };
                if self.peek()?.tok == Tok::LParen {
                    m.include = self.parse_grouping_labels()?;
                }
            }
        }
        if let Tok::Keyword(k @ (Keyword::Fill | Keyword::FillLeft | Keyword::FillRight)) =
            self.peek()?.tok
        {
            self.next()?;
            let v = self.parse_fill_value()?;
            match k {
                Keyword::Fill => {
                    m.fill.lhs = Some(v);
                    m.fill.rhs = Some(v);
                }
                Keyword::FillLeft => {
                    m.fill.lhs = Some(v);
                    if self.peek()?.tok == Tok::Keyword(Keyword::FillRight) {
                        self.next()?;
                        m.fill.rhs = Some(self.parse_fill_value()?);
                    }
                }
                _ => {
                    m.fill.rhs = Some(v);
                    if self.peek()?.tok == Tok::Keyword(Keyword::FillLeft) {
                        self.next()?;
                        m.fill.lhs = Some(self.parse_fill_value()?);
                    }
                }
            }
        }
        Ok((return_bool, m))
    }

    fn parse_fill_value(&mut self) -> PResult<f64> {
        self.expect(Tok::LParen)?;
        let mut t = self.next()?;
        let mut sign = 1.0;
        if let Tok::Op(op @ (BinaryOp::Add | BinaryOp::Sub)) = t.tok {
            if op == BinaryOp::Sub {
                sign = -1.0;
            }
            t = self.next()?;
        }
        if !matches!(t.tok, Tok::Number | Tok::Duration) {
            return Err(PErr::Unexpected(t));
        }
        let v = self.number_literal(&t)?.value * sign;
        self.expect(Tok::RParen)?;
        Ok(v)
    }
}
