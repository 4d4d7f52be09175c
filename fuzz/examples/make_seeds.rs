//! Writes the seed corpora under `fuzz/corpus/<target>/` (run from `fuzz/`:
//! `cargo run --example make_seeds`). Everything comes from this project: its test and
//! example configurations, adverts and IPVS messages made with its own encoders, and a few
//! small server replies written here. Each target's directory is emptied first.

use lvsd::ipvs::codec::{self, cmd, info_attr};
use lvsd::ipvs::types::{
    Dest, DestKey, Family, Forward, Op, Proto, Service, ServiceKey, SyncDaemon, SyncState,
    Timeouts, TunnelParams,
};
use lvsd::vrrp::ah;
use lvsd::vrrp::packet::{pass_auth_data, Advert, AhFields, ChecksumForm, Version};
use std::error::Error;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

type Res<T = ()> = Result<T, Box<dyn Error>>;

struct Corpus {
    dir: PathBuf,
}

impl Corpus {
    fn new(fuzz: &Path, target: &str) -> Res<Corpus> {
        let dir = fuzz.join("corpus").join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Corpus { dir })
    }
    fn put(&self, name: &str, bytes: &[u8]) -> Res {
        std::fs::write(self.dir.join(name), bytes)?;
        Ok(())
    }
}

fn ip(s: &str) -> Res<IpAddr> {
    Ok(s.parse()?)
}

/// Every file under `dir` (recursively) whose name ends with one of `exts`.
fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) -> Res {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            files(&p, exts, out)?;
        } else if exts.iter().any(|x| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(x))
        }) {
            out.push(p);
        }
    }
    Ok(())
}

fn configs(fuzz: &Path) -> Res {
    let c = Corpus::new(fuzz, "config")?;
    let repo = fuzz.parent().ok_or("fuzz/ has no parent")?;
    let mut found = Vec::new();
    files(&repo.join("tests/configs"), &[".conf", ".inc"], &mut found)?;
    files(&repo.join("examples"), &[".conf"], &mut found)?;
    found.sort();
    for p in found {
        let rel = p.strip_prefix(repo)?.to_string_lossy().replace('/', "__");
        c.put(&rel, &std::fs::read(&p)?)?;
    }
    Ok(())
}

fn adverts(fuzz: &Path) -> Res {
    let c = Corpus::new(fuzz, "vrrp_advert")?;
    // Selector bits (see fuzz_targets/vrrp_advert.rs): 0-1 addressing, 8 repair the
    // checksum, 16 pseudo-header, 32 AH, 64 unicast AH.
    let v4 = ip("10.99.0.1")?;
    let mcast4 = ip("224.0.0.18")?;
    let peer4 = ip("10.99.0.2")?;
    let v6 = ip("fe80::1")?;
    let mcast6 = ip("ff02::12")?;
    let base = Advert {
        version: Version::V2,
        vrid: 51,
        priority: 150,
        interval_cs: 100,
        auth_type: 0,
        auth_data: [0; 8],
        addrs: vec![ip("10.99.0.100")?, ip("10.99.0.101")?],
        ah: None,
    };
    let v2 = base.encode(v4, mcast4, ChecksumForm::MessageOnly)?;
    let pass = Advert {
        auth_type: 1,
        auth_data: pass_auth_data("secret"),
        ..base.clone()
    };
    let v2pass = pass.encode(v4, mcast4, ChecksumForm::MessageOnly)?;
    let v3 = Advert {
        version: Version::V3,
        interval_cs: 50,
        ..base.clone()
    };
    let v3pseudo = v3.encode(v4, mcast4, ChecksumForm::PseudoHeader)?;
    let v3plain = v3.encode(v4, mcast4, ChecksumForm::MessageOnly)?;
    let v3uni = v3.encode(v4, peer4, ChecksumForm::PseudoHeader)?;
    let v3v6 = Advert {
        addrs: vec![ip("2001:db8::100")?, ip("fe80::100")?],
        ..v3.clone()
    }
    .encode(v6, mcast6, ChecksumForm::PseudoHeader)?;
    let resign = Advert {
        priority: 0,
        ..base.clone()
    }
    .encode(v4, mcast4, ChecksumForm::MessageOnly)?;
    let with_ah = Advert {
        auth_type: 2,
        ah: Some(AhFields {
            seq: 7,
            spi: 0,
            datagram: Vec::new(),
        }),
        ..base.clone()
    };
    let key = ah::key("fuzzpass");
    let (src4, dst4, uni4) = (
        Ipv4Addr::new(10, 99, 0, 1),
        Ipv4Addr::new(224, 0, 0, 18),
        Ipv4Addr::new(10, 99, 0, 2),
    );
    let ah_mcast = with_ah.encode_ah(src4, dst4, 1, &key, false)?;
    let ah_uni = with_ah.encode_ah(src4, uni4, 2, &key, true)?;
    let seeds: [(&str, u8, &[u8]); 9] = [
        ("v2", 0, &v2),
        ("v2-pass", 0, &v2pass),
        ("v2-resign", 0, &resign),
        ("v3-pseudo", 16, &v3pseudo),
        ("v3-message-only", 0, &v3plain),
        ("v3-unicast", 1 | 16, &v3uni),
        ("v3-ipv6", 2, &v3v6),
        ("v2-ah", 32, &ah_mcast),
        ("v2-ah-unicast", 1 | 32 | 64, &ah_uni),
    ];
    for (name, sel, pkt) in seeds {
        for (suffix, extra) in [("", 0u8), ("-repair", 8)] {
            let mut b = vec![sel | extra];
            b.extend_from_slice(pkt);
            c.put(&format!("{name}{suffix}"), &b)?;
        }
    }
    Ok(())
}

