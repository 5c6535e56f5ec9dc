//! presign-stack: provision, check and tear down the S3 presigned-URL upload/download stack
//! described by one spec file. See ARCHITECTURE.md for the map of modules.

pub mod aws;
pub mod bootstrap;
pub mod bundle;
pub mod cancel;
pub mod cli;
pub mod context;
pub mod dev;
pub mod digest_cache;
pub mod discovery;
pub mod drift;
pub mod errors;
pub mod init;
pub mod loss;
pub mod objects;
pub mod orphans;
pub mod plan;
pub mod policy;
pub mod report;
pub mod resources;
pub mod retry;
pub mod spec;
pub mod stack;
pub mod state;
pub mod sync;
pub mod walker;
