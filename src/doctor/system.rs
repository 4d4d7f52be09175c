//! What `lvsd doctor` reads of the live system: /proc/net/ip_vs, the loaded and the
//! installed kernel modules, the sysctls it checks, and this host's addresses and
//! networks.

use super::Sysctls;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

/// The parts of the live system the checks look at.
#[derive(Debug, Clone, Default)]
pub struct SystemView {
    /// IPVS is there (/proc/net/ip_vs exists: built in or loaded).
    pub ipvs: bool,
    /// Loaded modules (/proc/modules).
    pub modules: BTreeSet<String>,
    /// Modules installed for the running kernel (a `.ko*` file under
    /// /lib/modules/RELEASE/kernel/net/netfilter/ipvs/), which the kernel loads on use.
    pub module_files: BTreeSet<String>,
    /// The sysctls read, by dotted name; a missing one is left out.
    pub sysctls: Sysctls,
    /// This host's addresses (all interfaces).
    pub local_addrs: BTreeSet<IpAddr>,
    /// The same with their devices and prefix lengths (the networks this host is on).
    pub local_nets: Vec<(String, IpAddr, u8)>,
    /// The nftables ruleset as `nft -j list ruleset` writes it (None: no nft, or it
    /// failed).
    pub nft_ruleset: Option<serde_json::Value>,
    /// The legacy tables' rules: `iptables-legacy-save` and `ip6tables-legacy-save` output,
    /// or `iptables-save` where that is the legacy backend (None: no legacy tool, or it
    /// failed).
    pub iptables_legacy: Option<String>,
    pub ip6tables_legacy: Option<String>,
    /// The interfaces asked about that exist: whether each is up, and its MTU.
    pub links: std::collections::BTreeMap<String, (bool, u32)>,
    /// The VRRP adverts heard on the instances' interfaces (`lvsd doctor --listen`).
    pub adverts: Vec<super::vrid::Heard>,
}

impl SystemView {
    pub fn sysctl(&self, name: &str) -> Option<i64> {
        self.sysctls.get(name).copied()
    }

    /// Reads the view, with the rp_filter, arp_ignore, arp_filter and accept_local of
    /// `interfaces` and `all`.
    pub fn read(interfaces: &[&str]) -> SystemView {
        let mut v = SystemView {
            ipvs: Path::new("/proc/net/ip_vs").exists(),
            ..Default::default()
        };
        if let Ok(text) = std::fs::read_to_string("/proc/modules") {
            v.modules = text
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_string)
                .collect();
        }
        if let Ok(u) = nix::sys::utsname::uname() {
            let dir = Path::new("/lib/modules")
                .join(u.release())
                .join("kernel/net/netfilter/ipvs");
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if let Some(stem) = name.split(".ko").next() {
                        v.module_files.insert(stem.to_string());
                    }
                }
            }
        }
        let mut names: Vec<(String, std::path::PathBuf)> = [
            "net.ipv4.ip_forward",
            "net.ipv6.conf.all.forwarding",
            "net.ipv4.vs.expire_nodest_conn",
            "net.ipv4.vs.expire_quiescent_template",
        ]
        .iter()
        .map(|s| {
            (
                s.to_string(),
                Path::new("/proc/sys").join(s.replace('.', "/")),
            )
        })
        .collect();
        // (An interface name may hold dots: its path is built, not derived.)
        for i in interfaces.iter().copied().chain(["all"]) {
            for key in ["rp_filter", "arp_ignore", "arp_filter", "accept_local"] {
                names.push((
                    format!("net.ipv4.conf.{i}.{key}"),
                    Path::new("/proc/sys/net/ipv4/conf").join(i).join(key),
                ));
            }
        }
        for (n, path) in names {
            if let Some(val) = std::fs::read_to_string(path)
                .ok()
                .and_then(|t| t.trim().parse::<i64>().ok())
            {
                v.sysctls.insert(n, val);
            }
        }
        for i in interfaces {
            let dir = Path::new("/sys/class/net").join(i);
            let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
            let Some(mtu) = read("mtu").and_then(|t| t.trim().parse::<u32>().ok()) else {
                continue;
            };
            // IFF_UP is bit 0 of the hexadecimal flags.
            let up = read("flags")
                .and_then(|t| i64::from_str_radix(t.trim().trim_start_matches("0x"), 16).ok())
                .is_some_and(|f| f & 1 == 1);
            v.links.insert(i.to_string(), (up, mtu));
        }
        v.local_addrs = local_addrs();
        v.local_nets = interface_addrs();
        v.nft_ruleset = nft_ruleset();
        v.iptables_legacy = legacy_save("iptables");
        v.ip6tables_legacy = legacy_save("ip6tables");
        v
    }
}

