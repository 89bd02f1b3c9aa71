"""PLAT_AWS_004: an SNS topic encrypted with a customer-managed key that AWS services publish to: the key policy
admits each publishing service's principal with ``kms:Decrypt`` and ``kms:GenerateDataKey*`` (CloudWatch alarms:
``cloudwatch.amazonaws.com``; EventBridge targets: ``events.amazonaws.com``; S3 event notifications:
``s3.amazonaws.com``; Budgets: ``budgets.amazonaws.com``). Otherwise the notifications are silently dropped."""
from compliance.awsrules import allows, key_of, key_statements, node
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck

PUBLISHERS = {
    "aws_cloudwatch_metric_alarm": "cloudwatch.amazonaws.com",
    "aws_cloudwatch_composite_alarm": "cloudwatch.amazonaws.com",
    "aws_cloudwatch_event_target": "events.amazonaws.com",
    "aws_s3_bucket_notification": "s3.amazonaws.com",
    "aws_budgets_budget": "budgets.amazonaws.com",
}


class SnsPublishersKmsKey(PlatformCheck):
    ID = "PLAT_AWS_004"
    NAME = "Encrypted SNS topics: the key policy admits the AWS services that publish to them"
    RESOURCES = ("aws_sns_topic",)
    CATEGORY = CheckCategories.ENCRYPTION
    GUIDELINE = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services"

    def evaluate(self, attrs, ctx):
        n = node(ctx)
        if n is None:
            return UNKNOWN_RESULT
        kind, key = key_of(n, "kms_master_key_id")
        if kind == "none":
            return PASSED
        services = sorted({PUBLISHERS[p.rtype] for p in n.referrers(PUBLISHERS)})
        if not services:
            return PASSED
        if kind == "aws-managed":
            return FAILED  # alias/aws/sns cannot admit other services
        if kind != "cmk":
            return UNKNOWN_RESULT
        st = key_statements(key)
        if st is None:
            return UNKNOWN_RESULT
        missing = [s for s in services
                   if not allows(st, actions=["kms:Decrypt", "kms:GenerateDataKey"], service=s)]
        if missing:
            self.details.append(f"key {key.address} does not admit {', '.join(missing)}")
            return FAILED
        return PASSED


check = SnsPublishersKmsKey()
