"""moto server with CloudFront, WAF and Cognito behaviour closer to AWS (CloudFront API version
2020-05-31).

Run it exactly like moto's own `moto_server` (same arguments, e.g. `-H 127.0.0.1 -p 4566`);
`scripts/moto-server` does that with the repo's virtualenv. Before the server app is built,
this module patches moto's CloudFront backend in-process, because moto 5.2.5:

* answers 500 to deleting an origin access control it does not have, and deletes one still in
  use. Here: 404 NoSuchOriginAccessControl, and 409 OriginAccessControlInUse.
* lets two origin access controls have one name, and two creates with one caller reference
  race. Here OAC names are unique (409 OriginAccessControlAlreadyExists), and each create
  checks and inserts in one step.
* has no response headers policies at all. Added: Create/Get/GetConfig/Update/Delete/List
  ResponseHeadersPolicy (custom policies stored per account with the config kept exactly as
  sent, names unique, If-Match checked, a new ETag on every update, deletion refused while a
  distribution's cache behaviour uses the policy) and the five AWS managed policies
  (SecurityHeadersPolicy, SimpleCORS, CORS-With-Preflight and the two combinations), which can
  be read and listed but not changed. The SecurityHeadersPolicy config follows AWS's
  documentation; the CORS configs of the managed CORS policies are close approximations.
* is lenient about distributions: it deletes a distribution that is still enabled, ignores the
  value of If-Match on update and delete, keeps one ETag for ever, and flips Status from
  InProgress to Deployed after a number of reads. Here UpdateDistribution and
  DeleteDistribution require If-Match to equal the current ETag (412 PreconditionFailed, or
  400 InvalidIfMatchVersion when it is missing), every update gets a new ETag and
  LastModifiedTime, Status is InProgress until MOTO_CLOUDFRONT_DEPLOY_SECONDS (default 2)
  seconds after the last create or update and Deployed afterwards, and DeleteDistribution
  answers 409 DistributionNotDisabled while the distribution is enabled or its disabling has
  not finished deploying, as AWS does.
* accepts any ResponseHeadersPolicyId in a distribution. Here CreateDistribution and
  UpdateDistribution answer NoSuchResponseHeadersPolicy (HTTP 404, the status AWS's service
  model gives that error) for an id that is neither a custom policy of the account nor a
  managed one. Cache policy and origin request policy ids are not checked: moto cannot create
  custom ones, and AWS's managed ones (CachingOptimized, CachingDisabled,
  AllViewerExceptHostHeader, ...) must simply be accepted.
* drops origin access controls from the origins it returns. Here every origin keeps its
  OriginAccessControlId ("" when none was given, as AWS returns it) and its S3OriginConfig
  (OriginAccessIdentity "" kept), so GetDistribution and GetDistributionConfig return them.
* keeps one copy of a CloudFront Function: no DEVELOPMENT and LIVE stages, no UpdateFunction
  or PublishFunction, any If-Match accepted on delete, a function deleted while a cache
  behaviour uses it, and any association accepted in a distribution. Here the two stages are
  kept apart (writes go to DEVELOPMENT, PublishFunction copies it to LIVE, DescribeFunction
  and GetFunction read the Stage asked for), UpdateFunction, PublishFunction and
  DeleteFunction check If-Match against the DEVELOPMENT ETag, code over 10 KB is 413
  FunctionSizeLimitExceeded, DeleteFunction answers 409 FunctionInUse while associated, and a
  distribution may only be associated with a function published to LIVE.
* keeps a Function URL's CORS configuration when UpdateFunctionUrlConfig sends an empty one;
  AWS replaces it, which is how CORS is removed. Here it is replaced.
* mangles a few distribution fields in the round trip: the viewer certificate is returned with
  an empty IAMCertificateId, an empty Certificate and CertificateSource "cloudfront" even for an
  ACM certificate; Compress defaults to true; legacy ForwardedValues and TTLs are added to cache
  behaviours that use a cache policy; a cache behaviour without an origin request policy gets
  an empty OriginRequestPolicyId; Lambda@Edge and CloudFront function associations are
  replaced by empty lists; LastModifiedTime is a fixed date in 2021. Each is returned as AWS
  returns it here.
* has no say in which web ACL a distribution names (any WebACLId is kept) and deletes a web ACL
  a distribution still uses. Here Create/UpdateDistribution answer 400 InvalidWebACLId for a
  WebACLId that is not the ARN of a CLOUDFRONT-scope web ACL of the account, and DeleteWebACL
  answers 400 WAFAssociatedItemException while a distribution names it.
* deletes a user pool whose deletion protection is on, or that still has a domain, gives a pool
  a second prefix domain or a domain another pool has, and has no TagResource, UntagResource
  or ListTagsForResource for user pools. Here DeleteUserPool and CreateUserPoolDomain answer
  InvalidParameterException in those cases, with AWS's messages, and the three tag calls work
  on the pool's UserPoolTags.
* keeps a bucket's EventBridgeConfiguration but leaves it out of
  GetBucketNotificationConfiguration, and answers a bucket with no notifications with a
  <GetBucketNotificationResponse/> the SDKs cannot read. Here the EventBridgeConfiguration is
  returned (empty, as S3 returns it), and no notifications are an empty
  <NotificationConfiguration/>.
* has none of GuardDuty's malware protection plan API (404). Here Create, Get, Update, Delete
  and ListMalwareProtectionPlans and the three tag calls on plans work as AWS's API reference
  gives them (one plan per bucket: a second is 409 ConflictException; an unknown plan is 404
  ResourceNotFoundException; createdAt in epoch seconds, the protocol's default timestamp
  format, which the SDKs parse). Nothing is scanned: a test sets GuardDuty's object tag.
* deletes a managed policy still attached to a role, user or group or used as a permissions
  boundary, and one that still has versions besides its default. Here DeletePolicy answers 409
  DeleteConflict in both cases, with IAM's messages.
* evaluates IAM policies too coarsely to test a least-privilege policy when it enforces them
  (started with INITIAL_NO_AUTH_ACTION_COUNT=N: the first N checked calls are free, every later
  one must be signed by an IAM user's or role session's key and allowed by its identity
  policies; POST /moto-api/reset-auth with a number as body sets N anew and restarts the
  count). moto gives IAM calls the resource "*" unless they name an existing role; evaluates
  conditions without any request context (only StringEquals, other operators taken as met);
  counts an Allow whose condition is unmet as a Deny; reads Resource patterns as regular
  expressions (the "." of "my.bucket" matches any character); refuses a policy with
  ${aws:PrincipalAccount} in an IAM ARN as malformed; and checks several S3 calls under names
  that are not IAM actions or are the wrong ones (HeadBucket; public access block, encryption
  and ownership controls as ListBucket, CreateBucket or DeleteBucket; DeleteObjects once,
  against the bucket). Here, while enforcing: an IAM call's resource is the ARN of the role,
  user, group, instance profile, policy or OIDC provider it acts on, existing or about to be
  created (CreateRole: role<Path><RoleName>); an S3 call is checked under the IAM action AWS
  checks, DeleteObjects as s3:DeleteObject (or DeleteObjectVersion) on each object; identity
  policies are evaluated as AWS documents it (an explicit Deny that applies wins, otherwise an
  Allow that applies is needed; a statement whose condition is unmet does not apply, Allow or
  Deny); Action, NotAction, Resource and NotResource take "*" and "?" as the only wildcards;
  ${key} variables are replaced in resources and condition values (policy version
  2012-10-17); StringEquals, StringNotEquals, StringEqualsIgnoreCase,
  StringNotEqualsIgnoreCase, StringLike, StringNotLike, ArnEquals, ArnLike, ArnNotEquals,
  ArnNotLike and Bool (each also ...IfExists) and Null are evaluated against the request's
  aws:PrincipalAccount, aws:PrincipalArn, aws:username, aws:RequestedRegion and, for IAM
  calls, iam:PermissionsBoundary (the boundary CreateRole or PutRolePermissionsBoundary sets,
  or the one of the role acted on) and iam:PolicyARN (attach and detach); other operators
  (Numeric*, Date*, IpAddress, ForAnyValue:/ForAllValues:) are not evaluated and fail safe (an
  Allow with one does not apply, a Deny with one does). Role trust policies (sts:AssumeRole)
  are left to moto. Not evaluated: the caller's own permissions boundary, resource-based
  policies (bucket policies), the extra permissions a call needs (iam:PassRole, iam:TagRole
  for CreateRole with Tags, ...), other condition keys (aws:ResourceTag/..., aws:RequestTag/...,
  service keys) and the action names and resources of services other than IAM, STS and S3.
"""

import base64
import copy
import os
import re
import sys
import threading
import time
import uuid
from datetime import datetime
from typing import Any

import moto.cloudfront.models as cf_models
import moto.cloudfront.urls as cf_urls
from moto.cloudfront.exceptions import (
    CloudFrontException,
    InvalidIfMatchVersion,
    NoSuchDistribution,
)
from moto.cloudfront.responses import CloudFrontResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow


def _deploy_seconds() -> float:
    raw = os.environ.get("MOTO_CLOUDFRONT_DEPLOY_SECONDS", "2")
    try:
        seconds = float(raw)
    except ValueError:
        sys.exit(f"MOTO_CLOUDFRONT_DEPLOY_SECONDS must be a number of seconds, not {raw!r}")
    return max(seconds, 0.0)


DEPLOY_SECONDS = _deploy_seconds()
API = "https://cloudfront.amazonaws.com/2020-05-31"
_lock = threading.RLock()


# --- Errors (the HTTP status of each comes from botocore's CloudFront service model) --------


class PreconditionFailed(CloudFrontException):  # 412
    def __init__(self) -> None:
        super().__init__(
            "PreconditionFailed",
            "The precondition given in one or more of the request header fields evaluated to false.",
        )


class DistributionNotDisabled(CloudFrontException):  # 409
    def __init__(self) -> None:
        super().__init__(
            "DistributionNotDisabled",
            "The distribution you are trying to delete has not been disabled.",
        )


