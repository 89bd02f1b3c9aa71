"""PLAT_AWS_007: an Auto Scaling group launching instances whose EBS volumes are encrypted with a customer-managed
key: the Auto Scaling service-linked role (``AWSServiceRoleForAutoScaling``, or the group's
``service_linked_role_arn``) may use the key — named in the key policy (use + CreateGrant) or by a KMS grant.
Its managed policy covers AWS-managed keys only; otherwise every launch fails (Client.InternalError)."""
from compliance.awsrules import allows, key_grants, key_of, key_statements, literal, node, service_linked_role
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list, combine

DEFAULT_ROLE = service_linked_role("autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling")
USE = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey")
GRANT_OPS = {"Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant"}


def _grants_role(key, role_suffix):
    for g in key_grants(key):
        grantee = g.attrs.get("grantee_principal")
        if not isinstance(grantee, str) or not grantee.endswith(role_suffix.rsplit("/", 1)[-1]):
            continue
        ops = set(as_list(g.attrs.get("operations")))
        if GRANT_OPS <= ops or "GenerateDataKey" in ops and {"Decrypt", "CreateGrant"} <= ops:
            return True
    return False


class AutoScalingEbsKmsKey(PlatformCheck):
    ID = "PLAT_AWS_007"
    NAME = "Auto Scaling with CMK-encrypted EBS: the key admits the Auto Scaling service-linked role"
    RESOURCES = ("aws_autoscaling_group",)
    CATEGORY = CheckCategories.ENCRYPTION
    GUIDELINE = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html"

    def evaluate(self, attrs, ctx):
        n = node(ctx)
        if n is None:
            return UNKNOWN_RESULT
        role = DEFAULT_ROLE
        custom = literal(attrs.get("service_linked_role_arn"))
        if custom:
            role = ":role/" + custom.split(":role/", 1)[-1]
        templates = n.refs("launch_template", rtype="aws_launch_template") + \
            n.refs("mixed_instances_policy", rtype="aws_launch_template")
        results = []
        for lt in {t.address: t for t in templates}.values():
            for i, bdm in enumerate(as_list(lt.attrs.get("block_device_mappings"))):
                if not isinstance(bdm, dict):
                    continue
                kind, key = key_of(lt, "block_device_mappings", i, "ebs", "kms_key_id")
                if kind in ("none", "aws-managed"):
                    results.append(PASSED)
                    continue
                if kind != "cmk":
                    results.append(UNKNOWN_RESULT)
                    continue
                st = key_statements(key)
                if _grants_role(key, role):
                    results.append(PASSED)
                elif st is None:
                    results.append(UNKNOWN_RESULT)
                elif allows(st, actions=USE, aws_suffix=role) and allows(st, actions=["kms:CreateGrant"],
                                                                          aws_suffix=role):
                    results.append(PASSED)
                else:
                    self.details.append(f"{lt.address}: key {key.address}")
                    results.append(FAILED)
        return combine(results) if results else PASSED


check = AutoScalingEbsKmsKey()