/// A netlink message header and payload, as the kernel would send it.
fn nlmsg(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = 16 + payload.len();
    let mut b = Vec::with_capacity(len + 3);
    b.extend_from_slice(&(len as u32).to_ne_bytes());
    b.extend_from_slice(&ty.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&4242u32.to_ne_bytes());
    b.extend_from_slice(payload);
    while b.len() % 4 != 0 {
        b.push(0);
    }
    b
}

/// The flags of a message turned into a dump reply's (MULTI), as the kernel answers.
fn as_dump_reply(mut msg: Vec<u8>) -> Vec<u8> {
    let flags = codec::NLM_F_MULTI.to_ne_bytes();
    msg[6..8].copy_from_slice(&flags);
    msg
}

fn ipvs(fuzz: &Path) -> Res {
    let c = Corpus::new(fuzz, "ipvs_reply")?;
    let fam = 0x1c; // any generic netlink family id: the replies carry the one asked
    let tcp80 = ServiceKey::Addr {
        proto: Proto::Tcp,
        addr: ip("10.0.0.1")?,
        port: 80,
    };
    let v6udp = ServiceKey::Addr {
        proto: Proto::Udp,
        addr: ip("2001:db8::1")?,
        port: 53,
    };
    let mark = ServiceKey::Fwmark {
        family: Family::V4,
        mark: 7,
    };
    let svc = |key: ServiceKey, sched: &str, flags: u32, pe: Option<&str>| Service {
        key,
        scheduler: sched.into(),
        flags,
        timeout: 300,
        netmask: 0xffff_ffff,
        pe_name: pe.map(String::from),
    };
    let dest = |addr: IpAddr, fwd: Forward, tunnel: Option<TunnelParams>| Dest {
        key: DestKey { addr, port: 80 },
        forward: fwd,
        weight: 3,
        upper_threshold: 100,
        lower_threshold: 10,
        tunnel,
    };
    let mut dump = Vec::new();
    let ops = [
        Op::AddService(svc(tcp80, "wlc", 0x2, None)),
        Op::AddService(svc(v6udp, "rr", 0x3, Some("sip"))),
        Op::AddService(svc(mark, "sh", 0x2 | 0x8, None)),
        Op::AddDest(tcp80, dest(ip("192.168.1.2")?, Forward::DirectRoute, None)),
        Op::AddDest(
            tcp80,
            dest(
                ip("192.168.1.3")?,
                Forward::Tunnel,
                Some(TunnelParams {
                    tun_type: 1,
                    tun_port: 6080,
                    tun_flags: 1,
                }),
            ),
        ),
        Op::AddDest(v6udp, dest(ip("2001:db8::2")?, Forward::Masq, None)),
    ];
    for (i, op) in ops.iter().enumerate() {
        let mut b = Vec::new();
        codec::encode_op(&mut b, fam, i as u32 + 1, op)?;
        let reply = as_dump_reply(b);
        c.put(&format!("op-{i}"), &reply)?;
        dump.extend_from_slice(&reply);
    }
    dump.extend(nlmsg(
        codec::NLMSG_DONE,
        codec::NLM_F_MULTI,
        9,
        &0u32.to_ne_bytes(),
    ));
    c.put("dump-with-done", &dump)?;

    let mut b = Vec::new();
    codec::encode_new_daemon(
        &mut b,
        fam,
        3,
        &SyncDaemon {
            state: SyncState::Master,
            interface: "eth0".into(),
            sync_id: 5,
            maxlen: Some(1472),
            port: Some(8848),
            ttl: Some(1),
            group: Some(ip("224.0.0.81")?),
        },
    )?;
    c.put("daemon", &as_dump_reply(b))?;
    let mut b = Vec::new();
    codec::encode_set_config(
        &mut b,
        fam,
        4,
        &Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        },
    );
    // GET_CONFIG's answer carries the same attributes as SET_CONFIG's request.
    b[16] = cmd::GET_CONFIG;
    c.put("config", &b)?;

    // GET_INFO's answer: a generic netlink header and two u32 attributes.
    let mut info = vec![cmd::GET_INFO, 1, 0, 0];
    for (ty, v) in [
        (info_attr::VERSION, 0x0001_0201u32),
        (info_attr::CONN_TAB_SIZE, 4096),
    ] {
        info.extend_from_slice(&8u16.to_ne_bytes());
        info.extend_from_slice(&ty.to_ne_bytes());
        info.extend_from_slice(&v.to_ne_bytes());
    }
    c.put("info", &nlmsg(fam, 0, 5, &info))?;

    // An ACK, an error (EEXIST) carrying the request's header, a DONE.
    let mut req = Vec::new();
    codec::encode_simple(&mut req, fam, 6, cmd::FLUSH);
    let mut ack = 0i32.to_ne_bytes().to_vec();
    ack.extend_from_slice(&req[..16]);
    let mut err = (-17i32).to_ne_bytes().to_vec();
    err.extend_from_slice(&req[..16]);
    let mut replies = nlmsg(codec::NLMSG_ERROR, 0x100, 6, &ack);
    replies.extend(nlmsg(codec::NLMSG_ERROR, 0x100, 7, &err));
    replies.extend(nlmsg(
        codec::NLMSG_DONE,
        codec::NLM_F_MULTI,
        8,
        &0u32.to_ne_bytes(),
    ));
    c.put("ack-error-done", &replies)?;
    Ok(())
}

