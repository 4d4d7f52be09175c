//! The typed builder: statements from the lexer, read block by block against the keyword
//! tables into the model, with a diagnostic at the exact token for every problem.

use super::diag::Diagnostic;
use super::keywords::{self, Table};
use super::lexer::{Kind, Lexer, Tok};
use super::model::*;
use super::preprocess::Source;
use crate::script::ScriptUser;
use std::net::IpAddr;
use std::time::Duration;

/// What keepalived reads after a script's command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterCommand {
    /// Nothing (`script`, `misc_path`): more words are ignored.
    Nothing,
    /// `[USER [GROUP]]` to run the script as (notify, quorum and fifo scripts).
    UserGroup,
}

/// A script command line found in the configuration, for the script-security check.
#[derive(Debug, Clone)]
pub struct ScriptRef {
    pub span: Span,
    pub command: String,
    pub user: Option<ScriptUser>,
    /// Nothing: a vrrp_script's `script` or a `misc_path`; UserGroup: any other script.
    pub kind: AfterCommand,
}

/// Locations the model has no field for, kept for validation (parallel to `instances`).
#[derive(Debug, Clone, Default)]
pub struct InstanceSpans {
    pub priority: Option<Span>,
    pub advert_int: Option<Span>,
    pub nopreempt: Option<Span>,
    pub preempt_delay: Option<Span>,
    pub version: Option<Span>,
    pub state: Option<Span>,
    pub authentication: Option<Span>,
    pub unicast_src_ip: Option<Span>,
    pub mcast_dst_ip: Option<Span>,
    pub vmac_xmit_base: Option<Span>,
}

pub(crate) enum Item {
    /// A statement; `true` when it opens a block.
    Stmt(bool),
    Close,
    Eof,
}

pub(crate) struct P<'s> {
    pub src: &'s Source,
    lex: Lexer<'s>,
    pending_close: bool,
    /// The end of the text was reached (a block left open has been reported).
    at_eof: bool,
    pub depth: u32,
    /// The keyword and first argument of the top-level statement being read (for
    /// [`Self::unexpected_block`]).
    top_statement: Option<(Tok, Option<Tok>)>,
    pub diags: Vec<Diagnostic>,
    pub config: Config,
    pub scripts: Vec<ScriptRef>,
    pub inst_spans: Vec<InstanceSpans>,
    /// The real servers of the virtual server being read (see `virtual_server`).
    pub(crate) rs_scratch: Vec<RealServer>,
    /// Positions in `rs_scratch` of real servers without a `weight` of their own (they
    /// take their virtual server's `weight`).
    pub(crate) rs_unweighted: Vec<usize>,
    /// Checkers one checker block stands for beyond itself (SMTP_CHECK `host` blocks),
    /// for the real server being read to take.
    pub(crate) extra_checkers: Vec<Checker>,
    /// Statement buffers of the blocks that ended, for the next ones (a large
    /// configuration has a block per real server).
    toks_pool: Vec<Vec<Tok>>,
    /// "Did you mean" answers already worked out, by block and word: a file made by
    /// `~SEQ` can repeat one unknown keyword a million times, and each answer is a
    /// distance to every keyword of the block.
    suggestions: std::collections::HashMap<(&'static str, &'s str), Option<&'static str>>,
    /// What building consulted outside the text (see [`super::inputs`]).
    pub inputs: super::inputs::Inputs,
}

impl<'s> P<'s> {
    pub fn new(src: &'s Source) -> Self {
        Self::with_lexer(src, Lexer::new(&src.text))
    }

    fn with_lexer(src: &'s Source, lex: Lexer<'s>) -> Self {
        P {
            src,
            lex,
            pending_close: false,
            at_eof: false,
            depth: 0,
            top_statement: None,
            diags: Vec::new(),
            config: Config::default(),
            scripts: Vec::new(),
            inst_spans: Vec::new(),
            rs_scratch: Vec::new(),
            rs_unweighted: Vec::new(),
            extra_checkers: Vec::new(),
            toks_pool: Vec::new(),
            suggestions: std::collections::HashMap::new(),
            inputs: super::inputs::Inputs::default(),
        }
    }

    /// Time spent lexing so far.
    pub fn lex_time(&self) -> std::time::Duration {
        self.lex.time
    }

    // ---- positions and messages -------------------------------------------------------

