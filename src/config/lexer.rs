//! Tokens from the preprocessed text, via the pest grammar in `keepalived.pest`.
//!
//! The text is lexed in chunks cut at line ends, so memory stays bounded however big the
//! configuration is (a token never spans lines). Chunks are small enough for pest's token
//! queue to stay in the CPU cache.

use pest::Parser;
use pest::Token;
use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "config/keepalived.pest"]
struct Grammar;

/// Bytes lexed at a time (rounded up to the next line end).
const CHUNK: usize = 32 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Word,
    /// `"…"`; the text excludes the quotes.
    Quoted,
    /// `"…` with no closing quote on the line.
    Unterminated,
    LBrace,
    RBrace,
    Newline,
}

/// A token: its kind and byte range in the source text.
#[derive(Debug, Clone, Copy)]
pub struct Tok {
    pub kind: Kind,
    pub start: u32,
    pub end: u32,
}

impl Tok {
    /// The token's text (without quotes).
    pub fn text<'t>(&self, src: &'t str) -> &'t str {
        match self.kind {
            Kind::Quoted => &src[self.start as usize + 1..self.end as usize - 1],
            Kind::Unterminated => &src[self.start as usize + 1..self.end as usize],
            _ => &src[self.start as usize..self.end as usize],
        }
    }
}

pub struct Lexer<'s> {
    text: &'s str,
    /// Where the next chunk starts.
    next: usize,
    buf: Vec<Tok>,
    pos: usize,
    /// Time spent lexing so far (for the parse benchmark's phase figures).
    pub time: std::time::Duration,
}

impl<'s> Lexer<'s> {
    pub fn new(text: &'s str) -> Self {
        Lexer {
            text,
            next: 0,
            buf: Vec::with_capacity(CHUNK / 4),
            pos: 0,
            time: std::time::Duration::ZERO,
        }
    }

    fn fill(&mut self) -> bool {
        while self.pos >= self.buf.len() {
            if self.next >= self.text.len() {
                return false;
            }
            let from = self.next;
            let mut to = (from + CHUNK).min(self.text.len());
            if to < self.text.len() {
                to = match self.text[to..].find('\n') {
                    Some(p) => to + p + 1,
                    None => self.text.len(),
                };
            }
            self.next = to;
            let started = std::time::Instant::now();
            self.buf.clear();
            self.pos = 0;
            // The grammar accepts any text, so parsing cannot fail; be safe regardless.
            let Ok(pairs) = Grammar::parse(Rule::chunk, &self.text[from..to]) else {
                continue;
            };
            let base = from as u32;
            let bytes = self.text.as_bytes();
            // Every visible rule is a leaf: its Start and End tokens come in pairs.
            let mut start = 0u32;
            for t in pairs.tokens() {
                let (rule, end) = match t {
                    Token::Start { pos, .. } => {
                        start = base + pos.pos() as u32;
                        continue;
                    }
                    Token::End { rule, pos } => (rule, base + pos.pos() as u32),
                };
                let kind = match rule {
                    Rule::word => Kind::Word,
                    Rule::quoted => Kind::Quoted,
                    Rule::unterminated => Kind::Unterminated,
                    Rule::lbrace => Kind::LBrace,
                    Rule::rbrace => Kind::RBrace,
                    Rule::nl => Kind::Newline,
                    _ => continue,
                };
                // A token took the newline after it: split it off again.
                if kind != Kind::Newline
                    && end > start
                    && bytes.get(end as usize - 1) == Some(&b'\n')
                {
                    self.buf.push(Tok {
                        kind,
                        start,
                        end: end - 1,
                    });
                    self.buf.push(Tok {
                        kind: Kind::Newline,
                        start: end - 1,
                        end,
                    });
                } else {
                    self.buf.push(Tok { kind, start, end });
                }
            }
            self.time += started.elapsed();
        }
        true
    }

    pub fn peek(&mut self) -> Option<Tok> {
        if self.fill() {
            Some(self.buf[self.pos])
        } else {
            None
        }
    }

    pub fn next_tok(&mut self) -> Option<Tok> {
        let t = self.peek()?;
        self.pos += 1;
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let src = "a \"b c\" {\n}x \"open\n\n \t\"q\"\n}\nw\u{1}é\r\n";
        let mut l = Lexer::new(src);
        let mut got = Vec::new();
        while let Some(t) = l.next_tok() {
            got.push((t.kind, t.text(src).to_string()));
        }
        use Kind::*;
        let want = [
            (Word, "a"),
            (Quoted, "b c"),
            (LBrace, "{"),
            (Newline, "\n"),
            (RBrace, "}"),
            (Word, "x"),
            (Unterminated, "open"),
            (Newline, "\n"),
            (Newline, "\n"),
            (Quoted, "q"),
            (Newline, "\n"),
            (RBrace, "}"),
            (Newline, "\n"),
            (Word, "w\u{1}é"),
            (Newline, "\n"),
        ];
        let want: Vec<_> = want.iter().map(|(k, s)| (*k, s.to_string())).collect();
        assert_eq!(got, want);
    }
}
