//! Faults on the way to AWS: a proxy in front of moto fails a share of the requests, at fixed
//! seeds, the ways AWS and networks do (503 SlowDown, 500s, IAM Throttling, Lambda 429,
//! connection resets, and answers lost after the server acted), and answers a repeated
//! AddPermission or CreateFunctionUrlConfig with 409 as AWS does where moto accepts it again.
//! A cold `up` must still finish, and leave no drift.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use common::proxy::{Proxy, Request, Response};
use common::*;

const REGION: &str = "eu-central-1";

/// xorshift64*: a fixed seed gives the same faults on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Service {
    S3,
    Query,
    Lambda,
    Json,
}

fn service(req: &Request) -> Service {
    let p = req.path();
    if req.header("x-amz-target").is_some() {
        Service::Json
    } else if p.starts_with("/2015-03-31")
        || p.starts_with("/2017-03-31")
        || p.starts_with("/2021-10-31")
    {
        Service::Lambda
    } else if req.method == "POST" && p == "/" {
        Service::Query
    } else {
        Service::S3
    }
}

/// A failure as the service sends it.
fn failure(service: Service, kind: u64) -> Response {
    match (service, kind % 2) {
        (Service::S3, 0) => Response::s3_error(503, "SlowDown", "Please reduce your request rate."),
        (Service::S3, _) => {
            Response::s3_error(500, "InternalError", "We encountered an internal error.")
        }
        (Service::Query, k) => {
            let (status, code) = if k == 0 {
                (400, "Throttling")
            } else {
                (500, "ServiceFailure")
            };
            Response::new(
                status,
                "text/xml",
                format!(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>Rate \
                     exceeded</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
                ),
            )
        }
        (Service::Lambda, 0) => {
            Response::json_error(429, "TooManyRequestsException", "Rate exceeded")
        }
        (Service::Lambda, _) => Response::json_error(500, "ServiceException", "internal error"),
        (Service::Json, _) => Response::new(
            400,
            "application/x-amz-json-1.1",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ),
    }
}

#[derive(Default)]
struct Tally {
    requests: usize,
    faults: usize,
    lost: usize,
    /// Permission Sids and function URLs already created: AWS refuses them a second time.
    created: BTreeSet<String>,
}

fn faulty_proxy(moto: &Moto, seed: u64, percent: u64) -> (Proxy, Arc<Mutex<Tally>>) {
    let tally: Arc<Mutex<Tally>> = Arc::default();
    let t = tally.clone();
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    for _ in 0..16 {
        rng.next();
    }
    let rng = Mutex::new(rng);
    let proxy = Proxy::start(
        &moto.url,
        Arc::new(move |req: &Request, answer: Option<&Response>| {
            let mut t = t.lock().unwrap();
            let mut rng = rng.lock().unwrap();
            // What AWS refuses when it is sent again (moto accepts it twice).
            let once = match (req.method.as_str(), service(req)) {
                ("POST", Service::Lambda) if req.path().ends_with("/policy") => {
                    let body: serde_json::Value =
                        serde_json::from_slice(&req.body).unwrap_or_default();
                    body["StatementId"]
                        .as_str()
                        .map(|s| format!("sid {}{s}", req.path()))
                }
                ("POST", Service::Lambda) if req.path().ends_with("/url") => {
                    Some(format!("url {}", req.path()))
                }
                _ => None,
            };
            match answer {
                None => {
                    t.requests += 1;
                    if let Some(key) = &once {
                        if t.created.contains(key) {
                            return Some(Response::json_error(
                                409,
                                "ResourceConflictException",
                                "The statement id provided already exists. Please provide a \
                                 new statement id, or remove the existing statement.",
                            ));
                        }
                    }
                    if rng.chance(percent / 2) {
                        t.faults += 1;
                        let kind = rng.next();
                        return Some(if kind % 5 == 0 {
                            Response::drop_connection()
                        } else {
                            failure(service(req), kind)
                        });
                    }
                    None
                }
                Some(moto) => {
                    if moto.status < 300 {
                        if let Some(key) = once {
                            t.created.insert(key);
                        }
                    }
                    if rng.chance(percent / 2) {
                        t.faults += 1;
                        t.lost += 1;
                        return Some(Response::drop_connection());
                    }
                    None
                }
            }
        }),
    );
    (proxy, tally)
}

#[test]
fn a_cold_up_finishes_with_a_sixth_of_requests_failing() {
    for seed in [7, 11, 23] {
        let moto = Moto::start();
        let project = Project::new();
        project.write_spec(&format!(
            "version: 1\nname: flaky-docs\nregion: {REGION}\ndocuments: {{versioning: true, \
             expire_uploads_after_days: 7}}\npresigner: {{zip: bundle.zip}}\nwebsite: {{source: site}}\n"
        ));
        let (proxy, tally) = faulty_proxy(&moto, seed, 16);
        let mut up = project.cmd(&moto, REGION, &["up"]);
        up.env("AWS_ENDPOINT_URL", &proxy.url);
        let out = run(up);
        let t = tally.lock().unwrap();
        assert_eq!(
            out.code, 0,
            "seed {seed}: {} faults ({} answers lost) in {} requests\n{}",
            t.faults, t.lost, t.requests, out.stderr
        );
        assert!(
            t.faults * 100 >= t.requests * 10 && t.lost > 0,
            "seed {seed}: only {} faults ({} lost) in {} requests",
            t.faults,
            t.lost,
            t.requests
        );
        // Straight to moto: everything is as the spec says.
        let drift = run(project.cmd(&moto, REGION, &["drift"]));
        assert_eq!(
            drift.code, 0,
            "seed {seed}: {}{}",
            drift.stdout, drift.stderr
        );
    }
}
