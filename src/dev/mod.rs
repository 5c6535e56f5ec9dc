//! `presign-stack dev`: the whole app on 127.0.0.1, with no AWS account and no network.
//!
//! One server per origin, as in production: the website (the page and its generated
//! `config.json`), the presigner (the Lambda's own handler, linked in) and a documents store
//! that checks presigned URLs as S3 does. Separate origins keep the browser's CORS checks in
//! play, so a spec whose CORS rules would break the deployed page breaks the dev page too.
//! With `website.cloudfront.api_path`, the presigner is served on the page's own origin under
//! that path, as the distribution serves it, and there are two servers.
//!
//! The store signs and verifies with local keys kept in the data dir; the account id in
//! default bucket names is [`LOCAL_ACCOUNT`].

mod cors;
mod function_url;
mod http;
mod issuer;
mod listing;
mod multipart;
mod objects;
mod page;
mod parts_list;
mod s3;
mod scan;
mod site;
mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::report::Report;
use crate::spec::{Spec, UrlAuth};
use crate::sync;

/// The client id dev's own issuer knows the page by, in place of the stack's own pool's app
/// client (`auth.cognito`).
pub const DEV_CLIENT_ID: &str = "presign-stack-dev";

/// Stands in for the account id in default bucket names.
pub const LOCAL_ACCOUNT: &str = "000000000000";
/// The region when neither `--region` nor the spec names one: dev never asks the AWS config.
pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The page's port; 0 picks a free one.
    pub port: u16,
    pub presigner_port: u16,
    pub store_port: u16,
    /// dev's own issuer's port, with `auth`.
    pub issuer_port: u16,
    /// With `auth`: use the spec's issuer rather than dev's own.
    pub spec_issuer: bool,
    /// `None`: `.presign-stack/dev/<name>-<env>` next to the spec.
    pub data_dir: Option<PathBuf>,
    pub region: Option<String>,
}

/// Where everything runs; printed once the servers listen.
#[derive(Debug, Clone, Serialize)]
pub struct Addresses {
    /// The page to open.
    pub url: String,
    pub presigner_url: String,
    /// The documents bucket's base URL in the store.
    pub documents_url: String,
    pub data_dir: PathBuf,
    /// dev's own sign-in, with `auth` (unless `--auth spec`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_url: Option<String>,
}

impl std::fmt::Display for Addresses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

/// The servers, listening. [`Running::until`] serves until the stop it is given.
pub struct Running {
    pub addresses: Addresses,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    report: Report,
}

