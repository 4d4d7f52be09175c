//! The whole path `lvsd -t` takes with a keepalived.conf: preprocessor (comments, `@ID`
//! lines, `$PARAM`s, `~SEQ`, includes), grammar, typed model, validation, script vetting,
//! the exit code and the diagnostics as printed; then the configuration printer
//! (`lvsd -d`) on what loaded. Includes are confined to a scratch directory holding two
//! small files the input may include (`a.conf`, `d/b.conf`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use lvsd::config;
use std::path::PathBuf;
use std::sync::OnceLock;

struct Scratch {
    _dir: tempfile::TempDir,
    root: PathBuf,
    file: PathBuf,
}

fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a scratch directory for the includes");
        let root = dir.path().to_path_buf();
        std::fs::create_dir(root.join("d")).expect("a subdirectory of the scratch directory");
        std::fs::write(
            root.join("a.conf"),
            "global_defs {\n  router_id fuzz\n}\n$P=2\n",
        )
        .expect("an include file");
        std::fs::write(
            root.join("d/b.conf"),
            "virtual_server 192.0.2.1 80 {\n  protocol TCP\n  real_server 192.0.2.2 80 {\n  }\n}\n",
        )
        .expect("an include file");
        Scratch {
            file: root.join("keepalived.conf"),
            root,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = scratch();
    // As `read_text` does with a file's bytes.
    let text = String::from_utf8_lossy(data).into_owned();
    let (res, vetted) = config::check_text_confined(text, &s.file, "lvs1", &s.root);
    let diags: Vec<config::Diagnostic> = match res {
        Ok(loaded) => {
            let _ = config::print(&loaded.config);
            loaded.warnings.into_iter().chain(vetted).collect()
        }
        Err(e) => {
            assert!(
                !e.errors.is_empty(),
                "a refused configuration names an error"
            );
            e.errors.into_iter().chain(e.warnings).collect()
        }
    };
    for d in &diags {
        let _ = d.to_string();
    }
    let _ = config::test_exit_code(&diags);
});
