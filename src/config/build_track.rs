//! Builders for `track_file` / `vrrp_track_file` and `vrrp_track_process` (top level) and
//! the `track_script`, `track_interface`, `track_file` and `track_process { … }` lists of
//! instances and sync groups, with keepalived 2.2.7's fallbacks for each problem.

use super::build::P;
use super::keywords;
use super::lexer::Tok;
use super::model::*;

/// Which list a [`TrackRef`] belongs to (their problems differ slightly in keepalived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefKind {
    Script,
    Interface,
    File,
    Process,
}

impl RefKind {
    fn word(self) -> &'static str {
        match self {
            RefKind::Script => "track_script",
            RefKind::Interface => "track_interface",
            RefKind::File => "track_file",
            RefKind::Process => "track_process",
        }
    }
}

impl P<'_> {
    /// `track_file NAME { … }` or `vrrp_track_file NAME { … }` at the top level. A block
    /// without `file` is left out (keepalived: "No file set for track_file").
    pub(crate) fn track_file_def(&mut self, toks: &[Tok], opens: bool) {
        let name = self.block_name(toks);
        if !self.need_block(toks, opens) {
            return;
        }
        let mut f = TrackFileDef {
            span: self.sp(toks[0]),
            name: name.clone().unwrap_or_default(),
            file: String::new(),
            weight: 1,
            weight_reverse: false,
            init_file: None,
        };
        self.block(toks[0], |p, t, opens| match p.txt(t[0]) {
            "file" => {
                if !f.file.is_empty() {
                    p.problem(
                        t[0],
                        format!(
                            "track_file {}: `file` already set (this one is ignored, as keepalived does)",
                            f.name
                        ),
                    );
                } else if let Some(v) = p.string(t) {
                    f.file = v;
                }
            }
            "weight" => {
                if f.weight != 1 {
                    p.problem(
                        t[0],
                        format!(
                            "track_file {}: weight already set (this one is ignored, as keepalived does)",
                            f.name
                        ),
                    );
                    return;
                }
                let Some(v) = p.arg(t, 1) else { return };
                f.weight = p.int_tok(t[0], v, -254, 254).map_or(1, |w| w as i32);
                if let Some(r) = t.get(2) {
                    if p.txt(*r) == "reverse" {
                        f.weight_reverse = true;
                    } else {
                        p.problem(
                            *r,
                            format!("track_file {}: unknown weight option `{}` (ignored)", f.name, p.txt(*r)),
                        );
                    }
                }
            }
            "init_file" => f.init_file = Some(p.track_file_init(t, &f.name)),
            _ => p.unknown(t, opens, &keywords::TRACK_FILE),
        });
        if name.is_none() {
            return;
        }
        if f.file.is_empty() {
            self.problem(
                toks[0],
                format!(
                    "track_file {} has no `file`: left out, as keepalived does",
                    f.name
                ),
            );
            return;
        }
        self.config.track_files.push(f);
    }

    /// `init_file [VALUE] [overwrite]`.
    fn track_file_init(&mut self, t: &[Tok], name: &str) -> TrackFileInit {
        let mut init = TrackFileInit {
            value: 0,
            overwrite: false,
        };
        for w in &t[1..] {
            let s = self.txt(*w);
            if s.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                match s.parse::<i32>() {
                    Ok(v) => {
                        if !(-254..=254).contains(&v) {
                            self.problem(
                                *w,
                                format!("track_file {name}: init value {v} is outside the sensible range -254..254"),
                            );
                        }
                        init.value = v;
                    }
                    Err(_) => {
                        self.problem(
                            *w,
                            format!("track_file {name}: init value `{s}` is not a number (0 used, as keepalived does)"),
                        );
                        init.value = 0;
                    }
                }
            } else if s == "overwrite" {
                init.overwrite = true;
            } else {
                self.problem(
                    *w,
                    format!("track_file {name}: unknown init_file option `{s}` (ignored)"),
                );
            }
        }
        init
    }

    /// `vrrp_track_process NAME { … }`. A block without `process` is left out.
    pub(crate) fn track_process_def(&mut self, toks: &[Tok], opens: bool) {
        let name = self.block_name(toks);
        if !self.need_block(toks, opens) {
            return;
        }
        let mut d = TrackProcessDef::new(self.sp(toks[0]), name.clone().unwrap_or_default());
        self.block(toks[0], |p, t, opens| {
            let kw = p.txt(t[0]);
            match kw {
                "process" => {
                    if !d.process.is_empty() {
                        p.problem(
                            t[0],
                            format!("vrrp_track_process {}: `process` already set (this one is ignored, as keepalived does)", d.name),
                        );
                        return;
                    }
                    let Some(v) = p.arg(t, 1) else { return };
                    d.process = p.txt(v).to_string();
                    if t.len() > 2 {
                        d.params = t[2..].iter().map(|a| p.txt(*a).to_string()).collect();
                        if d.param_match == ParamMatch::None {
                            d.param_match = ParamMatch::Exact;
                        }
                        d.full_command = true;
                    }
                }
                "param_match" => match t.get(1).map(|w| p.txt(*w)) {
                    None => {
                        d.param_match = ParamMatch::Exact;
                        d.full_command = true;
                    }
                    Some("initial") => {
                        d.param_match = ParamMatch::Initial;
                        d.full_command = true;
                    }
                    Some("partial") => {
                        d.param_match = ParamMatch::Partial;
                        d.full_command = true;
                    }
                    Some(other) => p.problem(
                        t[1],
                        format!("vrrp_track_process {}: invalid param_match `{other}` (ignored)", d.name),
                    ),
                },
                "weight" => {
                    if d.weight != 0 {
                        p.problem(
                            t[0],
                            format!("vrrp_track_process {}: weight already set (this one is ignored, as keepalived does)", d.name),
                        );
                        return;
                    }
                    let Some(v) = p.arg(t, 1) else { return };
                    let Some(w) = p.int_tok(t[0], v, -254, 254) else {
                        return;
                    };
                    if let Some(r) = t.get(2) {
                        if p.txt(*r) == "reverse" {
                            d.weight_reverse = true;
                        } else {
                            p.problem(
                                *r,
                                format!("vrrp_track_process {}: unknown weight option `{}` (ignored)", d.name, p.txt(*r)),
                            );
                        }
                    }
                    d.weight = w as i32;
                }
                "quorum" => {
                    let Some(q) = p.int(t, 1, 65535).map(|v| v as u32) else {
                        return;
                    };
                    if q > d.quorum_max {
                        p.problem(
                            t[1],
                            format!("vrrp_track_process {}: quorum is greater than quorum_max (ignored)", d.name),
                        );
                        return;
                    }
                    d.quorum = q;
                }
                "quorum_max" => {
                    let Some(q) = p.int(t, 0, 65535).map(|v| v as u32) else {
                        return;
                    };
                    if (q != 0 || d.quorum > 1) && q < d.quorum {
                        p.problem(
                            t[1],
                            format!("vrrp_track_process {}: quorum_max is less than quorum (ignored)", d.name),
                        );
                        return;
                    }
                    d.quorum_max = q;
                    if q == 0 {
                        d.quorum = 0;
                    } else if d.quorum == 0 {
                        d.quorum = 1;
                    }
                }
                "delay" | "fork_delay" | "terminate_delay" => {
                    let Some(v) = p.dur(t) else { return };
                    if v.is_zero() || v > std::time::Duration::from_secs(3600) {
                        p.problem(
                            t[1],
                            format!("vrrp_track_process {}: {kw} must be in 0.000001..3600 seconds (ignored)", d.name),
                        );
                        return;
                    }
                    if kw != "fork_delay" {
                        d.terminate_delay = Some(v);
                    }
                    if kw != "terminate_delay" {
                        d.fork_delay = Some(v);
                    }
                }
                "full_command" => {
                    p.no_more(t, 1);
                    d.full_command = true;
                }
                _ => p.unknown(t, opens, &keywords::TRACK_PROCESS),
            }
        });
        if name.is_none() {
            return;
        }
        if d.process.is_empty() {
            self.problem(
                toks[0],
                format!(
                    "vrrp_track_process {} has no `process`: left out, as keepalived does",
                    d.name
                ),
            );
            return;
        }
        self.config.track_processes.push(d);
    }

    /// `track_script`, `track_interface`, `track_file` or `track_process { NAME [weight N
    /// [reverse|noreverse]] … }` in an instance or sync group, read as keepalived 2.2.7
    /// reads them: an entry whose second word is not `weight`, or whose `weight` has no
    /// value, is left out; a weight that is not a number in -254..254 leaves the
    /// definition's (an interface's: none); ±254 is ±253 for a script or an interface; an
    /// unknown word after the weight is ignored (a track_file entry is left out), and so
    /// is `noreverse` on an interface. Whether NAME is defined, and whether it comes twice,
    /// is checked once the whole file is read.
    pub(crate) fn track_refs(
        &mut self,
        t: &[Tok],
        opens: bool,
        kind: RefKind,
        out: &mut Vec<TrackRef>,
    ) {
        if !self.need_block(t, opens) {
            return;
        }
        self.block(t[0], |p, l, _| {
            let word = kind.word();
            let name = p.txt(l[0]).to_string();
            let mut r = TrackRef {
                span: p.sp(l[0]),
                name: name.clone(),
                weight: None,
                reverse: None,
            };
            if let Some(w) = l.get(1) {
                if p.txt(*w) != "weight" {
                    p.problem(
                        *w,
                        format!("{word} {name}: expected `weight`, found `{}` (left out, as keepalived does)", p.txt(*w)),
                    );
                    return;
                }
                let Some(v) = l.get(2) else {
                    p.problem(
                        *w,
                        format!("{word} {name}: `weight` needs a value (left out, as keepalived does)"),
                    );
                    return;
                };
                // Not a number in range: the definition's weight stays (keepalived).
                r.weight = p.int_tok(*w, *v, -254, 254).map(|x| x as i32);
                if matches!(kind, RefKind::Script | RefKind::Interface)
                    && matches!(r.weight, Some(254 | -254))
                {
                    let w = r.weight.unwrap_or_default().signum() * 253;
                    p.problem(
                        *v,
                        format!("{word} {name}: weight cannot be ±254: {w} is used, as keepalived does"),
                    );
                    r.weight = Some(w);
                }
                if let Some(o) = l.get(3) {
                    match p.txt(*o) {
                        "reverse" => r.reverse = Some(true),
                        "noreverse" if kind != RefKind::Interface => r.reverse = Some(false),
                        other => {
                            let keep = kind != RefKind::File;
                            p.problem(
                                *o,
                                format!(
                                    "{word} {name}: unknown weight option `{other}` ({})",
                                    if keep { "ignored, as keepalived does" } else { "left out, as keepalived does" }
                                ),
                            );
                            if !keep {
                                return;
                            }
                        }
                    }
                }
            }
            out.push(r);
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{self, model::*};

    fn load(text: &str) -> (Config, Vec<String>) {
        match config::parse_str(text, std::path::Path::new("t.conf"), "x") {
            Ok(l) => (l.config, l.warnings.iter().map(|d| d.to_string()).collect()),
            Err(e) => panic!("refused: {e}"),
        }
    }

    const BASE: &str =
        "vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n";

    #[test]
    fn track_file_forms() {
        let text = format!(
            "track_file tf1 {{\n file /run/tf1\n weight -5 reverse\n init_file 3 overwrite\n}}\n\
             vrrp_track_file tf2 {{\n file \"/run/tf 2\"\n init_file\n}}\n\
             vrrp_track_file tf3 {{\n file /run/tf3\n weight 0\n}}\n\
             {BASE} track_file {{\n  tf1\n  tf2 weight 7\n  tf3 weight 2 noreverse\n }}\n}}\n"
        );
        let (c, d) = load(&text);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(c.track_files.len(), 3);
        let f = &c.track_files[0];
        assert_eq!((f.name.as_str(), f.file.as_str()), ("tf1", "/run/tf1"));
        assert_eq!((f.weight, f.weight_reverse), (-5, true));
        assert_eq!(
            f.init_file,
            Some(TrackFileInit {
                value: 3,
                overwrite: true
            })
        );
        let f = &c.track_files[1];
        assert_eq!((f.file.as_str(), f.weight), ("/run/tf 2", 1));
        assert_eq!(
            f.init_file,
            Some(TrackFileInit {
                value: 0,
                overwrite: false
            })
        );
        assert_eq!(c.track_files[2].weight, 0);
        let r = &c.instances[0].track_file;
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].weight, r[0].reverse), (None, None));
        assert_eq!((r[1].weight, r[1].reverse), (Some(7), None));
        assert_eq!((r[2].weight, r[2].reverse), (Some(2), Some(false)));
    }

    #[test]
    fn track_process_forms() {
        let text = format!(
            "vrrp_track_process p1 {{\n process haproxy\n weight -20 reverse\n quorum 2\n quorum_max 4\n fork_delay 0.5\n terminate_delay 2\n}}\n\
             vrrp_track_process p2 {{\n process /usr/bin/python3 -m http.server\n param_match partial\n}}\n\
             vrrp_track_process p3 {{\n process nginx\n param_match\n full_command\n delay 1\n quorum_max 0\n}}\n\
             {BASE} track_process {{\n  p1\n  p2 weight 5 reverse\n }}\n}}\n\
             vrrp_sync_group G {{\n group {{\n  VI\n }}\n track_process {{\n  p3 weight -3\n }}\n track_file {{\n  x\n }}\n}}\n"
        );
        let (c, mut d) = load(&text);
        // Only the unknown track_file x of the group (and that G has one member).
        d.retain(|w| !w.contains("has only one vrrp_instance"));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("track_file `x`"), "{d:?}");
        let p = &c.track_processes[0];
        assert_eq!(
            (p.process.as_str(), p.weight, p.weight_reverse),
            ("haproxy", -20, true)
        );
        assert_eq!((p.quorum, p.quorum_max), (2, 4));
        assert_eq!(p.fork_delay, Some(std::time::Duration::from_millis(500)));
        assert_eq!(p.terminate_delay, Some(std::time::Duration::from_secs(2)));
        assert!(!p.full_command);
        assert_eq!(p.param_match, ParamMatch::None);
        let p = &c.track_processes[1];
        assert_eq!(p.params, vec!["-m", "http.server"]);
        assert_eq!(p.param_match, ParamMatch::Partial);
        assert!(p.full_command);
        assert_eq!((p.weight, p.quorum, p.quorum_max), (0, 1, u32::MAX));
        let p = &c.track_processes[2];
        assert_eq!(p.param_match, ParamMatch::Exact);
        assert!(p.full_command);
        assert_eq!((p.quorum, p.quorum_max), (0, 0));
        assert_eq!(p.fork_delay, Some(std::time::Duration::from_secs(1)));
        assert_eq!(p.terminate_delay, Some(std::time::Duration::from_secs(1)));
        let r = &c.instances[0].track_process;
        assert_eq!((r[1].weight, r[1].reverse), (Some(5), Some(true)));
        assert_eq!(c.sync_groups[0].track_process[0].weight, Some(-3));
        assert!(c.sync_groups[0].track_file.is_empty());
    }

    #[test]
    fn problems_are_warnings_with_keepalived_fallbacks() {
        let text = format!(
            "track_file nofile {{\n weight 3\n}}\n\
             track_file tf {{\n file /a\n file /b\n weight 300\n init_file x 999\n}}\n\
             vrrp_track_process noproc {{\n weight 2\n}}\n\
             vrrp_track_process p {{\n process x\n quorum 5\n quorum_max 3\n weight 9 sideways\n weight 4\n delay 0\n}}\n\
             {BASE} track_file {{\n  tf weight\n  tf bogus\n  tf weight 1 sideways\n  tf weight 999\n  tf weight 3\n  missing\n }}\n\
             track_process {{\n  p weight 2 sideways\n  p\n }}\n}}\n"
        );
        let (c, d) = load(&text);
        let has = |s: &str| d.iter().any(|x| x.contains(s));
        assert!(has("track_file nofile has no `file`"), "{d:?}");
        assert!(has("`file` already set"), "{d:?}");
        assert!(has("weight 300 out of range"), "{d:?}");
        assert!(has("unknown init_file option `x`"), "{d:?}");
        assert!(has("init value 999 is outside"), "{d:?}");
        assert!(has("vrrp_track_process noproc has no `process`"), "{d:?}");
        assert!(has("quorum_max is less than quorum"), "{d:?}");
        assert!(has("unknown weight option `sideways`"), "{d:?}");
        assert!(has("weight already set"), "{d:?}");
        assert!(has("delay must be in"), "{d:?}");
        assert!(has("track_file `missing`"), "{d:?}");
        assert!(has("duplicate track_file tf"), "{d:?}");
        assert!(has("duplicate track_process p"), "{d:?}");
        assert_eq!(c.track_files.len(), 1);
        let f = &c.track_files[0];
        assert_eq!((f.file.as_str(), f.weight), ("/a", 1));
        assert_eq!(f.init_file.map(|i| i.value), Some(999));
        let p = &c.track_processes[0];
        // quorum 5 > quorum_max unlimited is fine; quorum_max 3 < 5 ignored; the weight
        // with a bad option still counts, the second is refused.
        assert_eq!((p.quorum, p.quorum_max, p.weight), (5, u32::MAX, 9));
        // Left out: `tf weight`, `tf bogus`, `tf weight 1 sideways`; kept: `tf weight 999`
        // (definition's weight); `tf weight 3` and `missing` dropped by validation.
        let r = &c.instances[0].track_file;
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].weight, None);
        let r = &c.instances[0].track_process;
        assert_eq!(r.len(), 1);
    }

    /// track_script and track_interface entries as keepalived 2.2.7 reads them
    /// (vrrp_track.c: alloc_track_script, alloc_track_if), each checked against
    /// keepalived's own dump of the same lines.
    #[test]
    fn script_and_interface_entries_as_keepalived_reads_them() {
        let text = format!(
            "vrrp_script chk_plain {{\n script /bin/true\n weight -3 reverse\n}}\n\
             vrrp_script chk_other {{\n script /bin/true\n weight 7\n}}\n\
             {BASE} track_interface {{\n  eth1 weight 10 noreverse\n  eth2 weight=4\n  \
             eth3 weight 254\n  eth3 weight 5\n  eth4 weight\n  eth5 weight -254 reverse\n }}\n \
             track_script {{\n  chk_plain weight 5\n  chk_plain weight 9\n  chk_other weight=0\n  \
             chk_other weight 254 noreverse\n }}\n}}\n"
        );
        let (c, d) = load(&text);
        let i = &c.instances[0];
        let ifs: Vec<_> = i
            .track_interface
            .iter()
            .map(|t| (t.name.as_str(), t.weight, t.reverse))
            .collect();
        // eth1: `noreverse` is unknown to track_interface (ignored, the entry kept); eth2
        // `weight=4`, the second eth3 and eth4's bare `weight` are left out.
        let want: [(&str, Option<i32>, Option<bool>); 3] = [
            ("eth1", Some(10), None),
            ("eth3", Some(253), None),
            ("eth5", Some(-253), Some(true)),
        ];
        assert_eq!(ifs, want);
        let scripts: Vec<_> = i
            .track_script
            .iter()
            .map(|t| (t.name.as_str(), t.weight, t.reverse))
            .collect();
        // The first chk_plain (its reverse left to the script's); chk_other `weight=0` is
        // left out, so its second entry is not a duplicate.
        assert_eq!(
            scripts,
            [
                ("chk_plain", Some(5), None),
                ("chk_other", Some(253), Some(false))
            ]
        );
        for want in [
            "track_interface eth1: unknown weight option `noreverse` (ignored, as keepalived does)",
            "track_interface eth2: expected `weight`, found `weight=4` (left out, as keepalived does)",
            "track_interface eth3: weight cannot be ±254: 253 is used, as keepalived does",
            "duplicate track_interface eth3 (ignored, as keepalived does)",
            "track_interface eth4: `weight` needs a value (left out, as keepalived does)",
            "duplicate track_script chk_plain (ignored, as keepalived does)",
            "track_script chk_other: expected `weight`, found `weight=0` (left out, as keepalived does)",
        ] {
            assert!(d.iter().any(|m| m.contains(want)), "{want:?} not in {d:#?}");
        }
    }

    #[test]
    fn top_level_track_process_is_unknown_as_in_keepalived() {
        let (c, d) = load("track_process p {\n process x\n}\n");
        assert!(c.track_processes.is_empty());
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("unknown keyword `track_process`"), "{d:?}");
    }

    #[test]
    fn printed_back_reads_the_same() {
        let text = format!(
            "track_file tf1 {{\n file \"/run/a b\"\n weight -5 reverse\n init_file 3 overwrite\n}}\n\
             vrrp_track_file tf2 {{\n file /run/tf2\n weight 0\n}}\n\
             vrrp_track_process p1 {{\n process haproxy\n weight -20 reverse\n quorum 2\n quorum_max 4\n fork_delay 0.5\n terminate_delay 2\n}}\n\
             vrrp_track_process p2 {{\n process /usr/bin/python3 -m http.server\n param_match initial\n}}\n\
             vrrp_track_process p3 {{\n process nginx\n quorum_max 0\n full_command\n}}\n\
             {BASE} track_file {{\n  tf1 weight 3 noreverse\n  tf2\n }}\n track_process {{\n  p1 weight 5 reverse\n  p2\n }}\n}}\n\
             vrrp_instance VJ {{\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {{\n  10.0.0.2\n }}\n}}\n\
             vrrp_sync_group G {{\n group {{\n  VJ\n }}\n track_process {{\n  p3 weight -3\n }}\n track_file {{\n  tf2 weight 0\n }}\n}}\n"
        );
        let (c, d) = load(&text);
        // (G has one member, which keepalived names too.)
        assert!(
            d.iter().all(|w| w.contains("has only one vrrp_instance")),
            "{d:?}"
        );
        let printed = crate::config::print::print(&c);
        for want in [
            "track_file tf1 {",
            "file \"/run/a b\"",
            "weight -5 reverse",
            "init_file 3 overwrite",
            "vrrp_track_process p1 {",
            "process /usr/bin/python3 -m http.server",
            "param_match initial",
            "quorum_max 0",
            "tf1 weight 3 noreverse",
            "p1 weight 5 reverse",
            "p3 weight -3",
        ] {
            assert!(printed.contains(want), "{want:?} missing in\n{printed}");
        }
        let (again, d) = load(&printed);
        assert!(
            d.iter().all(|w| w.contains("has only one vrrp_instance")),
            "{d:?}"
        );
        assert_eq!(again, c);
    }
}
