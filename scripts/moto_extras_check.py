"""Check the CloudFront, WAF, Cognito and IAM behaviour scripts/moto_extras.py adds to moto, with boto3.

Usage: moto_extras_check.py ENDPOINT_URL   (a server started with scripts/moto-server)

The IAM policy enforcement checks run on a second server this script starts itself (the
moto_extras.py next to it, with INITIAL_NO_AUTH_ACTION_COUNT set, on a free port of 127.0.0.1)
and stops when they are done; everything else runs against ENDPOINT_URL. Exits 0 when every
check passes, 1 otherwise, printing one line per check. Set MOTO_CLOUDFRONT_DEPLOY_SECONDS to
the value the server was started with (default 2) so the deployment delay can be checked: 0
(distributions are Deployed at once) or at least 1.
Safe to run repeatedly against the same server; each run leaves three enabled distributions behind
and deletes everything else it creates.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any, Callable

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

SECURITY_HEADERS_POLICY = "67f7725c-6f97-4210-82d7-5512b31e9d03"
MANAGED_RESPONSE_HEADERS_POLICIES = {
    SECURITY_HEADERS_POLICY,
    "60669652-455b-4ae9-85a4-c4c02393f86c",  # SimpleCORS
    "5cc3b908-e619-4b99-88e5-2cf7f45965bd",  # CORS-With-Preflight
    "e61eb60c-9c35-4d20-a928-2b84e02af89c",  # CORS-and-SecurityHeadersPolicy
    "eaab4381-ed33-4a86-88ca-d9558dc6cd63",  # CORS-with-preflight-and-SecurityHeadersPolicy
}
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
USE_ORIGIN_CACHE_CONTROL_HEADERS = "83da9c7e-98b4-4e11-a168-04f0df8e2c65"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
CORS_S3_ORIGIN = "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf"
DEPLOY_SECONDS = float(os.environ.get("MOTO_CLOUDFRONT_DEPLOY_SECONDS", "2"))
# Status right after a create or update: InProgress, unless the server deploys at once.
NEW_STATUS = "Deployed" if DEPLOY_SECONDS == 0 else "InProgress"

failures: list[str] = []
passes = 0


def check(name: str, ok: bool, detail: Any = "") -> bool:
    global passes
    if ok:
        passes += 1
        print(f"ok    {name}")
    else:
        failures.append(name)
        print(f"FAIL  {name}{': ' + str(detail) if detail != '' else ''}")
    return ok


def expect_error(name: str, call: Callable[[], Any], code: str, status: int) -> ClientError | None:
    try:
        call()
    except ClientError as e:
        got_code = e.response["Error"]["Code"]
        got_status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        check(name, (got_code, got_status) == (code, status), f"got {got_code} {got_status}, want {code} {status}")
        return e
    check(name, False, f"succeeded, want {code} {status}")
    return None


def status_of(resp: dict[str, Any]) -> int:
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def policy_config(name: str) -> dict[str, Any]:
    return {
        "Name": name,
        "Comment": "security headers for presigned downloads",
        "SecurityHeadersConfig": {
            "StrictTransportSecurity": {
                "Override": True,
                "IncludeSubdomains": True,
                "Preload": True,
                "AccessControlMaxAgeSec": 63072000,
            },
            "ContentSecurityPolicy": {
                "Override": True,
                "ContentSecurityPolicy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
            },
            "ContentTypeOptions": {"Override": True},
            "FrameOptions": {"Override": True, "FrameOption": "DENY"},
            "ReferrerPolicy": {"Override": True, "ReferrerPolicy": "no-referrer"},
            "XSSProtection": {"Override": True, "Protection": True, "ModeBlock": True},
        },
        "CorsConfig": {
            "AccessControlAllowOrigins": {"Quantity": 1, "Items": ["https://app.example.com"]},
            "AccessControlAllowHeaders": {"Quantity": 2, "Items": ["authorization", "content-type"]},
            "AccessControlAllowMethods": {"Quantity": 2, "Items": ["GET", "PUT"]},
            "AccessControlAllowCredentials": False,
            "AccessControlExposeHeaders": {"Quantity": 1, "Items": ["ETag"]},
            "AccessControlMaxAgeSec": 600,
            "OriginOverride": True,
        },
        "ServerTimingHeadersConfig": {"Enabled": True, "SamplingRate": 12.5},
        "CustomHeadersConfig": {
            "Quantity": 1,
            "Items": [{"Header": "X-Served-By", "Value": "presign-stack", "Override": False}],
        },
        "RemoveHeadersConfig": {"Quantity": 1, "Items": [{"Header": "Server"}]},
    }


def distribution_config(ref: str, default_rhp: str, path_rhp: str | None, enabled: bool = True) -> dict[str, Any]:
    path_behaviour: dict[str, Any] = {
        "PathPattern": "/api/*",
        "TargetOriginId": "api",
        "ViewerProtocolPolicy": "https-only",
        "AllowedMethods": {
            "Quantity": 7,
            "Items": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
            "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
        },
        "Compress": False,
        "CachePolicyId": CACHING_DISABLED,
        "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST_HEADER,
    }
    if path_rhp:
        path_behaviour["ResponseHeadersPolicyId"] = path_rhp
    return {
        "CallerReference": ref,
        "Aliases": {"Quantity": 1, "Items": [f"{ref}.files.example.com"]},
        "DefaultRootObject": "index.html",
        "Origins": {
            "Quantity": 3,
            "Items": [
                {
                    "Id": "files",
                    "DomainName": "presign-files.s3.us-east-1.amazonaws.com",
                    "OriginPath": "",
                    "CustomHeaders": {"Quantity": 0},
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": "E2QWRUHAPOMQZL",
                },
                {
                    "Id": "legacy",
                    "DomainName": "presign-legacy.s3.us-east-1.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                },
                {
                    "Id": "api",
                    "DomainName": "abc123.execute-api.us-east-1.amazonaws.com",
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "https-only",
                        "OriginSslProtocols": {"Quantity": 1, "Items": ["TLSv1.2"]},
                    },
                },
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "files",
            "ViewerProtocolPolicy": "redirect-to-https",
            "AllowedMethods": {
                "Quantity": 2,
                "Items": ["GET", "HEAD"],
                "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
            },
            "Compress": True,
            "CachePolicyId": CACHING_OPTIMIZED,
            "OriginRequestPolicyId": CORS_S3_ORIGIN,
            "ResponseHeadersPolicyId": default_rhp,
        },
        "CacheBehaviors": {
            "Quantity": 2,
            "Items": [
                path_behaviour,
                {
                    "PathPattern": "/static/*",
                    "TargetOriginId": "legacy",
                    "ViewerProtocolPolicy": "allow-all",
                    "CachePolicyId": USE_ORIGIN_CACHE_CONTROL_HEADERS,
                },
            ],
        },
        "CustomErrorResponses": {
            "Quantity": 2,
            "Items": [
                {"ErrorCode": 403, "ResponsePagePath": "/index.html", "ResponseCode": "200", "ErrorCachingMinTTL": 10},
                {"ErrorCode": 404, "ResponsePagePath": "/index.html", "ResponseCode": "200", "ErrorCachingMinTTL": 10},
            ],
        },
        "Comment": f"presign-stack files {ref}",
        "PriceClass": "PriceClass_100",
        "Enabled": enabled,
        "ViewerCertificate": {
            "ACMCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab",
            "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": "TLSv1.2_2021",
            "CloudFrontDefaultCertificate": False,
        },
        "HttpVersion": "http2and3",
        "IsIPV6Enabled": True,
    }


def check_round_trip(where: str, sent: dict[str, Any], got: dict[str, Any]) -> None:
    """One check line for a whole DistributionConfig, listing every field that did not round-trip."""
    wrong: list[str] = []

    def same(field: str, got_value: Any, want: Any) -> None:
        if got_value != want:
            wrong.append(f"{field}: got {got_value!r}, want {want!r}")

    for key in ("CallerReference", "DefaultRootObject", "CustomErrorResponses", "HttpVersion",
                "PriceClass", "Aliases", "Comment", "Enabled", "IsIPV6Enabled"):
        same(key, got.get(key), sent[key])
    # As AWS answers an ACM certificate: the deprecated Certificate/CertificateSource mirror it.
    same("ViewerCertificate", got.get("ViewerCertificate"),
         {**sent["ViewerCertificate"], "Certificate": sent["ViewerCertificate"]["ACMCertificateArn"],
          "CertificateSource": "acm"})
    origins = {o["Id"]: o for o in got["Origins"].get("Items", [])}
    same("Origins.Quantity", got["Origins"]["Quantity"], 3)
    files, legacy, api = origins.get("files", {}), origins.get("legacy", {}), origins.get("api", {})
    same("files.OriginAccessControlId", files.get("OriginAccessControlId"), "E2QWRUHAPOMQZL")
    same("files.S3OriginConfig", files.get("S3OriginConfig"), {"OriginAccessIdentity": ""})
    same("legacy.OriginAccessControlId (none sent)", legacy.get("OriginAccessControlId"), "")
    same("legacy.S3OriginConfig", legacy.get("S3OriginConfig"), {"OriginAccessIdentity": ""})
    custom = api.get("CustomOriginConfig", {})
    for key, value in sent["Origins"]["Items"][2]["CustomOriginConfig"].items():
        same(f"api.CustomOriginConfig.{key}", custom.get(key), value)
    same("api has no S3OriginConfig", "S3OriginConfig" in api, False)
    d_sent, d_got = sent["DefaultCacheBehavior"], got["DefaultCacheBehavior"]
    for key, value in d_sent.items():
        same(f"DefaultCacheBehavior.{key}", d_got.get(key), value)
    same("DefaultCacheBehavior legacy ForwardedValues/TTLs (cache policy used)",
         sorted({"ForwardedValues", "MinTTL", "DefaultTTL", "MaxTTL"} & set(d_got)), [])
    got_paths = {b["PathPattern"]: b for b in got["CacheBehaviors"].get("Items", [])}
    same("CacheBehaviors.Quantity", got["CacheBehaviors"]["Quantity"], len(sent["CacheBehaviors"]["Items"]))
    for b_sent in sent["CacheBehaviors"]["Items"]:
        path = b_sent["PathPattern"]
        b_got = got_paths.get(path, {})
        for key, value in b_sent.items():
            same(f"CacheBehavior {path} {key}", b_got.get(key), value)
        for key in ("OriginRequestPolicyId", "ResponseHeadersPolicyId"):
            if key not in b_sent:
                same(f"CacheBehavior {path} {key} (none sent)", b_got.get(key), None)
        if "Compress" not in b_sent:
            same(f"CacheBehavior {path} Compress (none sent)", b_got.get("Compress"), False)
    check(f"{where}: DistributionConfig round-trips (origins with OAC and S3OriginConfig, cache "
          "behaviours with their policy ids, certificate, error responses, ...)", not wrong, "; ".join(wrong))


def wait_deployed(cf: Any, dist_id: str, since: float) -> float | None:
    """Seconds from `since` until GetDistribution reports Deployed, or None on time-out."""
    limit = since + DEPLOY_SECONDS + 15
    while time.monotonic() < limit:
        if cf.get_distribution(Id=dist_id)["Distribution"]["Status"] == "Deployed":
            return time.monotonic() - since
        time.sleep(0.1)
    return None


def check_deploy_delay(cf: Any, dist_id: str, since: float, what: str) -> None:
    took = wait_deployed(cf, dist_id, since)
    check(f"{what}: Deployed after about MOTO_CLOUDFRONT_DEPLOY_SECONDS ({DEPLOY_SECONDS:g}s)",
          took is not None and took >= DEPLOY_SECONDS - 0.3, f"took {took}")


def check_functions(cf: Any, run: str) -> None:
    """CloudFront Functions: two stages, If-Match on every write, only LIVE ones associated,
    none deleted while a cache behaviour uses it."""
    name = f"presign-site-{run}"
    code = b"function handler(event) { return event.request; }\n"
    config = {"Comment": "site", "Runtime": "cloudfront-js-2.0"}
    created = cf.create_function(Name=name, FunctionConfig=config, FunctionCode=code)
    etag = created["ETag"]
    arn = created["FunctionSummary"]["FunctionMetadata"]["FunctionARN"]
    check("CreateFunction answers 201, UNPUBLISHED, in DEVELOPMENT",
          status_of(created) == 201 and created["FunctionSummary"]["Status"] == "UNPUBLISHED"
          and created["FunctionSummary"]["FunctionMetadata"]["Stage"] == "DEVELOPMENT",
          (status_of(created), created["FunctionSummary"]))
    expect_error("CreateFunction of a taken name -> 409 FunctionAlreadyExists",
                 lambda: cf.create_function(Name=name, FunctionConfig=config, FunctionCode=code),
                 "FunctionAlreadyExists", 409)
    expect_error("CreateFunction over 10 KB -> 413 FunctionSizeLimitExceeded",
                 lambda: cf.create_function(Name=f"{name}-big", FunctionConfig=config, FunctionCode=b"x" * 10241),
                 "FunctionSizeLimitExceeded", 413)
    expect_error("GetFunction Stage=LIVE before publishing -> 404 NoSuchFunctionExists",
                 lambda: cf.get_function(Name=name, Stage="LIVE"), "NoSuchFunctionExists", 404)
    got = cf.get_function(Name=name, Stage="DEVELOPMENT")
    check("GetFunction returns the code as sent", got["FunctionCode"].read() == code)
    dist_config = distribution_config(f"fn-{run}", SECURITY_HEADERS_POLICY, None)
    dist_config["DefaultCacheBehavior"]["FunctionAssociations"] = {
        "Quantity": 1, "Items": [{"FunctionARN": arn, "EventType": "viewer-request"}]}
    expect_error("CreateDistribution with an unpublished function -> 400 InvalidArgument",
                 lambda: cf.create_distribution(DistributionConfig=dist_config), "InvalidArgument", 400)
    expect_error("PublishFunction with a stale If-Match -> 412 PreconditionFailed",
                 lambda: cf.publish_function(Name=name, IfMatch="E000000000000"), "PreconditionFailed", 412)
    published = cf.publish_function(Name=name, IfMatch=etag)
    check("PublishFunction: UNASSOCIATED", published["FunctionSummary"]["Status"] == "UNASSOCIATED",
          published["FunctionSummary"]["Status"])
    live = cf.describe_function(Name=name, Stage="LIVE")
    check("DescribeFunction Stage=LIVE after publishing", live["FunctionSummary"]["FunctionMetadata"]["Stage"] == "LIVE")
    updated = cf.update_function(Name=name, IfMatch=etag, FunctionConfig=config, FunctionCode=code + b"// 2\n")
    check("UpdateFunction answers a new ETag", updated["ETag"] != etag)
    check("UpdateFunction leaves LIVE as published",
          cf.get_function(Name=name, Stage="LIVE")["FunctionCode"].read() == code)
    expect_error("UpdateFunction with the old If-Match -> 412 PreconditionFailed",
                 lambda: cf.update_function(Name=name, IfMatch=etag, FunctionConfig=config, FunctionCode=code),
                 "PreconditionFailed", 412)
    dist = cf.create_distribution(DistributionConfig=dist_config)
    kept = dist["Distribution"]["DistributionConfig"]["DefaultCacheBehavior"].get("FunctionAssociations", {})
    check("CreateDistribution keeps the function association",
          kept.get("Quantity") == 1 and kept["Items"][0]["FunctionARN"] == arn, kept)
    expect_error("DeleteFunction without If-Match -> 400 InvalidIfMatchVersion",
                 lambda: cf.delete_function(Name=name, IfMatch=""), "InvalidIfMatchVersion", 400)
    expect_error("DeleteFunction while associated -> 409 FunctionInUse",
                 lambda: cf.delete_function(Name=name, IfMatch=updated["ETag"]), "FunctionInUse", 409)
    did = dist["Distribution"]["Id"]
    current = cf.get_distribution_config(Id=did)
    dropped = current["DistributionConfig"]
    dropped["DefaultCacheBehavior"]["FunctionAssociations"] = {"Quantity": 0}
    cf.update_distribution(Id=did, IfMatch=current["ETag"], DistributionConfig=dropped)
    gone = cf.delete_function(Name=name, IfMatch=updated["ETag"])
    check("DeleteFunction once no behaviour uses it answers 204", status_of(gone) == 204, status_of(gone))
    expect_error("DescribeFunction after delete -> 404 NoSuchFunctionExists",
                 lambda: cf.describe_function(Name=name), "NoSuchFunctionExists", 404)


def check_web_acls(cf: Any, endpoint: str, run: str) -> None:
    waf = boto3.client("wafv2", endpoint_url=endpoint, region_name="us-east-1",
                       config=Config(retries={"max_attempts": 1}))
    visibility = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}
    made = waf.create_web_acl(Name=f"presign-acl-{run}", Scope="CLOUDFRONT", DefaultAction={"Allow": {}},
                              VisibilityConfig=visibility, Rules=[])["Summary"]
    arn, acl_id = made["ARN"], made["Id"]
    config = distribution_config(f"acl-{run}", SECURITY_HEADERS_POLICY, None)
    expect_error("CreateDistribution with a WebACLId that is no web ACL: 400 InvalidWebACLId",
                 lambda: cf.create_distribution(DistributionConfig={**config, "WebACLId": arn + "x"}),
                 "InvalidWebACLId", 400)
    dist = cf.create_distribution(DistributionConfig={**config, "WebACLId": arn})["Distribution"]
    check("CreateDistribution keeps the web ACL", dist["DistributionConfig"]["WebACLId"] == arn)
    lock = waf.get_web_acl(Name=f"presign-acl-{run}", Scope="CLOUDFRONT", Id=acl_id)["LockToken"]
    expect_error("DeleteWebACL while a distribution uses it: 400 WAFAssociatedItemException",
                 lambda: waf.delete_web_acl(Name=f"presign-acl-{run}", Scope="CLOUDFRONT", Id=acl_id,
                                            LockToken=lock),
                 "WAFAssociatedItemException", 400)
    got = cf.get_distribution_config(Id=dist["Id"])
    detached = {**got["DistributionConfig"], "WebACLId": ""}
    cf.update_distribution(Id=dist["Id"], IfMatch=got["ETag"], DistributionConfig=detached)
    waf.delete_web_acl(Name=f"presign-acl-{run}", Scope="CLOUDFRONT", Id=acl_id, LockToken=lock)
    check("DeleteWebACL once no distribution uses it", not any(
        a["Id"] == acl_id for a in waf.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]))


def check_user_pools(endpoint: str, run: str) -> None:
    idp = boto3.client("cognito-idp", endpoint_url=endpoint, region_name="eu-central-1",
                       config=Config(retries={"max_attempts": 1}))
    pool = idp.create_user_pool(PoolName=f"presign-pool-{run}", DeletionProtection="ACTIVE",
                                UserPoolTags={"a": "1"})["UserPool"]
    idp.tag_resource(ResourceArn=pool["Arn"], Tags={"b": "2"})
    idp.untag_resource(ResourceArn=pool["Arn"], TagKeys=["a"])
    tags = idp.list_tags_for_resource(ResourceArn=pool["Arn"])["Tags"]
    check("TagResource, UntagResource and ListTagsForResource on a user pool", tags == {"b": "2"}, tags)
    check("DescribeUserPool shows the tags", idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
          .get("UserPoolTags") == {"b": "2"})
    expect_error("DeleteUserPool with deletion protection on: InvalidParameterException",
                 lambda: idp.delete_user_pool(UserPoolId=pool["Id"]), "InvalidParameterException", 400)
    idp.update_user_pool(UserPoolId=pool["Id"], DeletionProtection="INACTIVE")
    idp.create_user_pool_domain(Domain=f"presign-{run}", UserPoolId=pool["Id"])
    expect_error("CreateUserPoolDomain for a pool that has one: InvalidParameterException",
                 lambda: idp.create_user_pool_domain(Domain=f"presign-{run}-b", UserPoolId=pool["Id"]),
                 "InvalidParameterException", 400)
    expect_error("DeleteUserPool with a domain: InvalidParameterException",
                 lambda: idp.delete_user_pool(UserPoolId=pool["Id"]), "InvalidParameterException", 400)
    idp.delete_user_pool_domain(Domain=f"presign-{run}", UserPoolId=pool["Id"])
    idp.delete_user_pool(UserPoolId=pool["Id"])
    check("DeleteUserPool once unprotected and without a domain", not any(
        p["Id"] == pool["Id"] for p in idp.list_user_pools(MaxResults=60)["UserPools"]))


def check_eventbridge(endpoint: str, run: str) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
    bucket = f"events-{run}"
    s3.create_bucket(Bucket=bucket)
    check("GetBucketNotificationConfiguration of a new bucket has no EventBridgeConfiguration",
          "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket))
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    check("EventBridgeConfiguration is read back",
          s3.get_bucket_notification_configuration(Bucket=bucket).get("EventBridgeConfiguration") == {})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    check("an empty NotificationConfiguration turns EventBridge off",
          "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket))
    s3.delete_bucket(Bucket=bucket)


def check_malware_protection_plans(endpoint: str, run: str) -> None:
    gd = boto3.client("guardduty", endpoint_url=endpoint, region_name="eu-west-1",
                      config=Config(retries={"max_attempts": 1}))
    bucket = f"scanned-{run}"
    plan_id = gd.create_malware_protection_plan(
        Role="arn:aws:iam::123456789012:role/scanner",
        ProtectedResource={"S3Bucket": {"BucketName": bucket, "ObjectPrefixes": ["uploads/"]}},
        Actions={"Tagging": {"Status": "ENABLED"}}, Tags={"a": "1"})["MalwareProtectionPlanId"]
    plan = gd.get_malware_protection_plan(MalwareProtectionPlanId=plan_id)
    check("GetMalwareProtectionPlan returns the plan as created",
          plan["ProtectedResource"]["S3Bucket"] == {"BucketName": bucket, "ObjectPrefixes": ["uploads/"]}
          and plan["Actions"] == {"Tagging": {"Status": "ENABLED"}} and plan["Tags"] == {"a": "1"}
          and plan["Status"] == "ACTIVE" and plan["Arn"].endswith(f"malware-protection-plan/{plan_id}"), plan)
    expect_error("a second plan for one bucket: ConflictException",
                 lambda: gd.create_malware_protection_plan(
                     Role="arn:aws:iam::123456789012:role/scanner",
                     ProtectedResource={"S3Bucket": {"BucketName": bucket}}), "ConflictException", 409)
    gd.update_malware_protection_plan(MalwareProtectionPlanId=plan_id,
                                      Actions={"Tagging": {"Status": "DISABLED"}})
    check("UpdateMalwareProtectionPlan changes the tagging action",
          gd.get_malware_protection_plan(MalwareProtectionPlanId=plan_id)["Actions"]
          == {"Tagging": {"Status": "DISABLED"}})
    check("ListMalwareProtectionPlans lists it", {"MalwareProtectionPlanId": plan_id}
          in gd.list_malware_protection_plans()["MalwareProtectionPlans"])
    gd.tag_resource(ResourceArn=plan["Arn"], Tags={"b": "2"})
    gd.untag_resource(ResourceArn=plan["Arn"], TagKeys=["a"])
    check("TagResource, UntagResource and ListTagsForResource on a plan",
          gd.list_tags_for_resource(ResourceArn=plan["Arn"])["Tags"] == {"b": "2"})
    gd.delete_malware_protection_plan(MalwareProtectionPlanId=plan_id)
    expect_error("GetMalwareProtectionPlan of a deleted plan: ResourceNotFoundException",
                 lambda: gd.get_malware_protection_plan(MalwareProtectionPlanId=plan_id),
                 "ResourceNotFoundException", 404)


def check_policy_deletion(endpoint: str, run: str) -> None:
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       config=Config(retries={"max_attempts": 1}))
    doc = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}'
    arn = iam.create_policy(PolicyName=f"bound-{run}", PolicyDocument=doc)["Policy"]["Arn"]
    iam.create_role(RoleName=f"bounded-{run}", AssumeRolePolicyDocument="{}", PermissionsBoundary=arn)
    expect_error("DeletePolicy of a role's permissions boundary: DeleteConflict",
                 lambda: iam.delete_policy(PolicyArn=arn), "DeleteConflict", 409)
    iam.delete_role_permissions_boundary(RoleName=f"bounded-{run}")
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc, SetAsDefault=True)
    expect_error("DeletePolicy with a version besides the default: DeleteConflict",
                 lambda: iam.delete_policy(PolicyArn=arn), "DeleteConflict", 409)
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    iam.delete_policy(PolicyArn=arn)
    iam.delete_role(RoleName=f"bounded-{run}")
    check("DeletePolicy once unused and with one version", not any(
        p["Arn"] == arn for p in iam.list_policies(Scope="Local")["Policies"]))


# --- IAM policy enforcement -------------------------------------------------------------------
# On a server of its own, started with INITIAL_NO_AUTH_ACTION_COUNT, so the server under test
# keeps answering without credentials. moto lets the first INITIAL_NO_AUTH_ACTION_COUNT calls
# through whatever their credentials (one count per call: CreateUser, CreateAccessKey and
# PutUserPolicy are 3) and checks every later call against the caller's identity policies, so
# afterwards only the IAM users (and role sessions) made meanwhile can act; the dummy
# credentials are refused. Rather than count the calls, the free period is ended with moto's
# own API: POST /moto-api/reset-auth with the body "0" sets the number of free calls to 0 and
# restarts the count, after which every call is checked.

ACCOUNT = "123456789012"  # moto's default account
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/presign-stack/b"
OTHER_BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/presign-stack/other"
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
INLINE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}

# A deployer confined to the roles under /presign-stack/, which must carry the boundary
# BOUNDARY, to the bucket policies of two buckets and to one bucket and its objects.
DEPLOYER_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ScopedRolesWithTheBoundary", "Effect": "Allow",
     "Action": ["iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"],
     "Resource": "arn:aws:iam::${aws:PrincipalAccount}:role/presign-stack/*",
     "Condition": {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}}},
    {"Sid": "ReadAndUnbound", "Effect": "Allow",
     "Action": ["iam:GetRole", "iam:DeleteRolePermissionsBoundary"],
     "Resource": "arn:aws:iam::${aws:PrincipalAccount}:role/presign-stack/*"},
    {"Sid": "NeverUnbound", "Effect": "Deny", "Action": "iam:DeleteRolePermissionsBoundary", "Resource": "*"},
    {"Sid": "NoOtherBoundary", "Effect": "Deny",
     "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary"], "Resource": "*",
     "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": BOUNDARY}}},
    {"Sid": "TwoBucketPolicies", "Effect": "Allow", "Action": "s3:PutBucketPolicy",
     "Resource": ["arn:aws:s3:::mine", "arn:aws:s3:::my.bucket"]},
    # Under the IAM action names AWS checks (moto's own names differ for these).
    {"Sid": "TheBucket", "Effect": "Allow", "Resource": "arn:aws:s3:::mine",
     "Action": ["s3:ListBucket", "s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock",
                "s3:PutEncryptionConfiguration", "s3:PutBucketOwnershipControls"]},
    {"Sid": "ItsObjects", "Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
     "Resource": "arn:aws:s3:::mine/*"},
]}

# A probe of the corners of the evaluation: operators, missing keys, variables, NotResource.
PROBE_ROLES = "arn:aws:iam::${aws:PrincipalAccount}:role/probe/*"
PROBE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "CreateUnderProbe", "Effect": "Allow", "Action": "iam:CreateRole", "Resource": PROBE_ROLES},
    {"Sid": "OnlyPresignBoundaries", "Effect": "Deny", "Action": "iam:CreateRole", "Resource": "*",
     "Condition": {"StringNotLike": {
         "iam:PermissionsBoundary": "arn:aws:iam::${aws:PrincipalAccount}:policy/presign-stack/*"}}},
    {"Sid": "PolicyIfBoundIsB", "Effect": "Allow", "Action": "IAM:putRolePolicy", "Resource": PROBE_ROLES,
     "Condition": {"StringEqualsIfExists": {"iam:permissionsboundary": BOUNDARY}}},
    {"Sid": "DeleteOnlyUnbound", "Effect": "Allow", "Action": "iam:DeleteRolePolicy", "Resource": PROBE_ROLES,
     "Condition": {"Null": {"iam:PermissionsBoundary": "true"}}},
    {"Sid": "TagIfProbe", "Effect": "Allow", "Action": "iam:TagRole", "Resource": PROBE_ROLES,
     "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/pro?e"}}},
    {"Sid": "UntagIfDeployer", "Effect": "Allow", "Action": "iam:UntagRole", "Resource": PROBE_ROLES,
     "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:user/deployer"}}},
    {"Sid": "ListPoliciesWithoutMfa", "Effect": "Allow", "Action": "iam:ListRolePolicies", "Resource": PROBE_ROLES,
     "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
    {"Sid": "ListAttachedWithMfaKey", "Effect": "Allow", "Action": "iam:ListAttachedRolePolicies",
     "Resource": PROBE_ROLES, "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}},
    {"Sid": "TagsOutsidePresign", "Effect": "Allow", "Action": "iam:ListRoleTags",
     "NotResource": "arn:aws:iam::${aws:PrincipalAccount}:role/presign-stack/*"},
    {"Sid": "Myself", "Effect": "Allow", "Action": "iam:GetUser",
     "Resource": "arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}"},
    {"Sid": "UnevaluatedAllow", "Effect": "Allow", "Action": "iam:GetRole", "Resource": "*",
     "Condition": {"ForAnyValue:StringEquals": {"aws:PrincipalAccount": ACCOUNT}}},
    {"Sid": "ListRoles", "Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"},
    {"Sid": "UnevaluatedDeny", "Effect": "Deny", "Action": "iam:ListRoles", "Resource": "*",
     "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2000-01-01"}}},
    {"Sid": "BucketPolicy", "Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": "arn:aws:s3:::mine"},
    {"Sid": "DenyOthers", "Effect": "Deny", "Action": "s3:PutBucketPolicy", "Resource": "*",
     "Condition": {"StringNotEquals": {
         "aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}"}}},
    {"Sid": "AssumeProbeRoles", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": PROBE_ROLES},
]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_enforcing_server() -> tuple[subprocess.Popen[bytes], str]:
    """scripts/moto_extras.py on a port of its own, enforcing IAM after 1000 free calls."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "moto_extras.py"),
         "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "1000"},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"the enforcing moto server did not start on port {port}")
            time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}"


