//! What a route sees, shared by the routes of `handler` and `multipart`.

use crate::api::{fail, ApiError, Request};
use crate::auth::Caller;
use crate::config::{Config, Credentials};
use crate::folder::S3;
use crate::io::Io;
use std::time::SystemTime;

/// What a route sees: the configuration, the signing credentials and time, the request, the
/// signed-in caller (with `auth`) and the way out to the network.
pub(crate) struct Ctx<'a> {
    pub config: &'a Config,
    pub creds: &'a Credentials,
    pub now: SystemTime,
    pub req: &'a Request,
    pub caller: Option<&'a Caller>,
    pub io: &'a dyn Io,
}

impl Ctx<'_> {
    pub(crate) fn s3(&self) -> S3<'_> {
        S3 {
            config: self.config,
            creds: self.creds,
            now: self.now,
            io: self.io,
        }
    }

    /// With `auth`, refuses a key outside the caller's folder (403).
    pub(crate) fn own_key(&self, key: &str) -> Result<(), ApiError> {
        match self.caller {
            Some(c) if !key.starts_with(&c.folder(&self.config.uploads_prefix)) => Err(fail(
                403,
                "that file is not yours: you may only use keys in your own folder",
            )),
            _ => Ok(()),
        }
    }
}
