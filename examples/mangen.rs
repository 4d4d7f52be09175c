//! Writes the lvsd(8) man page from the command line's own definition (clap_mangen), plus
//! the sections clap does not know: signals, files, exit status. Not part of the daemon:
//! `cargo run --example mangen -- OUT_DIR` (scripts/build-deb.sh runs it).

use clap::CommandFactory;
use std::io::Write;
use std::path::PathBuf;

const EXTRA: &str = r#".SH SIGNALS
.TP
\fBHUP\fR
Reload the configuration file. A file with errors is refused and the running
configuration kept; only differences are applied.
.TP
\fBTERM\fR, \fBINT\fR
Stop: VRRP instances resign (priority 0), VIPs and the IPVS entries lvsd made are removed
(unless \fB\-V\fR / \fB\-I\fR), notify_stop scripts run.
.TP
\fBUSR1\fR, \fBUSR2\fR, \fBSIGRTMAX\-1\fR, \fBSIGRTMIN+2\fR
Write keepalived's data, stats, stats-then-clear and JSON dump files to $TMPDIR or /tmp
(\fBlvsd \-\-signum=NAME\fR prints the numbers).
.SH SYSTEMD
Under systemd (NOTIFY_SOCKET set) lvsd sends READY=1 once the file is applied by both
sides, RELOADING=1 and READY=1 around a reload with the outcome in STATUS=, STOPPING=1, a
readable STATUS= line, and WATCHDOG=1 only while its loops turn. \fBlvsd \-\-reload\-wait\fR
sends HUP to the daemon named by \fB\-p\fR and waits for the outcome (the unit's ExecReload).
.SH CONTROL SOCKET
The daemon listens on a unix socket, mode 0600 (\fB\-\-control\-socket\fR, else the
\fB\-p\fR file with \fI.ctl\fR), removed at exit. \fBlvsd ctl state\fR prints the VRRP
instances, the real servers with their checkers and the IPVS table lvsd manages;
\fBlvsd ctl drain\fR \fISERVICE SERVER\fR [\fB\-\-timeout\fR \fIS\fR] sets a real
server's weight to 0 and removes it when it has no active connection left (or after S
seconds); \fBlvsd ctl disable\fR / \fBenable\fR take it out of rotation and back (kept
across reloads); \fBlvsd ctl plan\fR \fIFILE\fR shows what a reload with FILE would
change. \fB\-\-json\fR prints the daemon's JSON answer. SERVICE is \fIVIP:PORT\fR
(optionally after tcp:, udp: or sctp:) or fwmark:\fIMARK\fR; SERVER is \fIRIP:PORT\fR
or an address.
.SH DOCTOR AND REAL SERVERS
\fBlvsd doctor\fR checks the director's system against the file (IPVS, forwarding,
localnode, expiry sysctls, rp_filter, nftables dropping VRRP, other routers on a VRID
heard for \fB\-\-listen\fR seconds, the sync daemon's interface); \fBlvsd real\-server\fR
sets a DR/TUN real server up from the same file (VIPs on lo or the tunnel device,
arp_ignore/arp_announce, the tunnel's rp_filter) until TERM or INT undoes it, HUP reads
the file again; \fBlvsd real\-server doctor\fR checks a real server. Each finding names its
consequence and fix; the exit status is 1 when one is a problem.
.SH FILES
.TP
/etc/keepalived/keepalived.conf
The configuration (keepalived.conf(5)).
.TP
/etc/default/lvsd
DAEMON_ARGS for the systemd unit and the init script.
.TP
/etc/default/lvsd-real-server
DAEMON_ARGS and REAL_SERVER_ARGS for lvsd-real-server.service.
.TP
/run/lvsd-real-server.json
What \fBlvsd real\-server\fR changed, to undo it after a crash (\fB\-\-cleanup\fR).
.TP
/run/keepalived.pid, /run/keepalived_vrrp.pid, /run/keepalived_checkers.pid
Pid files (\fB\-p\fR, \fB\-r\fR, \fB\-c\fR); /run/keepalived.reload holds the last
reload's outcome.
.SH EXIT STATUS
0 success; 1 a command line refused; 3 cannot run; 4 the configuration is refused (also
\fB\-\-reload\-wait\fR when the new file is refused); with \fB\-t\fR, 5 problems lvsd runs with
and 6 script-security problems only.
.SH SEE ALSO
keepalived.conf(5), keepalived(8), ipvsadm(8), /usr/share/doc/lvsd/
"#;

fn main() -> std::io::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/man"));
    std::fs::create_dir_all(&out)?;
    let man = clap_mangen::Man::new(lvsd::cli::Options::command()).section("8");
    let mut page = Vec::new();
    man.render(&mut page)?;
    page.write_all(EXTRA.as_bytes())?;
    let path = out.join("lvsd.8");
    std::fs::write(&path, page)?;
    println!("{}", path.display());
    Ok(())
}
