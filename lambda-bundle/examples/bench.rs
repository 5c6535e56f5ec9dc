//! The measuring half of `scripts/bench-presigner.sh`: runs a Lambda function process (the
//! presigner's `bootstrap`, or any other runtime client) against the Runtime API emulator in
//! `tests/support/runtime_api.rs`, handing it Function URL events for `POST /uploads`.
//!
//! ```text
//! bench cold <runs> <command> [args...]     process start to first response, a fresh process each run
//! bench warm <seconds> <command> [args...]  invocations per second (wall and CPU) of one warm process
//! bench handle <seconds>                    presigner::handle calls per second (wall and CPU), here
//! bench token <pem> <kid> <issuer> <aud>    prints an RS256 token for a presigner with `auth`
//! ```
//!
//! The function inherits this process's environment, plus `AWS_LAMBDA_RUNTIME_API`. Each mode
//! prints one line of `name=value` pairs. Pinning to cores is left to the caller (`taskset`).
//! With `BENCH_TOKEN`, each event carries `authorization: Bearer <it>`; `BENCH_STATUS` is the
//! status every answer must have (default 200).

// The request ids are the log test's part of the emulator.
#[allow(dead_code)]
#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use runtime_api::{function_url_event, Feed, Kind, Outcome, RuntimeApi};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime};

const UPLOAD: &str = r#"{"filename":"report.pdf","contentType":"application/pdf","size":48213}"#;
/// Longest wait for one answer: a Python cold start is well under a second.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Invocations before the throughput count starts (connection set-up, lazy initialisation).
const WARM_UP: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [mode, n, command @ ..] if mode == "cold" && !command.is_empty() => {
            number(n).and_then(|runs| cold(runs as usize, command))
        }
        [mode, n, command @ ..] if mode == "warm" && !command.is_empty() => {
            number(n).and_then(|secs| warm(Duration::from_secs(secs), command))
        }
        [mode, n] if mode == "handle" => number(n).and_then(|secs| in_process(Duration::from_secs(secs))),
        [mode, pem, kid, issuer, aud] if mode == "token" => token(pem, kid, issuer, aud),
        _ => Err("usage: bench cold <runs> <command...> | warm <seconds> <command...> | handle <seconds> | token <pem> <kid> <issuer> <aud>".into()),
    };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn number(s: &str) -> Result<u64, String> {
    s.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{s:?} is not a positive integer"))
}

fn upload_event() -> Vec<u8> {
    let event = function_url_event("POST", "/uploads", "", UPLOAD);
    let Ok(token) = std::env::var("BENCH_TOKEN") else {
        return event;
    };
    let mut v: serde_json::Value = serde_json::from_slice(&event).expect("the event is JSON");
    v["headers"]["authorization"] = format!("Bearer {token}").into();
    serde_json::to_vec(&v).expect("JSON")
}

/// A token of `issuer` for `aud`, valid for an hour, signed with the RSA key in `pem`.
fn token(pem: &str, kid: &str, issuer: &str, aud: &str) -> Result<String, String> {
    let key = std::fs::read(pem).map_err(|e| format!("{pem}: {e}"))?;
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&key).map_err(|e| format!("{pem}: {e}"))?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.into());
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let claims = serde_json::json!({"iss": issuer, "aud": aud, "sub": "bench-user",
        "iat": now, "exp": now + 3600});
    jsonwebtoken::encode(&header, &claims, &key).map_err(|e| e.to_string())
}

