//! Test and benchmark driver of the IPVS client (see `tool`). Tooling, not product: built
//! only with the `tools` feature (which `cargo test` turns on), never shipped in the .deb.

mod checkload;
mod lifecycle;
mod tool;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match tool::tool_main(&args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("lvsd-ipvs: {e:#}");
            std::process::exit(1);
        }
    }
}
