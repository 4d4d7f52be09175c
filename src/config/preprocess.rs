//! The preprocessor: comments, `include` (globs, relative paths, cycles), `$NAME=VALUE`
//! parameters, `@ID` / `@^ID` conditional lines and `~SEQ(var,start,step,end)`.
//!
//! It produces one text buffer of logical lines, and for each line where it came from, so
//! every later position maps back to the original `file:line:col`. It only reads files.

use super::diag::Diagnostic;
use super::inputs::Inputs;
use super::model::Span;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How deep includes may nest before we stop (well past any sane config).
const MAX_INCLUDE_DEPTH: usize = 32;
/// How deep parameter values may refer to other parameters.
const MAX_EXPANSION_DEPTH: usize = 16;
/// Most lines one `~SEQ` may produce.
const MAX_SEQ: i64 = 1_000_000;
/// How many `~SEQ`s may be open in one another (a line's chain of `~SEQ(..)~SEQ(..)`,
/// through the multi-line parameters it uses): each is a frame of the expansion's
/// recursion, and a few hundred overflow the stack.
const MAX_SEQ_NESTING: usize = 64;
/// The most the preprocessed text may grow to: ~SEQ and multi-line parameters nested in
/// each other multiply, and positions in it are u32. Over five times the 100,000-
/// destination file of the parse benchmark.
const MAX_TEXT: usize = 128 << 20;
/// The most lines ~SEQ repetitions and multi-line parameters may give in all (as many as
/// one ~SEQ may).
const MAX_EXPANDED: usize = MAX_SEQ as usize;
/// The most parameter references expanded for one line.
const MAX_REFS: usize = 100_000;
/// The longest one line or parameter value may grow to once its parameters are expanded
/// (values that refer to others several times double at each level).
const MAX_VALUE: usize = 4 << 20;
const NO_SEG: u32 = u32::MAX;
/// `LineInfo::seg` of a block of lines copied as written (see [`verbatim`]).
const BLOCK: u32 = u32::MAX - 1;

/// Where a logical line starts in the buffer and where it was written; or, when `seg` is
/// `BLOCK`, where a block of whole lines copied as written starts (its first line is
/// `line`, and positions inside map to lines by counting newlines).
#[derive(Debug, Clone, Copy)]
pub struct LineInfo {
    pub start: u32,
    pub file: u32,
    pub line: u32,
    /// Column (1-based, bytes) of the line's first byte in the buffer.
    pub col: u32,
    /// Index into `Source::segs` when parameters were expanded on this line.
    pub seg: u32,
    /// The number of the (first) line in the buffer (0-based).
    pub bline: u32,
}

/// A piece of an expanded line: from buffer offset `out` on, columns are `col` onwards
/// (verbatim text) or all `col` (text that came from a parameter written at `col`).
#[derive(Debug, Clone, Copy)]
pub struct Seg {
    pub out: u32,
    pub col: u32,
    pub verbatim: bool,
}

/// The preprocessed configuration: every kept line, each ending with `\n`.
#[derive(Debug, Default)]
pub struct Source {
    pub text: String,
    pub lines: Vec<LineInfo>,
    pub files: Vec<Arc<PathBuf>>,
    pub segs: Vec<Vec<Seg>>,
    /// What reading the files consulted (see [`super::inputs`]).
    pub inputs: Inputs,
    /// Lines in `text` so far.
    text_lines: u32,
    /// The entry of `lines` [`Source::span`] found last.
    hint: std::cell::Cell<usize>,
    /// Inside a `BLOCK` entry: (entry, offset of a line start, its line number) found last.
    cursor: std::cell::Cell<(usize, u32, u32)>,
}

impl Source {
    /// The index of the line holding buffer position `pos`, if any. Positions are mostly
    /// asked for in increasing order, so the search gallops forward from the previous
    /// answer (a few probes close together) instead of bisecting the whole table.
    fn line_of(&self, pos: u32) -> Option<usize> {
        let lines = &self.lines;
        let h = self.hint.get();
        let i = match lines.get(h) {
            Some(l) if l.start <= pos => {
                let (mut lo, mut step) = (h, 1);
                let hi = loop {
                    let probe = lo + step;
                    match lines.get(probe) {
                        Some(l) if l.start <= pos => {
                            lo = probe;
                            step *= 2;
                        }
                        Some(_) => break probe,
                        None => break lines.len(),
                    }
                };
                // lines[lo].start <= pos < lines[hi].start (or hi is the end).
                lo + lines[lo + 1..hi].partition_point(|l| l.start <= pos)
            }
            _ => lines.partition_point(|l| l.start <= pos).checked_sub(1)?,
        };
        self.hint.set(i);
        Some(i)
    }

    /// The original location of buffer position `pos`, which the lexer found on buffer
    /// line `line` (0-based) at column `col`: as [`Source::span`], without counting lines.
    pub fn span_at(&self, pos: u32, line: u32, col: u32) -> Span {
        match self.line_of(pos).and_then(|i| self.lines.get(i)) {
            Some(l) if l.seg == BLOCK && line >= l.bline => Span {
                file: self.files[l.file as usize].clone(),
                line: l.line + (line - l.bline),
                col,
            },
            _ => self.span(pos),
        }
    }

    /// The original location of buffer position `pos`.
    pub fn span(&self, pos: u32) -> Span {
        let Some(l) = self.line_of(pos).and_then(|i| self.lines.get(i)) else {
            return Span {
                file: self.files.first().cloned().unwrap_or_default(),
                line: 1,
                col: 1,
            };
        };
        let off = pos - l.start;
        if l.seg == BLOCK {
            let idx = self.hint.get();
            let (mut at, mut line) = match self.cursor.get() {
                // (Line 0: not set yet.)
                (i, at, line) if i == idx && line != 0 && at <= pos => (at, line),
                _ => (l.start, l.line),
            };
            let seen = self
                .text
                .as_bytes()
                .get(at as usize..pos as usize)
                .unwrap_or(&[]);
            if let Some(last) = memchr::memrchr(b'\n', seen) {
                // memchr counts in bulk; one search finds where the last line starts.
                line += memchr::memchr_iter(b'\n', seen).count() as u32;
                at += last as u32 + 1;
            }
            self.cursor.set((idx, at, line));
            return Span {
                file: self.files[l.file as usize].clone(),
                line,
                col: pos - at + 1,
            };
        }
        let col = if l.seg == NO_SEG {
            l.col + off
        } else {
            let segs = &self.segs[l.seg as usize];
            let i = segs.partition_point(|s| s.out <= off);
            match i.checked_sub(1).and_then(|i| segs.get(i)) {
                Some(s) if s.verbatim => s.col + (off - s.out),
                Some(s) => s.col,
                None => l.col,
            }
        };
        Span {
            file: self.files[l.file as usize].clone(),
            line: l.line,
            col,
        }
    }

    /// A span for the start of a file (for problems with the file as a whole).
    pub fn file_span(path: &Path) -> Span {
        Span {
            file: Arc::new(path.to_path_buf()),
            line: 1,
            col: 1,
        }
    }
}