/// Binds everything and starts serving. Nothing is printed on stdout; status lines go to
/// stderr through `report`.
pub async fn start(spec: Spec, options: &Options, report: Report) -> Result<Running> {
    let region = options
        .region
        .clone()
        .or_else(|| spec.region.clone())
        .unwrap_or_else(|| DEFAULT_REGION.to_string());
    let mut spec = spec.resolve(LOCAL_ACCOUNT, &region);
    crate::sync::run_build(&spec, &report).await?;
    let data_dir = shown(&data_dir(&spec, options)?);
    let credentials = local_credentials(&data_dir)?;
    let api_path = spec.website.api_path().map(str::to_string);
    let site_listener = bind(options.port, "--port").await?;
    // Behind the distribution the page reaches the presigner on its own origin only.
    let presigner_listener = match api_path {
        None => Some(bind(options.presigner_port, "--presigner-port").await?),
        Some(_) => None,
    };
    let store_listener = bind(options.store_port, "--store-port").await?;
    let port = |l: &TcpListener| -> Result<u16> { Ok(l.local_addr()?.port()) };
    let origin =
        |l: &TcpListener| -> Result<String> { Ok(format!("http://127.0.0.1:{}", port(l)?)) };
    let page_origin = origin(&site_listener)?;
    let page_origins = vec![
        page_origin.clone(),
        page_origin.replace("127.0.0.1", "localhost"),
    ];
    if options.spec_issuer && spec.auth.as_ref().is_some_and(|a| a.cognito.is_some()) {
        anyhow::bail!(
            "`dev --auth spec` signs in with the spec's issuer, but `auth.cognito` makes the \
             stack's own user pool, which dev does not look up: run `dev` (its own sign-in), \
             or give the deployed pool as `auth.issuer` and `auth.client_id` (see `outputs`)"
        );
    }
    // dev's own issuer stands in for the spec's, for the presigner and the page alike (and
    // for the stack's own user pool with `auth.cognito`).
    let issuer = match spec.auth.as_mut() {
        Some(auth) if !options.spec_issuer => {
            let listener = bind(options.issuer_port, "--issuer-port").await?;
            let url = origin(&listener)?;
            auth.issuer = url.clone();
            auth.jwks_uri = None;
            if auth.cognito.take().is_some() {
                auth.client_id = DEV_CLIENT_ID.to_string();
                auth.audiences = vec![DEV_CLIENT_ID.to_string()];
            }
            let issuer = issuer::Issuer::new(
                url,
                auth.client_id.clone(),
                page_origins.clone(),
                issuer::TOKEN_SECONDS,
            )?;
            Some((listener, issuer))
        }
        _ => None,
    };
    let presigner_origin = presigner_listener.as_ref().map(origin).transpose()?;
    // With api_path: `<page origin><api_path>/`, as `up` writes `https://<domain><api_path>/`.
    let presigner_url_at = |page_origin: &str| match (&api_path, &presigner_origin) {
        (Some(api), _) => format!("{page_origin}{api}/"),
        (None, Some(presigner_origin)) => format!("{presigner_origin}/"),
        (None, None) => unreachable!("the presigner has its own listener without api_path"),
    };
    let presigner_url = presigner_url_at(&page_origin);
    let store_endpoint = origin(&store_listener)?;

    let config = presigner_config(&spec, &region, &store_endpoint)?;
    let d = &spec.documents.cors;
    let documents_cors = cors::Rule {
        origins: cors::origins(&d.allowed_origins, &page_origins),
        methods: d.allowed_methods.clone(),
        headers: d.allowed_headers.clone(),
        expose: d.expose_headers.clone(),
        max_age_seconds: d.max_age_seconds,
    };
    if !documents_cors.allows_origin(&page_origin) {
        report.warn(format!(
            "documents.cors.allowed_origins does not allow the page's origin ({page_origin}); \
             the browser will refuse its uploads, as it would for the deployed site without \
             `website` there"
        ));
    }
    let front = front(&spec, options, &page_origins, &report);

    let documents_url = format!("{store_endpoint}/{}/", config.bucket);
    let store = store::Store::open(
        &data_dir,
        &config.bucket,
        &region,
        credentials.clone(),
        documents_cors,
        match spec.documents.malware_scan {
            true => Some(scan::Scanner::new(
                &spec.documents.uploads_prefix,
                scan::scan_time()?,
            )),
            false => None,
        },
    )?;
    let site_config = runtime_configs(&spec, &region, &page_origins, &presigner_url_at, &report);
    let site = site::Site {
        root: spec.website.source.clone(),
        index_document: spec.website.index_document.clone(),
        error_document: spec.website.error_document.clone(),
        config: site_config,
    };
    let services = if config.auth.is_some() || config.malware_scan {
        presigner::Services::network()
    } else {
        presigner::Services::offline()
    };
    let function_url = function_url::FunctionUrl {
        config: std::sync::Arc::new(config),
        credentials: std::sync::Arc::new(credentials),
        services: std::sync::Arc::new(services),
        front,
    };
    let (page, presigner) = match (&api_path, presigner_listener) {
        (Some(api), _) => (
            page::PageOrigin {
                site,
                api: Some((api.clone(), function_url)),
            },
            None,
        ),
        (None, listener) => (
            page::PageOrigin { site, api: None },
            listener.map(|l| (l, function_url)),
        ),
    };

    let (stop, stopped) = watch::channel(false);
    let (site_port, store_port) = (port(&site_listener)?, port(&store_listener)?);
    let presigner = presigner
        .map(|(l, function_url)| Ok::<_, anyhow::Error>((port(&l)?, l, function_url)))
        .transpose()?;
    let mut servers = vec![
        tokio::spawn(http::serve(
            site_listener,
            site_port,
            "website",
            Arc::new(page),
            report.clone(),
            stopped.clone(),
        )),
        tokio::spawn(http::serve(
            store_listener,
            store_port,
            "documents",
            Arc::new(store),
            report.clone(),
            stopped.clone(),
        )),
    ];
    let issuer_url = issuer.as_ref().map(|(_, i)| i.url.clone());
    if let Some((listener, issuer)) = issuer {
        servers.push(tokio::spawn(http::serve(
            listener,
            port_of(&issuer.url),
            "sign-in",
            Arc::new(issuer),
            report.clone(),
            stopped.clone(),
        )));
    }
    if let Some((presigner_port, listener, function_url)) = presigner {
        servers.push(tokio::spawn(http::serve(
            listener,
            presigner_port,
            "presigner",
            Arc::new(function_url),
            report.clone(),
            stopped,
        )));
    }

    announce(&report, &spec, &presigner_url, &documents_url, &data_dir);
    if let Some(auth) = &spec.auth {
        let who = match &issuer_url {
            Some(u) => format!("{u} (dev's own: any user name, no password)"),
            None => format!("{} (the spec's issuer)", auth.issuer),
        };
        report.status("Sign-in", who);
    }
    Ok(Running {
        addresses: Addresses {
            url: format!("{page_origin}/"),
            presigner_url,
            documents_url,
            data_dir,
            issuer_url,
        },
        stop,
        servers,
        report,
    })
}

