//! `bench-s3 [--host 127.0.0.1] [--port 0] [--latency-ms 20] [--port-file FILE]`
//!
//! Serves an in-memory S3 (see the library's docs) until killed. Prints the endpoint on
//! stdout once it listens; `--port-file` also writes the bound port to FILE (port 0 picks a
//! free one).

use std::sync::Arc;
use std::time::Duration;

const USAGE: &str =
    "usage: bench-s3 [--host 127.0.0.1] [--port 0] [--latency-ms 20] [--port-file FILE]";

fn main() {
    let mut host = "127.0.0.1".to_string();
    let mut port: u16 = 0;
    let mut latency_ms: u64 = 20;
    let mut port_file: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next().unwrap_or_else(|| {
                eprintln!("bench-s3: {name} needs a value\n{USAGE}");
                std::process::exit(1)
            })
        };
        let bad = |name: &str| -> ! {
            eprintln!("bench-s3: {name}: not a number\n{USAGE}");
            std::process::exit(1)
        };
        match arg.as_str() {
            "--host" => host = value("--host"),
            "--port" => port = value("--port").parse().unwrap_or_else(|_| bad("--port")),
            "--latency-ms" => {
                latency_ms = value("--latency-ms")
                    .parse()
                    .unwrap_or_else(|_| bad("--latency-ms"))
            }
            "--port-file" => port_file = Some(value("--port-file")),
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => {
                eprintln!("bench-s3: unknown argument {other}\n{USAGE}");
                std::process::exit(1)
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((host.as_str(), port))
            .await
            .unwrap_or_else(|e| {
                eprintln!("bench-s3: cannot listen on {host}:{port}: {e}");
                std::process::exit(1)
            });
        let addr = listener.local_addr().expect("a bound address");
        if let Some(file) = &port_file {
            // Written whole, then renamed, so a reader never sees half a number.
            let tmp = format!("{file}.tmp");
            std::fs::write(&tmp, addr.port().to_string())
                .and_then(|()| std::fs::rename(&tmp, file))
                .unwrap_or_else(|e| {
                    eprintln!("bench-s3: writing {file}: {e}");
                    std::process::exit(1)
                });
        }
        println!("bench-s3 listening on http://{addr} (latency {latency_ms} ms per request)");
        let store = Arc::new(bench_s3::Store::default());
        tokio::select! {
            () = bench_s3::serve(listener, store, Duration::from_millis(latency_ms)) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    });
}
