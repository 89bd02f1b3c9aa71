"""Incident response: findings routed by severity, an EC2 containment automation, and links to the playbooks.

- EventBridge rules send GuardDuty findings with severity >= `critical_severity` (and Security Hub findings labelled
  CRITICAL/HIGH) to the critical topic (pages), GuardDuty findings from 4.0 (and Security Hub MEDIUM) to the notify
  topic. Each message names the finding and links the playbook (``<playbooks_url>/<playbook>.md``).
- ``<prefix>-contain-ec2-instance``: an SSM Automation document that tags the instance, puts it in Standby in its
  Auto Scaling group (so the group neither health-checks nor terminates it; a replacement is launched), moves it
  into the quarantine security group (no ingress, no egress) and snapshots its EBS volumes, run with a role that may
  do only that. With
  `auto_contain`, critical GuardDuty EC2 findings start it automatically.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.ssm_document import SsmDocument
from constructs import Construct

from modules.core.base import Context, Module, require

from modules.core.helpers import policy_json, security_group, service_role, tags

#: Playbook file (docs/playbooks/<name>.md) per kind of event.
PLAYBOOKS = {
    "guardduty": "guardduty-finding",
    "securityhub": "security-hub-finding",
    "ec2": "compromised-ec2-instance",
}

SNAPSHOT_SCRIPT = '''import boto3


def snapshot_volumes(events, context):
    ec2 = boto3.client("ec2")
    instance_id = events["InstanceId"]
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    volumes = [m["Ebs"]["VolumeId"] for r in reservations for i in r["Instances"]
               for m in i.get("BlockDeviceMappings", []) if "Ebs" in m]
    snapshots = []
    for volume in volumes:
        snap = ec2.create_snapshot(
            VolumeId=volume, Description=f"forensic snapshot of {volume} ({instance_id})",
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": [
                {"Key": "SecurityStatus", "Value": "forensic"}, {"Key": "SourceInstance", "Value": instance_id}]}])
        snapshots.append(snap["SnapshotId"])
    return {"SnapshotIds": snapshots}
'''


#: First containment step: take the instance out of its Auto Scaling group's control. Otherwise the group's health
#: check fails the quarantined instance (no traffic reaches it) and Auto Scaling terminates it, destroying the
#: evidence. Standby keeps it in the group without health checks or replacement-by-termination; the load balancer
#: deregisters it and the group launches a replacement (desired capacity kept). PLAT_AWS_018;
#: https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-enter-exit-standby.html
LEAVE_ASG_SCRIPT = '''import boto3


def leave_auto_scaling_group(events, context):
    autoscaling = boto3.client("autoscaling")
    instance_id = events["InstanceId"]
    found = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"]
    if not found:
        return {"AutoScalingGroup": ""}
    group = found[0]["AutoScalingGroupName"]
    if found[0]["LifecycleState"] == "InService":
        autoscaling.enter_standby(InstanceIds=[instance_id], AutoScalingGroupName=group,
                                  ShouldDecrementDesiredCapacity=False)
    return {"AutoScalingGroup": group}
'''


@dataclass(frozen=True)
class IncidentResponseSettings:
    """Inputs of :class:`IncidentResponse`."""

    vpc_id: str
    """VPC of the quarantine security group. Required."""
    critical_topic_arn: str
    """SNS topic that pages (critical). Required."""
    notify_topic_arn: str
    """SNS topic that notifies (non-critical). Required."""
    playbooks_url: str = "docs/playbooks"
    """Base of the playbook links. Default: the repository path ``docs/playbooks``."""
    critical_severity: float = 7.0
    """GuardDuty severity from which a finding pages. Default 7.0."""
    route_security_hub: bool = True
    """Route Security Hub findings too. Default true."""
    auto_contain: bool = False
    """Start the containment automation on critical GuardDuty EC2 findings. Default false."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(4.0 < self.critical_severity <= 8.9,
                f"`critical_severity` must be above 4.0 and at most 8.9, got {self.critical_severity}")

    def playbook(self, kind: str) -> str:
        return f"{self.playbooks_url.rstrip('/')}/{PLAYBOOKS[kind]}.md"


