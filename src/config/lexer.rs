//! Tokens from the preprocessed text, via the pest grammar in `keepalived.pest`.
//!
//! pest matches `run`s (everything up to the next quote: bare words, blanks, braces and
//! newlines) and quoted strings; a run is then split into words at its blanks, braces and
//! newlines (see the grammar for why: one pest match per stretch between quotes instead of
//! one per word is most of the lexer's speed). Lines without a quote are one run by that
//! definition and go straight to the splitting (see `lex_chunk`). The text is lexed in
//! chunks cut at line ends, so memory stays bounded however big the configuration is (a
//! token never spans lines). Each token knows its line and column in the text, counted on
//! the way.

use pest::Parser;
use pest::Token;
use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "config/keepalived.pest"]
struct Grammar;

/// Bytes lexed at a time (rounded up to the next line end): what pest's line index and
/// token queue, built anew for every parse, and a chunk's tokens cover at once, however
/// large the configuration.
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

/// A token: its kind, its byte range in the source text, and where it is in the text's
/// lines (so that the builder can name its original position without searching for it).
#[derive(Debug, Clone, Copy)]
pub struct Tok {
    pub kind: Kind,
    pub start: u32,
    pub end: u32,
    /// The line of the text it is on (0-based: newlines before it).
    pub line: u32,
    /// Its column on that line (1-based, bytes).
    pub col: u32,
}

/// Where the lexer is in the text's lines: the line number and where that line starts.
#[derive(Debug, Clone, Copy, Default)]
struct LinePos {
    line: u32,
    start: u32,
}

impl LinePos {
    fn tok(&self, kind: Kind, start: u32, end: u32) -> Tok {
        Tok {
            kind,
            start,
            end,
            line: self.line,
            col: start - self.start + 1,
        }
    }
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
    /// Where the next chunk starts (lexing on this thread).
    next: usize,
    buf: Vec<Tok>,
    pos: usize,
    /// Where lexing on this thread is in the text's lines.
    lines: LinePos,
    /// CPU time spent lexing so far on this thread (for the phase figures).
    pub time: std::time::Duration,
}

/// Where the chunk starting at `from` ends: CHUNK bytes on, rounded up to a line end.
fn chunk_end(text: &str, from: usize) -> usize {
    let to = (from + CHUNK).min(text.len());
    if to < text.len() {
        // In bytes: `from + CHUNK` may fall inside a character; the byte after a newline
        // never does.
        match memchr::memchr(b'\n', &text.as_bytes()[to..]) {
            Some(p) => to + p + 1,
            None => text.len(),
        }
    } else {
        to
    }
}

impl<'s> Lexer<'s> {
    pub fn new(text: &'s str) -> Self {
        Lexer {
            text,
            next: 0,
            buf: Vec::with_capacity(CHUNK / 4),
            pos: 0,
            lines: LinePos::default(),
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
            let to = chunk_end(self.text, from);
            self.next = to;
            let started = super::thread_cpu();
            self.buf.clear();
            self.pos = 0;
            lex_chunk(self.text, from, to, &mut self.lines, &mut self.buf);
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

/// Appends the tokens of `text[from..to]` (whole lines) to `out`; `lines` is where the
/// previous chunk left off.
///
/// Only the lines from the chunk's first quote to its last go through pest: by the
/// grammar, the lines around them hold no quote and are therefore one `run` each side,
/// and a run is split at its newlines anyway (no token spans a line), so cutting it at a
/// line end changes no token. Most large configurations have no quote in most chunks,
/// and a pest parse costs a pass over its whole input for its line index besides the
/// match itself.
fn lex_chunk(text: &str, from: usize, to: usize, lines: &mut LinePos, out: &mut Vec<Tok>) {
    let Some(bytes) = text.as_bytes().get(from..to) else {
        return;
    };
    let (Some(first), Some(last)) = (memchr::memchr(b'"', bytes), memchr::memrchr(b'"', bytes))
    else {
        split_run(bytes, from as u32, lines, out);
        return;
    };
    let quoted_from = memchr::memrchr(b'\n', &bytes[..first]).map_or(0, |p| p + 1);
    let quoted_to = memchr::memchr(b'\n', &bytes[last..]).map_or(bytes.len(), |p| last + p + 1);
    split_run(&bytes[..quoted_from], from as u32, lines, out);
    lex_with_grammar(text, from + quoted_from, from + quoted_to, lines, out);
    split_run(&bytes[quoted_to..], (from + quoted_to) as u32, lines, out);
}

/// [`lex_chunk`] by the grammar alone: `text[from..to]` is whole lines.
fn lex_with_grammar(text: &str, from: usize, to: usize, lines: &mut LinePos, out: &mut Vec<Tok>) {
    // The grammar accepts any text, so parsing cannot fail; be safe regardless.
    let Ok(pairs) = Grammar::parse(Rule::chunk, &text[from..to]) else {
        return;
    };
    let base = from as u32;
    let bytes = text.as_bytes();
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
                split_run(span, at, lines, out);
                continue;
            }
            Rule::quoted => Kind::Quoted,
            Rule::unterminated => Kind::Unterminated,
            _ => continue,
        };
        // (a string never holds a newline)
        out.push(lines.tok(kind, at, at + span.len() as u32));
    }
}