/// What is in front of the presigner: the Function URL's CORS, or with `api_path` the
/// distribution (the page's own origin). Warns of what the browser would refuse.
fn front(
    spec: &Spec,
    options: &Options,
    page_origins: &[String],
    report: &Report,
) -> function_url::Front {
    let p = &spec.presigner;
    let page_origin = &page_origins[0];
    match spec.website.api_path() {
        Some(api) => {
            if options.presigner_port != 0 {
                report.warn(format!(
                    "--presigner-port is not used: with website.cloudfront.api_path the \
                     presigner is served on the page's origin under {api}/"
                ));
            }
            function_url::Front::Distribution
        }
        None => {
            // What the provisioner configures on the Function URL.
            let configured = crate::resources::function_url::url_cors(spec);
            let url_cors = cors::Rule {
                origins: cors::origins(&p.url_cors_origins, page_origins),
                methods: configured.methods,
                headers: configured.headers,
                expose: Vec::new(),
                max_age_seconds: configured.max_age_seconds,
            };
            if !url_cors.allows_origin(page_origin) {
                report.warn(format!(
                    "presigner.function_url.cors_origins does not allow the page's origin \
                     ({page_origin}); the browser will refuse its calls to the presigner"
                ));
            }
            if p.url_auth == UrlAuth::AwsIam {
                report.warn(
                    "presigner.function_url.auth is aws_iam: dev does not check IAM \
                     signatures, but the deployed Function URL will refuse unsigned calls from \
                     the page",
                );
            }
            function_url::Front::FunctionUrl(url_cors)
        }
    }
}

/// The runtime config, one per spelling of the page's host (with `api_path` each names its
/// own origin); `None` without `website.config_file`, said with a warning.
fn runtime_configs(
    spec: &Spec,
    region: &str,
    page_origins: &[String],
    presigner_url_at: &dyn Fn(&str) -> String,
    report: &Report,
) -> Option<site::RuntimeConfig> {
    let mut bodies = Vec::new();
    let mut config_key = None;
    for page in page_origins {
        let Some(object) = sync::config_object(spec, region, &presigner_url_at(page)) else {
            break;
        };
        let sync::Body::Bytes(bytes) = object.body else {
            break;
        };
        let host = page.trim_start_matches("http://").to_string();
        config_key = Some(object.key);
        bodies.push((host, bytes));
    }
    let site_config = config_key.map(|key| site::RuntimeConfig { key, bodies });
    if site_config.is_none() {
        report.warn(
            "website.config_file is null: the page gets no runtime config, so it must find the \
             presigner (address below) by itself",
        );
    }
    site_config
}

/// The status lines that say what is served where.
fn announce(
    report: &Report,
    spec: &Spec,
    presigner_url: &str,
    documents_url: &str,
    data_dir: &Path,
) {
    report.status(
        "Serving",
        format!(
            "{} (env {}) on this machine: no AWS account, no network",
            spec.name, spec.env
        ),
    );
    let served = match spec.website.api_path() {
        Some(api) => format!(
            "the Lambda's handler, on the page's origin under {api}/ as the distribution serves \
             it; x-amz-content-sha256 checked as Lambda checks CloudFront's signed requests"
        ),
        None => "the Lambda's handler".to_string(),
    };
    report.status("Presigner", format!("{presigner_url} ({served})"));
    report.status(
        "Documents",
        format!("{documents_url} (kept in {})", data_dir.display()),
    );
    let generated = match &spec.website.config_file {
        Some(name) => format!(" and a generated {name}"),
        None => String::new(),
    };
    report.status(
        "Website",
        format!("{}{generated}", shown(&spec.website.source).display()),
    );
    report.status("Open", "this page in a browser (Ctrl-C stops):");
}

