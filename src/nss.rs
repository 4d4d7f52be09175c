//! User, group and host name lookups that are safe in a static build.
//!
//! glibc linked statically still loads the NSS modules `/etc/nsswitch.conf` names
//! (`systemd`, `sss`, `ldap`, `mdns4_minimal`, `resolve`, ...) with `dlopen`, and each of
//! them brings the shared libc into the process: it crashes. Debian's default is
//! `passwd: files systemd`, so a static lvsd asking for a user that is not in
//! /etc/passwd (keepalived's default script user `keepalived_script`, usually absent)
//! died in `_nss_systemd_is_blocked` under `getpwnam_r`. glibc has the `files` and `dns`
//! sources built in (2.34 and later), without a module.
//!
//! So a dynamic build asks glibc, as keepalived does (and so sees users that only sss
//! or ldap know); a static build reads /etc/passwd and /etc/group itself, and asks
//! `getaddrinfo` only when the `hosts` line of nsswitch.conf names built-in sources
//! alone. The file formats are passwd(5) and group(5): seven and four fields split by
//! `:`. No crate reads them without going through NSS, hence the few lines here.

use std::path::Path;

/// Whether this executable is linked statically (`scripts/build-static.sh`).
pub const STATIC_BUILD: bool = cfg!(target_feature = "crt-static");

/// The uid and primary gid of user `name`, or `None` when no such user is known.
pub fn user(name: &str) -> Option<(u32, u32)> {
    if STATIC_BUILD {
        let text = std::fs::read_to_string("/etc/passwd").ok()?;
        return user_in(&text, name);
    }
    nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map(|u| (u.uid.as_raw(), u.gid.as_raw()))
}

/// The name of the user with uid `uid`, or `None` when no such user is known.
pub fn user_name(uid: u32) -> Option<String> {
    if STATIC_BUILD {
        let text = std::fs::read_to_string("/etc/passwd").ok()?;
        return user_name_in(&text, uid);
    }
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// The gid of group `name`, or `None` when no such group is known.
pub fn group(name: &str) -> Option<u32> {
    if STATIC_BUILD {
        let text = std::fs::read_to_string("/etc/group").ok()?;
        return group_in(&text, name);
    }
    nix::unistd::Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

/// Whether `getaddrinfo` may be called: always in a dynamic build; in a static one only
/// when nsswitch.conf's `hosts` sources are all built into glibc (`files`, `dns`).
pub fn host_lookup_safe() -> bool {
    !STATIC_BUILD || hosts_builtin_only(Path::new("/etc/nsswitch.conf"))
}

/// [`local_name`] when the host has no name to give.
pub const UNKNOWN_NAME: &str = "[unknown]";

/// keepalived's local name (get_local_name): the canonical name getaddrinfo gives for the
/// node name, else `[unknown]`. Looked up once. (A static build whose nsswitch.conf
/// names a host source glibc does not have built in takes the node name as it is: see
/// the module's text.)
pub fn local_name() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| canonical_host_name().unwrap_or_else(|| UNKNOWN_NAME.into()))
        .clone()
}

fn canonical_host_name() -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let host = nix::unistd::gethostname().ok()?;
    if !host_lookup_safe() {
        return Some(host.to_string_lossy().into_owned());
    }
    let host = std::ffi::CString::new(host.as_bytes()).ok()?;
    // SAFETY: an all-zero addrinfo is the documented "no hints" value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_flags = libc::AI_CANONNAME;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid C strings and hints; res is freed below when set.
    let rc = unsafe { libc::getaddrinfo(host.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 || res.is_null() {
        return None;
    }
    // SAFETY: res is a list getaddrinfo returned; ai_canonname is NUL-terminated or null.
    let name = unsafe {
        let c = (*res).ai_canonname;
        let name =
            (!c.is_null()).then(|| std::ffi::CStr::from_ptr(c).to_string_lossy().into_owned());
        libc::freeaddrinfo(res);
        name
    };
    name
}

fn hosts_builtin_only(nsswitch: &Path) -> bool {
    match std::fs::read_to_string(nsswitch) {
        // No file: glibc's default for hosts is `dns [!UNAVAIL=return] files`.
        Err(_) => true,
        Ok(text) => sources_builtin_only(&text, "hosts"),
    }
}

/// Whether the sources of `database` in nsswitch.conf `text` are all built in (a
/// database not listed uses glibc's built-in default).
fn sources_builtin_only(text: &str, database: &str) -> bool {
    let Some(sources) = text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let (db, rest) = line.split_once(':')?;
        (db.trim() == database).then_some(rest)
    }) else {
        return true;
    };
    sources
        .split_whitespace()
        .filter(|w| !w.starts_with('['))
        .all(|w| matches!(w, "files" | "dns"))
}

/// The fields of `name`'s line in passwd(5) or group(5) text (`name:x:...`).
fn entry<'t>(text: &'t str, name: &str) -> Option<Vec<&'t str>> {
    text.lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
}

/// `name`'s uid and gid in passwd(5) text.
fn user_in(text: &str, name: &str) -> Option<(u32, u32)> {
    let f = entry(text, name)?;
    Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
}

/// The name of `uid`'s first line in passwd(5) text.
fn user_name_in(text: &str, uid: u32) -> Option<String> {
    text.lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|f| f.get(2).and_then(|u| u.parse::<u32>().ok()) == Some(uid))
        .and_then(|f| f.first().map(|n| n.to_string()))
}

/// `name`'s gid in group(5) text.
fn group_in(text: &str, name: &str) -> Option<u32> {
    entry(text, name)?.get(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        # a comment line is no user\n\
        broken:x:notanumber:5::/:/bin/sh\n\
        keepalived_script:x:998:997::/nonexistent:/usr/sbin/nologin\n";
    const GROUP: &str = "root:x:0:\nadm:x:4:syslog,alice\nnogroup:x:65534:\n";

    #[test]
    fn users_and_groups_are_read_from_the_files() {
        assert_eq!(user_in(PASSWD, "root"), Some((0, 0)));
        assert_eq!(user_in(PASSWD, "keepalived_script"), Some((998, 997)));
        assert_eq!(user_in(PASSWD, "nobody"), None);
        assert_eq!(user_in(PASSWD, "broken"), None);
        // A prefix of a name is not the name.
        assert_eq!(user_in(PASSWD, "keepalived"), None);
        assert_eq!(group_in(GROUP, "adm"), Some(4));
        assert_eq!(group_in(GROUP, "nogroup"), Some(65534));
        assert_eq!(group_in(GROUP, "wheel"), None);
        assert_eq!(
            user_name_in(PASSWD, 998).as_deref(),
            Some("keepalived_script")
        );
        assert_eq!(user_name_in(PASSWD, 0).as_deref(), Some("root"));
        assert_eq!(user_name_in(PASSWD, 4242), None);
    }

    #[test]
    fn host_lookups_only_with_built_in_sources() {
        assert!(sources_builtin_only("hosts: files dns\n", "hosts"));
        assert!(sources_builtin_only(
            "passwd: files systemd\nhosts:  dns [!UNAVAIL=return] files # x\n",
            "hosts"
        ));
        assert!(!sources_builtin_only(
            "hosts: files mdns4_minimal [NOTFOUND=return] dns\n",
            "hosts"
        ));
        assert!(!sources_builtin_only(
            "hosts: files resolve [!UNAVAIL=return] dns myhostname\n",
            "hosts"
        ));
        // Not listed: glibc's default, built in.
        assert!(sources_builtin_only("passwd: files systemd\n", "hosts"));
        assert!(!sources_builtin_only("passwd: files systemd\n", "passwd"));
    }
}