class NoSuchResponseHeadersPolicy(CloudFrontException):  # 404
    def __init__(self) -> None:
        super().__init__(
            "NoSuchResponseHeadersPolicy", "The response headers policy does not exist."
        )


class ResponseHeadersPolicyAlreadyExists(CloudFrontException):  # 409
    def __init__(self) -> None:
        super().__init__(
            "ResponseHeadersPolicyAlreadyExists",
            "A response headers policy with this name already exists. You must provide a "
            "unique name. To modify an existing response headers policy, use "
            "UpdateResponseHeadersPolicy.",
        )


class ResponseHeadersPolicyInUse(CloudFrontException):  # 409
    def __init__(self) -> None:
        super().__init__(
            "ResponseHeadersPolicyInUse",
            "Cannot delete the response headers policy because it is attached to one or "
            "more cache behaviors in a CloudFront distribution.",
        )


class OriginAccessControlAlreadyExists(CloudFrontException):  # 409
    def __init__(self) -> None:
        super().__init__(
            "OriginAccessControlAlreadyExists",
            "An origin access control with the same name already exists.",
        )


class IllegalUpdate(CloudFrontException):  # 400
    def __init__(self) -> None:
        super().__init__("IllegalUpdate", "A managed response headers policy cannot be updated.")


class IllegalDelete(CloudFrontException):  # 400
    def __init__(self) -> None:
        super().__init__("IllegalDelete", "A managed response headers policy cannot be deleted.")


class InvalidArgument(CloudFrontException):  # 400
    def __init__(self, message: str) -> None:
        super().__init__("InvalidArgument", message)


def check_if_match(if_match: str | None, etag: str) -> None:
    """AWS: a missing If-Match is 400 InvalidIfMatchVersion, a stale one 412 PreconditionFailed."""
    if not if_match:
        raise InvalidIfMatchVersion
    if if_match.strip('"') != etag:
        raise PreconditionFailed


# --- Response headers policies ---------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A deep copy made of plain dicts and lists, so a stored config cannot change behind us."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return copy.copy(value)


class ResponseHeadersPolicy:
    def __init__(
        self, config: dict[str, Any], policy_id: str | None = None, managed: bool = False
    ) -> None:
        self.id = policy_id or str(uuid.uuid4())
        self.managed = managed
        self.config = _plain(config)
        self.last_modified_time = datetime(2021, 11, 2) if managed else utcnow()
        self.etag = "E23ZP02F085DFQ" if managed else cf_models.random_id()

    @property
    def name(self) -> str:
        return self.config.get("Name", "")

    @property
    def location(self) -> str:
        return f"{API}/response-headers-policy/{self.id}"

    def update(self, config: dict[str, Any]) -> None:
        self.config = _plain(config)
        self.last_modified_time = utcnow()
        self.etag = cf_models.random_id()

    def as_response(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "LastModifiedTime": self.last_modified_time,
            "ResponseHeadersPolicyConfig": self.config,
        }


def _security_headers() -> dict[str, Any]:
    # AWS's documented values for the managed SecurityHeadersPolicy.
    return {
        "XSSProtection": {"Override": False, "Protection": True, "ModeBlock": True},
        "FrameOptions": {"Override": False, "FrameOption": "SAMEORIGIN"},
        "ReferrerPolicy": {"Override": False, "ReferrerPolicy": "strict-origin-when-cross-origin"},
        "ContentTypeOptions": {"Override": False},
        "StrictTransportSecurity": {
            "Override": False,
            "IncludeSubdomains": False,
            "Preload": False,
            "AccessControlMaxAgeSec": 31536000,
        },
    }


def _cors(preflight: bool) -> dict[str, Any]:
    methods = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"] if preflight else ["GET", "HEAD"]
    cors: dict[str, Any] = {
        "AccessControlAllowOrigins": {"Quantity": 1, "Items": ["*"]},
        "AccessControlAllowHeaders": {"Quantity": 1, "Items": ["*"]},
        "AccessControlAllowMethods": {"Quantity": len(methods), "Items": methods},
        "AccessControlAllowCredentials": False,
        "OriginOverride": False,
    }
    if preflight:
        cors["AccessControlExposeHeaders"] = {"Quantity": 1, "Items": ["*"]}
    return cors


MANAGED_RESPONSE_HEADERS_POLICIES = {
    policy_id: ResponseHeadersPolicy(config, policy_id=policy_id, managed=True)
    for policy_id, config in {
        "67f7725c-6f97-4210-82d7-5512b31e9d03": {
            "Name": "Managed-SecurityHeadersPolicy",
            "Comment": "Adds a set of security headers to every response",
            "SecurityHeadersConfig": _security_headers(),
        },
        "60669652-455b-4ae9-85a4-c4c02393f86c": {
            "Name": "Managed-SimpleCORS",
            "Comment": "Allows all origins for simple CORS requests",
            "CorsConfig": _cors(preflight=False),
        },
        "5cc3b908-e619-4b99-88e5-2cf7f45965bd": {
            "Name": "Managed-CORS-With-Preflight",
            "Comment": "Allows all origins for CORS requests, including preflight requests",
            "CorsConfig": _cors(preflight=True),
        },
        "e61eb60c-9c35-4d20-a928-2b84e02af89c": {
            "Name": "Managed-CORS-and-SecurityHeadersPolicy",
            "Comment": "Allows all origins for simple CORS requests, and adds security headers",
            "CorsConfig": _cors(preflight=False),
            "SecurityHeadersConfig": _security_headers(),
        },
        "eaab4381-ed33-4a86-88ca-d9558dc6cd63": {
            "Name": "Managed-CORS-with-preflight-and-SecurityHeadersPolicy",
            "Comment": "Allows all origins for CORS requests, including preflight requests, and adds security headers",
            "CorsConfig": _cors(preflight=True),
            "SecurityHeadersConfig": _security_headers(),
        },
    }.items()
}


def _request_behaviours(config: dict[str, Any]) -> list[Any]:
    """The default and the path cache behaviours of a DistributionConfig sent in a request."""
    return [config.get("DefaultCacheBehavior") or {}] + ((config.get("CacheBehaviors") or {}).get("Items") or [])


def _distribution_behaviours(dist: Any) -> list[Any]:
    """The cache behaviours of a stored distribution (moto objects)."""
    config = dist.distribution_config
    return [config.DefaultCacheBehavior] + ((config.CacheBehaviors or {}).get("Items") or [])


def _behaviour_policy_ids(behaviours: list[Any]) -> set[str]:
    """ResponseHeadersPolicyIds of cache behaviours given as request dicts or moto objects."""
    ids = set()
    for b in behaviours:
        if isinstance(b, dict):
            policy_id = b.get("ResponseHeadersPolicyId")
        else:
            policy_id = getattr(b, "response_headers_policy_id", None)
        if policy_id:
            ids.add(policy_id)
    return ids


def _requested_policy_ids(config: dict[str, Any]) -> set[str]:
    return _behaviour_policy_ids(_request_behaviours(config))


def _distribution_policy_ids(dist: Any) -> set[str]:
    return _behaviour_policy_ids(_distribution_behaviours(dist))


Backend = cf_models.CloudFrontBackend
_original_backend_init = Backend.__init__


def _backend_init(self: Any, region_name: str, account_id: str) -> None:
    _original_backend_init(self, region_name, account_id)
    self.response_headers_policies = {}


def get_response_headers_policy(self: Any, policy_id: str) -> ResponseHeadersPolicy:
    policy = self.response_headers_policies.get(policy_id) or MANAGED_RESPONSE_HEADERS_POLICIES.get(policy_id)
    if policy is None:
        raise NoSuchResponseHeadersPolicy
    return policy


def _check_name_free(self: Any, name: str, own_id: str | None = None) -> None:
    for policy in list(self.response_headers_policies.values()) + list(
        MANAGED_RESPONSE_HEADERS_POLICIES.values()
    ):
        if policy.name == name and policy.id != own_id:
            raise ResponseHeadersPolicyAlreadyExists


def create_response_headers_policy(self: Any, config: dict[str, Any]) -> ResponseHeadersPolicy:
    with _lock:
        _check_name_free(self, config.get("Name", ""))
        policy = ResponseHeadersPolicy(config)
        self.response_headers_policies[policy.id] = policy
        return policy


def update_response_headers_policy(
    self: Any, policy_id: str, config: dict[str, Any], if_match: str | None
) -> ResponseHeadersPolicy:
    with _lock:
        policy = self.get_response_headers_policy(policy_id)
        if policy.managed:
            raise IllegalUpdate
        check_if_match(if_match, policy.etag)
        _check_name_free(self, config.get("Name", ""), own_id=policy_id)
        policy.update(config)
        return policy


def delete_response_headers_policy(self: Any, policy_id: str, if_match: str | None) -> None:
    with _lock:
        policy = self.get_response_headers_policy(policy_id)
        if policy.managed:
            raise IllegalDelete
        check_if_match(if_match, policy.etag)
        for dist in self.distributions.values():
            if policy_id in _distribution_policy_ids(dist):
                raise ResponseHeadersPolicyInUse
        del self.response_headers_policies[policy_id]


def list_response_headers_policies(
    self: Any, policy_type: str | None
) -> list[tuple[str, ResponseHeadersPolicy]]:
    if policy_type not in (None, "", "managed", "custom"):
        raise InvalidArgument(f"Type must be managed or custom, not {policy_type}.")
    found = []
    if policy_type in (None, "", "managed"):
        found += [("managed", p) for p in MANAGED_RESPONSE_HEADERS_POLICIES.values()]
    if policy_type in (None, "", "custom"):
        found += [("custom", p) for p in self.response_headers_policies.values()]
    return found


