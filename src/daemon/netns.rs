//! `net_namespace NAME`: the daemon runs in the named network namespace, as keepalived
//! does, found where ip-netns(8) keeps them (`/run/netns/NAME`) and made there when it
//! does not exist yet (as `ip netns add` would). Entered once, before any thread starts;
//! keepalived too cannot change it on a reload.

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
}