fn spawn(command: &[String], api: &RuntimeApi) -> Result<Child, String> {
    Command::new(&command[0])
        .args(&command[1..])
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", command[0]))
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The function's answer, which must be a Function URL response of `BENCH_STATUS` (200).
fn answer(api: &RuntimeApi, child: &mut Child) -> Result<Outcome, String> {
    let Some(o) = api.next_outcome(ANSWER_TIMEOUT) else {
        let status = child.try_wait().ok().flatten();
        return Err(format!(
            "no answer within {ANSWER_TIMEOUT:?} (process status: {status:?})"
        ));
    };
    let body = String::from_utf8_lossy(&o.body);
    if o.kind != Kind::Response {
        return Err(format!("the function reported {:?}: {body}", o.kind));
    }
    let status = serde_json::from_slice::<serde_json::Value>(&o.body)
        .ok()
        .and_then(|v| v["statusCode"].as_u64());
    let expected = std::env::var("BENCH_STATUS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200u64);
    if status != Some(expected) {
        return Err(format!("the function answered {body}"));
    }
    Ok(o)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn cold(runs: usize, command: &[String]) -> Result<String, String> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let api = RuntimeApi::start(Feed::Once(vec![upload_event()]));
        let started = Instant::now();
        let mut child = spawn(command, &api)?;
        let result = answer(&api, &mut child);
        stop(child);
        times.push(millis(result?.at - started));
    }
    times.sort_by(f64::total_cmp);
    Ok(format!(
        "runs={runs} median_ms={:.2} p90_ms={:.2} min_ms={:.2} max_ms={:.2}",
        percentile(&times, 50.0),
        percentile(&times, 90.0),
        times[0],
        times[times.len() - 1]
    ))
}

/// CPU time used so far by every thread of process `pid` (`/proc/<pid>/task/*/schedstat`,
/// nanoseconds on a CPU). Unlike wall time, it does not count waiting for the emulator, the
/// cross-core wake-ups of the loopback round trips, or other processes on the same core.
fn cpu_time(pid: u32) -> Result<Duration, String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map_err(|e| format!("reading /proc/{pid}/task: {e}"))?;
    let mut ns = 0u64;
    for task in tasks.flatten() {
        // A thread may end between listing and reading.
        if let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) {
            ns += stat
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(Duration::from_nanos(ns))
}

fn warm(seconds: Duration, command: &[String]) -> Result<String, String> {
    let api = RuntimeApi::start(Feed::Forever(upload_event()));
    let mut child = spawn(command, &api)?;
    let pid = child.id();
    let result = (|| {
        let first = answer(&api, &mut child)?;
        let mut start = None;
        let mut count = 0u64;
        loop {
            let o = answer(&api, &mut child)?;
            match start {
                None if o.at - first.at >= WARM_UP => start = Some((o.at, cpu_time(pid)?)),
                None => {}
                Some((at, cpu)) => {
                    count += 1;
                    if o.at - at >= seconds {
                        let wall = (o.at - at).as_secs_f64();
                        let cpu = (cpu_time(pid)? - cpu).as_secs_f64();
                        return Ok(format!(
                            "invocations={count} per_second={:.0} per_cpu_second={:.0}",
                            count as f64 / wall,
                            count as f64 / cpu
                        ));
                    }
                }
            }
        }
    })();
    stop(child);
    result
}

fn in_process(seconds: Duration) -> Result<String, String> {
    let config = presigner::Config::from_env().map_err(|e| e.to_string())?;
    let creds = presigner::Credentials::from_env().map_err(|e| e.to_string())?;
    let req = presigner::Request {
        method: "POST".into(),
        path: "/uploads".into(),
        body: UPLOAD.as_bytes().to_vec(),
        ..Default::default()
    };
    let pid = std::process::id();
    let (started, cpu_started) = (Instant::now(), cpu_time(pid)?);
    let mut count = 0u64;
    loop {
        // Checking the clocks every call would be a noticeable share of the work.
        for _ in 0..256 {
            let r = presigner::handle(
                &config,
                &creds,
                SystemTime::now(),
                std::hint::black_box(&req),
            );
            if r.status != 200 {
                return Err(format!("handle answered {}: {}", r.status, r.body));
            }
            count += 1;
        }
        let elapsed = started.elapsed();
        if elapsed >= seconds {
            let cpu = (cpu_time(pid)? - cpu_started).as_secs_f64();
            return Ok(format!(
                "calls={count} per_second={:.0} per_cpu_second={:.0}",
                count as f64 / elapsed.as_secs_f64(),
                count as f64 / cpu
            ));
        }
    }
}