Backend.__init__ = _backend_init
Backend.get_response_headers_policy = get_response_headers_policy
Backend.create_response_headers_policy = create_response_headers_policy
Backend.update_response_headers_policy = update_response_headers_policy
Backend.delete_response_headers_policy = delete_response_headers_policy
Backend.list_response_headers_policies = list_response_headers_policies


def _rhp_create(self: Any) -> ActionResult:
    config = self._get_param("ResponseHeadersPolicyConfig", {})
    policy = self.backend.create_response_headers_policy(config)
    return ActionResult(
        {"ResponseHeadersPolicy": policy.as_response(), "Location": policy.location, "ETag": policy.etag}
    )


def _rhp_get(self: Any) -> ActionResult:
    policy = self.backend.get_response_headers_policy(self._get_param("Id"))
    return ActionResult({"ResponseHeadersPolicy": policy.as_response(), "ETag": policy.etag})


def _rhp_get_config(self: Any) -> ActionResult:
    policy = self.backend.get_response_headers_policy(self._get_param("Id"))
    return ActionResult({"ResponseHeadersPolicyConfig": policy.config, "ETag": policy.etag})


def _rhp_update(self: Any) -> ActionResult:
    policy = self.backend.update_response_headers_policy(
        self._get_param("Id"),
        self._get_param("ResponseHeadersPolicyConfig", {}),
        self._get_param("IfMatch"),
    )
    return ActionResult({"ResponseHeadersPolicy": policy.as_response(), "ETag": policy.etag})


def _rhp_delete(self: Any) -> ActionResult:
    self.backend.delete_response_headers_policy(self._get_param("Id"), self._get_param("IfMatch"))
    return EmptyResult()


def _rhp_list(self: Any) -> ActionResult:
    marker = self._get_param("Marker")
    raw_max = self._get_param("MaxItems")
    try:
        max_items = int(raw_max) if raw_max not in (None, "") else 100
    except ValueError:
        raise InvalidArgument("MaxItems must be a number.")
    found = self.backend.list_response_headers_policies(self._get_param("Type"))
    start = 0
    if marker:
        ids = [p.id for _, p in found]
        if marker not in ids:
            raise InvalidArgument("The marker is not valid.")
        start = ids.index(marker)
    page = found[start : start + max_items]
    rest = found[start + max_items :]
    items = [{"Type": kind, "ResponseHeadersPolicy": p.as_response()} for kind, p in page]
    return ActionResult(
        {
            "ResponseHeadersPolicyList": {
                "NextMarker": rest[0][1].id if rest else None,
                "MaxItems": max_items,
                "Quantity": len(items),
                "Items": items or None,
            }
        }
    )


# moto calls the method named after the operation in snake case; the operation is found from
# the HTTP method and path through botocore's service model (moto.core.routing).
CloudFrontResponse.create_response_headers_policy = _rhp_create
CloudFrontResponse.get_response_headers_policy = _rhp_get
CloudFrontResponse.get_response_headers_policy_config = _rhp_get_config
CloudFrontResponse.update_response_headers_policy = _rhp_update
CloudFrontResponse.delete_response_headers_policy = _rhp_delete
CloudFrontResponse.list_response_headers_policies = _rhp_list

# Flask routes, read when the CloudFront app is built at the first CloudFront request.
# POST/GET .../response-headers-policy: Create/List; GET/PUT/DELETE .../{Id}: Get/Update/Delete;
# GET .../{Id}/config: GetConfig.
cf_urls.url_paths.update(
    {
        "{0}/2020-05-31/response-headers-policy$": CloudFrontResponse.dispatch,
        "{0}/2020-05-31/response-headers-policy/(?P<response_headers_policy_id>[^/]+)$": CloudFrontResponse.dispatch,
        "{0}/2020-05-31/response-headers-policy/(?P<response_headers_policy_id>[^/]+)/config$": CloudFrontResponse.dispatch,
    }
)



# --- CloudFront Functions --------------------------------------------------------------------
# moto keeps one copy of a function: no stages, no UpdateFunction or PublishFunction, the
# Stage parameter ignored, any If-Match accepted on delete, and a function deleted while a
# distribution uses it. Here each function has a DEVELOPMENT stage (what writes change, with
# its own ETag) and a LIVE one once published (PublishFunction copies DEVELOPMENT to LIVE);
# DescribeFunction and GetFunction read the stage asked for (DEVELOPMENT when none is);
# UpdateFunction, PublishFunction and DeleteFunction require If-Match to equal the
# DEVELOPMENT ETag; DeleteFunction answers 409 FunctionInUse while a cache behaviour is
# associated with the function; and CreateDistribution and UpdateDistribution refuse an
# association with a function that does not exist (NoSuchFunctionExists) or was never
# published (InvalidArgument, as AWS: only LIVE functions can be associated).

FUNCTION_RUNTIMES = ("cloudfront-js-1.0", "cloudfront-js-2.0")
MAX_FUNCTION_CODE_BYTES = 10240


class FunctionInUse(CloudFrontException):  # 409
    def __init__(self) -> None:
        super().__init__(
            "FunctionInUse",
            "Cannot delete function, it’s in use by one or more cache behaviors",
        )


class FunctionSizeLimitExceeded(CloudFrontException):  # 413
    def __init__(self) -> None:
        super().__init__(
            "FunctionSizeLimitExceeded",
            f"The function is too large. The maximum size is {MAX_FUNCTION_CODE_BYTES} bytes.",
        )


class FunctionStage:
    def __init__(self, name: str, arn: str, stage: str, config: dict[str, Any], code: bytes, created: Any) -> None:
        self.name = name
        self.arn = arn
        self.stage = stage
        self.config = _plain(config)
        self.code = code
        self.created_time = created
        self.last_modified_time = utcnow()
        self.etag = cf_models.random_id()
        self.status = "UNPUBLISHED"

    @property
    def function_summary(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Status": self.status,
            "FunctionConfig": self.config,
            "FunctionMetadata": {
                "FunctionARN": self.arn,
                "Stage": self.stage,
                "CreatedTime": self.created_time,
                "LastModifiedTime": self.last_modified_time,
            },
        }


def _function_code(raw: Any) -> bytes:
    if isinstance(raw, str):
        raw = base64.b64decode(raw)
    code = bytes(raw or b"")
    if not code:
        raise InvalidArgument("FunctionCode is required.")
    if len(code) > MAX_FUNCTION_CODE_BYTES:
        raise FunctionSizeLimitExceeded()
    return code


def _function_config(config: dict[str, Any]) -> dict[str, Any]:
    runtime = (config or {}).get("Runtime")
    if runtime not in FUNCTION_RUNTIMES:
        raise InvalidArgument(f"Runtime must be one of {', '.join(FUNCTION_RUNTIMES)}.")
    config = dict(config)
    config.setdefault("Comment", "")
    return config


def _function_stage(self: Any, name: str, stage: str | None) -> FunctionStage:
    stages = self.function_stages.get(name)
    stage = stage or "DEVELOPMENT"
    if stage not in ("DEVELOPMENT", "LIVE"):
        raise InvalidArgument("Stage must be DEVELOPMENT or LIVE.")
    if not stages or stages.get(stage) is None:
        raise cf_models.NoSuchFunctionExists(name)
    return stages[stage]


def _function_arns_in_use(self: Any) -> set[str]:
    arns = set()
    for dist in self.distributions.values():
        for b in _distribution_behaviours(dist):
            arns |= _associated_function_arns(getattr(b, "function_associations", None))
    return arns


def _associated_function_arns(associations: Any) -> set[str]:
    items = (associations or {}).get("Items") or []
    if isinstance(items, dict):  # one item, as the XML parser may give it
        items = items.get("FunctionAssociation") or []
    if isinstance(items, dict):
        items = [items]
    return {i.get("FunctionARN", "") for i in items}


def _requested_function_arns(config: dict[str, Any]) -> set[str]:
    arns = set()
    for b in _request_behaviours(config):
        arns |= _associated_function_arns(b.get("FunctionAssociations"))
    return arns


def _check_function_refs(self: Any, config: dict[str, Any]) -> None:
    for arn in _requested_function_arns(config):
        name = arn.rsplit("function/", 1)[-1]
        stages = self.function_stages.get(name)
        if not stages or stages["DEVELOPMENT"].arn != arn:
            raise cf_models.NoSuchFunctionExists(name)
        if stages.get("LIVE") is None:
            raise InvalidArgument(
                f"The function {name} is not published: only functions in the LIVE stage can "
                "be associated with a cache behavior."
            )


def create_function(self: Any, name: str, function_config: dict[str, Any], function_code: Any, tags: Any = None) -> FunctionStage:
    if not re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", name or ""):
        raise InvalidArgument("Name must be 1 to 64 letters, digits, hyphens or underscores.")
    config = _function_config(function_config)
    code = _function_code(function_code)
    with _lock:
        if name in self.function_stages:
            raise cf_models.FunctionAlreadyExists(name)
        arn = f"arn:aws:cloudfront::{self.account_id}:function/{name}"
        dev = FunctionStage(name, arn, "DEVELOPMENT", config, code, utcnow())
        self.function_stages[name] = {"DEVELOPMENT": dev, "LIVE": None}
        return dev


def update_function(self: Any, name: str, if_match: str | None, function_config: dict[str, Any], function_code: Any) -> FunctionStage:
    config = _function_config(function_config)
    code = _function_code(function_code)
    with _lock:
        dev = _function_stage(self, name, "DEVELOPMENT")
        check_if_match(if_match, dev.etag)
        dev.config = _plain(config)
        dev.code = code
        dev.last_modified_time = utcnow()
        dev.etag = cf_models.random_id()
        return dev


def publish_function(self: Any, name: str, if_match: str | None) -> FunctionStage:
    with _lock:
        dev = _function_stage(self, name, "DEVELOPMENT")
        check_if_match(if_match, dev.etag)
        live = FunctionStage(name, dev.arn, "LIVE", dev.config, dev.code, dev.created_time)
        dev.status = live.status = "UNASSOCIATED"
        self.function_stages[name]["LIVE"] = live
        return dev


