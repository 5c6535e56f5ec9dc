//! An Origin Access Control: how the distribution signs its requests to an origin (SigV4,
//! always). One for the website bucket (`s3`), and with `api_path` one for the Function URL
//! (`lambda`). It takes no tags: its description carries the stack's mark.
//!
//! Fields: description, origin_type, signing_behavior, signing_protocol.

use crate::resources::scope::{Arns, Condition, Scope};
use anyhow::{Context, Result};
use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};
use futures::FutureExt;
use serde_json::{json, Value};

use super::{listings, oac_name, ownership_mark, API_ORIGIN, SITE_ORIGIN};
use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::resources::{Actions, Owner, Resource, Step};
use crate::retry::{if_match, Current};
use crate::spec::Spec;
use crate::state::{Change, Desired, Fields, Kind, Known, Live};

pub const SITE_KIND: Kind = Kind::new("site_origin_access_control", "origin access control");
pub const API_KIND: Kind = Kind::new("api_origin_access_control", "origin access control");

/// The website bucket's.
pub static SITE: Oac = Oac(SITE_ORIGIN);
/// The Function URL's (`api_path`).
pub static API: Oac = Oac(API_ORIGIN);

/// The OAC of one origin.
pub struct Oac(&'static str);

impl Oac {
    fn origin_type(&self) -> OriginAccessControlOriginTypes {
        match self.0 {
            SITE_ORIGIN => OriginAccessControlOriginTypes::S3,
            _ => OriginAccessControlOriginTypes::Lambda,
        }
    }
}

impl Resource for Oac {
    fn kind(&self) -> Kind {
        match self.0 {
            SITE_ORIGIN => SITE_KIND,
            _ => API_KIND,
        }
    }

    fn name(&self, spec: &Spec) -> String {
        oac_name(spec, self.0)
    }

    fn wanted(&self, spec: &Spec) -> bool {
        match self.0 {
            SITE_ORIGIN => spec.website.cloudfront().is_some(),
            _ => spec.website.api_path().is_some(),
        }
    }

    fn actions(&self) -> Actions {
        Actions {
            read: &["cloudfront:ListOriginAccessControls"],
            create: &["cloudfront:CreateOriginAccessControl"],
            update: &[
                "cloudfront:GetOriginAccessControl",
                "cloudfront:UpdateOriginAccessControl",
            ],
            delete: &[
                "cloudfront:GetOriginAccessControl",
                "cloudfront:DeleteOriginAccessControl",
            ],
        }
    }

    fn scope(&self, _spec: &Spec, at: &Arns, action: &str) -> Scope {
        match action {
            "cloudfront:ListOriginAccessControls" | "cloudfront:CreateOriginAccessControl" => {
                Scope::any()
            }
            _ => Scope::on([at.cloudfront("origin-access-control/*")])
                .when(Condition::Untaggable("OriginAccessControlsTakeNoTags")),
        }
    }

    fn desired(&self, ctx: &Ctx, _live: Option<&Live>) -> Desired {
        let mut d = Desired::default();
        d.set("description", json!(ownership_mark(&ctx.spec)));
        for (k, v) in settings(self.origin_type().as_str()) {
            d.set(k, v);
        }
        d
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, name: &'a str) -> Step<'a, Option<Live>> {
        async move {
            // Its id known (made in this run), it is read itself; else found in the listing.
            if let Some(id) = ctx.known.oac_ids.get(name) {
                return read_id(ctx, name, id).await;
            }
            let Some(found) = listings(ctx)? else {
                return Ok(None);
            };
            Ok(found
                .oacs
                .iter()
                .find(|o| o.name == name)
                .map(|o| live(name, &o.id, &o.description, &o.settings)))
        }
        .boxed()
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        live: Option<&'a Live>,
        _changes: &'a [Change],
    ) -> Step<'a, Known> {
        async move {
            let name = self.name(&ctx.spec);
            let config = config(ctx, &name, self.origin_type())?;
            let id = match live.and_then(|l| l.known.oac_ids.get(&name)) {
                Some(id) => {
                    update(ctx, id, &name, config).await?;
                    id.clone()
                }
                None => create(ctx, &name, config).await?,
            };
            Ok(known(&name, &id))
        }
        .boxed()
    }

    fn delete<'a>(&'a self, ctx: &'a Ctx, name: &'a str, live: &'a Live) -> Step<'a, usize> {
        async move {
            let Some(id) = live.known.oac_ids.get(name) else {
                return Ok(0);
            };
            let cf = &ctx.aws.cloudfront;
            if_match(
                ctx.timing.if_match_attempts,
                &format!("deleting origin access control {name}"),
                || async {
                    match cf.get_origin_access_control().id(id).send().await {
                        Ok(g) => Ok(Current::Write(g.e_tag().map(str::to_string))),
                        Err(e) if code_in(&e, &["NoSuchOriginAccessControl"]) => Ok(Current::Gone),
                        Err(e) => Err(aws_err(format!("reading origin access control {name}"), e)),
                    }
                },
                |etag| async move {
                    match cf
                        .delete_origin_access_control()
                        .id(id)
                        .set_if_match(etag)
                        .send()
                        .await
                    {
                        Ok(_) => Ok(()),
                        Err(e) if code_in(&e, &["NoSuchOriginAccessControl"]) => Ok(()),
                        Err(e) => Err(aws_err(format!("deleting origin access control {name}"), e)),
                    }
                },
            )
            .await?;
            Ok(0)
        }
        .boxed()
    }

    fn owner(&self, spec: &Spec, live: &Live) -> Owner {
        super::owner_by_mark(spec, live, "description")
    }

    fn unmarked(&self, spec: &Spec) -> String {
        super::unmarked_by(spec, "description")
    }

    fn removed_by_up(&self) -> bool {
        true
    }
}

/// An OAC as the fields [`Resource::desired`] makes.
fn live(name: &str, id: &str, description: &str, settings: &Value) -> Live {
    let mut fields = Fields::new();
    fields.insert("description", json!(description));
    for k in ["origin_type", "signing_behavior", "signing_protocol"] {
        fields.insert(k, settings.get(k).cloned().unwrap_or(Value::Null));
    }
    Live {
        fields,
        known: known(name, id),
        ..Live::default()
    }
}

/// The OAC `id`; `None` when it is gone.
async fn read_id(ctx: &Ctx, name: &str, id: &str) -> Result<Option<Live>> {
    let got = match ctx
        .aws
        .cloudfront
        .get_origin_access_control()
        .id(id)
        .send()
        .await
    {
        Ok(g) => g,
        Err(e) if code_in(&e, &["NoSuchOriginAccessControl"]) => return Ok(None),
        Err(e) => return Err(aws_err(format!("reading origin access control {name}"), e)),
    };
    let Some(c) = got
        .origin_access_control()
        .and_then(|o| o.origin_access_control_config())
    else {
        return Ok(None);
    };
    let settings = json!({
        "origin_type": c.origin_access_control_origin_type().as_str(),
        "signing_behavior": c.signing_behavior().as_str(),
        "signing_protocol": c.signing_protocol().as_str(),
    });
    Ok(Some(live(
        name,
        id,
        c.description().unwrap_or_default(),
        &settings,
    )))
}

/// The settings every OAC of the stack has, for an origin of `origin_type`.
fn settings(origin_type: &str) -> [(&'static str, Value); 3] {
    [
        ("origin_type", json!(origin_type)),
        ("signing_behavior", json!("always")),
        ("signing_protocol", json!("sigv4")),
    ]
}

fn known(name: &str, id: &str) -> Known {
    Known {
        oac_ids: [(name.to_string(), id.to_string())].into(),
        ..Known::default()
    }
}

fn config(
    ctx: &Ctx,
    name: &str,
    kind: OriginAccessControlOriginTypes,
) -> Result<OriginAccessControlConfig> {
    Ok(OriginAccessControlConfig::builder()
        .name(name)
        .description(ownership_mark(&ctx.spec))
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(kind)
        .build()?)
}

async fn update(ctx: &Ctx, id: &str, name: &str, config: OriginAccessControlConfig) -> Result<()> {
    let cf = &ctx.aws.cloudfront;
    if_match(
        ctx.timing.if_match_attempts,
        &format!("updating origin access control {name}"),
        || async {
            let got = cf
                .get_origin_access_control()
                .id(id)
                .send()
                .await
                .map_err(|e| aws_err(format!("reading origin access control {name}"), e))?;
            Ok(Current::Write(got.e_tag().map(str::to_string)))
        },
        |etag| {
            let config = config.clone();
            async move {
                cf.update_origin_access_control()
                    .id(id)
                    .set_if_match(etag)
                    .origin_access_control_config(config)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| aws_err(format!("updating origin access control {name}"), e))
            }
        },
    )
    .await?;
    Ok(())
}

async fn create(ctx: &Ctx, name: &str, config: OriginAccessControlConfig) -> Result<String> {
    let cf = &ctx.aws.cloudfront;
    match cf
        .create_origin_access_control()
        .origin_access_control_config(config)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .origin_access_control()
            .map(|o| o.id().to_string())
            .with_context(|| format!("origin access control {name}: no id in the answer"))?),
        // Sent again after a lost answer, or made by another run at once: it exists now.
        Err(e) if code_in(&e, &["OriginAccessControlAlreadyExists"]) => {
            let mark = ownership_mark(&ctx.spec);
            let list = cf
                .list_origin_access_controls()
                .send()
                .await
                .map_err(|e| aws_err("listing CloudFront origin access controls", e))?;
            list.origin_access_control_list()
                .map(|l| l.items())
                .unwrap_or_default()
                .iter()
                .find(|o| o.name() == name && o.description() == mark)
                .map(|o| o.id().to_string())
                .with_context(|| {
                    format!("origin access control {name} exists but is not this stack's")
                })
        }
        Err(e) => Err(aws_err(format!("creating origin access control {name}"), e)),
    }
}
