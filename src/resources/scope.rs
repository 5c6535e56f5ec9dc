//! Where a kind's IAM actions apply: the resources (ARNs) and the condition each action of a
//! step is allowed on, which `policy` assembles into the deploy, read-only and boundary
//! policies (SPEC section 8).
//!
//! ARNs are made for one account, or for `${aws:PrincipalAccount}`, the policy variable IAM
//! replaces with the account of whoever holds the policy: a policy so written names the same
//! resources in any account, and `policy` needs no AWS call.

use crate::context::ROLE_PATH;
use crate::spec::Spec;

/// The policy variable for "the account of the principal the policy is attached to".
pub const PRINCIPAL_ACCOUNT: &str = "${aws:PrincipalAccount}";

/// The IAM path of the policies and roles `bootstrap` makes for CI (apart from
/// [`ROLE_PATH`], whose roles are stacks' own).
pub const CI_PATH: &str = "/presign-stack-ci/";

/// ARNs of one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arns {
    /// An account id, or [`PRINCIPAL_ACCOUNT`].
    pub account: String,
    pub region: String,
}

impl Arns {
    pub fn new(account: &str, region: &str) -> Arns {
        Arns {
            account: account.to_string(),
            region: region.to_string(),
        }
    }

    pub fn bucket(&self, name: &str) -> String {
        format!("arn:aws:s3:::{name}")
    }

    /// Every object of a bucket.
    pub fn objects(&self, bucket: &str) -> String {
        format!("arn:aws:s3:::{bucket}/*")
    }

    /// A role the tool makes for a stack (under [`ROLE_PATH`]).
    pub fn role(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:role{ROLE_PATH}{name}", self.account)
    }

    pub fn function(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.region, self.account
        )
    }

    /// A log group, in both of the forms CloudWatch Logs' actions authorise against (the
    /// group, and its streams).
    pub fn log_group(&self, name: &str) -> Vec<String> {
        let group = format!(
            "arn:aws:logs:{}:{}:log-group:{name}",
            self.region, self.account
        );
        vec![format!("{group}:*"), group]
    }

    /// A CloudFront resource (`distribution/*`, `function/NAME`): global, no region.
    pub fn cloudfront(&self, resource: &str) -> String {
        format!("arn:aws:cloudfront::{}:{resource}", self.account)
    }

    /// The region's user pools (their ids are Cognito's choice).
    pub fn user_pools(&self) -> String {
        format!(
            "arn:aws:cognito-idp:{}:{}:userpool/*",
            self.region, self.account
        )
    }

    /// A CLOUDFRONT-scope web ACL by name (its id, the last part, is WAF's choice).
    pub fn web_acl(&self, name: &str) -> String {
        format!(
            "arn:aws:wafv2:us-east-1:{}:global/webacl/{name}/*",
            self.account
        )
    }

    /// The region's GuardDuty malware protection plans (their ids are GuardDuty's).
    pub fn malware_plans(&self) -> String {
        format!(
            "arn:aws:guardduty:{}:{}:malware-protection-plan/*",
            self.region, self.account
        )
    }

    /// A customer managed policy under `path`.
    pub fn policy(&self, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:policy{path}{name}", self.account)
    }

    /// The permissions boundary `bootstrap` makes for a stack and environment.
    pub fn default_boundary(&self, spec: &Spec) -> String {
        self.policy(CI_PATH, &boundary_name(spec))
    }
}

/// The name of the boundary policy `bootstrap` makes: `<name>-<env>-boundary`.
pub fn boundary_name(spec: &Spec) -> String {
    format!("{}-{}-boundary", spec.name, spec.env)
}

/// What an allowed action is limited by, besides its resources.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Condition {
    /// Nothing more: the resources are the stack's own by name.
    None,
    /// The resource carries the stack's ownership tags (its ARN is chosen by AWS).
    Tagged,
    /// The request carries the stack's ownership tags (a create).
    TaggedRequest,
    /// A tag write: the request carries the stack's ownership tags, and the resource carries
    /// no other stack's (it may carry none: CloudFront asks this of a resource being created
    /// with its tags, too).
    TaggedRequestNotOthers,
    /// The role has (or is created with, or is given) the stack's permissions boundary.
    Boundary,
    /// `iam:PassRole`, to this service only.
    PassedTo(&'static str),
    /// One condition key equal to one value (`lambda:FunctionUrlAuthType`).
    Equals(&'static str, String),
    /// AWS lets no policy tell the stack's resources of this type apart from any other (ids
    /// chosen by AWS, and no tags); the words say so in the statement's Sid.
    Untaggable(&'static str),
    /// The action names no resource: `Resource: "*"` is all IAM offers.
    NoResource,
    /// Never allowed to the deployer (the statement is a Deny): the words say why.
    Denied(&'static str),
}

/// The resources and condition of one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub resources: Vec<String>,
    pub condition: Condition,
    /// Tells apart statements of one kind on different resources (`Objects`).
    pub part: &'static str,
}

impl Scope {
    /// These resources, by name.
    pub fn on(resources: impl IntoIterator<Item = String>) -> Scope {
        Scope {
            resources: resources.into_iter().collect(),
            condition: Condition::None,
            part: "",
        }
    }

    /// An action that takes no resource.
    pub fn any() -> Scope {
        Scope {
            resources: vec!["*".to_string()],
            condition: Condition::NoResource,
            part: "",
        }
    }

    pub fn when(mut self, condition: Condition) -> Scope {
        self.condition = condition;
        self
    }

    pub fn part(mut self, part: &'static str) -> Scope {
        self.part = part;
        self
    }
}

/// Whether an action only reads.
pub fn is_read(action: &str) -> bool {
    let verb = action.split(':').nth(1).unwrap_or(action);
    ["Get", "List", "Describe", "Head"]
        .iter()
        .any(|v| verb.starts_with(v))
}
