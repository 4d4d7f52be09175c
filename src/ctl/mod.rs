//! The control socket: a unix socket the daemon listens on (root only), and `lvsd ctl`,
//! the client in the same binary.
//!
//! Protocol: line-delimited JSON. The client sends one request per line and reads one
//! answer per line, on as many lines as it likes over one connection:
//!
//! ```text
//! → {"cmd":"state"}
//! ← {"ok":true,"result":{"vrrp":[…],"lvs":{…}}}
//! → {"cmd":"drain","service":"10.0.0.1:80","server":"10.0.1.2:80","timeout":300}
//! ← {"ok":true,"result":{"done":"draining","real_servers":["[10.0.1.2]:tcp:80 of VS [10.0.0.1]:tcp:80"],"changed":true}}
//! → {"cmd":"plan","file":"/etc/keepalived/keepalived.conf.new"}
//! ← {"ok":false,"error":"…"}
//! ```
//!
//! Requests: `state`; `disable`, `enable` (`service`, `server`); `drain` (`service`,
//! `server`, optional `timeout` in seconds, default [`DEFAULT_DRAIN_TIMEOUT`]); `plan`
//! (`file`, an absolute path the daemon reads). `service` is `[tcp:|udp:|sctp:]VIP:PORT`
//! (`[V6]:PORT`) or `fwmark:MARK`; `server` is `RIP:PORT`, `[V6]:PORT` or an address.

pub mod client;
pub mod server;

use crate::cli::Options;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;

/// How long a drain lasts at most unless `--timeout` says otherwise, in seconds.
pub use crate::cli::{CtlCommand, DEFAULT_DRAIN_TIMEOUT};

/// The longest request line the daemon reads.
pub const MAX_LINE: usize = 64 * 1024;

/// A request on the socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    State,
    Drain {
        service: String,
        server: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<u64>,
    },
    Disable {
        service: String,
        server: String,
    },
    Enable {
        service: String,
        server: String,
    },
    Plan {
        file: PathBuf,
    },
}

/// An answer on the socket: `result` when `ok`, else `error` (a sentence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub result: Value,
}

impl Response {
    pub fn ok(result: Value) -> Response {
        Response {
            ok: true,
            error: None,
            result,
        }
    }

    pub fn error(why: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(why.into()),
            result: Value::Null,
        }
    }
}

/// The socket's path: `--control-socket`, else the main pid file's with `.ctl`
/// (`/run/keepalived.pid` → `/run/keepalived.ctl`).
pub fn socket_path(opts: &Options) -> PathBuf {
    opts.control_socket
        .clone()
        .unwrap_or_else(|| opts.main_pid_file().with_extension("ctl"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_one_json_object_each() {
        let r = Request::Drain {
            service: "10.0.0.1:80".into(),
            server: "10.0.1.2:80".into(),
            timeout: Some(30),
        };
        let line = serde_json::to_string(&r).expect("json");
        assert_eq!(
            line,
            r#"{"cmd":"drain","service":"10.0.0.1:80","server":"10.0.1.2:80","timeout":30}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&line).expect("back"), r);
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"cmd":"state"}"#).expect("state"),
            Request::State
        );
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"reboot"}"#).is_err());
        assert!(serde_json::from_str::<Request>(
            r#"{"cmd":"disable","service":"10.0.0.1:80","server":"10.0.1.2","x":1}"#
        )
        .is_err());
    }

    #[test]
    fn the_socket_sits_beside_the_pid_file() {
        let mut o = Options {
            pid_file: Some("/run/lvsd.pid".into()),
            ..Default::default()
        };
        assert_eq!(socket_path(&o), PathBuf::from("/run/lvsd.ctl"));
        o.control_socket = Some("/tmp/x.sock".into());
        assert_eq!(socket_path(&o), PathBuf::from("/tmp/x.sock"));
    }
}
