//! `net_namespace NAME`: the daemon runs in the named network namespace, as keepalived
//! does, found where ip-netns(8) keeps them (`/run/netns/NAME`) and made there when it
//! does not exist yet (as `ip netns add` would). Entered once, before any thread starts;
//! keepalived too cannot change it on a reload. `net_namespace_ipvs NAME`: the LVS side's
//! IPVS socket is opened in another namespace ([`run_in`]: a socket stays in the
//! namespace it was made in).

use anyhow::Context;
use std::path::PathBuf;

/// Where ip-netns(8) keeps named namespaces.
const NETNS_DIR: &str = "/run/netns";

fn path_of(name: &str) -> anyhow::Result<PathBuf> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        anyhow::bail!("`{name}` cannot name a network namespace");
    }
    Ok(PathBuf::from(NETNS_DIR).join(name))
}

/// Moves the calling thread (call it before any other thread exists) into the network
/// namespace `name`, making it first if needed.
pub fn enter(name: &str) -> anyhow::Result<()> {
    use nix::sched::{setns, CloneFlags};
    let path = path_of(name)?;
    if !path.exists() {
        create(name, &path)?;
        // unshare() has already put this thread in the new namespace.
        return Ok(());
    }
    let f = std::fs::File::open(&path)
        .with_context(|| format!("cannot open network namespace {}", path.display()))?;
    setns(&f, CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("cannot enter network namespace {name}"))?;
    Ok(())
}

/// Runs `f` on a thread of its own that entered the existing network namespace `name`
/// ("": the default one, init's) — the caller's thread does not move; what `f` opens
/// there stays there.
pub fn run_in<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
    use nix::sched::{setns, CloneFlags};
    let path = if name.is_empty() {
        PathBuf::from("/proc/1/ns/net")
    } else {
        path_of(name)?
    };
    let ns = std::fs::File::open(&path)
        .with_context(|| format!("cannot open network namespace {}", path.display()))?;
    std::thread::scope(|s| {
        s.spawn(move || {
            setns(&ns, CloneFlags::CLONE_NEWNET)
                .with_context(|| format!("cannot enter network namespace {name}"))?;
            Ok(f())
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the thread opening in network namespace {name} died"))?
    })
}

/// Makes a new network namespace for this thread and pins it at `path` with a bind
/// mount, as `ip netns add` does.
fn create(name: &str, path: &std::path::Path) -> anyhow::Result<()> {
    use nix::mount::{mount, MsFlags};
    use nix::sched::{unshare, CloneFlags};
    std::fs::create_dir_all(NETNS_DIR).with_context(|| format!("cannot create {NETNS_DIR}"))?;
    std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let made = unshare(CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("cannot create network namespace {name}"))
        .and_then(|()| {
            mount(
                Some("/proc/thread-self/ns/net"),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .with_context(|| format!("cannot pin network namespace {name} at {}", path.display()))
        });
    if made.is_err() {
        let _ = std::fs::remove_file(path);
    }
    made
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_a_single_file_are_refused() {
        for bad in ["", "a/b", ".", ".."] {
            assert!(path_of(bad).is_err(), "{bad:?}");
        }
        assert_eq!(path_of("lb").unwrap(), PathBuf::from("/run/netns/lb"));
    }

    /// The inode of the network namespace a socket belongs to (SIOCGSKNS).
    fn socket_ns(fd: &impl std::os::fd::AsRawFd) -> u64 {
        const SIOCGSKNS: libc::c_ulong = 0x894C;
        // SAFETY: SIOCGSKNS takes no argument and returns a new descriptor.
        let nsfd = unsafe { libc::ioctl(fd.as_raw_fd(), SIOCGSKNS) };
        assert!(nsfd >= 0, "SIOCGSKNS: {}", std::io::Error::last_os_error());
        // SAFETY: a descriptor the kernel just gave us, owned here.
        let f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(nsfd) };
        std::os::unix::fs::MetadataExt::ino(&f.metadata().expect("fstat"))
    }

    #[test]
    fn a_socket_opened_by_run_in_belongs_to_that_namespace() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root (network namespaces)");
            return;
        }
        let name = format!("lvsd-ut-ns-{}", std::process::id());
        let ok = std::process::Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip netns add {name}");
        let here = std::net::UdpSocket::bind("127.0.0.1:0").expect("socket here");
        let there = run_in(&name, || std::net::UdpSocket::bind("127.0.0.1:0"))
            .expect("run_in")
            .expect("socket there");
        let ns_ino = std::os::unix::fs::MetadataExt::ino(
            &std::fs::metadata(path_of(&name).expect("path")).expect("stat"),
        );
        let (here_ns, there_ns) = (socket_ns(&here), socket_ns(&there));
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &name])
            .status();
        assert_eq!(there_ns, ns_ino, "the socket is not in {name}");
        assert_ne!(here_ns, ns_ino, "the caller moved");
        assert!(run_in("no-such-netns-lvsd", || ()).is_err());
    }
}
