//! The page's origin. With `website.cloudfront.api_path` it serves what the distribution
//! serves: `<api_path>/*` goes to the presigner (CloudFront's cache behaviour forwarding to the
//! Function URL, which receives the full path), everything else to the website.

use hyper::body::Incoming;
use hyper::{Request, Response};

use super::function_url::FunctionUrl;
use super::http::{Body, LogName, Service};
use super::site::Site;

pub struct PageOrigin {
    pub site: Site,
    /// `/api` (no trailing slash) and the presigner served under it.
    pub api: Option<(String, FunctionUrl)>,
}

/// Whether CloudFront's path pattern `<api_path>/*` matches `path`: `/api/` and anything under
/// it, but not `/api` itself nor `/apix`. Like CloudFront, case-sensitive and on the path as
/// sent.
pub fn under_api_path(api_path: &str, path: &str) -> bool {
    path.strip_prefix(api_path)
        .is_some_and(|rest| rest.starts_with('/'))
}

impl Service for PageOrigin {
    async fn call(&self, req: Request<Incoming>) -> Response<Body> {
        match &self.api {
            Some((api_path, presigner)) if under_api_path(api_path, req.uri().path()) => {
                let mut r = presigner.call(req).await;
                r.extensions_mut().insert(LogName("presigner"));
                r
            }
            _ => self.site.call(req).await,
        }
    }

    fn refuse_host(&self, req: &Request<Incoming>, why: &str) -> Response<Body> {
        match &self.api {
            Some((api_path, presigner)) if under_api_path(api_path, req.uri().path()) => {
                let mut r = presigner.refuse_host(req, why);
                r.extensions_mut().insert(LogName("presigner"));
                r
            }
            _ => self.site.refuse_host(req, why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_under_the_api_path_go_to_the_presigner() {
        for path in ["/api/", "/api/uploads", "/api/downloads", "/api/uploads/x"] {
            assert!(under_api_path("/api", path), "{path}");
        }
        for path in [
            "/api",
            "/apix/uploads",
            "/uploads",
            "/",
            "/API/uploads",
            "/x/api/",
        ] {
            assert!(!under_api_path("/api", path), "{path}");
        }
        assert!(under_api_path("/v1/files", "/v1/files/uploads"));
    }
}