fn http(fuzz: &Path) -> Res {
    let c = Corpus::new(fuzz, "http_response")?;
    // [options, cut, response...]: options bit 0 MD5, bit 1 keep the body (bits 2.. × 16).
    let seeds: [(&str, u8, u8, &str); 9] = [
        ("length", 1, 20, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello"),
        ("chunked", 3 | (4 << 2), 40, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: t\r\n\r\n"),
        ("until-close", 1, 12, "HTTP/1.0 404 Not Found\r\nConnection: close\r\n\r\nnot here"),
        ("continue", 0, 30, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
        ("head-only", 0, 5, "HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"),
        ("bad-length", 1, 9, "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello"),
        ("two-lengths", 1, 9, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"),
        ("bad-chunk", 1, 50, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        ("truncated", 2, 3, "HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\nshort"),
    ];
    for (name, opts, cut, resp) in seeds {
        let mut b = vec![opts, cut];
        b.extend_from_slice(resp.as_bytes());
        c.put(name, &b)?;
    }
    Ok(())
}

fn replies(fuzz: &Path) -> Res {
    let c = Corpus::new(fuzz, "check_replies")?;
    // DNS (selector 0, or 0x81 % 3 == 0 with bit 7: the id is the datagram's own).
    let mut q = lvsd::checkers::dns::encode_query(0x1234, "www.example.com", 1)?;
    q[2] |= 0x80;
    let mut b = vec![0u8];
    b.extend_from_slice(&q);
    c.put("dns-noerror", &b)?;
    q[3] |= 3;
    let mut b = vec![0x81u8];
    b.extend_from_slice(&q);
    c.put("dns-nxdomain-own-id", &b)?;
    // SMTP (selector 1).
    for (name, text) in [
        ("smtp-ok", "220 mail.example.com ESMTP\r\n250 mail.example.com\r\n"),
        (
            "smtp-multiline",
            "220-mail.example.com\r\n220 ready\r\n250-mail.example.com\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
        ),
        ("smtp-refused", "554 no service\r\n"),
    ] {
        let mut b = vec![1u8];
        b.extend_from_slice(text.as_bytes());
        c.put(name, &b)?;
    }
    // UDP (selector 2): the length of require_reply, require_reply, the reply.
    let mut b = vec![2u8, 4];
    b.extend_from_slice(b"PONGPONG and more");
    c.put("udp-match", &b)?;
    Ok(())
}

fn main() -> Res {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    configs(&fuzz)?;
    adverts(&fuzz)?;
    ipvs(&fuzz)?;
    http(&fuzz)?;
    replies(&fuzz)?;
    println!(
        "seed corpora written under {}",
        fuzz.join("corpus").display()
    );
    Ok(())
}