/// Every byte of a `u64` set to `b`.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}
const LOW7: u64 = splat(0x7f);
const HIGH: u64 = splat(0x80);

/// The high bit of each byte of `x` that equals `b` (exact: no carry crosses bytes).
#[inline(always)]
fn bytes_equal(x: u64, b: u8) -> u64 {
    let v = x ^ splat(b);
    !(((v & LOW7) + LOW7) | v | LOW7)
}

/// The high bit of each byte of `x` that may end a word: every byte up to 0x20 (blanks,
/// newlines and the rare control characters, which the caller tells apart) and the braces.
#[inline(always)]
fn may_end_word(x: u64) -> u64 {
    // A byte's low seven bits plus 0x5f reach the high bit from 0x21 on, and never carry
    // into the next byte; a byte from 0x80 on has its high bit already.
    let above_blank = ((x & LOW7) + splat(0x7f - 0x20)) | x;
    (!above_blank & HIGH) | bytes_equal(x, b'{') | bytes_equal(x, b'}')
}

/// The tokens of a `run` (see the grammar): bare words, separated by blanks (space, tab,
/// CR), and braces and newlines, each a token. `at` is the run's offset in the text.
/// `lines` moves on at each newline. This runs over most of the configuration, so it
/// looks at eight bytes at a time for the bytes that can end a word, and at those only.
fn split_run(run: &[u8], at: u32, lines: &mut LinePos, out: &mut Vec<Tok>) {
    let n = run.len();
    // Where the word being read, if any, starts.
    let mut word = 0usize;
    let mut base = 0usize;
    while base < n {
        let mut ends = match run
            .get(base..base + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
        {
            Some(eight) => may_end_word(u64::from_le_bytes(eight)),
            None => {
                // The last few bytes, padded (and the padding masked out).
                let mut eight = [0u8; 8];
                let take = n - base;
                eight[..take].copy_from_slice(&run[base..]);
                may_end_word(u64::from_le_bytes(eight)) & ((1u64 << (take * 8)) - 1)
            }
        };
        while ends != 0 {
            let i = base + (ends.trailing_zeros() / 8) as usize;
            ends &= ends - 1;
            let kind = match run[i] {
                b' ' | b'\t' | b'\r' => None,
                b'\n' => Some(Kind::Newline),
                b'{' => Some(Kind::LBrace),
                b'}' => Some(Kind::RBrace),
                // Other control characters belong to words.
                _ => continue,
            };
            if i > word {
                out.push(lines.tok(Kind::Word, at + word as u32, at + i as u32));
            }
            word = i + 1;
            if let Some(kind) = kind {
                let i = i as u32;
                out.push(lines.tok(kind, at + i, at + i + 1));
                if kind == Kind::Newline {
                    lines.line += 1;
                    lines.start = at + i + 1;
                }
            }
        }
        base += 8;
    }
    if n > word {
        out.push(lines.tok(Kind::Word, at + word as u32, at + n as u32));
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
        let starts = line_starts(src);
        let mut got = Vec::new();
        while let Some(t) = l.next_tok() {
            assert_eq!((t.line, t.col), line_col(&starts, t.start), "{t:?}");
            got.push((t.kind, t.start, t.end));
        }
        got
    }

    /// Where each line of `src` starts.
    fn line_starts(src: &str) -> Vec<u32> {
        let newlines = src.bytes().enumerate().filter(|(_, b)| *b == b'\n');
        std::iter::once(0)
            .chain(newlines.map(|(i, _)| i as u32 + 1))
            .collect()
    }

    /// The line (0-based) and column (1-based, bytes) of `pos`, from [`line_starts`].
    fn line_col(starts: &[u32], pos: u32) -> (u32, u32) {
        let line = starts.partition_point(|&s| s <= pos) - 1;
        (line as u32, pos - starts[line] + 1)
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
        // and with no quote at all (no chunk goes through pest)
        let plain = src.replace('"', "");
        assert_eq!(lex(&plain), reference(&plain));
    }

    /// Found by the `config` fuzz target: a character across the CHUNK byte panicked
    /// (`text[to..]` at a byte inside it).
    #[test]
    fn a_chunk_cut_inside_a_character() {
        for pad in 0..3 {
            let mut src = "a".repeat(CHUNK - 1 - pad);
            src.push_str("\u{fffd}\u{fffd} b\nc d\n");
            assert_eq!(lex(&src), reference(&src), "pad {pad}");
        }
    }

    /// The tokens of `src` as one chunk, by [`lex_chunk`] or by the grammar alone.
    fn one_chunk(src: &str, grammar_only: bool) -> Vec<Tok> {
        let (mut lines, mut out) = (LinePos::default(), Vec::new());
        if grammar_only {
            lex_with_grammar(src, 0, src.len(), &mut lines, &mut out);
        } else {
            lex_chunk(src, 0, src.len(), &mut lines, &mut out);
        }
        out
    }

    fn same(a: &[Tok], b: &[Tok]) -> bool {
        let key = |t: &Tok| (t.kind, t.start, t.end, t.line, t.col);
        a.iter().map(key).eq(b.iter().map(key))
    }

    #[test]
    fn only_quoted_lines_need_the_grammar() {
        let plain = "virtual_server 10.0.0.1 80 {\n real_server 10.1.1.1 80 { weight 2 }\n}\n";
        let texts = [
            String::new(),
            plain.repeat(3),
            format!("{plain}  notify_up \"/bin/x y\"\n{plain}"),
            format!("\"first\" line\n{plain}x \"last\""),
            format!("{plain}a \"open\n{plain}b \"c\" \"open too\n{plain}"),
            format!("{}no newline at the end", plain.repeat(2)),
            "\t\u{1}w\u{b}{\u{1f}|}\r\n \u{e9}\"q\"\n".to_string(),
        ];
        for text in &texts {
            let (fast, pest) = (one_chunk(text, false), one_chunk(text, true));
            assert!(same(&fast, &pest), "{text:?}\n{fast:?}\n{pest:?}");
            let kinds: Vec<_> = fast.iter().map(|t| (t.kind, t.start, t.end)).collect();
            assert_eq!(kinds, reference(text), "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn same_tokens_as_the_plain_definition(
            src in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a", "bc", " ", "\t", "\r", "\n", "{", "}", "\"", "\u{e9}", "\u{1}", "#", "~",
                    "    ", "        ", "\u{b}", "\u{1f}", "|", "\u{7f}", "z{", "123456789",
                ]),
                0..60,
            )
        ) {
            let src: String = src.concat();
            proptest::prop_assert_eq!(lex(&src), reference(&src));
            proptest::prop_assert!(same(&one_chunk(&src, false), &one_chunk(&src, true)));
        }
    }
}