    pub fn txt(&self, t: Tok) -> &'s str {
        t.text(&self.src.text)
    }
    pub fn sp(&self, t: Tok) -> Span {
        self.src.span_at(t.start, t.line, t.col)
    }
    /// A problem keepalived runs with (`-t` exit 5): the caller applies keepalived's
    /// fallback (most often: the value is ignored and the default stays).
    pub fn problem(&mut self, t: Tok, msg: impl Into<String>) {
        let span = self.sp(t);
        self.diags.push(Diagnostic::warning(span, msg));
    }
    /// A problem that refuses the file (`-t` exit 4): running it would do what the
    /// operator evidently did not mean.
    pub fn refuse(&mut self, t: Tok, msg: impl Into<String>) {
        let span = self.sp(t);
        self.diags.push(Diagnostic::error(span, msg));
    }

    // ---- statements and blocks --------------------------------------------------------

    /// Reads the next statement's tokens into `toks`.
    pub fn next_item(&mut self, toks: &mut Vec<Tok>) -> Item {
        toks.clear();
        if self.pending_close {
            self.pending_close = false;
            self.depth = self.depth.saturating_sub(1);
            return Item::Close;
        }
        loop {
            let Some(t) = self.lex.next_tok() else {
                self.at_eof = true;
                return if toks.is_empty() {
                    Item::Eof
                } else {
                    Item::Stmt(false)
                };
            };
            match t.kind {
                Kind::Newline => {
                    if toks.is_empty() {
                        continue;
                    }
                    // A `{` on a following line still opens this statement's block.
                    loop {
                        match self.lex.peek() {
                            Some(n) if n.kind == Kind::Newline => {
                                self.lex.next_tok();
                            }
                            Some(n) if n.kind == Kind::LBrace => {
                                self.lex.next_tok();
                                self.depth += 1;
                                return Item::Stmt(true);
                            }
                            _ => return Item::Stmt(false),
                        }
                    }
                }
                Kind::LBrace => {
                    if toks.is_empty() {
                        self.problem(t, "`{` without a keyword before it");
                        self.depth += 1;
                        self.skip_block(t);
                        continue;
                    }
                    self.depth += 1;
                    return Item::Stmt(true);
                }
                Kind::RBrace => {
                    if toks.is_empty() {
                        if self.depth == 0 {
                            self.problem(t, "`}` without a matching `{`");
                            continue;
                        }
                        self.depth -= 1;
                        return Item::Close;
                    }
                    if self.depth == 0 {
                        self.problem(t, "`}` without a matching `{`");
                        return Item::Stmt(false);
                    }
                    self.pending_close = true;
                    return Item::Stmt(false);
                }
                Kind::Unterminated => {
                    self.problem(t, "unterminated quoted string");
                    toks.push(t);
                }
                Kind::Word | Kind::Quoted => toks.push(t),
            }
        }
    }

    /// Skips the rest of the block that `open` just opened (we are inside it); a block
    /// that the file never closes refuses the file, as everywhere else.
    pub fn skip_block(&mut self, open: Tok) {
        let target = self.depth.saturating_sub(1);
        let mut toks = Vec::new();
        loop {
            match self.next_item(&mut toks) {
                Item::Close if self.depth <= target => return,
                Item::Eof => {
                    let kw = self.txt(open);
                    self.refuse(open, format!("`{kw}` block is never closed (missing `}}`)"));
                    return;
                }
                _ => {}
            }
        }
    }

    /// Reads a block's statements (we are just inside its `{`), calling `f` for each.
    /// `open` is the keyword that opened it (for "not closed" errors).
    pub fn block(&mut self, open: Tok, mut f: impl FnMut(&mut Self, &[Tok], bool)) {
        let inner = self.depth;
        let mut toks = self
            .toks_pool
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(8));
        loop {
            match self.next_item(&mut toks) {
                Item::Close => break,
                Item::Eof => {
                    let kw = self.txt(open);
                    self.refuse(open, format!("`{kw}` block is never closed (missing `}}`)"));
                    break;
                }
                Item::Stmt(opens) => {
                    f(self, &toks, opens);
                    if opens && self.depth > inner && !self.at_eof {
                        self.block_not_read(&toks);
                        self.skip_block(toks[0]);
                    }
                }
            }
        }
        self.toks_pool.push(toks);
    }

    /// For keywords that need a block: reports its absence.
    pub fn need_block(&mut self, toks: &[Tok], opens: bool) -> bool {
        if !opens {
            let kw = self.txt(toks[0]);
            self.problem(toks[0], format!("`{kw}` needs a `{{ … }}` block"));
        }
        opens
    }

    /// An unknown keyword: a warning when keepalived has it and lvsd does not yet, else an
    /// error with the nearest known keyword. Skips its block.
    pub fn unknown(&mut self, toks: &[Tok], opens: bool, table: &Table) {
        let kw = self.txt(toks[0]);
        if table.unsupported.contains(&kw) {
            self.problem(
                toks[0],
                format!("`{kw}` is not supported yet by lvsd (ignored)"),
            );
        } else {
            let suggestion = *self
                .suggestions
                .entry((table.name, kw))
                .or_insert_with(|| table.suggest(kw));
            let msg = match suggestion {
                _ if kw.contains('\u{a0}') => format!(
                    "unknown keyword `{}` in {}: a no-break space (U+00A0) is not a blank to \
                     keepalived, so the line is ignored, as keepalived does",
                    kw.replace('\u{a0}', "<U+00A0>"),
                    table.name
                ),
                Some(s) => format!(
                    "unknown keyword `{kw}` in {}; did you mean `{s}`?",
                    table.name
                ),
                None => format!("unknown keyword `{kw}` in {}", table.name),
            };
            self.problem(toks[0], msg);
            if opens {
                self.unexpected_block(toks, None);
            }
        }
        if opens {
            self.skip_block(toks[0]);
        }
    }

    /// A statement's block its handler did not read: one keepalived does not expect when
    /// the keyword takes none; else (the handler gave the statement up, e.g. a real
    /// server with a bad port) skipped, as keepalived skips it.
    fn block_not_read(&mut self, toks: &[Tok]) {
        let kw = self.txt(toks[0]);
        let why = format!("`{kw}` does not take a block");
        if super::keywords::BLOCK_KEYWORDS.contains(&kw) {
            self.problem(toks[0], why);
        } else {
            self.unexpected_block(toks, Some(why));
        }
    }

    /// A `{` keepalived 2.2.7 does not expect: after a keyword it does not know, or one
    /// that takes no block. Inside a top-level block it then reads nothing more of that
    /// block (each line up to its end is an "Unknown keyword"; the next top-level block
    /// is read again): the director would run without the rest of it (its VIPs, real
    /// servers, priority), which is refused. At the top level only the block itself is
    /// lost, which lvsd skips as well, with `why` as a warning (`None`: the keyword is
    /// unknown, which was already said).
    pub fn unexpected_block(&mut self, toks: &[Tok], why: Option<String>) {
        if self.depth < 2 {
            if let Some(why) = why {
                self.problem(toks[0], why);
            }
            return;
        }
        let kw = self.txt(toks[0]).replace('\u{a0}', "<U+00A0>");
        let what = why.unwrap_or_else(|| {
            format!("`{kw}` opens a block and keepalived 2.2.7 does not know it")
        });
        let whose = match self.top_statement {
            Some((k, Some(n))) => format!("`{} {}`", self.txt(k), self.txt(n)),
            Some((k, None)) => format!("`{}`", self.txt(k)),
            None => "the enclosing block".to_string(),
        };
        // A `{` in an end-of-line note written as `// … {VRID}`: `//` starts no comment.
        let hint = if toks.iter().any(|t| self.txt(*t).starts_with("//")) {
            "; `//` does not start a comment in keepalived.conf: write `#` or `!`"
        } else {
            ""
        };
        self.refuse(
            toks[0],
            format!(
                "{what}: keepalived then ignores the rest of {whose}, every line up to its \
                 closing `}}`, so the file is refused; remove the block or correct the \
                 keyword{hint}"
            ),
        );
    }

    // ---- values -----------------------------------------------------------------------

    /// Argument `i` of a statement, or an error at the keyword.
    pub fn arg(&mut self, toks: &[Tok], i: usize) -> Option<Tok> {
        let t = toks.get(i).copied();
        if t.is_none() {
            let kw = self.txt(toks[0]);
            self.problem(toks[0], format!("`{kw}` needs a value (ignored)"));
        }
        t
    }

    /// Complains about arguments beyond the first `n`.
    pub fn no_more(&mut self, toks: &[Tok], n: usize) {
        if let Some(t) = toks.get(n) {
            let kw = self.txt(toks[0]);
            let x = self.txt(*t);
            self.problem(*t, format!("`{kw}`: extra word `{x}` ignored"));
        }
    }

    /// A process or thread name: at most 15 bytes (the kernel's TASK_COMM_LEN less one);
    /// a longer one is cut there with a warning, as keepalived.
    pub fn process_name(&mut self, toks: &[Tok]) -> Option<String> {
        let t = self.arg(toks, 1)?;
        self.no_more(toks, 2);
        let name = self.txt(t).to_string();
        if name.len() <= 15 {
            return Some(name);
        }
        let mut cut = 15;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        self.problem(
            t,
            format!(
                "process name {name} is more than 15 characters; cut to {}",
                &name[..cut]
            ),
        );
        Some(name[..cut].to_string())
    }

    /// The one string value of a statement.
    pub fn string(&mut self, toks: &[Tok]) -> Option<String> {
        let t = self.arg(toks, 1)?;
        self.no_more(toks, 2);
        Some(self.txt(t).to_string())
    }

    /// A whole number in `lo..=hi` (token `t` of a statement whose keyword is `kw`).
    pub fn int_tok(&mut self, kw: Tok, t: Tok, lo: i64, hi: i64) -> Option<i64> {
        let s = self.txt(t);
        match s.trim_start_matches(C_SPACE).parse::<i64>() {
            Ok(v) if (lo..=hi).contains(&v) => Some(v),
            Ok(_) => {
                let k = self.txt(kw);
                self.problem(t, format!("{k} {s} out of range {lo}-{hi} (ignored)"));
                None
            }
            Err(_) => {
                let k = self.txt(kw);
                self.problem(t, format!("{k}: `{s}` is not a whole number (ignored)"));
                None
            }
        }
    }

    /// A whole number read as keepalived's daemon reads it where it goes on after a bad
    /// number (`read_unsigned` with `ignore_error`): C's `strtoul` prefix, so `2.5` is 2,
    /// `2s` is 2 and `.2` is 0, each with a warning; a negative number or one outside
    /// `lo..=hi` is ignored.
    pub fn uint_prefix(&mut self, toks: &[Tok], lo: i64, hi: i64) -> Option<i64> {
        let t = self.arg(toks, 1)?;
        self.no_more(toks, 2);
        let s = self.txt(t);
        let k = self.txt(toks[0]);
        let body = s.trim_start_matches(C_SPACE);
        if body.starts_with('-') {
            self.problem(t, format!("{k} {s} is negative (ignored)"));
            return None;
        }
        let unsigned = body.strip_prefix('+').unwrap_or(body);
        let digits = unsigned.len()
            - unsigned
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        let value = if digits == 0 {
            Some(0)
        } else {
            unsigned[..digits].parse::<i64>().ok()
        };
        let Some(v) = value.filter(|v| (lo..=hi).contains(v)) else {
            self.problem(t, format!("{k} {s} out of range {lo}-{hi} (ignored)"));
            return None;
        };
        if digits != unsigned.len() {
            self.problem(
                t,
                format!(
                    "{k}: `{s}` is not a whole number: {v} used, as keepalived's daemon reads it"
                ),
            );
        }
        Some(v)
    }

    /// The one whole-number value of a statement, in `lo..=hi`.
    pub fn int(&mut self, toks: &[Tok], lo: i64, hi: i64) -> Option<i64> {
        let t = self.arg(toks, 1)?;
        self.no_more(toks, 2);
        self.int_tok(toks[0], t, lo, hi)
    }

    pub fn u32v(&mut self, toks: &[Tok]) -> Option<u32> {
        self.int(toks, 0, u32::MAX as i64).map(|v| v as u32)
    }

    pub fn port_tok(&mut self, kw: Tok, t: Tok) -> Option<u16> {
        self.int_tok(kw, t, 0, 65535).map(|v| v as u16)
    }

    /// Seconds with up to six decimals (`1`, `0.5`, `2.25`).
    pub fn dur_tok(&mut self, kw: Tok, t: Tok) -> Option<Duration> {
        let s = self.txt(t);
        match parse_seconds(s) {
            Some(d) => Some(d),
            None => {
                let k = self.txt(kw);
                self.problem(
                    t,
                    format!("{k}: `{s}` is not a number of seconds (ignored)"),
                );
                None
            }
        }
    }

    pub fn dur(&mut self, toks: &[Tok]) -> Option<Duration> {
        let t = self.arg(toks, 1)?;
        self.no_more(toks, 2);
        self.dur_tok(toks[0], t)
    }

    /// A duration that must not be 0 (a checker's or a server's `connect_timeout` and
    /// `delay_loop`): keepalived ignores a 0 and keeps what it had, and so does lvsd.
    pub fn nonzero_dur(&mut self, toks: &[Tok], had: Option<Duration>) -> Option<Duration> {
        match self.dur(toks) {
            Some(d) if d.is_zero() => {
                let k = self.txt(toks[0]);
                let msg = format!("{k} 0 is invalid: ignored, as keepalived does");
                self.problem(toks[1], msg);
                had
            }
            Some(d) => Some(d),
            None => had,
        }
    }

    pub fn ip_tok(&mut self, t: Tok) -> Option<IpAddr> {
        let s = self.txt(t);
        match s.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.problem(t, format!("bad IP address `{s}` (ignored)"));
                None
            }
        }
    }

    pub fn ip(&mut self, toks: &[Tok]) -> Option<IpAddr> {
        let t = self.arg(toks, 1)?;
        self.no_more(toks, 2);
        self.ip_tok(t)
    }

    /// A flag with an optional yes/no argument (`smtp_alert`, `smtp_alert false`).
    pub fn flag(&mut self, toks: &[Tok]) -> bool {
        let Some(t) = toks.get(1).copied() else {
            return true;
        };
        self.no_more(toks, 2);
        match self.txt(t).to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => true,
            "no" | "false" | "off" | "0" => false,
            other => {
                let kw = self.txt(toks[0]);
                self.problem(
                    t,
                    format!("{kw}: `{other}` is not yes/no/true/false/on/off"),
                );
                true
            }
        }
    }

    /// The rest of a line (`regex`): one value as read, or the line as written from its
    /// first value to its last.
    pub fn rest_of_line(&mut self, toks: &[Tok]) -> Option<String> {
        let first = self.arg(toks, 1)?;
        if toks.len() == 2 {
            return Some(self.txt(first).to_string());
        }
        let last = toks[toks.len() - 1];
        Some(self.src.text[first.start as usize..last.end as usize].to_string())
    }

    /// `KEYWORD COMMAND …`, as keepalived reads it: the line splits into words (quotes
    /// group, a backslash escapes) and the first is the command line, split again into the
    /// program and its arguments when it runs. So `script 'killall -0 haproxy'` runs
    /// killall with two arguments and `script killall -0 haproxy` runs killall alone.
    /// The words after it are the notify scripts' `USER [GROUP]` (`after`), or are
    /// ignored, with a warning.
    pub fn script(&mut self, toks: &[Tok], after: AfterCommand) -> Option<String> {
        let first = self.arg(toks, 1)?;
        let last = toks[toks.len() - 1];
        let line = &self.src.text[first.start as usize..last.end as usize];
        let kw = self.txt(toks[0]).to_string();
        let Some(mut words) = crate::script::split_words(line).filter(|w| !w.is_empty()) else {
            self.problem(
                first,
                format!("{kw}: `{line}` does not split into words (a quote is not closed): ignored, as keepalived does"),
            );
            return None;
        };
        let command = words.remove(0);
        let mut user = None;
        match after {
            AfterCommand::UserGroup if !words.is_empty() => {
                if words.len() > 2 {
                    self.problem(
                        toks[toks.len() - 1],
                        format!("{kw}: expected at most `USER GROUP` after the script, found `{}` (ignored)", words[2..].join(" ")),
                    );
                }
                let u = ScriptUser {
                    user: words[0].clone(),
                    group: words.get(1).cloned(),
                };
                match self.config.script_users.get(&command) {
                    Some(other) if *other != u => self.problem(
                        toks[2.min(toks.len() - 1)],
                        format!("{kw}: `{command}` runs as {} elsewhere in the file; lvsd runs it as that user everywhere", other.user),
                    ),
                    Some(_) => {}
                    None => {
                        self.config.script_users.insert(command.clone(), u.clone());
                    }
                }
                user = Some(u);
            }
            AfterCommand::UserGroup => {}
            AfterCommand::Nothing if !words.is_empty() => self.problem(
                toks[2.min(toks.len() - 1)],
                format!(
                    "{kw}: only `{command}` is the command; `{}` is ignored, as keepalived does (quote the whole command line to pass arguments)",
                    words.join(" ")
                ),
            ),
            AfterCommand::Nothing => {}
        }
        let span = self.sp(first);
        self.scripts.push(ScriptRef {
            span,
            command: command.clone(),
            user,
            kind: after,
        });
        Some(command)
    }

    /// `USER [GROUP]`.
    pub fn user(&mut self, toks: &[Tok]) -> Option<ScriptUser> {
        let u = self.arg(toks, 1)?;
        self.no_more(toks, 3);
        Some(ScriptUser {
            user: self.txt(u).to_string(),
            group: toks.get(2).map(|g| self.txt(*g).to_string()),
        })
    }

    // ---- the top level ----------------------------------------------------------------

    pub fn top(&mut self) {
        let mut toks = Vec::with_capacity(8);
        loop {
            match self.next_item(&mut toks) {
                Item::Eof => return,
                Item::Close => {}
                Item::Stmt(opens) => {
                    self.top_statement = Some((toks[0], toks.get(1).copied()));
                    let kw = self.txt(toks[0]);
                    match kw {
                        "global_defs" => {
                            self.no_more(&toks, 1);
                            if self.need_block(&toks, opens) {
                                self.global_defs(toks[0]);
                            }
                        }
                        "vrrp_script" => self.vrrp_script(&toks, opens),
                        "track_file" | "vrrp_track_file" => self.track_file_def(&toks, opens),
                        "vrrp_track_process" => self.track_process_def(&toks, opens),
                        "vrrp_sync_group" => self.sync_group(&toks, opens),
                        "vrrp_instance" => self.instance(&toks, opens),
                        "virtual_server_group" => self.vs_group(&toks, opens),
                        "virtual_server" => self.virtual_server(&toks, opens),
                        "net_namespace" => {
                            if let Some(n) = self.string(&toks) {
                                self.config.global.net_namespace = Some(n);
                            }
                        }
                        "instance" => {
                            if let Some(n) = self.string(&toks) {
                                self.config.global.instance = Some(n);
                            }
                        }
                        "linkbeat_use_polling" => {
                            self.no_more(&toks, 1);
                            self.config.global.linkbeat_use_polling = true;
                        }
                        "linkbeat_interfaces" => self.linkbeat_interfaces(&toks, opens),
                        "net_namespace_ipvs" => {
                            self.no_more(&toks, 2);
                            let name = toks.get(1).map_or("", |t| self.txt(*t)).to_string();
                            self.config.global.net_namespace_ipvs = Some(name);
                        }
                        "use_pid_dir" => {
                            self.no_more(&toks, 1);
                            self.config.global.use_pid_dir = true;
                        }
                        // keepalived's wait for its child processes at exit; lvsd has
                        // none (its sides stop within SHUTDOWN_LIMIT).
                        "child_wait_time" => {
                            self.dur(&toks);
                        }
                        // lvsd uses no ipsets.
                        "namespace_with_ipsets" => self.no_more(&toks, 1),
                        "garp_group" => self.garp_group(&toks, opens),
                        "SSL" => self.ssl_block(&toks, opens),
                        "interface_up_down_delays" => self.interface_delays(&toks, opens),
                        "static_ipaddress" | "static_routes" | "static_rules" => {
                            self.static_block(&toks, opens)
                        }
                        _ => self.unknown(&toks, opens, &keywords::TOP),
                    }
                    if opens && self.depth > 0 && !self.at_eof {
                        self.block_not_read(&toks);
                        self.skip_block(toks[0]);
                    }
                    self.top_statement = None;
                }
            }
        }
    }

    /// `NAME` of a named block, or an error.
    pub fn block_name(&mut self, toks: &[Tok]) -> Option<String> {
        let n = self.arg(toks, 1)?;
        self.no_more(toks, 2);
        Some(self.txt(n).to_string())
    }
}

/// Seconds as written in keepalived.conf: a whole or decimal number, up to microseconds.
pub fn parse_seconds(s: &str) -> Option<Duration> {
    let s = s.trim_start_matches(C_SPACE);
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 6 || whole.len() > 9 {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut micros: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..6 {
        micros *= 10;
    }
    Some(Duration::from_secs(secs) + Duration::from_micros(micros))
}

/// What C's `isspace` skips before a number: keepalived reads numbers with strtol and
/// strtoul, which accept a quoted `"  64"`.
const C_SPACE: [char; 6] = [' ', '\t', '\n', '\x0b', '\x0c', '\r'];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse_seconds("0.25"), Some(Duration::from_millis(250)));
        assert_eq!(parse_seconds(".5"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_seconds("1.000001"),
            Some(Duration::from_micros(1_000_001))
        );
        assert_eq!(parse_seconds("x"), None);
        assert_eq!(parse_seconds("-1"), None);
        assert_eq!(parse_seconds("1.0000001"), None);
        assert_eq!(parse_seconds("  64"), Some(Duration::from_secs(64)));
        assert_eq!(parse_seconds("64 "), None);
    }
}