/// Preprocesses `text` (the contents of `path`). Includes are read from disk.
pub fn preprocess(path: &Path, text: &str, config_id: &str, diags: &mut Vec<Diagnostic>) -> Source {
    let mut pre = Pre::new(path, config_id, diags, None);
    pre.out.text.reserve(text.len() + 1);
    pre.file(path, text);
    pre.out
}

/// [`preprocess`] of a file's text that the caller gives away: when all of it goes through
/// unchanged (no comment, parameter, `@` line, `~SEQ` or include: most large generated
/// configurations), it becomes the preprocessed text as it is instead of being copied.
pub fn preprocess_owned(
    path: &Path,
    text: String,
    config_id: &str,
    diags: &mut Vec<Diagnostic>,
) -> Source {
    preprocess_owned_in(path, text, config_id, diags, None)
}

/// [`preprocess_owned`], with includes confined to the directory `root` when given: an
/// absolute pattern, a `..` in a pattern, or a match that resolves outside `root` is an
/// error instead of being read (the fuzzers parse hostile text without touching the rest
/// of the file system).
pub fn preprocess_owned_in(
    path: &Path,
    text: String,
    config_id: &str,
    diags: &mut Vec<Diagnostic>,
    root: Option<&Path>,
) -> Source {
    let (mut out, whole) = {
        let mut pre = Pre::new(path, config_id, diags, Some(&text));
        pre.root = root.map(|r| std::fs::canonicalize(r).unwrap_or_else(|_| r.to_path_buf()));
        pre.file(path, &text);
        // Held back but not all of it (what follows was left out: comments, blank lines)
        if pre.held != Some(text.len()) {
            pre.release_held();
        }
        (pre.out, pre.held.is_some())
    };
    if whole {
        out.text = text;
        if !out.text.ends_with('\n') {
            out.text.push('\n');
        }
    }
    out
}

/// Appends whole lines: `text`, and a newline when it does not end with one.
fn push_lines(out: &mut String, text: &str) {
    out.push_str(text);
    if !text.ends_with('\n') {
        out.push('\n');
    }
}

struct Pre<'a> {
    config_id: &'a str,
    params: HashMap<String, String>,
    out: Source,
    diags: &'a mut Vec<Diagnostic>,
    /// Canonical paths of the files being read, outermost first (for cycles).
    stack: Vec<PathBuf>,
    /// The outermost file's text when the caller may take it as the output
    /// ([`preprocess_owned`]).
    top: Option<&'a str>,
    /// How much of `top`, from its start, has gone to the output as one block without
    /// being copied into `out.text` yet (the first thing anything else written copies).
    held: Option<usize>,
    /// Includes may only read files under this (canonical) directory.
    root: Option<PathBuf>,
    /// The output passed [`MAX_TEXT`] or [`MAX_EXPANDED`] lines came from ~SEQ and
    /// multi-line parameters: the error is reported, nothing more is expanded.
    too_big: bool,
    /// Lines read from ~SEQ repetitions and multi-line parameters so far.
    expanded: usize,
    /// `~SEQ`s being expanded now, one in another.
    seq_nesting: usize,
}

/// Where the text being handled was written.
#[derive(Clone, Copy)]
struct At {
    file: u32,
    line: u32,
    col: u32,
}

impl<'a> Pre<'a> {
    fn new(
        path: &Path,
        config_id: &'a str,
        diags: &'a mut Vec<Diagnostic>,
        top: Option<&'a str>,
    ) -> Self {
        let mut out = Source::default();
        let canon = out
            .inputs
            .canonical(path)
            .unwrap_or_else(|_| path.to_path_buf());
        Pre {
            config_id,
            params: HashMap::new(),
            out,
            diags,
            stack: vec![canon],
            top,
            held: None,
            root: None,
            too_big: false,
            seq_nesting: 0,
            expanded: 0,
        }
    }

    /// Copies the block held back (see `held`) into the output text, before anything
    /// else is written there.
    fn release_held(&mut self) {
        if let (Some(len), Some(top)) = (self.held.take(), self.top) {
            self.out.text.reserve(top.len() + 1);
            push_lines(&mut self.out.text, &top[..len]);
        }
    }

    fn span(&self, at: At) -> Span {
        Span {
            file: self.out.files[at.file as usize].clone(),
            line: at.line,
            col: at.col,
        }
    }

    /// A problem keepalived runs with: the line is left out (`-t` exit 5).
    fn error(&mut self, at: At, msg: String) {
        let span = self.span(at);
        self.diags.push(Diagnostic::warning(span, msg));
    }

    /// A problem that refuses the file.
    fn refuse(&mut self, at: At, msg: String) {
        let span = self.span(at);
        self.diags.push(Diagnostic::error(span, msg));
    }

    /// Counts one line read from a ~SEQ repetition or a multi-line parameter; false (and
    /// the file refused) past [`MAX_EXPANDED`]: nested ones multiply, even when they
    /// write nothing.
    fn count_expanded(&mut self, at: At) -> bool {
        self.expanded += 1;
        if self.expanded > MAX_EXPANDED && !self.too_big {
            self.too_big = true;
            self.refuse(
                at,
                format!("~SEQ and multi-line parameters give more than {MAX_EXPANDED} lines"),
            );
        }
        !self.too_big
    }

    /// After output was written at `at`: refuses the file once the output passes
    /// [`MAX_TEXT`] (from then on `too_big` stops every expansion).
    fn check_size(&mut self, at: At) {
        if !self.too_big && self.out.text.len() > MAX_TEXT {
            self.too_big = true;
            self.refuse(
                at,
                format!(
                    "the configuration grows past {} MiB once ~SEQ, parameters and includes are expanded",
                    MAX_TEXT >> 20
                ),
            );
        }
    }

    fn file(&mut self, path: &Path, text: &str) {
        let file = self.out.files.len() as u32;
        self.out.files.push(Arc::new(path.to_path_buf()));
        if all_verbatim(text) {
            self.block(file, 1, text);
        } else {
            self.lines(file, path, text);
        }
    }

