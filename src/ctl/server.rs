//! The daemon's end of the control socket: listens on a unix socket (mode 0600, only
//! root or lvsd's own user may talk to it), reads line-delimited JSON requests and asks
//! the sides for the answers. The socket file is removed when the [`Server`] is dropped.

use super::{Request, Response, MAX_LINE};
use crate::cli::Options;
use crate::config::Config;
use crate::control::report::{self, DumpKind, Side};
use crate::lvs::ctl::{self as lvs_ctl, LvsCmd};
use crate::lvs::state::{AdminCmd, ServerSel, ServiceSel};
use serde_json::{json, Value};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

/// How long a side gets to answer.
const SIDE_LIMIT: Duration = Duration::from_secs(10);
/// How long a connection may stay silent before it is closed.
const IDLE_LIMIT: Duration = Duration::from_secs(300);

/// What the server answers from: the daemon's options and its running configuration.
#[derive(Clone)]
pub struct Context {
    pub opts: Arc<Options>,
    pub config: watch::Receiver<Arc<Config>>,
}

/// A listening control socket; dropping it stops listening and removes the file.
pub struct Server {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl Server {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        if let Err(e) = std::fs::remove_file(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                warn!(
                    "Cannot remove the control socket {}: {e}",
                    self.path.display()
                );
            }
        }
    }
}

/// Binds `path` (replacing a stale socket left by an earlier lvsd, refusing any other
/// kind of file), makes it mode 0600 and serves it on the current runtime.
pub fn start(path: &Path, ctx: Context) -> anyhow::Result<Server> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                anyhow::bail!("{} is in use: another lvsd answers on it", path.display());
            }
            std::fs::remove_file(path).map_err(|e| {
                anyhow::anyhow!("cannot remove the stale socket {}: {e}", path.display())
            })?;
        }
        Ok(_) => anyhow::bail!(
            "{} exists and is not a socket: not replacing it",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => anyhow::bail!("cannot look at {}: {e}", path.display()),
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| anyhow::anyhow!("cannot make {} private: {e}", path.display()))?;
    let task = tokio::spawn(accept_loop(listener, ctx));
    Ok(Server {
        path: path.to_path_buf(),
        task,
    })
}

/// The daemon's control socket ([`super::socket_path`]); a failure is logged and the
/// daemon runs without it.
pub fn start_for_daemon(ctx: Context) -> Option<Server> {
    let path = super::socket_path(&ctx.opts);
    match start(&path, ctx) {
        Ok(s) => {
            info!("Control socket on {}", path.display());
            Some(s)
        }
        Err(e) => {
            tracing::error!("No control socket (lvsd ctl will not work): {e:#}");
            None
        }
    }
}