def delete_function(self: Any, name: str, if_match: str | None) -> None:
    with _lock:
        dev = _function_stage(self, name, "DEVELOPMENT")
        check_if_match(if_match, dev.etag)
        if dev.arn in _function_arns_in_use(self):
            raise FunctionInUse()
        del self.function_stages[name]


def list_function_stages(self: Any, stage: str | None) -> list[FunctionStage]:
    found = []
    for stages in self.function_stages.values():
        for key in ("DEVELOPMENT", "LIVE"):
            if stages.get(key) is not None and stage in (None, "", key):
                found.append(stages[key])
    return found


_backend_init_before_functions = Backend.__init__


def _backend_init_with_functions(self: Any, region_name: str, account_id: str) -> None:
    _backend_init_before_functions(self, region_name, account_id)
    self.function_stages = {}


Backend.__init__ = _backend_init_with_functions
Backend.create_function = create_function
Backend.update_function = update_function
Backend.publish_function = publish_function
Backend.delete_function = delete_function
Backend.list_function_stages = list_function_stages


def _fn_create(self: Any) -> ActionResult:
    name = self._get_param("Name")
    dev = self.backend.create_function(
        name, self._get_param("FunctionConfig", {}), self._get_param("FunctionCode")
    )
    return ActionResult({"FunctionSummary": dev.function_summary, "Location": f"{API}/function/{name}", "ETag": dev.etag})


def _fn_describe(self: Any) -> ActionResult:
    stage = _function_stage(self.backend, self._get_param("Name"), self._get_param("Stage"))
    return ActionResult({"FunctionSummary": stage.function_summary, "ETag": stage.etag})


def _fn_get(self: Any) -> ActionResult:
    stage = _function_stage(self.backend, self._get_param("Name"), self._get_param("Stage"))
    return ActionResult({"FunctionCode": stage.code, "ETag": stage.etag, "ContentType": "application/octet-stream"})


def _fn_update(self: Any) -> ActionResult:
    dev = self.backend.update_function(
        self._get_param("Name"),
        self._get_param("IfMatch"),
        self._get_param("FunctionConfig", {}),
        self._get_param("FunctionCode"),
    )
    return ActionResult({"FunctionSummary": dev.function_summary, "ETag": dev.etag})


def _fn_publish(self: Any) -> ActionResult:
    dev = self.backend.publish_function(self._get_param("Name"), self._get_param("IfMatch"))
    return ActionResult({"FunctionSummary": dev.function_summary})


def _fn_delete(self: Any) -> ActionResult:
    self.backend.delete_function(self._get_param("Name"), self._get_param("IfMatch"))
    return EmptyResult()


def _fn_list(self: Any) -> ActionResult:
    found = self.backend.list_function_stages(self._get_param("Stage"))
    return ActionResult(
        {
            "FunctionList": {
                "MaxItems": 100,
                "Quantity": len(found),
                "Items": [f.function_summary for f in found] or None,
            }
        }
    )


CloudFrontResponse.create_function = _fn_create
CloudFrontResponse.describe_function = _fn_describe
CloudFrontResponse.get_function = _fn_get
CloudFrontResponse.update_function = _fn_update
CloudFrontResponse.publish_function = _fn_publish
CloudFrontResponse.delete_function = _fn_delete
CloudFrontResponse.list_functions = _fn_list

cf_urls.url_paths.update(
    {"{0}/2020-05-31/function/(?P<function_name>[^/]+)/publish$": CloudFrontResponse.dispatch}
)

# --- Distributions ---------------------------------------------------------------------------


def _mark_changed(dist: Any) -> None:
    dist.last_modified_time = utcnow()
    dist._deployed_at = time.monotonic() + DEPLOY_SECONDS


def _distribution_status(self: Any) -> str:
    deployed_at = self.__dict__.get("_deployed_at", 0.0)
    return "Deployed" if time.monotonic() >= deployed_at else "InProgress"


_original_distribution_init = cf_models.Distribution.__init__


def _distribution_init(self: Any, account_id: str, region_name: str, config: dict[str, Any]) -> None:
    _original_distribution_init(self, account_id, region_name, config)
    _mark_changed(self)


# Status follows the clock, not the number of reads (moto's ManagedState).
cf_models.Distribution.__init__ = _distribution_init
cf_models.Distribution.status = property(_distribution_status, lambda self, value: None)
cf_models.Distribution.advance = lambda self: None


def _check_policy_refs(self: Any, config: dict[str, Any]) -> None:
    for policy_id in _requested_policy_ids(config):
        self.get_response_headers_policy(policy_id)


_original_create_with_tags = Backend.create_distribution_with_tags


def create_distribution_with_tags(
    self: Any, distribution_config: dict[str, Any], tags: list[dict[str, str]]
) -> Any:
    with _lock:  # the caller-reference check and the insert are one step, as on AWS
        _check_policy_refs(self, distribution_config)
        _check_function_refs(self, distribution_config)
        _check_web_acl_ref(self, distribution_config)
        return _original_create_with_tags(self, distribution_config, tags)


def update_distribution(self: Any, dist_config: dict[str, Any], _id: str, if_match: str | None) -> Any:
    with _lock:
        if _id is None or _id not in self.distributions:
            raise NoSuchDistribution
        dist = self.distributions[_id]
        check_if_match(if_match, dist.etag)
        if not dist_config:
            raise InvalidArgument("DistributionConfig is required.")
        _check_policy_refs(self, dist_config)
        _check_function_refs(self, dist_config)
        _check_web_acl_ref(self, dist_config)
        dist.distribution_config = cf_models.DistributionConfig(dist_config)
        dist.etag = cf_models.random_id()
        _mark_changed(dist)
        return dist, dist.location, dist.etag


def delete_distribution(self: Any, distribution_id: str, if_match: str | None) -> None:
    with _lock:
        if distribution_id not in self.distributions:
            raise NoSuchDistribution
        dist = self.distributions[distribution_id]
        check_if_match(if_match, dist.etag)
        # AWS also refuses while the update that disabled the distribution is still deploying.
        if dist.distribution_config.Enabled or dist.status != "Deployed":
            raise DistributionNotDisabled
        del self.distributions[distribution_id]
        self.invalidations.pop(distribution_id, None)
        self.tagger.delete_all_tags_for_resource(dist.arn)


Backend.create_distribution_with_tags = create_distribution_with_tags

_original_create_oac = Backend.create_origin_access_control


def create_origin_access_control(self: Any, config_dict: dict[str, str]) -> Any:
    # Names are unique per account on AWS; moto makes a second one of the same name.
    with _lock:
        name = config_dict.get("Name")
        if any(o.name == name for o in self.origin_access_controls.values()):
            raise OriginAccessControlAlreadyExists()
        return _original_create_oac(self, config_dict)


Backend.create_origin_access_control = create_origin_access_control


class OriginAccessControlInUse(CloudFrontException):  # 409
    def __init__(self) -> None:
        super().__init__(
            "OriginAccessControlInUse",
            "Cannot delete this origin access control because it's in use by one or more origins.",
        )


def delete_origin_access_control(self: Any, control_id: str) -> None:
    # moto answers 500 for an id it does not have, and deletes one still in use.
    with _lock:
        if control_id not in self.origin_access_controls:
            raise cf_models.NoSuchOriginAccessControl()
        for dist in self.distributions.values():
            for origin in dist.distribution_config.Origins["Items"]:
                if getattr(origin, "origin_access_control_id", "") == control_id:
                    raise OriginAccessControlInUse()
        del self.origin_access_controls[control_id]


Backend.delete_origin_access_control = delete_origin_access_control
Backend.update_distribution = update_distribution
Backend.delete_distribution = delete_distribution


# --- Distribution config round trip ----------------------------------------------------------

_original_origin_init = cf_models.Origin.__init__


def _origin_init(self: Any, origin: dict[str, Any]) -> None:
    _original_origin_init(self, origin)
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""
    self.s3_origin_config = None
    if "S3OriginConfig" in origin:
        s3_config = dict(origin["S3OriginConfig"] or {})
        s3_config["OriginAccessIdentity"] = s3_config.get("OriginAccessIdentity") or ""
        self.s3_origin_config = s3_config


cf_models.Origin.__init__ = _origin_init


def _viewer_certificate_init(self: Any, config: dict[str, Any]) -> None:
    # As AWS returns it: the deprecated Certificate/CertificateSource mirror the chosen
    # certificate, and the default certificate reports SSLSupportMethod vip and TLSv1.
    acm_arn = config.get("ACMCertificateArn") or None
    iam_id = config.get("IAMCertificateId") or None
    self.acm_certificate_arn = acm_arn
    self.iam_certificate_id = iam_id
    if acm_arn or iam_id:
        self.cloud_front_default_certificate = bool(config.get("CloudFrontDefaultCertificate", False))
        self.ssl_support_method = config.get("SSLSupportMethod") or "sni-only"
        self.minimum_protocol_version = config.get("MinimumProtocolVersion") or "TLSv1"
        self.certificate = acm_arn or iam_id
        self.certificate_source = "acm" if acm_arn else "iam"
    else:
        self.cloud_front_default_certificate = config.get("CloudFrontDefaultCertificate", True)
        self.ssl_support_method = config.get("SSLSupportMethod") or "vip"
        self.minimum_protocol_version = config.get("MinimumProtocolVersion") or "TLSv1"
        self.certificate = None
        self.certificate_source = "cloudfront"


cf_models.ViewerCertificate.__init__ = _viewer_certificate_init

_original_default_behaviour_init = cf_models.DefaultCacheBehaviour.__init__