    /// The lines of `file`, one by one (see [`Pre::file`]).
    fn lines(&mut self, file: u32, path: &Path, text: &str) {
        // One vectorised pass each over the whole file tells whether any line can have a
        // comment or a parameter; most large configurations have neither, and then the
        // per-line work for them is skipped.
        let comments = memchr::memchr2(b'#', b'!', text.as_bytes()).is_some();
        let dollars = memchr::memchr(b'$', text.as_bytes()).is_some();
        let quotes = memchr::memchr(b'"', text.as_bytes()).is_some();
        // Consecutive lines that need no change are copied as one block: (offset, line).
        let mut block: Option<(usize, u32)> = None;
        let mut lines = split_lines(text).enumerate();
        while let Some((i, raw)) = lines.next() {
            let off = raw.as_ptr() as usize - text.as_ptr() as usize;
            if !dollars && verbatim(raw, comments, quotes) {
                block.get_or_insert((off, i as u32 + 1));
                continue;
            }
            if let Some((from, line)) = block.take() {
                self.block(file, line, &text[from..off]);
            }
            let stripped = if comments || memchr::memchr(b'\\', raw.as_bytes()).is_some() {
                strip_comment(raw)
            } else {
                std::borrow::Cow::Borrowed(raw)
            };
            let content = trim_end(&stripped);
            let trimmed = trim_start(content);
            if trimmed.is_empty() {
                continue;
            }
            let mut at = At {
                file,
                line: i as u32 + 1,
                col: (content.len() - trimmed.len()) as u32 + 1,
            };
            let mut rest = trimmed;
            if let Some(tag) = rest.strip_prefix('@') {
                let end = tag.find([' ', '\t']).unwrap_or(tag.len());
                let (neg, id) = match tag[..end].strip_prefix('^') {
                    Some(id) => (true, id),
                    None => (false, &tag[..end]),
                };
                if (id == self.config_id) == neg {
                    continue;
                }
                let after = &tag[end..];
                let t = after.trim_start();
                at.col += 1 + end as u32 + (after.len() - t.len()) as u32;
                rest = t;
                if rest.is_empty() {
                    continue;
                }
            }
            if let Some((name, value)) = param_definition(rest) {
                let mut value = value.trim().to_string();
                while value.ends_with('\\') {
                    value.pop();
                    let keep = value.trim_end().len();
                    value.truncate(keep);
                    match lines.next() {
                        Some((_, next)) => {
                            value.push('\n');
                            value.push_str(strip_comment(next).trim());
                        }
                        None => break,
                    }
                }
                self.params.insert(name.to_string(), value);
                continue;
            }
            self.logical_line(rest, at, path, dollars, 0);
        }
        if let Some((from, line)) = block {
            self.block(file, line, &text[from..]);
        }
    }

    /// Emits lines copied as written (`text` is whole lines, the last newline optional).
    fn block(&mut self, file: u32, line: u32, text: &str) {
        if text.is_empty() {
            return;
        }
        // The outermost file's first block, from its very start, is held back: should it
        // turn out to be the whole output, the caller takes the file's text as it is.
        let hold = self.top.is_some_and(|top| top.as_ptr() == text.as_ptr())
            && self.out.text.is_empty()
            && self.held.is_none();
        if !hold {
            self.release_held();
        }
        let start = self.out.text.len();
        self.out.lines.push(LineInfo {
            start: start as u32,
            file,
            line,
            col: 1,
            seg: BLOCK,
            bline: self.out.text_lines,
        });
        if hold {
            self.held = Some(text.len());
        } else {
            push_lines(&mut self.out.text, text);
        }
        self.out.text_lines += memchr::memchr_iter(b'\n', text.as_bytes()).count() as u32
            + u32::from(!text.ends_with('\n'));
        self.check_size(At { file, line, col: 1 });
    }

    /// One logical line (after comments and `@` conditions): a `~SEQ`, or a line whose
    /// parameters are expanded (`dollars`: it may have some), then included or emitted.
    /// `depth` counts the multi-line parameters this line came from.
    fn logical_line(&mut self, rest: &str, at: At, path: &Path, dollars: bool, depth: usize) {
        if self.too_big {
            return;
        }
        for (prefix, hex) in [("~SEQ(", false), ("~SEQx(", true)] {
            if let Some(seq) = rest.strip_prefix(prefix) {
                let prefix_len = prefix.len() as u32;
                self.seq(seq, at, path, hex, prefix_len, depth);
                return;
            }
        }
        if dollars {
            self.expanded_line(rest, at, path, depth);
        } else {
            self.line(rest, at, None, path);
        }
    }