async fn accept_loop(listener: UnixListener, ctx: Context) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve_conn(stream, ctx).await {
                        debug!("Control connection ended: {e}");
                    }
                });
            }
            Err(e) => {
                warn!("Control socket: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Whether the peer may use the socket: root, or the user lvsd runs as.
fn peer_allowed(stream: &UnixStream) -> Result<(), String> {
    let cred = stream
        .peer_cred()
        .map_err(|e| format!("cannot tell who is connected: {e}"))?;
    let me = nix::unistd::geteuid().as_raw();
    if cred.uid() == 0 || cred.uid() == me {
        Ok(())
    } else {
        Err(format!(
            "user {} may not use the control socket (root only)",
            cred.uid()
        ))
    }
}

async fn serve_conn(stream: UnixStream, ctx: Context) -> std::io::Result<()> {
    if let Err(why) = peer_allowed(&stream) {
        warn!("Control socket: {why}");
        let mut stream = stream;
        let _ = write_response(&mut stream, &Response::error(why)).await;
        return Ok(());
    }
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = Vec::new();
        let n = match tokio::time::timeout(
            IDLE_LIMIT,
            (&mut reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut line),
        )
        .await
        {
            Ok(r) => r?,
            Err(_) => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        if line.len() > MAX_LINE {
            let r = Response::error(format!(
                "the request is longer than {MAX_LINE} bytes: closing the connection"
            ));
            write_response(&mut write, &r).await?;
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let response = match serde_json::from_str::<Request>(text) {
            Ok(req) => handle(req, &ctx).await,
            Err(e) => Response::error(format!("the request is not one this lvsd knows: {e}")),
        };
        write_response(&mut write, &response).await?;
    }
}

async fn write_response<W: AsyncWriteExt + Unpin>(w: &mut W, r: &Response) -> std::io::Result<()> {
    let mut text = serde_json::to_string(r).unwrap_or_else(|e| {
        format!(r#"{{"ok":false,"error":"cannot write the answer as JSON: {e}"}}"#)
    });
    text.push('\n');
    w.write_all(text.as_bytes()).await?;
    w.flush().await
}

/// Answers one request.
pub async fn handle(req: Request, ctx: &Context) -> Response {
    let result = match req {
        Request::State => Ok(state(ctx).await),
        Request::Disable { service, server } => {
            admin(ctx, &service, &server, AdminCmd::Disable).await
        }
        Request::Enable { service, server } => {
            admin(ctx, &service, &server, AdminCmd::Enable).await
        }
        Request::Drain {
            service,
            server,
            timeout,
        } => {
            let timeout = Duration::from_secs(timeout.unwrap_or(super::DEFAULT_DRAIN_TIMEOUT));
            admin(ctx, &service, &server, AdminCmd::Drain { timeout }).await
        }
        Request::Plan { file } => plan(ctx, file).await,
    };
    match result {
        Ok(v) => Response::ok(v),
        Err(e) => Response::error(e),
    }
}

async fn state(ctx: &Context) -> Value {
    state_of(&ctx.opts).await
}

/// The whole state as `lvsd ctl state` answers it: `vrrp` (or `vrrp_error`) when lvsd runs
/// the VRRP side, `lvs` (or `lvs_error`) when it runs the checkers. The metrics endpoint
/// renders the same value.
pub async fn state_of(opts: &Options) -> Value {
    let mut out = serde_json::Map::new();
    if opts.runs_vrrp() {
        match report::ask(Side::Vrrp, DumpKind::State, SIDE_LIMIT).await {
            Ok(Some(text)) => match serde_json::from_str::<Value>(&text) {
                Ok(v) => {
                    out.insert("vrrp".into(), v);
                }
                Err(e) => {
                    out.insert(
                        "vrrp_error".into(),
                        json!(format!("the VRRP side answered something unreadable: {e}")),
                    );
                }
            },
            Ok(None) => {
                out.insert("vrrp".into(), json!([]));
            }
            Err(why) => {
                out.insert("vrrp_error".into(), json!(why));
            }
        }
    }
    if opts.runs_checkers() {
        match lvs_ctl::ask(LvsCmd::State, SIDE_LIMIT).await {
            Ok(v) => {
                out.insert("lvs".into(), v);
            }
            Err(why) => {
                out.insert("lvs_error".into(), json!(why));
            }
        }
    }
    Value::Object(out)
}

async fn admin(ctx: &Context, service: &str, server: &str, cmd: AdminCmd) -> Result<Value, String> {
    if !ctx.opts.runs_checkers() {
        return Err("lvsd runs only the VRRP side (-P): there is no real server to change".into());
    }
    let service: ServiceSel = service.parse().map_err(|e| format!("{e}"))?;
    let server: ServerSel = server.parse().map_err(|e| format!("{e}"))?;
    lvs_ctl::ask(
        LvsCmd::Admin {
            service,
            server,
            cmd,
        },
        SIDE_LIMIT,
    )
    .await
}

/// What reloading with `file` would change.
async fn plan(ctx: &Context, file: PathBuf) -> Result<Value, String> {
    if !file.is_absolute() {
        return Err(format!(
            "{}: the daemon needs an absolute path",
            file.display()
        ));
    }
    let id = ctx.opts.chosen_config_id();
    let strict = ctx.opts.strict;
    let f = file.clone();
    let loaded =
        tokio::task::spawn_blocking(move || crate::config::load_for_daemon(&f, &id, strict))
            .await
            .map_err(|e| format!("the task reading {} failed: {e}", file.display()))?;
    let loaded = loaded.map_err(|e| {
        let all: Vec<String> = e.errors.iter().map(|d| d.to_string()).collect();
        format!(
            "a reload with {} would be refused: {}",
            file.display(),
            all.join("; ")
        )
    })?;
    let warnings: Vec<String> = loaded.warnings.iter().map(|d| d.to_string()).collect();
    let mut new = loaded.config;
    let old = ctx.config.borrow().clone();
    // As the daemon does on reload.
    new.global.net_namespace = old.global.net_namespace.clone();
    let new = Arc::new(new);
    let mut out = serde_json::Map::new();
    out.insert("file".into(), json!(file));
    out.insert("warnings".into(), json!(warnings));
    if ctx.opts.runs_vrrp() {
        out.insert("vrrp".into(), vrrp_plan(&old, &new));
    }
    if ctx.opts.runs_checkers() {
        match lvs_ctl::ask(LvsCmd::Plan(new.clone()), SIDE_LIMIT).await {
            Ok(v) => {
                out.insert("lvs".into(), v);
            }
            Err(why) => {
                let note = if crate::lvs::runtime::needs_ipvs(&new) {
                    format!("{why}: the IPVS table cannot be planned")
                } else {
                    format!("{why}; the new file has no virtual server either")
                };
                out.insert("lvs_error".into(), json!(note));
            }
        }
    }
    Ok(Value::Object(out))
}

/// The VRRP side's part of a plan: what kind of reload it is and which instances change.
pub fn vrrp_plan(old: &Config, new: &Config) -> Value {
    use crate::vrrp::runtime::reload::{plan, statics_changed, Plan};
    let kind = plan(old, new);
    let names =
        |c: &Config| -> Vec<String> { c.instances.iter().map(|i| i.name.clone()).collect() };
    let (old_names, new_names) = (names(old), names(new));
    let added: Vec<&String> = new_names
        .iter()
        .filter(|n| !old_names.contains(n))
        .collect();
    let removed: Vec<&String> = old_names
        .iter()
        .filter(|n| !new_names.contains(n))
        .collect();
    let changed: Vec<&String> = new
        .instances
        .iter()
        .filter(|i| old.instances.iter().any(|o| o.name == i.name && *o != **i))
        .map(|i| &i.name)
        .collect();
    let (change, priorities) = match &kind {
        Plan::Unchanged => ("unchanged", Vec::new()),
        Plan::Priorities(p) => (
            "priorities",
            p.iter()
                .map(|c| json!({"instance": c.name, "from": c.from, "to": c.to}))
                .collect(),
        ),
        Plan::Rebuild => ("rebuild", Vec::new()),
    };
    json!({
        "change": change,
        "priorities": priorities,
        "added": added,
        "removed": removed,
        "changed": changed,
        "statics_changed": statics_changed(old, new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Config {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.conf");
        std::fs::write(&path, text).expect("written");
        crate::config::load(&path, "test").expect("loads").config
    }

    fn instance(name: &str, vrid: u8, priority: u8) -> String {
        format!(
            "vrrp_instance {name} {{\n  interface eth0\n  virtual_router_id {vrid}\n  priority {priority}\n  virtual_ipaddress {{\n    192.0.2.{vrid}/32\n  }}\n}}\n"
        )
    }

    #[test]
    fn vrrp_plans_name_what_changes() {
        let old = load(&(instance("VI_1", 1, 100) + &instance("VI_2", 2, 100)));
        let same = vrrp_plan(&old, &old);
        assert_eq!(same["change"], "unchanged");
        let prio = load(&(instance("VI_1", 1, 150) + &instance("VI_2", 2, 100)));
        let p = vrrp_plan(&old, &prio);
        assert_eq!(p["change"], "priorities");
        assert_eq!(
            p["priorities"],
            json!([{"instance": "VI_1", "from": 100, "to": 150}])
        );
        let other = load(&(instance("VI_1", 1, 100) + &instance("VI_3", 3, 100)));
        let r = vrrp_plan(&old, &other);
        assert_eq!(r["change"], "rebuild");
        assert_eq!(r["added"], json!(["VI_3"]));
        assert_eq!(r["removed"], json!(["VI_2"]));
        assert_eq!(r["changed"], json!([]));
    }
}
