//! Tokens from the preprocessed text, via the pest grammar in `keepalived.pest`.
//!
//! pest matches lines (`run`s of bare words, blanks and braces up to a newline or quote),
//! quoted strings and newlines; a run is then split into words at its blanks and braces
//! (see the grammar for why: one pest match per line instead of one per word is most of
//! the parser's speed). The text is lexed in chunks cut at line ends, so memory stays
//! bounded however big the configuration is (a token never spans lines).

use pest::Parser;
use pest::Token;
use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "config/keepalived.pest"]
struct Grammar;

/// Bytes lexed at a time (rounded up to the next line end). Small enough that pest's
/// token queue stays under glibc's 64 KiB threshold, past which every free of it makes
/// malloc consolidate its free lists.
const CHUNK: usize = 8 * 1024;

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
    /// CPU time spent lexing so far (for the parse benchmark's phase figures).
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

    #[cold]
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
            let started = super::thread_cpu();
            self.buf.clear();
            self.pos = 0;
            // The grammar accepts any text, so parsing cannot fail; be safe regardless.
            let Ok(pairs) = Grammar::parse(Rule::chunk, &self.text[from..to]) else {
                continue;
            };
            let base = from as u32;
            let bytes = self.text.as_bytes();
            // Every visible rule is a leaf: its Start and End tokens come in pairs.
            let mut start = 0usize;
            for t in pairs.tokens() {
                let (rule, end) = match t {
                    Token::Start { pos, .. } => {
                        start = pos.pos();
                        continue;
                    }
                    Token::End { rule, pos } => (rule, pos.pos()),
                };
                let Some(span) = bytes.get(from + start..from + end) else {
                    continue;
                };
                let at = base + start as u32;
                let kind = match rule {
                    Rule::run => {
                        split_run(span, at, &mut self.buf);
                        continue;
                    }
                    Rule::quoted => Kind::Quoted,
                    Rule::unterminated => Kind::Unterminated,
                    Rule::nl => Kind::Newline,
                    _ => continue,
                };
                // The token, then the newline the grammar let it take.
                let own = match span.last() {
                    Some(b'\n') if kind != Kind::Newline => span.len() - 1,
                    _ => span.len(),
                };
                self.buf.push(Tok {
                    kind,
                    start: at,
                    end: at + own as u32,
                });
                if own < span.len() {
                    self.buf.push(Tok {
                        kind: Kind::Newline,
                        start: at + own as u32,
                        end: at + span.len() as u32,
                    });
                }
            }
            self.time += super::thread_cpu().saturating_sub(started);
        }
        true
    }

    #[inline]
    pub fn peek(&mut self) -> Option<Tok> {
        if let Some(t) = self.buf.get(self.pos) {
            return Some(*t);
        }
        if self.fill() {
            self.buf.get(self.pos).copied()
        } else {
            None
        }
    }

    #[inline]
    pub fn next_tok(&mut self) -> Option<Tok> {
        let t = self.peek()?;
        self.pos += 1;
        Some(t)
    }
}

/// How [`split_run`] reads a byte.
const WORD: u8 = 0;
const BLANK: u8 = 1;
const RBRACE: u8 = 2;
const LBRACE: u8 = 3;
const NEWLINE: u8 = 4;
static CLASS: [u8; 256] = {
    let mut t = [WORD; 256];
    t[b' ' as usize] = BLANK;
    t[b'\t' as usize] = BLANK;
    t[b'\r' as usize] = BLANK;
    t[b'}' as usize] = RBRACE;
    t[b'{' as usize] = LBRACE;
    t[b'\n' as usize] = NEWLINE;
    t
};

/// The tokens of a `run` (see the grammar): bare words separated by blanks (space, tab,
/// CR) and `}`s, then the `{` and the newline that may end it. `at` is the run's offset
/// in the text. (A table lookup per byte: this runs over most of the configuration.)
fn split_run(run: &[u8], at: u32, out: &mut Vec<Tok>) {
    let class = |i: usize| CLASS[run[i] as usize];
    let n = run.len();
    let mut i = 0;
    while i < n {
        let kind = match class(i) {
            BLANK => {
                i += 1;
                // Indentation, most of a large configuration's blanks: 8 spaces at a time.
                while run.get(i..i + 8) == Some(b"        ") {
                    i += 8;
                }
                while i < n && class(i) == BLANK {
                    i += 1;
                }
                continue;
            }
            WORD => {
                let start = i;
                i += 1;
                while i < n && class(i) == WORD {
                    i += 1;
                }
                out.push(Tok {
                    kind: Kind::Word,
                    start: at + start as u32,
                    end: at + i as u32,
                });
                continue;
            }
            RBRACE => Kind::RBrace,
            LBRACE => Kind::LBrace,
            _ => Kind::Newline,
        };
        out.push(Tok {
            kind,
            start: at + i as u32,
            end: at + i as u32 + 1,
        });
        i += 1;
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
        assert_eq!(lex(src), reference(src));
    }

    fn lex(src: &str) -> Vec<(Kind, u32, u32)> {
        let mut l = Lexer::new(src);
        let mut got = Vec::new();
        while let Some(t) = l.next_tok() {
            got.push((t.kind, t.start, t.end));
        }
        got
    }

    /// The tokens by the plain definition, one character at a time: blanks separate;
    /// newlines and braces are tokens; `"…"` and `"…` (to the line end) are strings; a
    /// word runs to the next blank, newline, brace or quote.
    fn reference(src: &str) -> Vec<(Kind, u32, u32)> {
        let b = src.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let start = i;
            let kind = match b[i] {
                b' ' | b'\t' | b'\r' => {
                    i += 1;
                    continue;
                }
                b'\n' => Kind::Newline,
                b'{' => Kind::LBrace,
                b'}' => Kind::RBrace,
                b'"' => {
                    let mut j = i + 1;
                    while j < b.len() && b[j] != b'"' && b[j] != b'\n' {
                        j += 1;
                    }
                    if j < b.len() && b[j] == b'"' {
                        i = j + 1;
                        out.push((Kind::Quoted, start as u32, i as u32));
                    } else {
                        i = j;
                        out.push((Kind::Unterminated, start as u32, i as u32));
                    }
                    continue;
                }
                _ => {
                    while i < b.len() && !b" \t\r\n{}\"".contains(&b[i]) {
                        i += 1;
                    }
                    out.push((Kind::Word, start as u32, i as u32));
                    continue;
                }
            };
            i += 1;
            out.push((kind, start as u32, i as u32));
        }
        out
    }

    #[test]
    fn chunks_cut_at_line_ends() {
        // Longer than several chunks, with every kind of token around the cuts.
        let mut src = String::new();
        let mut n = 0;
        while src.len() < 3 * CHUNK + 100 {
            src.push_str(&format!(
                "  kw{n}\t\"q {n}\" {{}}x\"open {n} \r\n\n é{n}{{\n"
            ));
            n += 1;
        }
        assert_eq!(lex(&src), reference(&src));
    }

    proptest::proptest! {
        #[test]
        fn same_tokens_as_the_plain_definition(
            src in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a", "bc", " ", "\t", "\r", "\n", "{", "}", "\"", "\u{e9}", "\u{1}", "#", "~",
                    "    ", "        ",
                ]),
                0..60,
            )
        ) {
            let src: String = src.concat();
            proptest::prop_assert_eq!(lex(&src), reference(&src));
        }
    }
}