def _default_behaviour_init(self: Any, config: dict[str, Any]) -> None:
    _original_default_behaviour_init(self, config)
    self.compress = config.get("Compress", False)
    self.lambda_function_associations = config.get("LambdaFunctionAssociations") or {"Quantity": 0}
    self.function_associations = config.get("FunctionAssociations") or {"Quantity": 0}
    self.cache_policy_id = config.get("CachePolicyId") or None
    self.origin_request_policy_id = config.get("OriginRequestPolicyId") or None
    self.response_headers_policy_id = config.get("ResponseHeadersPolicyId") or None
    if self.cache_policy_id:
        # With a cache policy AWS returns no legacy cache settings unless they were sent.
        if "ForwardedValues" not in config:
            self.forwarded_values = None
        for key, attr in (("MinTTL", "min_ttl"), ("DefaultTTL", "default_ttl"), ("MaxTTL", "max_ttl")):
            if key not in config:
                setattr(self, attr, None)


_original_behaviour_init = cf_models.CacheBehaviour.__init__


def _behaviour_init(self: Any, config: dict[str, Any]) -> None:
    _original_behaviour_init(self, config)
    self.cache_policy_id = config.get("CachePolicyId") or None
    self.origin_request_policy_id = config.get("OriginRequestPolicyId") or None


cf_models.DefaultCacheBehaviour.__init__ = _default_behaviour_init
cf_models.CacheBehaviour.__init__ = _behaviour_init


# Lambda: UpdateFunctionUrlConfig replaces the URL's CORS configuration with the one sent, an
# empty one included (that is how CORS is removed); moto keeps the old one when it is empty.
import moto.awslambda.models as lambda_models  # noqa: E402


def _url_config_update(self: Any, new_config: dict[str, Any]) -> None:
    if "Cors" in new_config:
        self.config["Cors"] = new_config["Cors"] or None
    if new_config.get("AuthType"):
        self.config["AuthType"] = new_config["AuthType"]
    self.last_modified = lambda_models.utcnow().strftime("%Y-%m-%dT%H:%M:%S")


lambda_models.FunctionUrlConfig.update = _url_config_update


# --- WAF (wafv2) with CloudFront: which web ACL a distribution uses, and deleting one in use.
import moto.wafv2.models as waf_models  # noqa: E402
from moto.wafv2.exceptions import WAFv2ClientError  # noqa: E402


class InvalidWebACLId(CloudFrontException):  # 400
    def __init__(self) -> None:
        super().__init__("InvalidWebACLId", "Web ACL is not accessible by the requester.")


class WAFAssociatedItemException(WAFv2ClientError):
    def __init__(self) -> None:
        super().__init__(
            "WAFAssociatedItemException",
            "AWS WAF couldn't perform the operation because your resource is being used by "
            "another resource or it's associated with another resource.",
        )


def _cloudfront_web_acls(account_id: str) -> set[str]:
    arns: set[str] = set()
    for region, backend in waf_models.wafv2_backends[account_id].items():
        arns |= {arn for arn in backend.wacls if ":global/webacl/" in arn}
    return arns


def _check_web_acl_ref(self: Any, config: dict[str, Any]) -> None:
    acl = config.get("WebACLId") or ""
    if acl and acl not in _cloudfront_web_acls(self.account_id):
        raise InvalidWebACLId


_original_delete_web_acl = waf_models.WAFV2Backend.delete_web_acl


def _delete_web_acl(self: Any, name: str, scope: str, _id: str, lock_token: str) -> None:
    arn = waf_models.make_arn_for_wacl(
        name=name, account_id=self.account_id, region_name=self.region_name, _id=_id, scope=scope
    )
    for backend in cf_models.cloudfront_backends[self.account_id].values():
        for dist in backend.distributions.values():
            if getattr(dist.distribution_config, "WebACLId", "") == arn:
                raise WAFAssociatedItemException()
    _original_delete_web_acl(self, name, scope, _id, lock_token)


waf_models.WAFV2Backend.delete_web_acl = _delete_web_acl


# --- Cognito user pools: deleting one, and its tags.
import json  # noqa: E402

import moto.cognitoidp.models as cognito_models  # noqa: E402
from moto.cognitoidp.exceptions import (  # noqa: E402
    InvalidParameterException as CognitoInvalidParameter,
    ResourceNotFoundError as CognitoNotFound,
)
from moto.cognitoidp.responses import CognitoIdpResponse  # noqa: E402

_original_delete_user_pool = cognito_models.CognitoIdpBackend.delete_user_pool


def _delete_user_pool(self: Any, user_pool_id: str) -> None:
    pool = self.describe_user_pool(user_pool_id)
    if pool.extended_config.get("DeletionProtection") == "ACTIVE":
        raise CognitoInvalidParameter(
            "The user pool cannot be deleted because deletion protection is activated. "
            "Deletion protection must be inactivated first."
        )
    if any(d.user_pool_id == user_pool_id for d in self.user_pool_domains.values()):
        raise CognitoInvalidParameter(
            "User pool cannot be deleted. It has a domain configured that should be deleted first."
        )
    _original_delete_user_pool(self, user_pool_id)


cognito_models.CognitoIdpBackend.delete_user_pool = _delete_user_pool

_original_create_domain = cognito_models.CognitoIdpBackend.create_user_pool_domain


def _create_user_pool_domain(
    self: Any, user_pool_id: str, domain: str, custom_domain_config: dict[str, str] | None = None
) -> Any:
    prefix = not custom_domain_config
    if prefix and any(
        d.user_pool_id == user_pool_id and not d.custom_domain_config
        for d in self.user_pool_domains.values()
    ):
        raise CognitoInvalidParameter("User pool already has a domain configured.")
    if domain in self.user_pool_domains:
        raise CognitoInvalidParameter("Domain already associated with another user pool.")
    return _original_create_domain(self, user_pool_id, domain, custom_domain_config)


cognito_models.CognitoIdpBackend.create_user_pool_domain = _create_user_pool_domain


def _pool_by_arn(backend: Any, arn: str) -> Any:
    for pool in backend.user_pools.values():
        if pool.arn == arn:
            return pool
    raise CognitoNotFound(arn)


def _pool_tag_resource(self: Any) -> str:
    pool = _pool_by_arn(self.backend, self._get_param("ResourceArn"))
    tags = dict(pool.extended_config.get("UserPoolTags") or {})
    tags.update(self._get_param("Tags") or {})
    pool.extended_config["UserPoolTags"] = tags
    return json.dumps({})


def _pool_untag_resource(self: Any) -> str:
    pool = _pool_by_arn(self.backend, self._get_param("ResourceArn"))
    tags = dict(pool.extended_config.get("UserPoolTags") or {})
    for key in self._get_param("TagKeys") or []:
        tags.pop(key, None)
    pool.extended_config["UserPoolTags"] = tags
    return json.dumps({})


def _pool_list_tags(self: Any) -> str:
    pool = _pool_by_arn(self.backend, self._get_param("ResourceArn"))
    return json.dumps({"Tags": dict(pool.extended_config.get("UserPoolTags") or {})})


CognitoIdpResponse.tag_resource = _pool_tag_resource
CognitoIdpResponse.untag_resource = _pool_untag_resource
CognitoIdpResponse.list_tags_for_resource = _pool_list_tags


# --- IAM policy enforcement (only when the server enforces: INITIAL_NO_AUTH_ACTION_COUNT) -----
# moto checks the caller's identity policies once INITIAL_NO_AUTH_ACTION_COUNT requests have
# been let through (moto.core.authorization; the count is in moto.settings, set from the
# environment and changed by POST /moto-api/reset-auth). By default it is infinite and nothing
# here runs. When it is finite, moto's own evaluation (moto.iam.access_control) is too coarse
# to test a least-privilege deploy policy: IAM calls name the resource "*" unless the role
# already exists, conditions are evaluated with no request context (StringEquals only, other
# operators taken as met), an Allow whose condition is unmet counts as an explicit Deny, and
# Resource patterns are regular expressions in which only "*" is translated. Here identity
# policies are evaluated as AWS documents it: a statement applies when its action, resource
# and every condition match; an explicit Deny that applies wins; otherwise an Allow that
# applies is needed. Role trust policies (sts:AssumeRole) are still evaluated by moto.
from urllib.parse import parse_qs, urlparse  # noqa: E402

import moto.iam.access_control as iam_access  # noqa: E402
from moto import settings as moto_settings  # noqa: E402
from moto.iam.exceptions import NoSuchEntity, NotFoundException  # noqa: E402
from moto.iam.policy_validation import IAMPolicyDocumentValidator  # noqa: E402
from moto.iam.responses import IamResponse  # noqa: E402

PermissionResult = iam_access.PermissionResult


def _enforcing() -> bool:
    return moto_settings.INITIAL_NO_AUTH_ACTION_COUNT != float("inf")


# moto's policy validator splits a Resource at every colon, so a policy variable with a colon
# in its name (arn:aws:iam::${aws:PrincipalAccount}:role/x) garbles the ARN and the policy is
# refused as malformed; AWS accepts it. Here each ${...} is read as one plain word while the
# resource's format is checked.
_original_validate_resource_format = IAMPolicyDocumentValidator._validate_resource_format


def _validate_resource_format(self: Any, resource: str) -> None:
    if _enforcing():
        resource = re.sub(r"\$\{[^}]*\}", "variable", resource)
    _original_validate_resource_format(self, resource)


IAMPolicyDocumentValidator._validate_resource_format = _validate_resource_format


# The resource of an IAM call, as AWS's service authorization reference names it: the entity
# the call acts on, by its ARN, whether it exists yet or not (CreateRole is authorized against
# the ARN the new role will have, its Path included). Calls on no single entity (ListRoles,
# CreateAccessKey without a UserName, ...) have the resource "*".
_original_iam_determine_resource = IamResponse._determine_resource


def _request_param(data: Any, name: str) -> str | None:
    """A top-level parameter of a query-protocol request (moto keeps each as a list)."""
    value = (data or {}).get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) and value else None


def _iam_param(self: Any, name: str) -> str:
    return _request_param(self.data, name) or ""