def end_free_calls(endpoint: str) -> None:
    """moto's POST /moto-api/reset-auth: no more free calls; every later call is checked."""
    # Not a form (urllib's default type): moto reads the raw body.
    req = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                 headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        json.load(resp)


def check_iam_enforcement() -> None:
    server, endpoint = start_enforcing_server()
    try:
        check_iam_enforcement_on(endpoint)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def check_iam_enforcement_on(endpoint: str) -> None:
    def client(service: str, key: dict[str, str] | None = None, token: str | None = None) -> Any:
        creds = ({"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"],
                  "aws_session_token": token} if key else
                 {"aws_access_key_id": "test", "aws_secret_access_key": "test"})
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                            config=Config(retries={"max_attempts": 1}), **creds)

    def denied(name: str, call: Callable[[], Any]) -> None:
        expect_error(name, call, "AccessDenied", 403)

    def allowed(name: str, call: Callable[[], Any]) -> Any:
        try:
            result = call()
        except ClientError as e:
            check(name, False, f"got {e.response['Error']['Code']}: {e.response['Error']['Message']}")
            return None
        check(name, True)
        return result

    # While calls are free: the users, their keys and policies, the roles and buckets.
    admin, admin_s3 = client("iam"), client("s3")
    for name in ("b", "other"):
        admin.create_policy(PolicyName=name, Path="/presign-stack/", PolicyDocument=json.dumps(INLINE))
    keys = {}
    for user, policy in (("deployer", DEPLOYER_POLICY), ("probe", PROBE_POLICY)):
        admin.create_user(UserName=user)
        keys[user] = admin.create_access_key(UserName=user)["AccessKey"]
        admin.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
    trust = json.dumps(LAMBDA_TRUST)
    admin.create_role(RoleName="unbounded", Path="/presign-stack/", AssumeRolePolicyDocument=trust)
    admin.create_role(RoleName="loose", Path="/probe/", AssumeRolePolicyDocument=trust)
    admin.create_role(RoleName="other-bounded", Path="/probe/", AssumeRolePolicyDocument=trust,
                      PermissionsBoundary=OTHER_BOUNDARY)
    for role, who in (("assumable", "probe"), ("not-trusting", "deployer")):
        admin.create_role(RoleName=role, Path="/probe/", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
                "AWS": f"arn:aws:iam::{ACCOUNT}:user/{who}"}, "Action": "sts:AssumeRole"}]}))
    admin.put_role_policy(RoleName="assumable", PolicyName="self", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*",
                                                 "Condition": {"ArnEquals": {"aws:PrincipalArn":
                                                     f"arn:aws:iam::{ACCOUNT}:role/probe/assumable"}}}]}))
    for bucket in ("mine", "other", "my.bucket", "myxbucket"):
        admin_s3.create_bucket(Bucket=bucket)
    admin_s3.put_object(Bucket="other", Key="k", Body=b"theirs")
    end_free_calls(endpoint)
    expect_error("IAM enforcement: after the free calls the dummy credentials are refused (InvalidClientTokenId)",
                 lambda: admin.list_users(), "InvalidClientTokenId", 403)

    # The deployer.
    iam, s3 = client("iam", keys["deployer"]), client("s3", keys["deployer"])

    def create(name: str, path: str, boundary: str | None) -> Any:
        extra = {"PermissionsBoundary": boundary} if boundary else {}
        return iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust, **extra)

    made = allowed("IAM enforcement: CreateRole under /presign-stack/ with the required boundary is allowed "
                   "(Resource with ${aws:PrincipalAccount}, StringEquals iam:PermissionsBoundary)",
                   lambda: create("fn", "/presign-stack/", BOUNDARY))
    check("IAM enforcement: the role made has the ARN the policy named",
          made is not None and made["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/presign-stack/fn",
          made and made["Role"]["Arn"])
    denied("IAM enforcement: CreateRole without a boundary -> AccessDenied",
           lambda: create("fn2", "/presign-stack/", None))
    denied("IAM enforcement: CreateRole with the boundary but Path / -> AccessDenied (the new role's ARN is matched)",
           lambda: create("fn2", "/", BOUNDARY))
    denied("IAM enforcement: CreateRole with another boundary -> AccessDenied",
           lambda: create("fn2", "/presign-stack/", OTHER_BOUNDARY))
    allowed("IAM enforcement: PutRolePolicy on a role whose boundary is the required one is allowed",
            lambda: iam.put_role_policy(RoleName="fn", PolicyName="p", PolicyDocument=json.dumps(INLINE)))
    denied("IAM enforcement: PutRolePolicy on a role without that boundary -> AccessDenied",
           lambda: iam.put_role_policy(RoleName="unbounded", PolicyName="p", PolicyDocument=json.dumps(INLINE)))
    denied("IAM enforcement: DeleteRolePermissionsBoundary, allowed by one statement and denied by another -> "
           "AccessDenied", lambda: iam.delete_role_permissions_boundary(RoleName="fn"))
    denied("IAM enforcement: PutRolePermissionsBoundary with another ARN -> AccessDenied",
           lambda: iam.put_role_permissions_boundary(RoleName="fn", PermissionsBoundary=OTHER_BOUNDARY))
    role = allowed("IAM enforcement: GetRole allowed on the path", lambda: iam.get_role(RoleName="fn"))
    check("IAM enforcement: the refused calls left the role's boundary alone",
          role is not None and role["Role"].get("PermissionsBoundary", {}).get("PermissionsBoundaryArn") == BOUNDARY,
          role and role["Role"].get("PermissionsBoundary"))
    allowed("IAM enforcement: PutRolePermissionsBoundary with the required ARN is allowed",
            lambda: iam.put_role_permissions_boundary(RoleName="unbounded", PermissionsBoundary=BOUNDARY))
    allowed("IAM enforcement: PutRolePolicy on that role, now bounded, is allowed",
            lambda: iam.put_role_policy(RoleName="unbounded", PolicyName="p", PolicyDocument=json.dumps(INLINE)))
    def bucket_policy(bucket: str) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})

    allowed("IAM enforcement: s3:PutBucketPolicy on arn:aws:s3:::mine is allowed",
            lambda: s3.put_bucket_policy(Bucket="mine", Policy=bucket_policy("mine")))
    denied("IAM enforcement: s3:PutBucketPolicy on arn:aws:s3:::other -> AccessDenied",
           lambda: s3.put_bucket_policy(Bucket="other", Policy=bucket_policy("other")))
    allowed("IAM enforcement: s3:PutBucketPolicy on arn:aws:s3:::my.bucket is allowed",
            lambda: s3.put_bucket_policy(Bucket="my.bucket", Policy=bucket_policy("my.bucket")))
    denied("IAM enforcement: Resource arn:aws:s3:::my.bucket does not match bucket myxbucket (the dot is literal)",
           lambda: s3.put_bucket_policy(Bucket="myxbucket", Policy=bucket_policy("myxbucket")))
    # S3 calls are checked under the IAM action AWS names them by.
    allowed("IAM enforcement: HeadBucket needs s3:ListBucket", lambda: s3.head_bucket(Bucket="mine"))
    expect_error("IAM enforcement: HeadBucket without s3:ListBucket on the bucket -> 403",
                 lambda: s3.head_bucket(Bucket="other"), "403", 403)
    block = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
             "RestrictPublicBuckets": True}
    allowed("IAM enforcement: PutPublicAccessBlock needs s3:PutBucketPublicAccessBlock",
            lambda: s3.put_public_access_block(Bucket="mine", PublicAccessBlockConfiguration=block))
    denied("IAM enforcement: PutPublicAccessBlock on a bucket the policy does not name -> AccessDenied",
           lambda: s3.put_public_access_block(Bucket="other", PublicAccessBlockConfiguration=block))
    allowed("IAM enforcement: GetPublicAccessBlock needs s3:GetBucketPublicAccessBlock",
            lambda: s3.get_public_access_block(Bucket="mine"))
    allowed("IAM enforcement: PutBucketEncryption needs s3:PutEncryptionConfiguration",
            lambda: s3.put_bucket_encryption(Bucket="mine", ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}))
    allowed("IAM enforcement: PutBucketOwnershipControls needs s3:PutBucketOwnershipControls",
            lambda: s3.put_bucket_ownership_controls(Bucket="mine", OwnershipControls={
                "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}))
    allowed("IAM enforcement: PutObject needs s3:PutObject on the object",
            lambda: s3.put_object(Bucket="mine", Key="k", Body=b"mine"))
    gone = allowed("IAM enforcement: DeleteObjects needs s3:DeleteObject on each object",
                   lambda: s3.delete_objects(Bucket="mine", Delete={"Objects": [{"Key": "k"}]}))
    check("IAM enforcement: ... and deletes them",
          gone is not None and [d["Key"] for d in gone.get("Deleted", [])] == ["k"] and not gone.get("Errors"), gone)
    kept = s3.delete_objects(Bucket="other", Delete={"Objects": [{"Key": "k"}]})
    check("IAM enforcement: DeleteObjects of objects the policy does not name: AccessDenied for each",
          [(e["Key"], e["Code"]) for e in kept.get("Errors", [])] == [("k", "AccessDenied")] and not kept.get("Deleted"),
          kept)

    # The probe.
    iam, s3, sts = client("iam", keys["probe"]), client("s3", keys["probe"]), client("sts", keys["probe"])
    denied("IAM enforcement: a Deny with StringNotLike applies to a request without the key (CreateRole without "
           "a boundary) -> AccessDenied", lambda: iam.create_role(RoleName="p1", Path="/probe/",
                                                                  AssumeRolePolicyDocument=trust))
    allowed("IAM enforcement: ... and not to one whose value is like the pattern",
            lambda: iam.create_role(RoleName="p1", Path="/probe/", AssumeRolePolicyDocument=trust,
                                    PermissionsBoundary=BOUNDARY))
    allowed("IAM enforcement: StringEqualsIfExists is met without the key (PutRolePolicy on a role without a "
            "boundary); key and action names are case-insensitive",
            lambda: iam.put_role_policy(RoleName="loose", PolicyName="p", PolicyDocument=json.dumps(INLINE)))
    denied("IAM enforcement: StringEqualsIfExists with another value -> AccessDenied",
           lambda: iam.put_role_policy(RoleName="other-bounded", PolicyName="p", PolicyDocument=json.dumps(INLINE)))
    allowed("IAM enforcement: Null true is met without the key",
            lambda: iam.delete_role_policy(RoleName="loose", PolicyName="p"))
    denied("IAM enforcement: Null true with the key -> AccessDenied",
           lambda: iam.delete_role_policy(RoleName="other-bounded", PolicyName="p"))
    allowed("IAM enforcement: ArnLike aws:PrincipalArn with * and ? is met",
            lambda: iam.tag_role(RoleName="loose", Tags=[{"Key": "k", "Value": "v"}]))
    denied("IAM enforcement: ArnEquals aws:PrincipalArn naming another user -> AccessDenied",
           lambda: iam.untag_role(RoleName="loose", TagKeys=["k"]))
    allowed("IAM enforcement: BoolIfExists aws:MultiFactorAuthPresent false is met for a long-term key",
            lambda: iam.list_role_policies(RoleName="loose"))
    denied("IAM enforcement: Bool on a key the request lacks is not met -> AccessDenied",
           lambda: iam.list_attached_role_policies(RoleName="loose"))
    allowed("IAM enforcement: NotResource: allowed outside it",
            lambda: iam.list_role_tags(RoleName="loose"))
    denied("IAM enforcement: NotResource: inside it -> AccessDenied",
           lambda: iam.list_role_tags(RoleName="unbounded"))
    allowed("IAM enforcement: ${aws:username} in a Resource: GetUser on oneself",
            lambda: iam.get_user(UserName="probe"))
    denied("IAM enforcement: ${aws:username} in a Resource: GetUser on another user -> AccessDenied",
           lambda: iam.get_user(UserName="deployer"))
    denied("IAM enforcement: an Allow with an operator the emulator does not evaluate (ForAnyValue:) does not "
           "apply -> AccessDenied", lambda: iam.get_role(RoleName="loose"))
    denied("IAM enforcement: a Deny with an operator the emulator does not evaluate (Date...) applies -> "
           "AccessDenied", lambda: iam.list_roles())
    allowed("IAM enforcement: a Deny whose condition is not met does not apply (StringNotEquals with "
            "variables in the value)", lambda: s3.put_bucket_policy(Bucket="mine", Policy=bucket_policy("mine")))

    # A role session: moto's trust policy check, and aws:PrincipalArn is the role's ARN.
    denied("IAM enforcement: AssumeRole of a role whose trust policy names another user -> AccessDenied",
           lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/probe/not-trusting",
                                   RoleSessionName="probe-session"))
    session = allowed("IAM enforcement: AssumeRole of a role trusting the caller is allowed",
                      lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/probe/assumable",
                                              RoleSessionName="probe-session"))
    if session is not None:
        creds = session["Credentials"]
        as_role = client("iam", {"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"]},
                         token=creds["SessionToken"])
        allowed("IAM enforcement: in a role session aws:PrincipalArn is the role's ARN (ArnEquals)",
                lambda: as_role.get_role(RoleName="loose"))


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if 0 < DEPLOY_SECONDS < 1:
        print("MOTO_CLOUDFRONT_DEPLOY_SECONDS must be 0 or at least 1 for the timing checks", file=sys.stderr)
        return 2
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    cf = boto3.client("cloudfront", endpoint_url=sys.argv[1], region_name="us-east-1",
                      config=Config(retries={"max_attempts": 1}))
    run = uuid.uuid4().hex[:8]

    # --- 1. Response headers policies ---
    sent = policy_config(f"presign-security-{run}")
    created = cf.create_response_headers_policy(ResponseHeadersPolicyConfig=sent)
    policy = created["ResponseHeadersPolicy"]
    pid, etag1 = policy["Id"], created["ETag"]
    check("CreateResponseHeadersPolicy answers 201", status_of(created) == 201, status_of(created))
    check("CreateResponseHeadersPolicy ETag header", bool(etag1))
    check("CreateResponseHeadersPolicy Location header",
          created.get("Location", "").endswith(f"/2020-05-31/response-headers-policy/{pid}"), created.get("Location"))
    check("CreateResponseHeadersPolicy LastModifiedTime", bool(policy.get("LastModifiedTime")))
    check("CreateResponseHeadersPolicy config round-trips", policy["ResponseHeadersPolicyConfig"] == sent,
          policy["ResponseHeadersPolicyConfig"])
    expect_error("CreateResponseHeadersPolicy with a taken Name -> 409 ResponseHeadersPolicyAlreadyExists",
                 lambda: cf.create_response_headers_policy(ResponseHeadersPolicyConfig=policy_config(sent["Name"])),
                 "ResponseHeadersPolicyAlreadyExists", 409)

    got = cf.get_response_headers_policy(Id=pid)
    check("GetResponseHeadersPolicy", got["ResponseHeadersPolicy"]["Id"] == pid and got["ETag"] == etag1
          and got["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"] == sent, got)
    got_config = cf.get_response_headers_policy_config(Id=pid)
    check("GetResponseHeadersPolicyConfig", got_config["ResponseHeadersPolicyConfig"] == sent
          and got_config["ETag"] == etag1, got_config)
    missing = str(uuid.uuid4())
    expect_error("GetResponseHeadersPolicy unknown id -> 404 NoSuchResponseHeadersPolicy",
                 lambda: cf.get_response_headers_policy(Id=missing), "NoSuchResponseHeadersPolicy", 404)
    expect_error("GetResponseHeadersPolicyConfig unknown id -> 404 NoSuchResponseHeadersPolicy",
                 lambda: cf.get_response_headers_policy_config(Id=missing), "NoSuchResponseHeadersPolicy", 404)
    managed = cf.get_response_headers_policy(Id=SECURITY_HEADERS_POLICY)["ResponseHeadersPolicy"]
    check("GetResponseHeadersPolicy managed SecurityHeadersPolicy",
          managed["ResponseHeadersPolicyConfig"]["Name"] == "Managed-SecurityHeadersPolicy", managed)

    updated_config = {**sent, "Comment": "updated"}
    updated_config["SecurityHeadersConfig"] = {
        **sent["SecurityHeadersConfig"],
        "StrictTransportSecurity": {"Override": False, "AccessControlMaxAgeSec": 31536000},
    }
    expect_error("UpdateResponseHeadersPolicy without If-Match -> 400 InvalidIfMatchVersion",
                 lambda: cf.update_response_headers_policy(Id=pid, ResponseHeadersPolicyConfig=updated_config),
                 "InvalidIfMatchVersion", 400)
    expect_error("UpdateResponseHeadersPolicy wrong If-Match -> 412 PreconditionFailed",
                 lambda: cf.update_response_headers_policy(Id=pid, IfMatch="E0WRONGETAG00",
                                                           ResponseHeadersPolicyConfig=updated_config),
                 "PreconditionFailed", 412)
    upd = cf.update_response_headers_policy(Id=pid, IfMatch=etag1, ResponseHeadersPolicyConfig=updated_config)
    etag2 = upd["ETag"]
    check("UpdateResponseHeadersPolicy answers 200 with a new ETag", status_of(upd) == 200 and etag2 and etag2 != etag1,
          (status_of(upd), etag1, etag2))
    check("UpdateResponseHeadersPolicy config round-trips",
          upd["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"] == updated_config
          and cf.get_response_headers_policy_config(Id=pid)["ResponseHeadersPolicyConfig"] == updated_config)
    expect_error("UpdateResponseHeadersPolicy with the old ETag -> 412 PreconditionFailed",
                 lambda: cf.update_response_headers_policy(Id=pid, IfMatch=etag1, ResponseHeadersPolicyConfig=updated_config),
                 "PreconditionFailed", 412)
    other = cf.create_response_headers_policy(ResponseHeadersPolicyConfig={"Name": f"presign-other-{run}"})
    expect_error("UpdateResponseHeadersPolicy to a taken Name -> 409 ResponseHeadersPolicyAlreadyExists",
                 lambda: cf.update_response_headers_policy(Id=other["ResponseHeadersPolicy"]["Id"], IfMatch=other["ETag"],
                                                           ResponseHeadersPolicyConfig={"Name": sent["Name"]}),
                 "ResponseHeadersPolicyAlreadyExists", 409)
    cf.delete_response_headers_policy(Id=other["ResponseHeadersPolicy"]["Id"], IfMatch=other["ETag"])

    custom = cf.list_response_headers_policies(Type="custom")["ResponseHeadersPolicyList"]
    mine = [i for i in custom.get("Items", []) if i["ResponseHeadersPolicy"]["Id"] == pid]
    check("ListResponseHeadersPolicies Type=custom lists the policy",
          len(mine) == 1 and mine[0]["Type"] == "custom" and custom["Quantity"] == len(custom["Items"])
          and mine[0]["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"] == updated_config
          and all(i["Type"] == "custom" for i in custom["Items"]), custom)
    managed_list = cf.list_response_headers_policies(Type="managed")["ResponseHeadersPolicyList"]
    check("ListResponseHeadersPolicies Type=managed lists the managed policies",
          {i["ResponseHeadersPolicy"]["Id"] for i in managed_list["Items"]} == MANAGED_RESPONSE_HEADERS_POLICIES
          and all(i["Type"] == "managed" for i in managed_list["Items"]) and managed_list["MaxItems"] == 100,
          managed_list)
    page1 = cf.list_response_headers_policies(Type="managed", MaxItems="2")["ResponseHeadersPolicyList"]
    page2 = cf.list_response_headers_policies(Type="managed", MaxItems="2", Marker=page1.get("NextMarker", ""))
    page2 = page2["ResponseHeadersPolicyList"]
    check("ListResponseHeadersPolicies pages with MaxItems/NextMarker",
          page1["Quantity"] == 2 and page1["MaxItems"] == 2 and bool(page1.get("NextMarker"))
          and page2["Quantity"] == 2 and not {i["ResponseHeadersPolicy"]["Id"] for i in page1["Items"]}
          & {i["ResponseHeadersPolicy"]["Id"] for i in page2["Items"]}, (page1, page2))
    expect_error("ListResponseHeadersPolicies Type=other -> 400 InvalidArgument",
                 lambda: cf.list_response_headers_policies(Type="other"), "InvalidArgument", 400)
    managed_etag = cf.get_response_headers_policy(Id=SECURITY_HEADERS_POLICY)["ETag"]
    expect_error("UpdateResponseHeadersPolicy of a managed policy -> 400 IllegalUpdate",
                 lambda: cf.update_response_headers_policy(Id=SECURITY_HEADERS_POLICY, IfMatch=managed_etag,
                                                           ResponseHeadersPolicyConfig={"Name": f"x-{run}"}),
                 "IllegalUpdate", 400)
    expect_error("DeleteResponseHeadersPolicy of a managed policy -> 400 IllegalDelete",
                 lambda: cf.delete_response_headers_policy(Id=SECURITY_HEADERS_POLICY, IfMatch=managed_etag),
                 "IllegalDelete", 400)
    every = cf.list_response_headers_policies()["ResponseHeadersPolicyList"]
    kinds = {i["Type"] for i in every["Items"]}
    check("ListResponseHeadersPolicies without Type lists both kinds", kinds == {"managed", "custom"}, kinds)

    # --- 4/5. Distributions referencing policies; round trip ---
    for where, bad in (("DefaultCacheBehavior", distribution_config(f"bad-d-{run}", missing, None)),
                       ("CacheBehavior", distribution_config(f"bad-c-{run}", SECURITY_HEADERS_POLICY, missing))):
        expect_error(f"CreateDistribution with an unknown ResponseHeadersPolicyId in {where} -> NoSuchResponseHeadersPolicy",
                     lambda bad=bad: cf.create_distribution(DistributionConfig=bad), "NoSuchResponseHeadersPolicy", 404)
    dist_sent = distribution_config(f"dist-{run}", SECURITY_HEADERS_POLICY, pid)
    t_create = time.monotonic()
    dist = cf.create_distribution(DistributionConfig=dist_sent)
    did, detag = dist["Distribution"]["Id"], dist["ETag"]
    check("CreateDistribution with managed cache/origin request/response headers policy ids and a custom policy",
          status_of(dist) == 201, status_of(dist))
    check_round_trip("CreateDistribution", dist_sent, dist["Distribution"]["DistributionConfig"])
    check_round_trip("GetDistribution", dist_sent, cf.get_distribution(Id=did)["Distribution"]["DistributionConfig"])
    got_dc = cf.get_distribution_config(Id=did)
    check_round_trip("GetDistributionConfig", dist_sent, got_dc["DistributionConfig"])
    check("GetDistributionConfig ETag is the create ETag", got_dc["ETag"] == detag, (got_dc["ETag"], detag))
    statuses = [cf.get_distribution(Id=did)["Distribution"]["Status"] for _ in range(4)]
    check(f"new distribution stays {NEW_STATUS} however often it is read", statuses == [NEW_STATUS] * 4
          or time.monotonic() - t_create >= DEPLOY_SECONDS, statuses)
    check_deploy_delay(cf, did, t_create, "CreateDistribution")

    plain_ref = f"plain-{run}"
    plain = cf.create_distribution(DistributionConfig={
        "CallerReference": plain_ref, "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "plain.s3.us-east-1.amazonaws.com",
                                               "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": CACHING_OPTIMIZED},
    })
    vc = plain["Distribution"]["DistributionConfig"]["ViewerCertificate"]
    check("default viewer certificate answered as AWS does",
          vc == {"CloudFrontDefaultCertificate": True, "SSLSupportMethod": "vip", "MinimumProtocolVersion": "TLSv1",
                 "CertificateSource": "cloudfront"}, vc)
    check("Compress defaults to false", plain["Distribution"]["DistributionConfig"]["DefaultCacheBehavior"]["Compress"] is False)

    # In use: a cache behaviour references the custom policy.
    expect_error("DeleteResponseHeadersPolicy used by a CacheBehavior -> 409 ResponseHeadersPolicyInUse",
                 lambda: cf.delete_response_headers_policy(Id=pid, IfMatch=etag2), "ResponseHeadersPolicyInUse", 409)

    # --- 3. UpdateDistribution ---
    moved = distribution_config(f"dist-{run}", pid, None)  # now only the default behaviour uses it
    expect_error("UpdateDistribution without If-Match -> 400 InvalidIfMatchVersion",
                 lambda: cf.update_distribution(Id=did, DistributionConfig=moved), "InvalidIfMatchVersion", 400)
    expect_error("UpdateDistribution wrong If-Match -> 412 PreconditionFailed",
                 lambda: cf.update_distribution(Id=did, IfMatch="E0WRONGETAG00", DistributionConfig=moved),
                 "PreconditionFailed", 412)
    bad_update = distribution_config(f"dist-{run}", SECURITY_HEADERS_POLICY, missing)
    expect_error("UpdateDistribution with an unknown ResponseHeadersPolicyId -> NoSuchResponseHeadersPolicy",
                 lambda: cf.update_distribution(Id=did, IfMatch=detag, DistributionConfig=bad_update),
                 "NoSuchResponseHeadersPolicy", 404)
    before = cf.get_distribution(Id=did)["Distribution"]
    t_update = time.monotonic()
    upd = cf.update_distribution(Id=did, IfMatch=detag, DistributionConfig=moved)
    detag2 = upd["ETag"]
    check("UpdateDistribution answers 200 with a new ETag", status_of(upd) == 200 and detag2 != detag, (detag, detag2))
    check(f"UpdateDistribution: Status {NEW_STATUS}", upd["Distribution"]["Status"] == NEW_STATUS, upd["Distribution"]["Status"])
    check("UpdateDistribution: LastModifiedTime moves",
          upd["Distribution"]["LastModifiedTime"] > before["LastModifiedTime"],
          (before["LastModifiedTime"], upd["Distribution"]["LastModifiedTime"]))
    check(f"GetDistribution after update: {NEW_STATUS}, new ETag",
          (lambda r: r["Distribution"]["Status"] == NEW_STATUS and r["ETag"] == detag2)(cf.get_distribution(Id=did)))
    listed = {d["Id"]: d for d in cf.list_distributions()["DistributionList"].get("Items", [])}
    check(f"ListDistributions after update: {NEW_STATUS}", listed.get(did, {}).get("Status") == NEW_STATUS,
          listed.get(did, {}).get("Status"))
    check_round_trip("GetDistributionConfig after update", moved, cf.get_distribution_config(Id=did)["DistributionConfig"])
    expect_error("UpdateDistribution with the old ETag -> 412 PreconditionFailed",
                 lambda: cf.update_distribution(Id=did, IfMatch=detag, DistributionConfig=moved), "PreconditionFailed", 412)
    check_deploy_delay(cf, did, t_update, "UpdateDistribution")
    listed = {d["Id"]: d for d in cf.list_distributions()["DistributionList"].get("Items", [])}
    check("ListDistributions once deployed: Deployed", listed.get(did, {}).get("Status") == "Deployed", listed.get(did, {}).get("Status"))

    expect_error("DeleteResponseHeadersPolicy used by a DefaultCacheBehavior -> 409 ResponseHeadersPolicyInUse",
                 lambda: cf.delete_response_headers_policy(Id=pid, IfMatch=etag2), "ResponseHeadersPolicyInUse", 409)

    # --- 2. DeleteDistribution ---
    err = expect_error("DeleteDistribution of an enabled distribution -> 409 DistributionNotDisabled",
                       lambda: cf.delete_distribution(Id=did, IfMatch=detag2), "DistributionNotDisabled", 409)
    check("DistributionNotDisabled message",
          err is not None and err.response["Error"]["Message"] == "The distribution you are trying to delete has not been disabled.",
          err and err.response["Error"]["Message"])
    expect_error("DeleteDistribution without If-Match -> 400 InvalidIfMatchVersion",
                 lambda: cf.delete_distribution(Id=did), "InvalidIfMatchVersion", 400)
    expect_error("DeleteDistribution wrong If-Match -> 412 PreconditionFailed",
                 lambda: cf.delete_distribution(Id=did, IfMatch="E0WRONGETAG00"), "PreconditionFailed", 412)
    disabled = distribution_config(f"dist-{run}", SECURITY_HEADERS_POLICY, None, enabled=False)
    t_disable = time.monotonic()
    detag3 = cf.update_distribution(Id=did, IfMatch=detag2, DistributionConfig=disabled)["ETag"]
    expect_error("DeleteDistribution disabled, stale If-Match -> 412 PreconditionFailed",
                 lambda: cf.delete_distribution(Id=did, IfMatch=detag2), "PreconditionFailed", 412)
    if NEW_STATUS == "InProgress":
        expect_error("DeleteDistribution while the disabling is still deploying -> 409 DistributionNotDisabled",
                     lambda: cf.delete_distribution(Id=did, IfMatch=detag3), "DistributionNotDisabled", 409)
    check_deploy_delay(cf, did, t_disable, "disabling UpdateDistribution")
    deleted = cf.delete_distribution(Id=did, IfMatch=detag3)
    check("DeleteDistribution of a disabled, deployed distribution answers 204", status_of(deleted) == 204, status_of(deleted))
    expect_error("GetDistribution after delete -> 404 NoSuchDistribution",
                 lambda: cf.get_distribution(Id=did), "NoSuchDistribution", 404)

    # The policy is free now.
    expect_error("DeleteResponseHeadersPolicy without If-Match -> 400 InvalidIfMatchVersion",
                 lambda: cf.delete_response_headers_policy(Id=pid), "InvalidIfMatchVersion", 400)
    expect_error("DeleteResponseHeadersPolicy wrong If-Match -> 412 PreconditionFailed",
                 lambda: cf.delete_response_headers_policy(Id=pid, IfMatch=etag1), "PreconditionFailed", 412)
    gone = cf.delete_response_headers_policy(Id=pid, IfMatch=etag2)
    check("DeleteResponseHeadersPolicy answers 204", status_of(gone) == 204, status_of(gone))
    expect_error("GetResponseHeadersPolicy after delete -> 404 NoSuchResponseHeadersPolicy",
                 lambda: cf.get_response_headers_policy(Id=pid), "NoSuchResponseHeadersPolicy", 404)
    expect_error("DeleteResponseHeadersPolicy after delete -> 404 NoSuchResponseHeadersPolicy",
                 lambda: cf.delete_response_headers_policy(Id=pid, IfMatch=etag2), "NoSuchResponseHeadersPolicy", 404)

    # --- CloudFront Functions ---
    check_functions(cf, run)

    # --- WAF web ACLs on distributions, Cognito user pools ---
    check_web_acls(cf, sys.argv[1], run)
    check_user_pools(sys.argv[1], run)
    check_policy_deletion(sys.argv[1], run)
    check_eventbridge(sys.argv[1], run)
    check_malware_protection_plans(sys.argv[1], run)

    # --- IAM policy enforcement, on a server of its own ---
    check_iam_enforcement()

    print(f"\n{passes} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # an unexpected answer is a failure too, not a crash without a verdict
        print(f"FAIL  unexpected {type(e).__name__}: {e}")
        print(f"\n{passes} passed, {len(failures) + 1} failed")
        sys.exit(1)