/// Every address of this host (getifaddrs).
pub fn local_addrs() -> BTreeSet<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return BTreeSet::new();
    };
    addrs
        .filter_map(|a| a.address)
        .filter_map(|s| {
            if let Some(v4) = s.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect()
}

/// Every address of this host with its device and prefix length (getifaddrs).
pub fn interface_addrs() -> Vec<(String, IpAddr, u8)> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter_map(|a| {
            let (addr, mask) = (a.address?, a.netmask?);
            let (ip, len) =
                if let (Some(ip), Some(m)) = (addr.as_sockaddr_in(), mask.as_sockaddr_in()) {
                    (IpAddr::V4(ip.ip()), m.ip().to_bits().count_ones())
                } else {
                    let (ip, m) = (addr.as_sockaddr_in6()?, mask.as_sockaddr_in6()?);
                    (IpAddr::V6(ip.ip()), m.ip().to_bits().count_ones())
                };
            Some((a.interface_name, ip, u8::try_from(len).ok()?))
        })
        .collect()
}

/// `nft -j list ruleset`, parsed; None without nft or when it fails.
fn nft_ruleset() -> Option<serde_json::Value> {
    let out = std::process::Command::new("nft")
        .args(["-j", "list", "ruleset"])
        .output()
        .ok()?;
    if !out.status.success() {
        tracing::debug!(
            "nft -j list ruleset: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// The rules of the legacy tables of `tool` (iptables or ip6tables):
/// `TOOL-legacy-save`, or, where only the plain tools are installed (iptables before 1.8,
/// or a system without the -legacy names), `TOOL-save` when `TOOL -V` says it is the
/// legacy backend. (`*-save` reads only the tables already loaded: it loads no module.)
/// None without a legacy tool, or when it fails.
fn legacy_save(tool: &str) -> Option<String> {
    let run = |cmd: &str, args: &[&str]| -> Option<std::process::Output> {
        std::process::Command::new(cmd).args(args).output().ok()
    };
    let out = match run(&format!("{tool}-legacy-save"), &[]) {
        Some(out) => out,
        None => {
            let version = run(tool, &["-V"])?;
            if !is_legacy_backend(&String::from_utf8_lossy(&version.stdout)) {
                return None;
            }
            run(&format!("{tool}-save"), &[])?
        }
    };
    if !out.status.success() {
        tracing::debug!(
            "{tool}-save: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    String::from_utf8(out.stdout).ok()
}

/// Whether `iptables -V` output is of the legacy backend: 1.8 and later say
/// `(legacy)` or `(nf_tables)`; older versions have only the legacy one and say neither.
pub fn is_legacy_backend(version: &str) -> bool {
    version.starts_with("ip") && !version.contains("nf_tables")
}

#[cfg(test)]
mod tests {
    #[test]
    fn which_iptables_is_legacy() {
        assert!(super::is_legacy_backend("iptables v1.8.9 (legacy)\n"));
        assert!(super::is_legacy_backend("iptables v1.6.1\n"));
        assert!(!super::is_legacy_backend("iptables v1.8.9 (nf_tables)\n"));
        assert!(!super::is_legacy_backend(""));
    }
}