    /// `~SEQ(var, [start,] [step,] end) rest`: `rest` once for each value (`hex`: the
    /// value written in hexadecimal, for `~SEQx`). The arguments may use parameters.
    fn seq(&mut self, seq: &str, at: At, path: &Path, hex: bool, prefix_len: u32, depth: usize) {
        let Some(close) = seq.find(')') else {
            self.error(at, "~SEQ: missing `)`".into());
            return;
        };
        let args: Vec<String> = seq[..close]
            .split(',')
            .map(|a| {
                let a = a.trim();
                match a.strip_prefix('$') {
                    Some(name) => {
                        let name = name.trim_start_matches('{').trim_end_matches('}');
                        let mut refs = MAX_REFS;
                        self.expand_value(name, 0, &mut refs)
                            .unwrap_or_else(|_| a.to_string())
                    }
                    None => a.to_string(),
                }
            })
            .collect();
        let nums: Option<Vec<i64>> = args.iter().skip(1).map(|a| a.trim().parse().ok()).collect();
        let toward = |from: i64, to: i64| if to >= from { 1 } else { -1 };
        let (var, start, step, end) = match (args.first(), nums.as_deref()) {
            (Some(v), Some([s, st, e])) => (v.as_str(), *s, *st, *e),
            (Some(v), Some([s, e])) => (v.as_str(), *s, toward(*s, *e), *e),
            (Some(v), Some([e])) => {
                let s = if *e >= 0 { 1 } else { -1 };
                (v.as_str(), s, toward(s, *e), *e)
            }
            _ => {
                self.error(
                    at,
                    "~SEQ needs (var, [start,] [step,] end) with whole numbers".into(),
                );
                return;
            }
        };
        let var = var.to_string();
        let var = var.as_str();
        if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            self.error(at, format!("~SEQ: bad variable name `{var}`"));
            return;
        }
        // In i128: the distance between two i64s does not fit an i64.
        let span = i128::from(end) - i128::from(start);
        if step == 0 || span.signum() * i128::from(step.signum()) < 0 {
            self.error(
                at,
                format!("~SEQ: step {step} never reaches {end} from {start}"),
            );
            return;
        }
        let last = span / i128::from(step);
        if last >= i128::from(MAX_SEQ) {
            self.error(at, format!("~SEQ: more than {MAX_SEQ} repetitions"));
            return;
        }
        let after = &seq[close + 1..];
        let body = after.trim_start();
        let body_at = At {
            col: at.col + prefix_len + close as u32 + 1 + (after.len() - body.len()) as u32,
            ..at
        };
        if body.is_empty() {
            return;
        }
        if self.seq_nesting >= MAX_SEQ_NESTING {
            // The file is refused, and nothing more is expanded.
            self.too_big = true;
            self.refuse(
                at,
                format!("~SEQ nested deeper than {MAX_SEQ_NESTING} in one another"),
            );
            return;
        }
        self.seq_nesting += 1;
        // start + k × step for k = 0..=last lies between start and end: no overflow.
        for k in 0..=last {
            if !self.count_expanded(at) {
                break;
            }
            let v = i128::from(start) + k * i128::from(step);
            let shown = if hex { format!("{v:x}") } else { v.to_string() };
            self.params.insert(var.to_string(), shown);
            self.logical_line(body, body_at, path, true, depth);
        }
        self.seq_nesting -= 1;
    }

    /// Expands parameters on one line, then includes or emits it.
    fn expanded_line(&mut self, text: &str, at: At, path: &Path, depth: usize) {
        if !text.contains('$') {
            self.line(text, at, None, path);
            return;
        }
        // A parameter of several lines, alone on its line: each of its lines is read as a
        // line of its own (so a `~SEQ` among them repeats what follows it on that line).
        if let Some(name) = lone_param(text) {
            if let Some(value) = self.params.get(name).filter(|v| v.contains('\n')) {
                if depth >= MAX_EXPANSION_DEPTH {
                    self.error(
                        at,
                        format!("parameter `{name}` refers to itself (too deep)"),
                    );
                    return;
                }
                let value = value.clone();
                for piece in value.split('\n') {
                    let piece = piece.trim();
                    if !piece.is_empty() {
                        if !self.count_expanded(at) {
                            return;
                        }
                        let dollars = piece.contains('$');
                        self.logical_line(piece, at, path, dollars, depth + 1);
                    }
                }
                return;
            }
        }
        let mut refs = MAX_REFS;
        let mut out = String::with_capacity(text.len() + 16);
        let mut segs = vec![Seg {
            out: 0,
            col: at.col,
            verbatim: true,
        }];
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut lit = 0;
        while i < bytes.len() {
            if bytes[i] != b'$' {
                i += 1;
                continue;
            }
            let (name, next) = if bytes.get(i + 1) == Some(&b'{') {
                match text[i + 2..].find('}') {
                    Some(e) => (&text[i + 2..i + 2 + e], i + 3 + e),
                    None => {
                        i += 1;
                        continue;
                    }
                }
            } else {
                let n = text[i + 1..]
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    .count();
                (&text[i + 1..i + 1 + n], i + 1 + n)
            };
            let builtin = if self.params.contains_key(name) {
                None
            } else {
                match builtin_param(name, path, self.config_id, &mut self.out.inputs) {
                    Some(v) => Some(v),
                    None => {
                        // Not a parameter we know: keepalived leaves the text as written.
                        i = next.max(i + 1);
                        continue;
                    }
                }
            };
            out.push_str(&text[lit..i]);
            segs.push(Seg {
                out: out.len() as u32,
                col: at.col + i as u32,
                verbatim: false,
            });
            let value = match builtin {
                Some(v) => Ok(v),
                None => self.expand_value(name, 0, &mut refs),
            };
            match value {
                Ok(v) if out.len() + v.len() > MAX_VALUE => {
                    self.refuse(
                        at,
                        format!(
                            "the line grows past {} MiB once its parameters are expanded",
                            MAX_VALUE >> 20
                        ),
                    );
                    return;
                }
                Ok(v) => out.push_str(&v),
                Err(msg) => {
                    self.error(
                        At {
                            col: at.col + i as u32,
                            ..at
                        },
                        msg,
                    );
                    return;
                }
            }
            segs.push(Seg {
                out: out.len() as u32,
                col: at.col + next as u32,
                verbatim: true,
            });
            i = next;
            lit = next;
        }
        out.push_str(&text[lit..]);
        if !out.contains('\n') {
            self.line(&out, at, Some(segs), path);
            return;
        }
        // A multi-line parameter: every line it produces points at the line that used it.
        let mut first = true;
        for piece in out.split('\n') {
            let t = piece.trim();
            if t.is_empty() {
                first = false;
                continue;
            }
            let segs = if first {
                segs.clone()
            } else {
                vec![Seg {
                    out: 0,
                    col: at.col,
                    verbatim: false,
                }]
            };
            // Offsets in `segs` are relative to `piece`; the first piece starts at 0.
            let lead = (piece.len() - piece.trim_start().len()) as u32;
            let segs = segs
                .into_iter()
                .map(|s| Seg {
                    out: s.out.saturating_sub(lead),
                    ..s
                })
                .collect();
            self.line(t, at, Some(segs), path);
            first = false;
        }
    }

    /// The value of parameter `name` with the parameters it refers to expanded; `refs`:
    /// how many more references may be expanded for the line being read (values made of
    /// many references to others multiply at each level, even when they are empty).
    fn expand_value(&self, name: &str, depth: usize, refs: &mut usize) -> Result<String, String> {
        if depth > MAX_EXPANSION_DEPTH {
            return Err(format!("parameter `{name}` refers to itself (too deep)"));
        }
        *refs = refs.checked_sub(1).ok_or_else(|| {
            format!("parameter `{name}`: more than {MAX_REFS} references to expand")
        })?;
        let Some(v) = self.params.get(name) else {
            return Ok(format!("${name}"));
        };
        if !v.contains('$') {
            return Ok(v.clone());
        }
        let mut out = String::new();
        let mut rest = v.as_str();
        while let Some(p) = rest.find('$') {
            out.push_str(&rest[..p]);
            let after = &rest[p + 1..];
            let (n, len) = if let Some(b) = after.strip_prefix('{') {
                match b.find('}') {
                    Some(e) => (&b[..e], e + 2),
                    None => ("", 0),
                }
            } else {
                let n = after
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    .count();
                (&after[..n], n)
            };
            if !n.is_empty() && self.params.contains_key(n) {
                out.push_str(&self.expand_value(n, depth + 1, refs)?);
                if out.len() > MAX_VALUE {
                    return Err(format!(
                        "parameter `{name}` grows past {} MiB once expanded",
                        MAX_VALUE >> 20
                    ));
                }
            } else {
                out.push('$');
                out.push_str(&after[..len]);
            }
            rest = &after[len..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn line(&mut self, text: &str, at: At, segs: Option<Vec<Seg>>, path: &Path) {
        if self.too_big {
            return;
        }
        if let Some(arg) = text.strip_prefix("include") {
            // keepalived's includer/includem/includew/includeb/includea only choose which
            // problems with the pattern it reports: lvsd reports them all.
            let arg = match arg.as_bytes().first() {
                Some(b'r' | b'm' | b'w' | b'b' | b'a') => &arg[1..],
                _ => arg,
            };
            if arg.is_empty() || arg.starts_with([' ', '\t']) {
                self.include(arg.trim(), at, path);
                return;
            }
        }
        let seg = match segs {
            Some(s) => {
                self.out.segs.push(s);
                self.out.segs.len() as u32 - 1
            }
            None => NO_SEG,
        };
        self.release_held();
        self.out.lines.push(LineInfo {
            start: self.out.text.len() as u32,
            file: at.file,
            line: at.line,
            col: at.col,
            seg,
            bline: self.out.text_lines,
        });
        self.out.text.push_str(text);
        self.out.text.push('\n');
        // (a logical line never holds a newline: lines are split at them first)
        self.out.text_lines += 1;
        self.check_size(at);
    }

    fn include(&mut self, pattern: &str, at: At, path: &Path) {
        let pattern = pattern
            .strip_prefix('"')
            .and_then(|p| p.strip_suffix('"'))
            .unwrap_or(pattern);
        if pattern.is_empty() {
            self.error(at, "include needs a file or glob pattern".into());
            return;
        }
        if let Some(root) = &self.root {
            if Path::new(pattern).is_absolute()
                || Path::new(pattern)
                    .components()
                    .any(|c| c == std::path::Component::ParentDir)
            {
                self.error(
                    at,
                    format!(
                        "include `{pattern}`: outside {} (includes are confined there)",
                        root.display()
                    ),
                );
                return;
            }
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            dir.join(pattern)
        };
        let full_str = full.to_string_lossy().into_owned();
        let matches: Vec<PathBuf> = match self.out.inputs.glob(&full_str) {
            Ok(paths) => paths,
            Err(msg) => {
                self.error(at, format!("include `{pattern}`: bad pattern: {msg}"));
                return;
            }
        };
        if matches.is_empty() {
            if pattern.contains(['*', '?', '[']) {
                let span = self.span(at);
                self.diags.push(Diagnostic::warning(
                    span,
                    format!("include `{pattern}` matches no file"),
                ));
            } else {
                self.error(at, format!("include `{pattern}`: no such file"));
            }
            return;
        }
        for m in matches {
            let canon = self.out.inputs.canonical(&m).unwrap_or_else(|_| m.clone());
            if let Some(root) = &self.root {
                if !canon.starts_with(root) {
                    self.error(
                        at,
                        format!(
                            "include `{}`: outside {} (includes are confined there)",
                            m.display(),
                            root.display()
                        ),
                    );
                    continue;
                }
            }
            if self.stack.contains(&canon) {
                let mut chain: Vec<String> = self
                    .stack
                    .iter()
                    .skip_while(|p| **p != canon)
                    .map(|p| p.display().to_string())
                    .collect();
                chain.push(canon.display().to_string());
                self.refuse(at, format!("include cycle: {}", chain.join(" -> ")));
                continue;
            }
            if self.stack.len() >= MAX_INCLUDE_DEPTH {
                self.refuse(
                    at,
                    format!("includes nested deeper than {MAX_INCLUDE_DEPTH}"),
                );
                return;
            }
            let text = match read_text(&m, &mut self.out.inputs) {
                Ok(t) => t,
                Err(e) => {
                    self.error(at, format!("include `{}`: {e}", m.display()));
                    continue;
                }
            };
            self.stack.push(canon);
            self.file(&m, &text);
            self.stack.pop();
        }
    }
}

/// A configuration file's text (the read noted in `inputs`). Bytes that are not UTF-8 (a
/// comment written in another encoding) become U+FFFD, as keepalived, which reads bytes,
/// would not mind them.
pub fn read_text(path: &Path, inputs: &mut Inputs) -> std::io::Result<String> {
    Ok(text_of(inputs.read(path)?))
}

/// A file's bytes as text (bytes that are not UTF-8 replaced).
pub fn text_of(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// The parameter's name when `text` is just `$NAME` or `${NAME}`.
fn lone_param(text: &str) -> Option<&str> {
    let rest = text.trim().strip_prefix('$')?;
    let name = match rest.strip_prefix('{') {
        Some(r) => r.strip_suffix('}')?,
        None => rest,
    };
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then_some(name)
}

/// keepalived's pre-defined parameters: `${_PWD}` (the directory of the file being read),
/// `${_INSTANCE}` (the configuration id, `-i`), `${_RANDOM [MIN [MAX]]}`, `${_HASH}` (`#`)
/// and `${_BANG}` (`!`).
/// `inputs` notes what the values depend on.
fn builtin_param(name: &str, path: &Path, config_id: &str, inputs: &mut Inputs) -> Option<String> {
    let mut words = name.split_ascii_whitespace();
    let word = words.next()?;
    match word {
        "_PWD" => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            let dir = dir.unwrap_or(Path::new("."));
            let dir = inputs.canonical(dir).unwrap_or_else(|_| dir.to_path_buf());
            Some(dir.display().to_string())
        }
        "_INSTANCE" => Some(config_id.to_string()),
        "_HASH" => Some("#".into()),
        "_BANG" => Some("!".into()),
        "_RANDOM" => {
            inputs.unrepeatable("the file uses ${_RANDOM}, which differs on each load");
            let lo: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
            let hi: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(32767);
            let (lo, hi) = (lo.min(hi), lo.max(hi));
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(lo ^ hi);
            Some((lo + h.finish() % (hi - lo).saturating_add(1)).to_string())
        }
        _ => None,
    }
}

/// Whether every line of `text` is [`verbatim`], from a few vectorised passes over the
/// whole text instead of a look at each line: no byte that starts a comment, a parameter,
/// an `@` line, a `~SEQ` or a string, nothing outside ASCII nor a vertical tab or form
/// feed (which trimming would take), and no `include` anywhere.
fn all_verbatim(text: &str) -> bool {
    let b = text.as_bytes();
    b.is_ascii()
        && memchr::memchr3(b'#', b'!', b'$', b).is_none()
        && memchr::memchr3(b'@', b'~', b'"', b).is_none()
        && memchr::memchr2(0x0b, 0x0c, b).is_none()
        && memchr::memmem::find(b, b"include").is_none()
}

/// Whether a line can be copied as written, because the lexer reads from it exactly the
/// tokens the full treatment (comment stripping, trimming, parameters, `@`, `~SEQ`,
/// `include`) would give, at the same columns: it has no comment and no parameter (the
/// caller knows whether the file has any), does not start with `@`, `~`, `$` or
/// `include`, and its first and last characters that are not the grammar's blanks (space,
/// tab, CR) are plain ASCII other than vertical tab and form feed (which `str::trim` would
/// remove but the grammar reads as word characters). A line ending in blanks must have no
/// quote, since an unterminated string would take them. A blank line gives only a newline
/// token, which the builder skips as it does a missing line.
fn verbatim(line: &str, comments: bool, quotes: bool) -> bool {
    let b = line.as_bytes();
    let blank = |c: &u8| matches!(c, b' ' | b'\t' | b'\r');
    // Indentation 8 spaces at a time, then byte by byte.
    let mut lead = 0;
    while b.get(lead..lead + 8) == Some(b"        ") {
        lead += 8;
    }
    let Some(first) = b[lead..].iter().position(|c| !blank(c)).map(|p| lead + p) else {
        return true;
    };
    let last = b.iter().rposition(|c| !blank(c)).unwrap_or(first);
    let plain = |c: u8| c.is_ascii() && c != 0x0b && c != 0x0c;
    if !plain(b[first]) || !plain(b[last]) {
        return false;
    }
    if matches!(b[first], b'@' | b'~' | b'$') || b[first..].starts_with(b"include") {
        return false;
    }
    if comments && memchr::memchr2(b'#', b'!', b).is_some() {
        return false;
    }
    // keepalived glues a line's last backslash to its last word.
    if b[last] == b'\\' {
        return false;
    }
    !(quotes && last + 1 < b.len() && memchr::memchr(b'"', b).is_some())
}

/// The pieces of `text` between `\n`s, like `text.split('\n')` but with a vectorised
/// search (this runs over every byte of the configuration).
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut ends = memchr::memchr_iter(b'\n', text.as_bytes());
    let mut from = Some(0);
    std::iter::from_fn(move || {
        let start = from?;
        match ends.next() {
            Some(end) => {
                from = Some(end + 1);
                Some(&text[start..end])
            }
            None => {
                from = None;
                Some(&text[start..])
            }
        }
    })
}

/// The blanks keepalived splits lines on (C's `isspace`): other white space, such as a
/// no-break space (U+00A0), belongs to a word, as in keepalived.
fn ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `s` without its leading blanks (`ascii_space`).
fn trim_start(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii() && ascii_space(c as u8))
}

