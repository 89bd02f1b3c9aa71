"""PLAT_AWS_018: an SSM Automation runbook that isolates or stops EC2 instances (security group swap through
``ModifyInstanceAttribute``/``ModifyNetworkInterfaceAttribute``, ``StopInstances``, ``aws:changeInstanceState``) in a
configuration with Auto Scaling groups first takes the instance out of its group's control
(``EnterStandby``/``DetachInstances``, or ``SuspendProcesses`` of health checks and replacement). Otherwise the
group's health check fails the quarantined instance and Auto Scaling terminates it, destroying the evidence."""
import json

from compliance.awsrules import node
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, is_unknown

ISOLATING = ("modifyinstanceattribute", "modifynetworkinterfaceattribute", "stopinstances", "aws:changeinstancestate")
RELEASING = ("enterstandby", "enter_standby", "detachinstances", "detach_instances", "suspendprocesses",
             "suspend_processes")


def _step_text(step):
    return json.dumps(step).lower()


class ContainmentLeavesAutoScaling(PlatformCheck):
    ID = "PLAT_AWS_018"
    NAME = "Containment runbooks take an instance out of its Auto Scaling group before isolating it"
    RESOURCES = ("aws_ssm_document",)
    CATEGORY = CheckCategories.GENERAL_SECURITY
    GUIDELINE = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-enter-exit-standby.html"

    def evaluate(self, attrs, ctx):
        if attrs.get("document_type") != "Automation":
            return PASSED
        content = attrs.get("content")
        if is_unknown(content) or not isinstance(content, str):
            return UNKNOWN_RESULT
        try:
            doc = json.loads(content)
        except ValueError:
            return UNKNOWN_RESULT  # YAML runbooks are not read
        steps = doc.get("mainSteps") if isinstance(doc, dict) else None
        if not isinstance(steps, list):
            return PASSED
        n = node(ctx)
        if n is None:
            return UNKNOWN_RESULT
        if not n.all("aws_autoscaling_group"):
            return PASSED
        released = False
        for step in steps:
            text = _step_text(step)
            if any(k in text for k in RELEASING):
                released = True
            elif any(k in text for k in ISOLATING) and not released:
                self.details.append(f"step {step.get('name') if isinstance(step, dict) else '?'} isolates first")
                return FAILED
        return PASSED


check = ContainmentLeavesAutoScaling()
