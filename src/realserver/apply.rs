//! The thin adapter that carries a [`Plan`] out on this host and undoes it: modules by
//! `modprobe`, GUE ports by `ip fou` (a generic-netlink family rtnetlink does not speak),
//! links and addresses over rtnetlink, sysctls under /proc/sys. Each change is recorded
//! in the [`Undo`] (and its state file) before it is made. A step that fails is logged
//! and the others go on.

use super::plan::{device_module, ConfSysctl, HostAddr, Plan};
use super::state::Undo;
use crate::config::VipOptions;
use crate::vrrp::link::Netlink;
use crate::vrrp::vip::{VipOps, VipSpec};
use rtnetlink::LinkUnspec;
use std::path::Path;
use std::process::Command;

/// Reads a sysctl under net.ipv4.conf.
pub fn read_sysctl(s: &ConfSysctl) -> Result<i64, String> {
    let text = std::fs::read_to_string(s.path()).map_err(|e| format!("cannot read {s}: {e}"))?;
    text.trim()
        .parse()
        .map_err(|_| format!("{s} holds `{}`, not a number", text.trim()))
}

fn write_sysctl(s: &ConfSysctl, v: i64) -> Result<(), String> {
    std::fs::write(s.path(), v.to_string()).map_err(|e| format!("cannot set {s}={v}: {e}"))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn spec(a: &HostAddr, ifindex: u32) -> VipSpec {
    VipSpec {
        addr: a.addr,
        prefix_len: a.prefix_len,
        ifindex,
        brd: None,
        // host scope on lo (as `ip addr add VIP/32 dev lo` picks), global on a tunnel
        scope: if a.device == "lo" { 254 } else { 0 },
        label: None,
        opts: VipOptions::default(),
    }
}

/// Records `undo` in `state`; a failure to write is logged (the change still goes on:
/// the record in memory undoes it on a clean stop).
fn persist(undo: &Undo, state: &Path) {
    if let Err(e) = undo.save(state) {
        tracing::error!("{e}: a kill -9 now would leave the changes in place");
    }
}

/// Carries out `plan`, recording each change in `undo` and `state`; returns the errors
/// (each a sentence), the steps that worked stay done.
pub async fn apply(nl: &Netlink, plan: &Plan, undo: &mut Undo, state: &Path) -> Vec<String> {
    let mut errors = Vec::new();
    // Modules: only when a device they create is missing (a built-in driver needs none).
    for m in &plan.modules {
        let mut creates = plan
            .tunnel_devices
            .iter()
            .filter(|d| device_module(d) == Some(m.as_str()))
            .peekable();
        if creates.peek().is_some() && creates.all(|d| Path::new("/sys/class/net").join(d).exists())
        {
            continue;
        }
        match run(Command::new("modprobe").arg(m)) {
            Ok(()) => tracing::info!("Loaded the kernel module {m}."),
            Err(e) => errors.push(format!("cannot load the kernel module {m}: {e}")),
        }
    }
    for &(port, v6) in &plan.fou_ports {
        if undo.fou_ports.contains(&(port, v6)) {
            continue; // (ours already: a reload)
        }
        let mut cmd = Command::new("ip");
        if v6 {
            cmd.arg("-6");
        }
        cmd.args(["fou", "add", "port", &port.to_string(), "gue"]);
        undo.fou_ports.push((port, v6));
        persist(undo, state);
        match run(&mut cmd) {
            Ok(()) => tracing::info!("Opened GUE port {port}."),
            Err(e) if e.contains("File exists") => {
                undo.fou_ports.retain(|p| *p != (port, v6));
                persist(undo, state);
            }
            Err(e) => {
                undo.fou_ports.retain(|p| *p != (port, v6));
                persist(undo, state);
                errors.push(format!("cannot open GUE port {port}: {e}"));
            }
        }
    }
    for dev in &plan.tunnel_devices {
        match nl.interface(dev).await {
            Ok(info) if info.up => {}
            Ok(info) => {
                undo.links_up.push(dev.clone());
                persist(undo, state);
                let msg = LinkUnspec::new_with_index(info.index).up().build();
                match nl.handle().link().set(msg).execute().await {
                    Ok(()) => tracing::info!("Set {dev} up."),
                    Err(e) => {
                        undo.links_up.retain(|d| d != dev);
                        persist(undo, state);
                        errors.push(format!("cannot set {dev} up: {e}"));
                    }
                }
            }
            Err(e) => errors.push(format!(
                "{e}: the tunnel device is missing (its module is not loaded?)"
            )),
        }
    }
    for (s, want) in &plan.sysctls {
        let cur = match read_sysctl(s) {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let Some(new) = want.change(cur) else {
            continue;
        };
        undo.note_sysctl(s, cur);
        persist(undo, state);
        match write_sysctl(s, new) {
            Ok(()) => tracing::info!("Set {s} = {new} (was {cur})."),
            Err(e) => errors.push(e),
        }
    }
    for a in &plan.addresses {
        if undo.addresses.contains(a) {
            continue; // (ours already: a reload)
        }
        let info = match nl.interface(&a.device).await {
            Ok(i) => i,
            Err(e) => {
                errors.push(format!("cannot add {a}: {e}"));
                continue;
            }
        };
        match nl.prefixed_addrs(info.index).await {
            Ok(have) if have.contains(&(a.addr, a.prefix_len)) => {
                tracing::info!("{a} is there already: left as it is (and on stop).");
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                errors.push(format!("cannot list the addresses of {}: {e}", a.device));
                continue;
            }
        }
        undo.addresses.push(a.clone());
        persist(undo, state);
        match nl.add(&spec(a, info.index)).await {
            Ok(()) => tracing::info!("Added {a}."),
            Err(e) => {
                undo.addresses.retain(|x| x != a);
                persist(undo, state);
                errors.push(format!("cannot add {a}: {e}"));
            }
        }
    }
    errors
}

/// Undoes `undo` (addresses, then sysctls, links, fou ports: the reverse order), and
/// keeps in `state` only what could not be undone; returns the errors.
pub async fn restore(nl: &Netlink, undo: &mut Undo, state: &Path) -> Vec<String> {
    let errors = undo_all(nl, undo).await;
    persist(undo, state);
    errors
}

/// On a reload: undoes what `undo` holds that `keep` no longer asks for (addresses,
/// sysctls, tunnel devices, GUE ports); what it still asks for stays as it is, so the
/// services that stay see no gap. Returns the errors.
pub async fn restore_unwanted(
    nl: &Netlink,
    undo: &mut Undo,
    keep: &Plan,
    state: &Path,
) -> Vec<String> {
    let mut gone = Undo::default();
    let all = std::mem::take(undo);
    for a in all.addresses {
        if keep.addresses.contains(&a) {
            undo.addresses.push(a);
        } else {
            gone.addresses.push(a);
        }
    }
    for (s, prev) in all.sysctls {
        if keep.sysctls.iter().any(|(k, _)| *k == s) {
            undo.sysctls.push((s, prev));
        } else {
            gone.sysctls.push((s, prev));
        }
    }
    for d in all.links_up {
        if keep.tunnel_devices.contains(&d) {
            undo.links_up.push(d);
        } else {
            gone.links_up.push(d);
        }
    }
    for p in all.fou_ports {
        if keep.fou_ports.contains(&p) {
            undo.fou_ports.push(p);
        } else {
            gone.fou_ports.push(p);
        }
    }
    let errors = undo_all(nl, &mut gone).await;
    // (what could not be undone stays recorded)
    undo.addresses.extend(gone.addresses);
    undo.sysctls.extend(gone.sysctls);
    undo.links_up.extend(gone.links_up);
    undo.fou_ports.extend(gone.fou_ports);
    persist(undo, state);
    errors
}

/// Undoes `undo`, leaving in it what could not be undone.
async fn undo_all(nl: &Netlink, undo: &mut Undo) -> Vec<String> {
    let mut errors = Vec::new();
    let mut kept = Undo::default();
    for a in std::mem::take(&mut undo.addresses) {
        let res = match nl.interface(&a.device).await {
            Ok(info) => nl
                .del(&spec(&a, info.index))
                .await
                .map_err(|e| e.to_string()),
            // (the device went away, its addresses with it)
            Err(crate::vrrp::link::LinkError::NoSuchInterface(_)) => Ok(false),
            Err(e) => Err(e.to_string()),
        };
        match res {
            Ok(true) => tracing::info!("Removed {a}."),
            Ok(false) => tracing::info!("{a} was gone already."),
            Err(e) => {
                errors.push(format!("cannot remove {a}: {e}"));
                kept.addresses.push(a);
            }
        }
    }
    for (s, prev) in std::mem::take(&mut undo.sysctls) {
        match write_sysctl(&s, prev) {
            Ok(()) => tracing::info!("Restored {s} = {prev}."),
            Err(e) if !s.path().parent().is_some_and(Path::exists) => {
                tracing::info!("{s} is gone (its device with it): nothing to restore ({e}).")
            }
            Err(e) => {
                errors.push(e);
                kept.sysctls.push((s, prev));
            }
        }
    }
    for dev in std::mem::take(&mut undo.links_up) {
        let res = match nl.interface(&dev).await {
            Ok(info) => {
                let msg = LinkUnspec::new_with_index(info.index).down().build();
                nl.handle()
                    .link()
                    .set(msg)
                    .execute()
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(crate::vrrp::link::LinkError::NoSuchInterface(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        match res {
            Ok(()) => tracing::info!("Set {dev} down again."),
            Err(e) => {
                errors.push(format!("cannot set {dev} down: {e}"));
                kept.links_up.push(dev);
            }
        }
    }
    for (port, v6) in std::mem::take(&mut undo.fou_ports) {
        let mut cmd = Command::new("ip");
        if v6 {
            cmd.arg("-6");
        }
        cmd.args(["fou", "del", "port", &port.to_string()]);
        match run(&mut cmd) {
            Ok(()) => tracing::info!("Closed GUE port {port}."),
            Err(e) => {
                errors.push(format!("cannot close GUE port {port}: {e}"));
                kept.fou_ports.push((port, v6));
            }
        }
    }
    *undo = kept;
    errors
}