impl Running {
    /// Serves until `stop` (the command line's Ctrl-C or SIGTERM), then stops accepting, lets
    /// in-flight requests finish briefly, and returns.
    pub async fn until(self, stop: impl std::future::Future<Output = ()>) -> Result<()> {
        stop.await;
        self.report.status("Stopping", "the dev servers");
        let _ = self.stop.send(true);
        for server in self.servers {
            server
                .await
                .map_err(|e| anyhow!("a dev server failed: {e}"))?;
        }
        Ok(())
    }
}

/// The port of a `http://127.0.0.1:<port>` URL.
fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// A path as a person would write it (`frontend`, not `config/../frontend`), when it exists.
fn shown(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

async fn bind(port: u16, flag: &str) -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow!("port {port} on 127.0.0.1 is in use; choose another with {flag} (0 picks a free one)")
        } else {
            anyhow!("listening on 127.0.0.1:{port}: {e}")
        }
    })
}

/// The presigner's configuration, through the same variables and checks as the Lambda's init,
/// so a spec the deployed function would refuse is refused here too.
fn presigner_config(spec: &Spec, region: &str, store_endpoint: &str) -> Result<presigner::Config> {
    let mut env = crate::resources::function::environment(spec);
    // Behind the distribution CloudFront forwards the full path, `<api_path>/uploads`; the
    // function's environment names the base path for that, and dev's presigner must have it
    // whatever that environment says, or it would answer nothing on the page's origin.
    if let Some(api_path) = spec.website.api_path() {
        env.entry(presigner::ENV_BASE_PATH.to_string())
            .or_insert_with(|| api_path.to_string());
    }
    env.insert(presigner::ENV_REGION.to_string(), region.to_string());
    env.insert(
        presigner::ENV_S3_ENDPOINT.to_string(),
        store_endpoint.to_string(),
    );
    presigner::Config::from_lookup(|k| env.get(k).cloned())
        .map_err(|e| anyhow!("the presigner refuses this configuration: {e}"))
}

fn data_dir(spec: &Spec, options: &Options) -> Result<PathBuf> {
    let dir = match &options.data_dir {
        Some(d) => d.clone(),
        None => {
            let base = spec.dir.join(".presign-stack");
            std::fs::create_dir_all(&base)
                .with_context(|| format!("creating {}", base.display()))?;
            // Uploads and local keys must never end up in the project's repository.
            let ignore = base.join(".gitignore");
            if !ignore.exists() {
                std::fs::write(&ignore, "*\n")
                    .with_context(|| format!("writing {}", ignore.display()))?;
            }
            base.join("dev").join(format!("{}-{}", spec.name, spec.env))
        }
    };
    claim_data_dir(&dir, &spec.website.source)?;
    Ok(dir)
}

/// The file that marks a folder as a dev store: dev writes into, and clears parts of, only a
/// folder that carries it.
pub const STORE_MARKER: &str = ".presign-stack-dev-store";
/// What a store made before the marker existed holds, and nothing else.
const UNMARKED_STORE_ENTRIES: &[&str] = &["credentials.json", "s3", "tmp"];