def _iam_entity_arn(self: Any, kind: str, name: str, lookup: Any, create_action: str) -> str:
    """The ARN of an existing role, user, group or instance profile, else the one it would have."""
    try:
        return lookup(name).arn
    except (NotFoundException, NoSuchEntity):
        path = (_iam_param(self, "Path") or "/") if self._get_action() == create_action else "/"
        return f"arn:{self.partition}:iam::{self.current_account}:{kind}{path}{name}"


def _iam_determine_resource(self: Any) -> str:
    if not _enforcing():
        return _original_iam_determine_resource(self)
    action = self._get_action()
    backend = self.backend
    # Most specific first: AddRoleToInstanceProfile names a role and acts on the profile,
    # AttachRolePolicy names a policy and acts on the role.
    if _iam_param(self, "InstanceProfileName"):
        return _iam_entity_arn(self, "instance-profile", _iam_param(self, "InstanceProfileName"),
                               backend.get_instance_profile, "CreateInstanceProfile")
    if _iam_param(self, "RoleName"):
        return _iam_entity_arn(self, "role", _iam_param(self, "RoleName"), backend.get_role, "CreateRole")
    if _iam_param(self, "UserName"):
        return _iam_entity_arn(self, "user", _iam_param(self, "UserName"), backend.get_user, "CreateUser")
    if _iam_param(self, "GroupName"):
        return _iam_entity_arn(self, "group", _iam_param(self, "GroupName"), backend.get_group, "CreateGroup")
    for name in ("PolicyArn", "OpenIDConnectProviderArn"):
        if _iam_param(self, name):
            return _iam_param(self, name)
    prefix = f"arn:{self.partition}:iam::{self.current_account}:"
    if action == "CreatePolicy":
        return f"{prefix}policy{_iam_param(self, 'Path') or '/'}{_iam_param(self, 'PolicyName')}"
    if action == "CreateOpenIDConnectProvider":
        url = urlparse(_iam_param(self, "Url"))
        return f"{prefix}oidc-provider/{url.netloc}{url.path}"
    return "*"


IamResponse._determine_resource = _iam_determine_resource


# The request context: the condition keys a request carries, by lower-cased name (keys are
# case-insensitive). Global keys for every request (S3's included): aws:PrincipalAccount,
# aws:PrincipalArn (an IAM user's ARN, or for a role session the role's ARN, as AWS gives it),
# aws:username (IAM users only) and aws:RequestedRegion. For IAM calls: iam:PermissionsBoundary
# (the boundary the request sets, or the one the role it acts on has) and iam:PolicyARN (the
# managed policy an attach or detach names).
_BOUNDARY_FROM_REQUEST = {"CreateRole", "PutRolePermissionsBoundary"}
_BOUNDARY_FROM_ROLE = {
    "PutRolePolicy",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "DeleteRolePermissionsBoundary",
    "UpdateAssumeRolePolicy",
    "TagRole",
    "UntagRole",
    "DeleteRole",
}
_POLICY_ARN_ACTIONS = {
    "AttachRolePolicy",
    "DetachRolePolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
}


def _principal(request: Any) -> tuple[str, str | None]:
    """The caller's ARN as aws:PrincipalArn gives it, and its user name if it is a user."""
    key = request._access_key
    backend = request.backend
    if isinstance(key, iam_access.IAMUserAccessKey):
        name = key._owner_user_name
        try:
            return backend.get_user(name).arn, name  # with its path, which key.arn drops
        except NoSuchEntity:
            return key.arn, name
    role_name = key._owner_role_name
    try:
        return backend.get_role(role_name).arn, None
    except NotFoundException:
        return f"arn:{key.partition}:iam::{request.account_id}:role/{role_name}", None


def _request_context(request: Any) -> dict[str, str]:
    principal_arn, user_name = _principal(request)
    context = {
        "aws:principalaccount": request.account_id,
        "aws:principalarn": principal_arn,
        "aws:requestedregion": request._region,
    }
    if user_name:
        context["aws:username"] = user_name
    service, _, action = request._action.partition(":")
    if service != "iam":
        return context
    boundary = None
    if action in _BOUNDARY_FROM_REQUEST:
        boundary = _request_param(request._data, "PermissionsBoundary")
    elif action in _BOUNDARY_FROM_ROLE and _request_param(request._data, "RoleName"):
        try:
            boundary = request.backend.get_role(_request_param(request._data, "RoleName")).permissions_boundary_arn
        except NotFoundException:
            pass
    if boundary:
        context["iam:permissionsboundary"] = boundary
    if action in _POLICY_ARN_ACTIONS and _request_param(request._data, "PolicyArn"):
        context["iam:policyarn"] = _request_param(request._data, "PolicyArn")
    return context


# Patterns: Action, Resource and NotResource elements and StringLike/ArnLike values, with "*"
# (any run of characters) and "?" (one character) as the only wildcards; everything else is
# literal, so the dots of "arn:aws:s3:::my.bucket" match only dots. In a policy of version
# 2012-10-17, ${key} is replaced by the request's value of that key (${key, 'default'} when it
# has none; ${*}, ${?} and ${$} are the literal characters) in Resource, NotResource and
# condition values. A variable with no value and no default makes the pattern match nothing.
_PATTERN_TOKENS = re.compile(r"\$\{([^}]*)\}|[*?]|[^$*?]+|\$")
_PLAIN_TOKENS = re.compile(r"[*?]|[^*?]+")
_VARIABLE = re.compile(r"\s*([^,\s]+)\s*(?:,\s*'([^']*)'\s*)?")


def _tokens(pattern: str, context: dict[str, str], variables: bool) -> list[tuple[bool, str]] | None:
    """(is_wildcard, text) pieces of a pattern, its variables replaced; None if one has no value."""
    tokens: list[tuple[bool, str]] = []
    for m in (_PATTERN_TOKENS if variables else _PLAIN_TOKENS).finditer(pattern):
        text = m.group(0)
        if text in ("*", "?"):
            tokens.append((True, text))
        elif variables and m.group(1) is not None:
            inner = m.group(1).strip()
            if inner in ("*", "?", "$"):
                tokens.append((False, inner))
                continue
            var = _VARIABLE.fullmatch(inner)
            value = context.get(var.group(1).lower()) if var else None
            if value is None and var and var.group(2) is not None:
                value = var.group(2)
            if value is None:
                return None
            tokens.append((False, value))
        else:
            tokens.append((False, text))
    return tokens