class IncidentResponse(Module):
    """Routing, containment and playbook links.

    Public attributes: ``rules`` (name -> CloudwatchEventRule), ``quarantine_security_group_id``,
    ``containment_document_name``, ``containment_document_arn``, ``automation_role_arn``, ``playbook_urls``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: IncidentResponseSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        s, prefix = settings, ctx.name_prefix
        self.rules: dict[str, CloudwatchEventRule] = {}
        self.playbook_urls = {kind: s.playbook(kind) for kind in PLAYBOOKS}

        # -- routing by severity -------------------------------------------------------------------------------------
        high = s.critical_severity
        self._route("guardduty-critical", "GuardDuty findings that page", s.critical_topic_arn, "guardduty", {
            "source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"],
            "detail": {"severity": [{"numeric": [">=", high]}]}})
        self._route("guardduty-notify", "GuardDuty findings that notify", s.notify_topic_arn, "guardduty", {
            "source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"],
            "detail": {"severity": [{"numeric": [">=", 4, "<", high]}]}})
        if s.route_security_hub:
            for name, labels, topic in (("securityhub-critical", ["CRITICAL", "HIGH"], s.critical_topic_arn),
                                        ("securityhub-notify", ["MEDIUM"], s.notify_topic_arn)):
                self._route(name, f"Security Hub {'/'.join(labels)} findings", topic, "securityhub", {
                    "source": ["aws.securityhub"], "detail-type": ["Security Hub Findings - Imported"],
                    "detail": {"findings": {"Severity": {"Label": labels}, "Workflow": {"Status": ["NEW"]},
                                            "RecordState": ["ACTIVE"]}}})

        # -- containment -----------------------------------------------------------------------------------------
        sg = security_group(self, "quarantine-sg", ctx, name=f"{prefix}-quarantine", vpc_id=s.vpc_id,
                            description="Quarantine: no inbound, no outbound (incident response isolation)",
                            ingress=[], egress=[], revoke_rules_on_delete=True,
                            extra_tags={**s.extra_tags, "Playbook": s.playbook("ec2")})
        self.quarantine_security_group_id: str = sg.id
        self.containment_document_name = f"{prefix}-contain-ec2-instance"
        role = service_role(self, "automation-role", ctx, name=f"{prefix}-ir-containment",
                            service="ssm.amazonaws.com", extra_tags=s.extra_tags,
                            description="SSM Automation: isolate and snapshot a compromised EC2 instance")
        arn = f"arn:{ctx.partition}:ec2:{ctx.region}:{ctx.account_id}"
        IamRolePolicy(self, "automation-policy", name="contain-ec2-instance", role=role.id, policy=policy_json(
            {"Sid": "Inspect", "Effect": "Allow",
             "Action": ["ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeSnapshots"], "Resource": "*"},
            {"Sid": "FindAutoScalingGroup", "Effect": "Allow", "Action": "autoscaling:DescribeAutoScalingInstances",
             "Resource": "*"},
            {"Sid": "LeaveAutoScalingGroup", "Effect": "Allow", "Action": "autoscaling:EnterStandby",
             "Resource": f"arn:{ctx.partition}:autoscaling:{ctx.region}:{ctx.account_id}:autoScalingGroup:*:"
                         f"autoScalingGroupName/{prefix}-*"},
            {"Sid": "Isolate", "Effect": "Allow", "Action": "ec2:ModifyInstanceAttribute",
             "Resource": [f"{arn}:instance/*", f"{arn}:security-group/{sg.id}"]},
            {"Sid": "Snapshot", "Effect": "Allow", "Action": "ec2:CreateSnapshot",
             "Resource": [f"{arn}:volume/*", f"arn:{ctx.partition}:ec2:{ctx.region}::snapshot/*"]},
            {"Sid": "Tag", "Effect": "Allow", "Action": "ec2:CreateTags",
             "Resource": [f"{arn}:instance/*", f"arn:{ctx.partition}:ec2:{ctx.region}::snapshot/*"]},
        ))
        self.automation_role_arn: str = role.arn
        doc = SsmDocument(self, "containment-document", name=self.containment_document_name,
                          document_type="Automation", document_format="JSON",
                          content=json.dumps(self._automation(sg.id, role.arn), indent=None),
                          tags=tags(ctx, self.containment_document_name,
                                    {**s.extra_tags, "Playbook": s.playbook("ec2")}))
        self.containment_document_arn: str = doc.arn
        if s.auto_contain:
            self._auto_contain(role.arn)

    # -- internals -----------------------------------------------------------------------------------------------
    def _route(self, name: str, what: str, topic_arn: str, kind: str, pattern: dict[str, Any]) -> None:
        ctx, s = self.ctx, self.settings
        playbook = s.playbook(kind)
        rule = CloudwatchEventRule(self, f"rule-{name}", name=f"{ctx.name_prefix}-{name}",
                                   description=f"{what}; playbook: {playbook}"[:512],
                                   event_pattern=json.dumps(pattern),
                                   tags=tags(ctx, f"{ctx.name_prefix}-{name}", {**s.extra_tags, "Playbook": playbook}))
        self.rules[name] = rule
        if kind == "guardduty":
            paths = {"severity": "$.detail.severity", "type": "$.detail.type", "account": "$.account",
                     "region": "$.region", "id": "$.detail.id", "title": "$.detail.title"}
            template = (f'"GuardDuty finding <type> (severity <severity>) in account <account>, region <region>: '
                        f'<title>. Finding id <id>. Playbook: {playbook}"')
        else:
            paths = {"severity": "$.detail.findings[0].Severity.Label", "title": "$.detail.findings[0].Title",
                     "account": "$.detail.findings[0].AwsAccountId", "region": "$.region",
                     "id": "$.detail.findings[0].Id"}
            template = (f'"Security Hub <severity> finding in account <account>, region <region>: <title>. '
                        f'Finding id <id>. Playbook: {playbook}"')
        CloudwatchEventTarget(self, f"rule-{name}-target", rule=rule.name, target_id="sns", arn=topic_arn,
                              input_transformer={"input_paths": paths, "input_template": template})

    def _automation(self, quarantine_sg_id: str, role_arn: str) -> dict[str, Any]:
        return {
            "schemaVersion": "0.3",
            "description": f"Contain a compromised EC2 instance: tag it, put it in Standby in its Auto Scaling "
                           f"group, move it into the quarantine security group, snapshot its volumes. Playbook: {self.settings.playbook('ec2')}",
            "assumeRole": "{{ AutomationAssumeRole }}",
            "parameters": {
                "InstanceId": {"type": "String", "description": "The instance to contain"},
                "AutomationAssumeRole": {"type": "String", "default": role_arn,
                                         "description": "Role the automation runs as"},
                "QuarantineSecurityGroupId": {"type": "String", "default": quarantine_sg_id,
                                              "description": "Security group without rules"},
            },
            "mainSteps": [
                {"name": "TagInstance", "action": "aws:createTags", "inputs": {
                    "ResourceType": "EC2", "ResourceIds": ["{{ InstanceId }}"],
                    "Tags": [{"Key": "SecurityStatus", "Value": "quarantined"}]}},
                {"name": "LeaveAutoScalingGroup", "action": "aws:executeScript", "inputs": {
                    "Runtime": "python3.11", "Handler": "leave_auto_scaling_group", "Script": LEAVE_ASG_SCRIPT,
                    "InputPayload": {"InstanceId": "{{ InstanceId }}"}},
                 "outputs": [{"Name": "AutoScalingGroup", "Selector": "$.Payload.AutoScalingGroup",
                              "Type": "String"}]},
                {"name": "IsolateInstance", "action": "aws:executeAwsApi", "inputs": {
                    "Service": "ec2", "Api": "ModifyInstanceAttribute", "InstanceId": "{{ InstanceId }}",
                    "Groups": ["{{ QuarantineSecurityGroupId }}"]}},
                {"name": "SnapshotVolumes", "action": "aws:executeScript", "inputs": {
                    "Runtime": "python3.11", "Handler": "snapshot_volumes", "Script": SNAPSHOT_SCRIPT,
                    "InputPayload": {"InstanceId": "{{ InstanceId }}"}},
                 "outputs": [{"Name": "SnapshotIds", "Selector": "$.Payload.SnapshotIds", "Type": "StringList"}]},
            ],
            "outputs": ["SnapshotVolumes.SnapshotIds"],
        }

    def _auto_contain(self, automation_role_arn: str) -> None:
        ctx, s = self.ctx, self.settings
        prefix = ctx.name_prefix
        definition = (f"arn:{ctx.partition}:ssm:{ctx.region}:{ctx.account_id}:automation-definition/"
                      f"{self.containment_document_name}")
        rule = CloudwatchEventRule(
            self, "rule-auto-contain", name=f"{prefix}-auto-contain-ec2",
            description=f"Critical GuardDuty EC2 findings start the containment automation; playbook: "
                        f"{s.playbook('ec2')}",
            event_pattern=json.dumps({"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"],
                                      "detail": {"severity": [{"numeric": [">=", s.critical_severity]}],
                                                 "resource": {"resourceType": ["Instance"]}}}),
            tags=tags(ctx, f"{prefix}-auto-contain-ec2", s.extra_tags))
        self.rules["auto-contain"] = rule
        events_role = service_role(self, "auto-contain-role", ctx, name=f"{prefix}-ir-start-containment",
                                   service="events.amazonaws.com", extra_tags=s.extra_tags)
        IamRolePolicy(self, "auto-contain-policy", name="start-containment", role=events_role.id, policy=policy_json(
            {"Effect": "Allow", "Action": "ssm:StartAutomationExecution", "Resource": f"{definition}:*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": automation_role_arn,
             "Condition": {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}},
        ))
        CloudwatchEventTarget(self, "rule-auto-contain-target", rule=rule.name, target_id="containment",
                              arn=f"{definition}:$DEFAULT", role_arn=events_role.arn, input_transformer={
                                  "input_paths": {"instance": "$.detail.resource.instanceDetails.instanceId"},
                                  "input_template": '{"InstanceId": ["<instance>"]}'})