/// Make `dir` the dev store, or refuse it: a new or empty folder is marked as the store, a
/// marked one is taken as it is, and anything else is the user's and left untouched.
fn claim_data_dir(dir: &Path, website_source: &Path) -> Result<()> {
    if let (Ok(d), Ok(w)) = (
        std::fs::canonicalize(dir).or_else(|_| std::path::absolute(dir)),
        std::fs::canonicalize(website_source),
    ) {
        if d.starts_with(&w) {
            anyhow::bail!(
                "the dev data dir {} lies inside website.source {}: uploads and local keys would \
                 be published with the site; choose a data dir outside it",
                dir.display(),
                website_source.display()
            );
        }
    }
    let marker = dir.join(STORE_MARKER);
    if marker.is_file() {
        return Ok(());
    }
    let entries: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("reading the dev data dir {}", dir.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(anyhow!("reading the dev data dir {}: {e}", dir.display())),
    };
    let unmarked_store = entries.iter().any(|e| e == "credentials.json")
        && entries
            .iter()
            .all(|e| UNMARKED_STORE_ENTRIES.contains(&e.as_str()));
    if !entries.is_empty() && !unmarked_store {
        let mut shown: Vec<&str> = entries.iter().map(String::as_str).take(5).collect();
        shown.sort_unstable();
        anyhow::bail!(
            "the dev data dir {} is not empty ({}{}) and is not a presign-stack dev store (it has \
             no {STORE_MARKER}); dev keeps uploads and keys in its data dir and clears its own \
             temporary files there, so it uses only a new or empty folder: pass another \
             --data-dir",
            dir.display(),
            shown.join(", "),
            if entries.len() > 5 { ", ..." } else { "" }
        );
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the dev data dir {}", dir.display()))?;
    std::fs::write(
        &marker,
        "This folder is a presign-stack dev store: uploads and local signing keys.\n",
    )
    .with_context(|| format!("marking {} as the dev store", dir.display()))?;
    Ok(())
}

/// The signing keys shared by the presigner and the store, kept in the data dir so URLs
/// issued before a restart stay valid after it.
#[derive(Serialize, Deserialize)]
struct LocalKeys {
    access_key_id: String,
    secret_access_key: String,
}

fn local_credentials(data_dir: &Path) -> Result<presigner::Credentials> {
    let path = data_dir.join("credentials.json");
    let keys: LocalKeys = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not the dev server's key file; delete it and a new one is made",
                path.display()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let random = || uuid::Uuid::new_v4().simple().to_string();
            let keys = LocalKeys {
                access_key_id: format!("AKIADEV{}", &random()[..13]).to_ascii_uppercase(),
                secret_access_key: format!("{}{}", random(), &random()[..8]),
            };
            write_private(&path, &serde_json::to_vec_pretty(&keys)?)?;
            keys
        }
        Err(e) => return Err(anyhow!("reading {}: {e}", path.display())),
    };
    Ok(presigner::Credentials {
        access_key_id: keys.access_key_id,
        secret_access_key: keys.secret_access_key,
        session_token: None,
        expires_at: None,
    })
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Spec {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/presign-stack.yaml");
        crate::spec::load(&file, "dev").expect("the example spec is valid")
    }

    #[test]
    fn the_example_spec_makes_a_presigner_config_pointed_at_the_store() {
        let spec = example().resolve(LOCAL_ACCOUNT, "eu-central-1");
        let config = presigner_config(&spec, "eu-central-1", "http://127.0.0.1:9").unwrap();
        assert_eq!(config.bucket, "acme-docs-dev-documents-000000000000");
        assert_eq!(config.s3_endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(config.uploads_prefix, "uploads/");
        assert_eq!(config.base_path.as_deref(), spec.website.api_path());
    }

    #[test]
    fn behind_the_distribution_the_presigner_answers_under_api_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("site")).unwrap();
        std::fs::write(dir.path().join("bundle.zip"), b"").unwrap();
        let file = dir.path().join("presign-stack.yaml");
        let yaml = "version: 1\nname: devunit\npresigner: {zip: bundle.zip}\n\
                    website:\n  source: site\n  hosting: cloudfront\n  \
                    cloudfront: {api_path: /api}\n";
        std::fs::write(&file, yaml).unwrap();
        let spec = crate::spec::load(&file, "dev")
            .unwrap()
            .resolve(LOCAL_ACCOUNT, "eu-central-1");
        let config = presigner_config(&spec, "eu-central-1", "http://127.0.0.1:9").unwrap();
        assert_eq!(config.base_path.as_deref(), Some("/api"));

        let no_api = yaml.replace("  cloudfront: {api_path: /api}\n", "");
        std::fs::write(&file, no_api).unwrap();
        let spec = crate::spec::load(&file, "dev")
            .unwrap()
            .resolve(LOCAL_ACCOUNT, "eu-central-1");
        let config = presigner_config(&spec, "eu-central-1", "http://127.0.0.1:9").unwrap();
        assert_eq!(config.base_path, None);
    }

    #[test]
    fn local_keys_are_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = local_credentials(dir.path()).unwrap();
        let again = local_credentials(dir.path()).unwrap();
        assert_eq!(first, again);
        assert_eq!(first.access_key_id.len(), 20);
        assert_eq!(first.secret_access_key.len(), 40);
        std::fs::write(dir.path().join("credentials.json"), "{").unwrap();
        let err = local_credentials(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("delete it"), "{err:#}");
    }
}