/// `s` without its trailing blanks (`ascii_space`).
fn trim_end(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_ascii() && ascii_space(c as u8))
}

/// The line as keepalived's `decomment` leaves it: without its comment (`#` or `!`
/// outside double quotes); `\#` and `\!` outside quotes stand for the characters
/// themselves; a backslash that ends the line, even one inside the comment, stays at the
/// end of what is left, glued to its last word (`auth_type PASS # note \` reads as
/// `auth_type PASS\`).
fn strip_comment(line: &str) -> std::borrow::Cow<'_, str> {
    let b = line.as_bytes();
    if memchr::memchr(b'\\', b).is_none() {
        let mut quoted = false;
        for i in memchr::memchr3_iter(b'"', b'#', b'!', b) {
            match b[i] {
                b'"' => quoted = !quoted,
                _ if !quoted => return std::borrow::Cow::Borrowed(&line[..i]),
                _ => {}
            }
        }
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let (mut quoted, mut comment) = (false, false);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\\' if i + 1 == b.len() => {
                while out.last().is_some_and(|c| matches!(c, b' ' | b'\t')) {
                    out.pop();
                }
                out.push(b'\\');
                break;
            }
            b'\\' => {
                let next = b[i + 1];
                if !comment {
                    if quoted || !matches!(next, b'#' | b'!') {
                        out.push(c);
                    }
                    out.push(next);
                }
                i += 2;
                continue;
            }
            b'"' if !comment => {
                quoted = !quoted;
                out.push(c);
            }
            b'#' | b'!' if !quoted => comment = true,
            _ if !comment => out.push(c),
            _ => {}
        }
        i += 1;
    }
    // Only ASCII bytes were left out or moved: the rest is whole UTF-8 characters.
    match String::from_utf8(out) {
        Ok(s) => std::borrow::Cow::Owned(s),
        Err(_) => std::borrow::Cow::Borrowed(line),
    }
}

