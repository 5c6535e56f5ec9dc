//! The Lambda entry point (`bootstrap`): wires a Function URL event to
//! [`presigner::handle_with_services`].

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use presigner::{handle_with_services, Config, Credentials, Request, Response, Services};
use std::time::{Instant, SystemTime};

/// Prints one JSON log line and exits: a bad configuration fails the init phase, which
/// Lambda reports (Runtime.ExitError) with this line in the function's log.
fn fail_init(msg: &str, error: &dyn std::fmt::Display) -> ! {
    println!(
        "{}",
        serde_json::json!({"level": "error", "msg": msg, "error": error.to_string()})
    );
    std::process::exit(1);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let config: &'static Config = match Config::from_env() {
        Ok(c) => Box::leak(Box::new(c)),
        Err(e) => fail_init("invalid presigner configuration", &e),
    };
    if let Err(e) = Credentials::from_env() {
        fail_init("no AWS credentials in the environment", &e);
    }
    // The network only for `auth` and the malware scan: otherwise the presigner makes no call.
    let services: &'static Services =
        Box::leak(Box::new(if config.auth.is_some() || config.malware_scan {
            Services::network()
        } else {
            Services::offline()
        }));
    if let Err(e) =
        lambda_runtime::run(service_fn(move |event| invoke(config, services, event))).await
    {
        fail_init("lambda runtime failed", &e);
    }
}

async fn invoke(
    config: &Config,
    services: &Services,
    event: LambdaEvent<LambdaFunctionUrlRequest>,
) -> Result<LambdaFunctionUrlResponse, Error> {
    let started = Instant::now();
    let request_id = event.context.request_id.clone();
    let (response, log) = match (Credentials::from_env(), to_request(event.payload)) {
        (Ok(creds), Ok(req)) => {
            handle_with_services(config, &creds, SystemTime::now(), &req, services)
        }
        (Err(e), _) => error_response(500, "internal error: no signing credentials", &e),
        (_, Err(e)) => error_response(400, "request body is not valid base64", &e),
    };
    println!("{}", log.to_json_line(started.elapsed(), Some(&request_id)));
    Ok(to_lambda(response))
}

/// A response for a request that never reached the handler.
fn error_response(
    status: u16,
    message: &str,
    cause: &dyn std::fmt::Display,
) -> (Response, presigner::LogRecord) {
    let response = Response {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("cache-control".into(), "no-store".into()),
            ("x-content-type-options".into(), "nosniff".into()),
        ],
        body: serde_json::json!({ "error": message }).to_string(),
    };
    let log = presigner::LogRecord {
        route: "unknown",
        method: String::new(),
        status,
        key: None,
        error: Some(format!("{message}: {cause}")),
        user: None,
    };
    (response, log)
}

fn to_request(ev: LambdaFunctionUrlRequest) -> Result<Request, base64::DecodeError> {
    let body = match ev.body {
        None => Vec::new(),
        Some(b) if ev.is_base64_encoded => base64::engine::general_purpose::STANDARD.decode(b)?,
        Some(b) => b.into_bytes(),
    };
    let headers = ev
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    Ok(Request {
        method: ev.request_context.http.method.unwrap_or_default(),
        path: ev
            .raw_path
            .or(ev.request_context.http.path)
            .unwrap_or_else(|| "/".into()),
        query: ev.raw_query_string.unwrap_or_default(),
        headers,
        body,
    })
}

fn to_lambda(r: Response) -> LambdaFunctionUrlResponse {
    let mut headers = HeaderMap::new();
    for (k, v) in &r.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.append(k, v);
        }
    }
    let mut out = LambdaFunctionUrlResponse::default();
    out.status_code = i64::from(r.status);
    out.headers = headers;
    out.body = Some(r.body);
    out.is_base64_encoded = false;
    out
}
