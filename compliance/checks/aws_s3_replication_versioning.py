"""PLAT_AWS_012: S3 replication needs versioning enabled on the source bucket and on every destination bucket
(InvalidRequest: "Versioning must be 'Enabled' on the bucket" otherwise)."""
from compliance.awsrules import literal, node
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list, combine, first


def versioning(bucket):
    for v in bucket.referrers("aws_s3_bucket_versioning"):
        status = literal(first(v.attrs.get("versioning_configuration") or {}).get("status")
                         if isinstance(first(v.attrs.get("versioning_configuration")), dict) else None)
        if status is None:
            return UNKNOWN_RESULT
        return PASSED if status == "Enabled" else FAILED
    inline = first(bucket.attrs.get("versioning"))
    if isinstance(inline, dict) and inline.get("enabled") in (True, "true"):
        return PASSED
    return FAILED


class S3ReplicationVersioning(PlatformCheck):
    ID = "PLAT_AWS_012"
    NAME = "S3 replication: versioning enabled on the source and destination buckets"
    RESOURCES = ("aws_s3_bucket_replication_configuration",)
    CATEGORY = CheckCategories.BACKUP_AND_RECOVERY
    GUIDELINE = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-requirements.html"

    def evaluate(self, attrs, ctx):
        n = node(ctx)
        if n is None:
            return UNKNOWN_RESULT
        results = []
        sources = n.refs("bucket", rtype="aws_s3_bucket")
        results.append(versioning(sources[0]) if sources else UNKNOWN_RESULT)
        for i, _rule in enumerate(as_list(attrs.get("rule"))):
            dests = n.refs("rule", i, "destination", "bucket", rtype="aws_s3_bucket")
            results.append(versioning(dests[0]) if dests else UNKNOWN_RESULT)
        return combine(results)


check = S3ReplicationVersioning()