/// `$NAME=VALUE` → (NAME, VALUE).
fn param_definition(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('$')?;
    let n = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    if n == 0 || rest.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let value = rest[n..].trim_start().strip_prefix('=')?;
    Some((&rest[..n], value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, id: &str) -> (Source, Vec<Diagnostic>) {
        let mut d = Vec::new();
        let s = preprocess(Path::new("t.conf"), text, id, &mut d);
        (s, d)
    }

    #[test]
    fn comments_conditionals_and_params() {
        let (s, d) = run(
            "a 1 # c\n! whole\n@n1 b 2\n@^n1 c 3\n$X=10.0.0.1\nd $X ${X}x\n",
            "n1",
        );
        assert!(d.is_empty());
        assert_eq!(s.text, "a 1\nb 2\nd 10.0.0.1 10.0.0.1x\n");
        // `b` was at column 5 of line 3.
        assert_eq!(s.span(4).line, 3);
        assert_eq!(s.span(4).col, 5);
        // "10.0.0.1x": the `x` after ${X} is at line 6 col 10.
        let pos = s.text.find("1x").unwrap() as u32 + 1;
        assert_eq!((s.span(pos).line, s.span(pos).col), (6, 10));
    }

    #[test]
    fn seq_repeats_the_line() {
        let (s, d) = run("~SEQ(i,1,2,5) rs 10.0.0.$i\n", "x");
        assert!(d.is_empty());
        assert_eq!(s.text, "rs 10.0.0.1\nrs 10.0.0.3\nrs 10.0.0.5\n");
    }

    /// Lines copied as written (blocks) mixed with lines that need work (comments,
    /// conditionals, trailing blanks after a quote, Unicode blanks).
    fn mixed_text() -> String {
        let mut text = String::new();
        for i in 0..300 {
            let line = match i % 9 {
                0 => format!("{}kw{i} {i}", " ".repeat(i % 19)),
                1 => format!("# comment {i}"),
                2 => format!("kw{i} x{i} # trailing"),
                3 => format!("@x kw{i} y{i}"),
                4 => format!("@y dropped{i}"),
                5 => String::new(),
                6 => format!("\tkw{i} \"q {i}\"  "),
                7 => format!("\u{a0}kw{i} z{i}"),
                _ => format!("  kw{i} {{\r"),
            };
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    #[test]
    fn span_lookup_in_any_order() {
        let text = mixed_text();
        let (s, d) = run(&text, "x");
        assert!(d.is_empty());
        assert!(s.lines.iter().any(|l| l.seg == BLOCK));
        assert!(s.lines.iter().any(|l| l.seg != BLOCK));
        let orig: Vec<&str> = text.split('\n').collect();
        // Every word of the output, by its first byte.
        let out = s.text.as_bytes();
        let words: Vec<u32> = (0..out.len())
            .filter(|&i| {
                !b" \t\r\n{}\"".contains(&out[i])
                    && (i == 0 || b" \t\r\n{}\"".contains(&out[i - 1]))
            })
            .map(|i| i as u32)
            .collect();
        assert!(words.len() > 300, "{}", words.len());
        let word_at = |t: &[u8], i: usize| -> Vec<u8> {
            t[i..]
                .iter()
                .take_while(|b| !b" \t\r\n{}\"".contains(b))
                .copied()
                .collect()
        };
        let backward: Vec<u32> = words.iter().rev().copied().collect();
        let jumps: Vec<u32> = (0..words.len())
            .map(|i| words[(i * 7919) % words.len()])
            .collect();
        for order in [words.clone(), backward, jumps] {
            for pos in order {
                let sp = s.span(pos);
                let line = orig[sp.line as usize - 1].as_bytes();
                assert_eq!(
                    word_at(line, sp.col as usize - 1),
                    word_at(out, pos as usize),
                    "pos {pos} -> {}:{}",
                    sp.line,
                    sp.col
                );
            }
        }
        // `kw54` is on line 55 after 16 blanks (a copied line); `kw57` on line 58
        // after `@x ` (a line with its conditional removed).
        let pos = s.text.find("kw54 ").unwrap() as u32;
        let sp = s.span(pos);
        assert_eq!((sp.line, sp.col), (55, 17));
        let pos = s.text.find("kw57 ").unwrap() as u32;
        let sp = s.span(pos);
        assert_eq!((sp.line, sp.col), (58, 4));
    }

    /// `span_at`, given the buffer line and column the lexer found, names the same place
    /// as `span` for every token: in copied blocks, on reworked lines, `~SEQ` lines, a file
    /// without a last newline; and in a file with parameters (where no line is copied as
    /// a block).
    #[test]
    fn span_at_agrees_with_span() {
        let text = format!("{}  last line", mixed_text());
        let mut with_params = String::from("$P=a b\n");
        for (i, line) in text.lines().enumerate() {
            with_params.push_str(&line.replace("kw100 ", "$P "));
            with_params.push('\n');
            if i % 50 == 20 {
                with_params.push_str("~SEQ(i,1,1,3) rs 10.0.0.$i { w ${i}x }\n");
            }
        }
        for (text, blocks) in [(text, true), (with_params, false)] {
            let (s, d) = run(&text, "x");
            assert!(d.is_empty(), "{d:?}");
            assert_eq!(s.lines.iter().any(|l| l.seg == BLOCK), blocks);
            let mut lex = super::super::lexer::Lexer::new(&s.text);
            let mut n = 0;
            while let Some(t) = lex.next_tok() {
                let (a, b) = (s.span_at(t.start, t.line, t.col), s.span(t.start));
                assert_eq!((&a.file, a.line, a.col), (&b.file, b.line, b.col), "{t:?}");
                n += 1;
            }
            assert!(n > 600, "{n}");
        }
    }

    #[test]
    fn verbatim_only_where_nothing_changes() {
        assert!(verbatim("    weight 1", false, false));
        assert!(verbatim("                weight 1", false, false));
        assert!(verbatim("                ", false, false));
        assert!(!verbatim("        @id a", false, false));
        assert!(verbatim("", false, false));
        assert!(verbatim(" \t\r", false, false));
        assert!(verbatim("a \"b\"", false, true));
        assert!(!verbatim("a \"b  ", false, true));
        assert!(verbatim("a b  ", false, true));
        assert!(!verbatim("a # c", true, false));
        assert!(!verbatim("  @id a", false, false));
        assert!(!verbatim("~SEQ(i,1,2) a", false, false));
        assert!(!verbatim("  include x.conf", false, false));
        assert!(!verbatim("\u{a0}a", false, false));
        assert!(!verbatim("a\u{2003}", false, false));
        assert!(!verbatim("\x0ba", false, false));
        assert!(!verbatim("a \x0c", false, false));
        assert!(!verbatim(" \x0b ", false, false));
    }

    #[test]
    fn line_helpers_match_std() {
        for text in [
            "",
            "\n",
            "a\nb",
            "a\nb\n",
            "\n\nx\n\n",
            " \t\x0b\x0c\r x \u{a0}\u{2003}",
            "\u{a0} y \u{85}",
            "\u{3000}",
            "z",
        ] {
            let got: Vec<&str> = split_lines(text).collect();
            let want: Vec<&str> = text.split('\n').collect();
            assert_eq!(got, want, "{text:?}");
            let blank = |c: char| c.is_ascii_whitespace() || c == '\x0b';
            assert_eq!(trim_start(text), text.trim_start_matches(blank), "{text:?}");
            assert_eq!(trim_end(text), text.trim_end_matches(blank), "{text:?}");
        }
        assert_eq!(strip_comment("a \"#b\" # c"), "a \"#b\" ");
        assert_eq!(strip_comment("a ! b"), "a ");
        assert_eq!(
            strip_comment("\"open # still quoted"),
            "\"open # still quoted"
        );
        assert_eq!(strip_comment("plain"), "plain");
        // keepalived's decomment: escaped comment characters, a last backslash glued on.
        assert_eq!(strip_comment("router_id lb\\#1 # c"), "router_id lb#1 ");
        assert_eq!(strip_comment("a \"x\\#y\" # c"), "a \"x\\#y\" ");
        assert_eq!(
            strip_comment("auth_type PASS  # note \\"),
            "auth_type PASS\\"
        );
        assert_eq!(strip_comment("a b \\"), "a b\\");
        assert_eq!(strip_comment("a \\\" # c"), "a \\\" ");
        assert_eq!(strip_comment("caf\u{e9} \\n # c"), "caf\u{e9} \\n ");
    }

    #[test]
    fn multi_line_parameter() {
        let (s, _) = run("$B=a 1 \\\n b 2\n$B\n", "x");
        assert_eq!(s.text, "a 1\nb 2\n");
    }

    /// The text, and every position's line and column, of a preprocessed source.
    fn positions(s: &Source) -> (String, Vec<(u32, u32)>) {
        let at = (0..s.text.len() as u32)
            .map(|p| {
                let sp = s.span(p);
                (sp.line, sp.col)
            })
            .collect();
        (s.text.clone(), at)
    }

    /// A text that passes the whole-file test comes out as the line-by-line reading
    /// would give it, and one that does not is read line by line.
    #[test]
    fn whole_file_check_agrees_with_the_lines() {
        let plain = "virtual_server 10.0.0.1 80 {\n\tlb_kind NAT\n  real_server 10.1.1.1 80 { weight 2 }\n}\n";
        let texts = [
            (String::new(), true),
            (plain.to_string(), true),
            (format!("{plain}\n\n  \r\n{plain}"), true),
            (format!("{plain}tail without newline"), true),
            (format!("{plain}a \u{1} b\n"), true),
            (format!("{plain}a \"b\"\n"), false),
            (format!("{plain}a # c\n"), false),
            (format!("{plain}a ! c\n"), false),
            (format!("{plain}$X=1\na $X\n"), false),
            (format!("@n1 a\n{plain}"), false),
            (format!("{plain}~SEQ(i,1,1,2) a $i\n"), false),
            (format!("{plain}include /nonexistent/x.conf\n"), false),
            (format!("{plain}a b\u{b}\n"), false),
            (format!("{plain}\u{c}a b\n"), false),
            (format!("{plain}\u{e9} b\n"), false),
        ];
        for (text, whole) in texts {
            assert_eq!(all_verbatim(&text), whole, "{text:?}");
            let path = Path::new("t.conf");
            let (mut d1, mut d2) = (Vec::new(), Vec::new());
            let mut by_file = Pre::new(path, "n1", &mut d1, None);
            by_file.file(path, &text);
            let mut by_lines = Pre::new(path, "n1", &mut d2, None);
            by_lines.out.files.push(Arc::new(path.to_path_buf()));
            by_lines.lines(0, path, &text);
            assert_eq!(
                positions(&by_file.out),
                positions(&by_lines.out),
                "{text:?}"
            );
            let (l1, l2) = (&by_file.out.lines, &by_lines.out.lines);
            assert_eq!(format!("{l1:?}"), format!("{l2:?}"), "{text:?}");
            assert_eq!(by_file.out.text_lines, by_lines.out.text_lines, "{text:?}");
            drop((by_file, by_lines));
            assert_eq!(d1.len(), d2.len(), "{text:?}");
        }
    }

    #[test]
    fn preprocess_owned_gives_what_preprocess_gives() {
        let dir = std::env::temp_dir().join(format!("lvsd-pre-owned-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("inc.conf"), "inc 1\ninc 2").unwrap();
        let main = dir.join("main.conf");
        for text in [
            "a 1\nb 2\n",
            "a 1\nb 2",
            "a 1\nb 2\n\n\n",
            "a 1\nb 2\n# the end\n",
            "a 1\n# c\nb 2\n",
            "# first\na 1\n",
            "a 1\n$X=9\nb $X\n",
            "a 1\n@n1 b 2\nc 3\n",
            "a 1\ninclude inc.conf\nc 3\n",
            "a \"quoted # not a comment\"\nb 2\n",
            "",
            "\n\n",
        ] {
            let (mut d1, mut d2) = (Vec::new(), Vec::new());
            let copied = preprocess(&main, text, "n1", &mut d1);
            let owned = preprocess_owned(&main, text.to_string(), "n1", &mut d2);
            assert_eq!(positions(&owned), positions(&copied), "{text:?}");
            assert_eq!(d1.len(), d2.len(), "{text:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Found by the `config` fuzz target: a multi-line parameter that uses itself under a
    /// ~SEQ multiplies at each of its 16 levels (3^16 lines here) and ran out of memory.
    #[test]
    fn self_multiplying_parameters_are_refused_not_expanded() {
        let text = "$RS= \\\nreal_server 10.0.0.$N 80 { \\\n~SEQ(N, 3, 1) $RS \\\n}\n$RS\n";
        let (s, d) = run(text, "x");
        assert!(s.text.len() <= MAX_TEXT, "{} bytes", s.text.len());
        assert!(
            d.iter()
                .any(|d| d.is_error() && d.message.contains("more than 1000000 lines")),
            "{d:?}"
        );
        // The same with lines that write nothing (an empty ~SEQ): still refused.
        let mut text = String::from("$P0=~SEQ(N, 1)\n");
        for level in 1..=16 {
            let prev = format!("$P{}", level - 1);
            text.push_str(&format!(
                "$P{level}= \\\n{prev} \\\n{prev} \\\n{prev} \\\n{prev}\n"
            ));
        }
        text.push_str("$P16\n");
        let (_, d) = run(&text, "x");
        assert!(d.iter().any(|d| d.message.contains("lines")), "{d:?}");
    }

    /// Found by the `config` fuzz target: a chain of ~SEQs on a multi-line parameter's
    /// line that uses the parameter again nests 16 × 300 expansions, which overflowed the
    /// stack. Refused with an error instead.
    #[test]
    fn seqs_nested_past_the_limit_are_refused() {
        let chain = "~SEQ(a,1)".repeat(300);
        let text = format!("$B= \\\n{chain} $B\n$B\n");
        let (_, d) = run(&text, "x");
        assert!(
            d.iter()
                .any(|d| d.is_error() && d.message.contains("~SEQ nested deeper than 64")),
            "{d:?}"
        );
        // Nesting within the limit still expands: 3 × 2 lines.
        let (s, d) = run("~SEQ(i,3) ~SEQ(j,2) x $i $j\n", "x");
        assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
        assert_eq!(s.text.matches('x').count(), 6, "{}", s.text);
    }

    /// Values made of many references to others multiply too, even when empty.
    #[test]
    fn parameter_reference_fan_out_is_bounded() {
        let mut text = String::from("$A0=\n");
        for level in 1..=16 {
            let refs = format!("$A{}", level - 1).repeat(20);
            text.push_str(&format!("$A{level}={refs}x\n"));
        }
        text.push_str("a $A16\n");
        let (_, d) = run(&text, "x");
        assert!(
            d.iter()
                .any(|d| d.message.contains("more than 100000 references")),
            "{d:?}"
        );
        // And values that double up to megabytes.
        let mut text = format!("$B0={}\n", "b".repeat(1000));
        for level in 1..=16 {
            let prev = format!("$B{}", level - 1);
            text.push_str(&format!("$B{level}={prev}{prev}\n"));
        }
        text.push_str("a $B16\n");
        let (s, d) = run(&text, "x");
        assert!(s.text.len() < MAX_VALUE, "{} bytes", s.text.len());
        assert!(d.iter().any(|d| d.message.contains("MiB")), "{d:?}");
    }

    /// ~SEQ at the ends of i64: the distance and the last step used to overflow.
    #[test]
    fn seq_at_the_ends_of_i64() {
        let (s, d) = run(
            "~SEQ(N, 9223372036854775806, 9223372036854775807) a $N\n",
            "x",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(s.text, "a 9223372036854775806\na 9223372036854775807\n");
        let (s, d) = run(
            "~SEQ(N, -9223372036854775807, -1, -9223372036854775808) a $N\n",
            "x",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(s.text, "a -9223372036854775807\na -9223372036854775808\n");
        let (_, d) = run(
            "~SEQ(N, -9223372036854775808, 9223372036854775807) a $N\n",
            "x",
        );
        assert!(d.iter().any(|d| d.message.contains("more than")), "{d:?}");
        let (_, d) = run(
            "~SEQ(N, 9223372036854775807, -9223372036854775808) a $N\n",
            "x",
        );
        assert!(d.iter().any(|d| d.message.contains("more than")), "{d:?}");
    }

    #[test]
    fn confined_includes_read_only_under_the_root() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::write(root.join("d/in.conf"), "inside 1\n").unwrap();
        std::fs::write(outer.path().join("out.conf"), "outside 1\n").unwrap();
        std::os::unix::fs::symlink(outer.path().join("out.conf"), root.join("link.conf")).unwrap();
        let main = root.join("main.conf");
        let run = |text: &str| {
            let mut d = Vec::new();
            let s = preprocess_owned_in(&main, text.to_string(), "x", &mut d, Some(&root));
            (s.text, d)
        };
        let (text, d) = run("include d/*.conf\n");
        assert!(text.contains("inside 1"), "{text:?}");
        assert!(d.is_empty(), "{d:?}");
        for refused in [
            "include ../out.conf\n".to_string(),
            "include d/../../out.conf\n".to_string(),
            format!("include {}\n", outer.path().join("out.conf").display()),
            "include link.conf\n".to_string(),
            "$I=include\n$I ../out.conf\n".to_string(),
        ] {
            let (text, d) = run(&refused);
            assert!(!text.contains("outside"), "{refused:?} read {text:?}");
            assert!(
                d.iter().any(|d| d.message.contains("confined")),
                "{refused:?}: {d:?}"
            );
        }
        // Without a root the same include is read.
        let mut d = Vec::new();
        let s = preprocess_owned(&main, "include ../out.conf\n".into(), "x", &mut d);
        assert!(s.text.contains("outside 1"), "{:?}", s.text);
    }

    #[test]
    fn preprocess_owned_keeps_a_text_that_needs_no_change() {
        let text =
            String::from("virtual_server 10.0.0.1 80 {\n real_server 10.0.1.1 80 {\n }\n}\n");
        let at = text.as_ptr();
        let s = preprocess_owned(Path::new("t.conf"), text, "x", &mut Vec::new());
        assert_eq!(s.text.as_ptr(), at, "the text was copied");
        // one that does need a change is copied
        let text = String::from("a 1 # c\nb 2\n");
        let at = text.as_ptr();
        let s = preprocess_owned(Path::new("t.conf"), text, "x", &mut Vec::new());
        assert_eq!(s.text, "a 1\nb 2\n");
        assert_ne!(s.text.as_ptr(), at);
    }
}
