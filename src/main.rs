use clap::Parser;

fn main() {
    let opts = lvsd::cli::Options::parse();
    if opts.version {
        println!("lvsd {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    eprintln!("lvsd: not implemented yet");
    std::process::exit(3);
}