def _substituted(value: Any, context: dict[str, str], variables: bool) -> str | None:
    """A condition value as a plain string, its variables replaced (None if one has no value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    tokens = _tokens(str(value), context, variables)
    return None if tokens is None else "".join(text for _, text in tokens)


def _like(
    pattern: str, value: str, context: dict[str, str], variables: bool,
    ignore_case: bool = False, arn: bool = False,
) -> bool:
    """Whether value matches the whole pattern. With arn=True, as ArnLike: each of the six
    colon-separated parts of the ARN is matched on its own (a wildcard in the first five does
    not cross a colon; the resource part, the last, takes the rest)."""
    tokens = _tokens(pattern, context, variables)
    if tokens is None or (arn and value.count(":") < 5):
        return False
    regex, colons = [], 0
    for wild, text in tokens:
        if not wild:
            regex.append(re.escape(text))
            colons += text.count(":")
        elif arn and colons < 5:
            regex.append("[^:]*" if text == "*" else "[^:]")
        else:
            regex.append(".*" if text == "*" else ".")
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch("".join(regex), value, flags) is not None


# Condition operators: each takes the request's value and the policy's values (variables not yet
# replaced) and says whether any of them matches; the ...Not... operators are met when none
# does. A key the request does not carry meets the ...Not... operators and Null "true", fails
# the others, and meets any operator with the IfExists suffix.
def _equals(ignore_case: bool) -> Any:
    def test(actual: str, values: list[Any], context: dict[str, str], variables: bool) -> bool:
        for v in values:
            s = _substituted(v, context, variables)
            if s is not None and (s.lower() == actual.lower() if ignore_case else s == actual):
                return True
        return False
    return test


def _like_any(arn: bool) -> Any:
    def test(actual: str, values: list[Any], context: dict[str, str], variables: bool) -> bool:
        return any(_like(str(v), actual, context, variables, arn=arn) for v in values)
    return test


def _bool(actual: str, values: list[Any], context: dict[str, str], variables: bool) -> bool:
    return any((_substituted(v, context, variables) or "").lower() == str(actual).lower() for v in values)


_OPERATORS = {
    "StringEquals": (_equals(False), False),
    "StringNotEquals": (_equals(False), True),
    "StringEqualsIgnoreCase": (_equals(True), False),
    "StringNotEqualsIgnoreCase": (_equals(True), True),
    "StringLike": (_like_any(False), False),
    "StringNotLike": (_like_any(False), True),
    "ArnEquals": (_like_any(True), False),  # AWS: ArnEquals takes wildcards too
    "ArnLike": (_like_any(True), False),
    "ArnNotEquals": (_like_any(True), True),
    "ArnNotLike": (_like_any(True), True),
    "Bool": (_bool, False),
}


def _condition_met(
    condition: Any, context: dict[str, str], variables: bool, deny: bool
) -> bool:
    """Whether every operator and key of a statement's Condition is met. An operator this
    emulator does not evaluate (Numeric*, Date*, IpAddress, ForAnyValue:/ForAllValues:, ...)
    fails safe: an Allow with it does not apply, a Deny with it does."""
    if not condition:
        return True
    if not isinstance(condition, dict):
        return deny
    for operator, block in condition.items():
        if not isinstance(block, dict):
            if deny:
                continue
            return False
        if_exists = operator.endswith("IfExists")
        base = operator[: -len("IfExists")] if if_exists else operator
        for key, expected in block.items():
            actual = context.get(str(key).lower())
            if base == "Null" and not if_exists:
                want_absent = str(expected).lower() == "true"
                if (actual is None) != want_absent:
                    return False
                continue
            if base not in _OPERATORS:
                if deny:
                    continue  # taken as met: the Deny applies if the rest of it does
                return False
            test, negated = _OPERATORS[base]
            if actual is None:
                if not (if_exists or negated):
                    return False
                continue
            values = expected if isinstance(expected, list) else [expected]
            if test(actual, values, context, variables) == negated:
                return False
    return True


def _listed(statement: dict[str, Any], element: str) -> list[str]:
    value = statement.get(element)
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]


def _statement_applies(
    statement: dict[str, Any], action: str, resource: str, context: dict[str, str], variables: bool
) -> bool:
    # Actions are case-insensitive and take no variables.
    if "NotAction" in statement:
        if any(_like(p, action, context, False, ignore_case=True) for p in _listed(statement, "NotAction")):
            return False
    elif not any(_like(p, action, context, False, ignore_case=True) for p in _listed(statement, "Action")):
        return False
    # Resources are case-sensitive. (moto's validator refuses a statement with neither.)
    if "NotResource" in statement:
        if any(_like(p, resource, context, variables) for p in _listed(statement, "NotResource")):
            return False
    elif "Resource" in statement:
        if not any(_like(p, resource, context, variables) for p in _listed(statement, "Resource")):
            return False
    deny = str(statement.get("Effect", "")).lower() == "deny"
    return _condition_met(statement.get("Condition"), context, variables, deny)


def _identity_policy_result(
    document: dict[str, Any], action: str, resource: str, context: dict[str, str]
) -> PermissionResult:
    """DENIED if a Deny statement applies, PERMITTED if an Allow one does, NEUTRAL otherwise."""
    variables = document.get("Version") == "2012-10-17"  # older policies have no variables
    statements = document.get("Statement") or []
    result = PermissionResult.NEUTRAL
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or not _statement_applies(statement, action, resource, context, variables):
            continue
        effect = str(statement.get("Effect", "")).lower()
        if effect == "deny":
            return PermissionResult.DENIED
        if effect == "allow":
            result = PermissionResult.PERMITTED
    return result


def _check_action_permitted(self: Any, resource: str) -> None:
    # As moto's IAMRequestBase.check_action_permitted, with the identity policies evaluated
    # here: an explicit Deny in any policy refuses, else some policy must allow; then, for
    # sts:AssumeRole, the role's trust policy must allow too (moto's own evaluation).
    if self._action == "sts:GetCallerIdentity":  # always allowed, even if denied explicitly
        return
    context = _request_context(self)
    permitted = False
    for policy in self._access_key.collect_policies():
        document = iam_access.IAMPolicy(policy)._policy_json  # inline, managed or AWS managed
        result = _identity_policy_result(document, self._action, resource, context)
        if result == PermissionResult.DENIED:
            self._raise_access_denied()
        permitted = permitted or result == PermissionResult.PERMITTED
    if self._is_assuming_role_operation(resource):
        permitted = permitted and self._check_role_trust_relationship(resource)
    if not permitted:
        self._raise_access_denied()


iam_access.IAMRequestBase.check_action_permitted = _check_action_permitted


# S3 requests are authorized under the action moto names them by (ACTION_MAP in
# moto.s3.responses), which for several calls is not the IAM action AWS checks: HeadBucket is
# "HeadBucket" (AWS: s3:ListBucket), Get/Put/DeletePublicAccessBlock, Get/Put/
# DeleteBucketEncryption and Get/Put/DeleteBucketOwnershipControls fall through to ListBucket,
# CreateBucket or DeleteBucket, and DeleteObjects is checked once against the bucket's ARN.
# Here, once calls are checked, each request is authorized under AWS's action name (service
# authorization reference for S3), and DeleteObjects asks s3:DeleteObject (or
# s3:DeleteObjectVersion for a VersionId) for each object named, all or nothing: if one is
# refused moto reports AccessDenied for every key. The name moto gave the request is restored
# afterwards, as its handlers read it.
import xmltodict  # noqa: E402
from moto.core.authorization import ActionAuthenticatorMixin  # noqa: E402
from moto.s3.responses import S3Response  # noqa: E402

# subresource (query parameter) -> IAM action for GET (and HEAD), PUT and DELETE of a bucket
_S3_BUCKET_SUBRESOURCES = {
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "policyStatus": ("GetBucketPolicyStatus", None, None),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "versions": ("ListBucketVersions", None, None),
    "uploads": ("ListBucketMultipartUploads", None, None),
    "location": ("GetBucketLocation", None, None),
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration", "PutLifecycleConfiguration"),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"),
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    "logging": ("GetBucketLogging", "PutBucketLogging", None),
    "cors": ("GetBucketCORS", "PutBucketCORS", "PutBucketCORS"),
    "notification": ("GetBucketNotification", "PutBucketNotification", None),
    "accelerate": ("GetAccelerateConfiguration", "PutAccelerateConfiguration", None),
    "publicAccessBlock": ("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "PutBucketPublicAccessBlock"),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration", "PutEncryptionConfiguration"),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls", "PutBucketOwnershipControls"),
    "replication": ("GetReplicationConfiguration", "PutReplicationConfiguration", "PutReplicationConfiguration"),
    "object-lock": ("GetBucketObjectLockConfiguration", "PutBucketObjectLockConfiguration", None),
    "requestPayment": ("GetBucketRequestPayment", "PutBucketRequestPayment", None),
    "inventory": ("GetInventoryConfiguration", "PutInventoryConfiguration", "PutInventoryConfiguration"),
}
_S3_BUCKET_DEFAULTS = {"GET": "ListBucket", "HEAD": "ListBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}


def _s3_bucket_action(method: str, query: dict[str, Any]) -> str | None:
    column = {"GET": 0, "HEAD": 0, "PUT": 1, "DELETE": 2}.get(method)
    if column is None:
        return None  # POST: DeleteObjects (below) or a form upload (moto's PutObject)
    for name, actions in _S3_BUCKET_SUBRESOURCES.items():
        if name in query:
            return actions[column]
    return _S3_BUCKET_DEFAULTS[method]


def _s3_object_action(method: str, query: dict[str, Any]) -> str | None:
    versioned = "versionId" in query

    def pick(plain: str, version: str) -> str:
        return version if versioned else plain

    if method in ("GET", "HEAD"):
        if "uploadId" in query:
            return "ListMultipartUploadParts"
        if "acl" in query:
            return pick("GetObjectAcl", "GetObjectVersionAcl")
        if "tagging" in query:
            return pick("GetObjectTagging", "GetObjectVersionTagging")
        if "attributes" in query:
            return pick("GetObjectAttributes", "GetObjectVersionAttributes")
        if "retention" in query:
            return "GetObjectRetention"
        if "legal-hold" in query:
            return "GetObjectLegalHold"
        return pick("GetObject", "GetObjectVersion")
    if method == "PUT":
        if "acl" in query:
            return pick("PutObjectAcl", "PutObjectVersionAcl")
        if "tagging" in query:
            return pick("PutObjectTagging", "PutObjectVersionTagging")
        if "retention" in query:
            return "PutObjectRetention"
        if "legal-hold" in query:
            return "PutObjectLegalHold"
        return "PutObject"  # also UploadPart and CopyObject (whose source is not checked)
    if method == "DELETE":
        if "uploadId" in query:
            return "AbortMultipartUpload"
        if "tagging" in query:
            return pick("DeleteObjectTagging", "DeleteObjectVersionTagging")
        return pick("DeleteObject", "DeleteObjectVersion")
    if method == "POST":
        if "restore" in query:
            return "RestoreObject"
        if "select" in query:
            return "GetObject"
        return "PutObject"  # CreateMultipartUpload, CompleteMultipartUpload
    return None


def _deleted_objects(body: Any) -> list[tuple[str, str | None]] | None:
    """(Key, VersionId) of each object a DeleteObjects body names, None if it cannot be read."""
    try:
        objects = xmltodict.parse(body)["Delete"].get("Object", [])
    except Exception:  # moto answers the malformed body itself
        return None
    objects = objects if isinstance(objects, list) else [objects]
    if not objects or not all(isinstance(o, dict) and o.get("Key") is not None for o in objects):
        return None
    return [(o["Key"], o.get("VersionId")) for o in objects]


_original_s3_authorize = S3Response._authenticate_and_authorize_s3_action


def _s3_authorize(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
    checked = ActionAuthenticatorMixin.request_count >= moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    if not (_enforcing() and checked and bucket_name):
        return _original_s3_authorize(self, bucket_name=bucket_name, key_name=key_name)
    query = parse_qs(urlparse(self.uri).query, keep_blank_values=True)
    moto_action = self.data.get("Action")
    try:
        if not key_name and self.method == "POST" and "delete" in query:
            objects = _deleted_objects(self.body)
            if objects is not None:
                for key, version in objects:
                    self.data["Action"] = "DeleteObjectVersion" if version else "DeleteObject"
                    _original_s3_authorize(self, bucket_name=bucket_name, key_name=key)
                return None
        action = _s3_object_action(self.method, query) if key_name else _s3_bucket_action(self.method, query)
        if action:
            self.data["Action"] = action
        return _original_s3_authorize(self, bucket_name=bucket_name, key_name=key_name)
    finally:
        if moto_action is None:
            self.data.pop("Action", None)
        else:
            self.data["Action"] = moto_action


S3Response._authenticate_and_authorize_s3_action = _s3_authorize


# moto keeps a bucket's EventBridgeConfiguration (PutBucketNotificationConfiguration) but leaves
# it out of GetBucketNotificationConfiguration, so EventBridge notifications cannot be read
# back. Here they are returned as S3 returns them: an empty <EventBridgeConfiguration/>.
_original_get_bucket_notification = S3Response.get_bucket_notification


def _get_bucket_notification_with_eventbridge(self: Any) -> Any:
    config = self.backend.get_bucket_notification_configuration(self.bucket_name)
    if not config:
        # moto answers <GetBucketNotificationResponse/>; S3 an empty configuration.
        self.data["Action"] = "GetBucketNotificationConfiguration"
        return 200, {"Content-Type": "application/xml"}, (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
        )
    if getattr(config, "event_bridge", None) is None:
        return _original_get_bucket_notification(self)
    status, headers, body = _original_get_bucket_notification(self)
    text = body.decode() if isinstance(body, bytes) else body
    closing = "</NotificationConfiguration>"
    if closing in text:
        text = text.replace(closing, "<EventBridgeConfiguration></EventBridgeConfiguration>" + closing)
    else:  # an empty configuration came back as <NotificationConfiguration/>
        text = re.sub(r"<NotificationConfiguration([^>]*)/>",
                      r"<NotificationConfiguration\1><EventBridgeConfiguration></EventBridgeConfiguration></NotificationConfiguration>",
                      text)
    return status, headers, text


S3Response.get_bucket_notification = _get_bucket_notification_with_eventbridge


# --- GuardDuty Malware Protection for S3 --------------------------------------------------------
# moto has none of the malware protection plan API (it answers 404). Added from AWS's API
# reference (GuardDuty, 2017-11-28): CreateMalwareProtectionPlan (POST /malware-protection-plan;
# role, protectedResource.s3Bucket {bucketName, objectPrefixes}, actions.tagging.status, tags;
# one plan per bucket, a second is 409 ConflictException), GetMalwareProtectionPlan (GET
# /malware-protection-plan/{id}; 404 ResourceNotFoundException when unknown; status ACTIVE),
# UpdateMalwareProtectionPlan (PATCH: role, actions, the bucket's objectPrefixes),
# DeleteMalwareProtectionPlan (DELETE), ListMalwareProtectionPlans (GET
# /malware-protection-plan, ids only) and TagResource, UntagResource and ListTagsForResource
# (/tags/{resourceArn}) on plans. No object is ever scanned here.
import json as _json  # noqa: E402
import random as _random  # noqa: E402
import string as _string  # noqa: E402
from urllib.parse import unquote as _unquote  # noqa: E402

import moto.guardduty.urls as gd_urls  # noqa: E402
from moto.guardduty.exceptions import GuardDutyException  # noqa: E402
from moto.guardduty.responses import GuardDutyResponse  # noqa: E402


class _GuardDutyError(GuardDutyException):
    def __init__(self, status: int, kind: str, message: str) -> None:
        self.code = status
        super().__init__(kind, message)

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [("X-Amzn-ErrorType", self.error_type)]


_plans: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}


def _plans_of(response: Any) -> dict[str, dict[str, Any]]:
    return _plans.setdefault((response.current_account, response.region), {})


def _plan_id(response: Any) -> str:
    return _unquote(response.path.rstrip("/").split("/")[-1])


def _plan(response: Any) -> dict[str, Any]:
    plan = _plans_of(response).get(_plan_id(response))
    if plan is None:
        raise _GuardDutyError(404, "ResourceNotFoundException",
                              "The requested resource can't be found.")
    return plan


def _body(response: Any) -> dict[str, Any]:
    try:
        return _json.loads(response.body or "{}")
    except ValueError:
        raise _GuardDutyError(400, "BadRequestException", "The request body is not valid JSON.")


def _gd_create_plan(self: Any) -> str:
    body = _body(self)
    role = body.get("role") or ""
    bucket = ((body.get("protectedResource") or {}).get("s3Bucket") or {})
    name = bucket.get("bucketName") or ""
    if not re.match(r"^arn:aws:iam::\d{12}:role/.+", role):
        raise _GuardDutyError(400, "BadRequestException",
                              "The request is rejected because the role is not a valid IAM role ARN.")
    if not name:
        raise _GuardDutyError(400, "BadRequestException",
                              "The request is rejected because protectedResource.s3Bucket.bucketName is missing.")
    plans = _plans_of(self)
    with _lock:
        if any(p["protectedResource"]["s3Bucket"]["bucketName"] == name for p in plans.values()):
            raise _GuardDutyError(409, "ConflictException",
                                  f"The request is rejected because a malware protection plan already protects bucket {name}.")
        plan_id = "".join(_random.choice(_string.ascii_lowercase + _string.digits) for _ in range(20))
        plans[plan_id] = {
            "arn": f"arn:aws:guardduty:{self.region}:{self.current_account}:malware-protection-plan/{plan_id}",
            "role": role,
            "protectedResource": {"s3Bucket": {"bucketName": name,
                                               "objectPrefixes": list(bucket.get("objectPrefixes") or [])}},
            "actions": {"tagging": {"status": ((body.get("actions") or {}).get("tagging") or {})
                                    .get("status", "DISABLED")}},
            # restJson1's default timestamp format (the model sets none): epoch seconds.
            "createdAt": int(time.time()),
            "status": "ACTIVE",
            "statusReasons": [],
            "tags": dict(body.get("tags") or {}),
        }
    return _json.dumps({"malwareProtectionPlanId": plan_id})


def _gd_get_plan(self: Any) -> str:
    return _json.dumps(_plan(self))


def _gd_update_plan(self: Any) -> str:
    body = _body(self)
    plan = _plan(self)
    with _lock:
        if body.get("role"):
            plan["role"] = body["role"]
        tagging = ((body.get("actions") or {}).get("tagging") or {}).get("status")
        if tagging:
            plan["actions"] = {"tagging": {"status": tagging}}
        prefixes = ((body.get("protectedResource") or {}).get("s3Bucket") or {}).get("objectPrefixes")
        if prefixes is not None:
            plan["protectedResource"]["s3Bucket"]["objectPrefixes"] = list(prefixes)
    return "{}"


def _gd_delete_plan(self: Any) -> str:
    _plan(self)
    with _lock:
        _plans_of(self).pop(_plan_id(self), None)
    return "{}"


def _gd_list_plans(self: Any) -> str:
    return _json.dumps({"malwareProtectionPlans": [
        {"malwareProtectionPlanId": i} for i in _plans_of(self)]})


def _gd_tagged(self: Any) -> dict[str, Any]:
    arn = _unquote(self.path.split("/tags/", 1)[1])
    for plan in _plans_of(self).values():
        if plan["arn"] == arn:
            return plan
    raise _GuardDutyError(404, "ResourceNotFoundException", "The requested resource can't be found.")


def _gd_tag(self: Any) -> str:
    plan = _gd_tagged(self)
    plan["tags"].update(_body(self).get("tags") or {})
    return "{}"


def _gd_untag(self: Any) -> str:
    plan = _gd_tagged(self)
    for key in parse_qs(urlparse(self.uri).query).get("tagKeys", []):
        plan["tags"].pop(key, None)
    return "{}"


def _gd_list_tags(self: Any) -> str:
    return _json.dumps({"tags": _gd_tagged(self)["tags"]})


GuardDutyResponse.create_malware_protection_plan = _gd_create_plan
GuardDutyResponse.get_malware_protection_plan = _gd_get_plan
GuardDutyResponse.update_malware_protection_plan = _gd_update_plan
GuardDutyResponse.delete_malware_protection_plan = _gd_delete_plan
GuardDutyResponse.list_malware_protection_plans = _gd_list_plans
GuardDutyResponse.tag_resource = _gd_tag
GuardDutyResponse.untag_resource = _gd_untag
GuardDutyResponse.list_tags_for_resource = _gd_list_tags
gd_urls.url_paths.update({
    "{0}/malware-protection-plan$": GuardDutyResponse.dispatch,
    "{0}/malware-protection-plan/(?P<malware_protection_plan_id>[^/]+)$": GuardDutyResponse.dispatch,
    "{0}/tags/(?P<resource_arn>.+)$": GuardDutyResponse.dispatch,
})


# moto deletes a managed policy that roles, users or groups still use (attached, or as a
# permissions boundary) or that still has versions besides its default; IAM refuses both with
# 409 DeleteConflict (the messages are IAM's: "Cannot delete a policy attached to entities.",
# "This policy has more than one version. Before you delete a policy, you must delete the
# policy's versions. The default version is deleted with the policy.").
import moto.iam.models as iam_models  # noqa: E402
from moto.iam.exceptions import DeleteConflictException  # noqa: E402

_original_delete_policy = iam_models.IAMBackend.delete_policy


def _delete_policy_in_use(self: Any, policy_arn: str) -> None:
    policy = self.get_policy(policy_arn)
    holders = list(self.roles.values()) + list(self.users.values()) + list(self.groups.values())
    for holder in holders:
        if policy.arn in getattr(holder, "managed_policies", {}) or getattr(
            holder, "permissions_boundary_arn", None
        ) == policy.arn:
            raise DeleteConflictException("Cannot delete a policy attached to entities.")
    if any(not v.is_default for v in policy.versions):
        raise DeleteConflictException(
            "This policy has more than one version. Before you delete a policy, you must delete "
            "the policy's versions. The default version is deleted with the policy."
        )
    _original_delete_policy(self, policy_arn)


iam_models.IAMBackend.delete_policy = _delete_policy_in_use


# moto reads a form-encoded request's parameters from werkzeug's parsed form, after which the
# body itself is gone (request.data is empty), so the signature check signs the parameters again
# as botocore encodes them. A client that encodes the same parameters otherwise (the Rust SDK
# writes a space as %20, botocore as +) then fails with SignatureDoesNotMatch. While enforcing,
# the body is read (and kept by werkzeug for the form parser) before moto parses it, and used as
# the body that was signed.
from moto.core.responses import BaseResponse  # noqa: E402

_original_setup_class = BaseResponse.setup_class


def _setup_class_keeping_body(self: Any, request: Any, full_url: str, headers: Any, *args: Any, **kwargs: Any) -> Any:
    raw = None
    if _enforcing() and hasattr(request, "get_data"):
        raw = request.get_data(cache=True, parse_form_data=False)
    result = _original_setup_class(self, request, full_url, headers, *args, **kwargs)
    if raw and not self.raw_body:
        self.raw_body = raw
    return result


BaseResponse.setup_class = _setup_class_keeping_body


if __name__ == "__main__":
    from moto.server import main

    sys.argv[0] = "moto_server"
    sys.exit(main())
