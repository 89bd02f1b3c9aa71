"""IAM baseline: permissions boundary, CI roles through GitHub OIDC, cross-account audit role, password policy,
force-MFA groups for people, and a helper for least-privilege workload roles.

- **Permissions boundary** ``<prefix>-permissions-boundary``: the ceiling of every role the platform creates for a
  workload. It allows the platform's services on resources of this account only, read-only calls that have no
  resource ARN, and denies tampering with audit and detection (CloudTrail, Config, GuardDuty, Security Hub), with
  the boundary itself, and creating IAM users or access keys. :class:`PermissionsBoundaryAspect` applies it to every
  ``aws_iam_role`` of the stack that has none, except the roles people and CI assume (they are the deployers).
- **CI**: the GitHub Actions OIDC provider (an account singleton: only with ``manage_account_baseline``; otherwise
  the existing provider is referenced by ARN) and two roles whose trusted OIDC subjects come from :func:`ci_subjects`
  (the one rule the workflows are checked against, ``tests/test_ci_identity.py``): ``<prefix>-ci-deploy`` for jobs
  that declare the GitHub environment named like the platform environment (``repo:R:environment:E``), and
  ``<prefix>-ci-plan`` (read-only, plus state read/decrypt and the plan's own run record and lock) for pull requests
  and for push/schedule jobs on the deploy branches (``repo:R:pull_request``, ``repo:R:ref:refs/heads/B``). The
  deploy role may create roles only with the boundary attached.
- **Audit**: ``<prefix>-security-audit``, assumable from the audit account with the external id, AWS managed
  ``SecurityAudit`` and ``ReadOnlyAccess``.
- **People**: the account password policy (singleton) and ``<prefix>-<group>`` groups carrying the force-MFA policy
  (everything but MFA self-service is denied without MFA).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import jsii
from cdktf import IAspect
from cdktf_cdktf_provider_aws.iam_account_password_policy import IamAccountPasswordPolicy
from cdktf_cdktf_provider_aws.iam_group import IamGroup
from cdktf_cdktf_provider_aws.iam_group_policy_attachment import IamGroupPolicyAttachment
from cdktf_cdktf_provider_aws.iam_openid_connect_provider import IamOpenidConnectProvider
from cdktf_cdktf_provider_aws.iam_policy import IamPolicy
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct, IConstruct

from modules.core.base import Context, Module, require

from modules.core.helpers import policy_json, service_role, tags

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
#: Services whose actions the boundary allows on resources of this account (IAM itself is not among them).
BOUNDARY_SERVICES = (
    "acm", "apigateway", "autoscaling", "backup", "cloudfront", "cloudwatch", "dynamodb", "ec2", "ec2messages",
    "elasticache", "elasticloadbalancing", "events", "execute-api", "kms", "lambda", "logs", "rds",
    # rds-db:connect, IAM database authentication (the application instances, through RDS Proxy)
    "rds-db", "route53", "s3", "secretsmanager", "servicediscovery", "sns", "sqs", "ssm", "ssmmessages", "states",
    "sts", "synthetics",
    "wafv2", "xray",
)
#: Calls without a resource ARN (reads, metrics, agent channels) the boundary allows on "*".
BOUNDARY_UNSCOPED_ACTIONS = (
    "autoscaling:Describe*", "cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*",
    "cloudwatch:PutMetricData", "config:Describe*", "config:Get*", "config:List*", "config:BatchGet*",
    "config:Select*", "config:Put*", "ec2:Describe*", "ec2:Get*", "ec2messages:*", "elasticloadbalancing:Describe*",
    "iam:Get*", "iam:List*", "kms:List*", "logs:Describe*", "rds:Describe*", "s3:ListAllMyBuckets",
    "ssmmessages:*", "sts:GetCallerIdentity", "tag:Get*", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
    "xray:GetSampling*",
    # the restore-validation function (modules/data/restore_validation.py): AWS Backup defines no resource type for these
    # (Service Authorization Reference), so they are evaluated against "*"
    "backup:PutRestoreValidationResult", "backup:DescribeRestoreJob",
)
#: What no workload role may ever do, whatever its own policies say.
BOUNDARY_DENIED_ACTIONS = (
    "cloudtrail:DeleteTrail", "cloudtrail:StopLogging", "cloudtrail:UpdateTrail", "cloudtrail:PutEventSelectors",
    "config:DeleteConfigurationRecorder", "config:DeleteDeliveryChannel", "config:StopConfigurationRecorder",
    "guardduty:DeleteDetector", "guardduty:UpdateDetector", "guardduty:DisassociateFromMasterAccount",
    "securityhub:DisableSecurityHub", "securityhub:BatchDisableStandards", "macie2:DisableMacie",
    "inspector2:Disable", "organizations:LeaveOrganization", "iam:CreateUser", "iam:CreateAccessKey",
    "iam:CreateLoginProfile", "iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary",
    "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy",
)


@dataclass(frozen=True)
class IamSettings:
    """Inputs of :class:`Iam`."""

    manage_account_baseline: bool = True
    """Create the account singletons (password policy, GitHub OIDC provider). Default true."""
    github_repository: str | None = None
    """``owner/name`` trusted by the CI roles. Default: none (no CI roles)."""
    deploy_branches: tuple[str, ...] = ("main",)
    """Branches whose push and scheduled jobs may assume the plan role (the deploy role trusts the GitHub
    environment instead; its deployment-branch rule names the same branches). Default ``main``."""
    github_environment: str | None = None
    """GitHub environment whose jobs may assume the deploy role. Required with `github_repository`."""
    run_log_prefix: str | None = None
    """Key prefix of this environment's run records in the state bucket (``runs/<env>/``): the plan role writes
    the record of its plan there. Required with `github_repository`."""
    plan_on_pull_requests: bool = True
    """The read-only plan role for pull requests. Default true (with `github_repository`)."""
    state_bucket: str | None = None
    """Terraform state bucket the CI roles read (plan) and write (deploy). Default: none."""
    lock_table: str | None = None
    """Terraform lock table the CI roles use. Default: none."""
    audit_account_id: str | None = None
    """Account trusted by the audit role. Default: none (no audit role)."""
    audit_external_id: str | None = None
    """External id required from the audit account. Required with `audit_account_id`."""
    human_groups: tuple[str, ...] = ("operators",)
    """Groups for people (force-MFA). Default ``operators``."""
    password_min_length: int = 14
    """Minimum password length. Default 14."""
    password_max_age_days: int = 90
    """Password expiry in days. Default 90."""
    password_reuse_prevention: int = 24
    """Remembered passwords. Default 24."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require((self.audit_account_id is None) == (self.audit_external_id is None),
                "Only both or neither of `audit_account_id` and `audit_external_id` may be set")
        require(self.password_min_length >= 14, "`password_min_length` must be at least 14")
        require(self.github_repository is None or bool(self.deploy_branches),
                "`deploy_branches` must name a branch when `github_repository` is set")
        require(self.github_repository is None or (self.state_bucket is not None and self.lock_table is not None),
                "`state_bucket` and `lock_table` are required when `github_repository` is set")
        require(self.github_repository is None or (bool(self.github_environment) and bool(self.run_log_prefix)),
                "`github_environment` and `run_log_prefix` are required when `github_repository` is set")


#: GitHub's OIDC subject claim (``sub``) by trigger: ``repo:OWNER/REPO:environment:NAME`` for a job that declares
#: an ``environment:``, whatever the event; otherwise ``repo:OWNER/REPO:pull_request`` for pull_request events and
#: ``repo:OWNER/REPO:ref:refs/heads/BRANCH`` for push, schedule and workflow_dispatch (the branch the run is on).
#: https://docs.github.com/en/actions/reference/security/oidc (subject claims);
#: https://docs.github.com/en/actions/how-tos/security-for-github-actions/security-hardening-your-deployments/configuring-openid-connect-in-amazon-web-services
#: AWS evaluates only the standard claims (no custom claims), so ``sub`` and ``aud`` are the conditions:
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html
CI_ROLES = ("deploy", "plan")


def ci_subjects(repository: str, github_environment: str, deploy_branches: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The OIDC subjects each CI role trusts: the single rule roles are built from and workflows are checked
    against (``pipeline/ci_identity.py``)."""
    return {
        "deploy": (f"repo:{repository}:environment:{github_environment}",),
        "plan": (f"repo:{repository}:pull_request",)
        + tuple(f"repo:{repository}:ref:refs/heads/{b}" for b in deploy_branches),
    }


def statements_grant_star_on_star(statements: Iterable[Mapping[str, Any]]) -> bool:
    """True when an Allow statement grants action ``*`` on resource ``*``."""
    def star(v: Any) -> bool:
        return v == "*" or (isinstance(v, list) and "*" in v)

    return any(s.get("Effect") == "Allow" and star(s.get("Action")) and star(s.get("Resource")) for s in statements)


@jsii.implements(IAspect)
class PermissionsBoundaryAspect:
    """Sets ``permissions_boundary`` on every ``IamRole`` of a scope that has none (run at synthesis, so roles
    created after the security module are covered too). ``exempt`` roles (CI, audit) are left alone."""

    def __init__(self, boundary_arn: str, exempt: Iterable[IamRole] = ()) -> None:
        self.boundary_arn = boundary_arn
        self.exempt = {id(r) for r in exempt}

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, IamRole) and id(node) not in self.exempt and node.permissions_boundary_input is None:
            node.permissions_boundary = self.boundary_arn


class Iam(Module):
    """The account's IAM baseline for one environment.

    Public attributes: ``boundary`` (IamPolicy), ``boundary_arn``, ``deploy_role`` / ``plan_role`` / ``audit_role``
    (IamRole or None), ``oidc_provider_arn`` (None without CI), ``force_mfa_policy_arn``, ``groups`` (name ->
    IamGroup), ``exempt_roles`` (roles the boundary aspect must leave alone).
    Helpers: :meth:`workload_role`, :meth:`boundary_aspect`.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: IamSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        prefix, p, acct = ctx.name_prefix, ctx.partition, ctx.account_id
        self._arn_iam = f"arn:{p}:iam::{acct}"
        self.boundary_name = f"{prefix}-permissions-boundary"
        self.boundary_arn_literal = f"{self._arn_iam}:policy/{self.boundary_name}"
        self.boundary = IamPolicy(self, "permissions-boundary", name=self.boundary_name,
                                  description=f"{prefix}: ceiling of every workload role the platform creates",
                                  policy=policy_json(*self._boundary_statements()),
                                  tags=tags(ctx, self.boundary_name, settings.extra_tags))
        self.boundary_arn: str = self.boundary.arn
        self.exempt_roles: list[IamRole] = []

        if settings.manage_account_baseline:
            IamAccountPasswordPolicy(
                self, "password-policy", minimum_password_length=settings.password_min_length,
                require_lowercase_characters=True, require_uppercase_characters=True, require_numbers=True,
                require_symbols=True, allow_users_to_change_password=True,
                max_password_age=settings.password_max_age_days,
                password_reuse_prevention=settings.password_reuse_prevention, hard_expiry=False)

        self.force_mfa_policy = IamPolicy(self, "force-mfa", name=f"{prefix}-force-mfa",
                                          description="Deny everything except MFA self-service without MFA",
                                          policy=policy_json(*self._force_mfa_statements()),
                                          tags=tags(ctx, f"{prefix}-force-mfa", settings.extra_tags))
        self.force_mfa_policy_arn: str = self.force_mfa_policy.arn
        self.groups: dict[str, IamGroup] = {}
        for group in settings.human_groups:
            g = IamGroup(self, f"group-{group}", name=f"{prefix}-{group}", path="/people/")
            IamGroupPolicyAttachment(self, f"group-{group}-force-mfa", group=g.name,
                                     policy_arn=self.force_mfa_policy.arn)
            self.groups[group] = g

        self.oidc_provider_arn: str | None = None
        self.deploy_role: IamRole | None = None
        self.plan_role: IamRole | None = None
        if settings.github_repository:
            self._ci(settings.github_repository)
        self.audit_role: IamRole | None = None
        if settings.audit_account_id:
            self._audit(settings.audit_account_id, settings.audit_external_id or "")

    # -- helpers for others --------------------------------------------------------------------------------------
    def workload_role(self, scope: Construct, id_: str, *, name: str, service: str,
                      statements: list[dict[str, Any]], managed_policy_arns: Iterable[str] = ()) -> IamRole:
        """A role for one AWS service acting for this account, with the boundary and one inline policy.

        Rejects (``ModuleSettingsError``) a statement that allows ``*`` on ``*``."""
        require(not statements_grant_star_on_star(statements),
                f"role {name}: a statement allows action * on resource *; name the actions and resources")
        role = service_role(scope, id_, self.ctx, name=name, service=service, extra_tags=self.settings.extra_tags,
                            permissions_boundary=self.boundary.arn)
        if statements:
            IamRolePolicy(scope, f"{id_}-policy", name=f"{name}-policy", role=role.id,
                          policy=policy_json(*statements))
        for i, arn in enumerate(managed_policy_arns):
            IamRolePolicyAttachment(scope, f"{id_}-managed-{i}", role=role.name, policy_arn=arn)
        return role

    def boundary_aspect(self) -> PermissionsBoundaryAspect:
        """The aspect that puts the boundary on every other role of the stack (see the module docstring)."""
        return PermissionsBoundaryAspect(self.boundary.arn, self.exempt_roles)

    # -- internals -----------------------------------------------------------------------------------------------
    def _boundary_statements(self) -> list[dict[str, Any]]:
        p, acct, prefix = self.ctx.partition, self.ctx.account_id, self.ctx.name_prefix
        return [
            {
                "Sid": "PlatformServicesInThisAccount",
                "Effect": "Allow",
                "Action": [f"{s}:*" for s in BOUNDARY_SERVICES],
                "Resource": [f"arn:{p}:*:*:{acct}:*", f"arn:{p}:s3:::*", f"arn:{p}:route53:::*",
                             f"arn:{p}:ec2:*::image/*", f"arn:{p}:ec2:*::snapshot/*",
                             f"arn:{p}:ssm:*::parameter/aws/*"],
            },
            {
                "Sid": "CallsWithoutResourceArn",
                "Effect": "Allow",
                "Action": list(BOUNDARY_UNSCOPED_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "PassPlatformRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"{self._arn_iam}:role/{prefix}-*",
            },
            {
                "Sid": "ProtectAuditDetectionAndBoundary",
                "Effect": "Deny",
                "Action": list(BOUNDARY_DENIED_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "BoundaryIsImmutable",
                "Effect": "Deny",
                "Action": ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                           "iam:SetDefaultPolicyVersion"],
                "Resource": self.boundary_arn_literal,
            },
        ]

    def _force_mfa_statements(self) -> list[dict[str, Any]]:
        # "$${" is Terraform's escape for a literal "${": IAM resolves the policy variable, not Terraform.
        user = f"{self._arn_iam}:user/$${{aws:username}}"
        mfa = f"{self._arn_iam}:mfa/$${{aws:username}}"
        return [
            {"Sid": "ListAccountMfaState", "Effect": "Allow",
             "Action": ["iam:ListVirtualMFADevices", "iam:GetAccountPasswordPolicy"], "Resource": "*"},
            {"Sid": "ManageOwnMfaAndPassword", "Effect": "Allow",
             "Action": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:ResyncMFADevice",
                        "iam:ListMFADevices", "iam:GetUser", "iam:ChangePassword", "iam:GetLoginProfile"],
             "Resource": [user, mfa]},
            {"Sid": "DeactivateOwnMfaOnlyWithMfa", "Effect": "Allow",
             "Action": ["iam:DeactivateMFADevice", "iam:DeleteVirtualMFADevice"], "Resource": [user, mfa],
             "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
            {"Sid": "DenyAllExceptMfaSetupWithoutMfa", "Effect": "Deny",
             "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices",
                           "iam:ListVirtualMFADevices", "iam:ResyncMFADevice", "iam:ChangePassword",
                           "iam:GetAccountPasswordPolicy", "iam:GetLoginProfile", "sts:GetSessionToken"],
             "Resource": "*",
             "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
        ]

    def _ci(self, repository: str) -> None:
        ctx, s = self.ctx, self.settings
        prefix, p = ctx.name_prefix, ctx.partition
        if s.manage_account_baseline:
            provider = IamOpenidConnectProvider(
                self, "github-oidc", url=f"https://{GITHUB_OIDC_HOST}", client_id_list=["sts.amazonaws.com"],
                tags=tags(ctx, f"{prefix}-github-oidc", s.extra_tags))
            self.oidc_provider_arn = provider.arn
        else:  # the environment that manages the account baseline created it
            self.oidc_provider_arn = f"{self._arn_iam}:oidc-provider/{GITHUB_OIDC_HOST}"

        def trust(subjects: list[str]) -> str:
            return policy_json({
                "Effect": "Allow",
                "Principal": {"Federated": self.oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                # exact subjects (StringEquals, no wildcard): only the jobs ci_subjects describes
                "Condition": {"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                                               f"{GITHUB_OIDC_HOST}:sub": subjects}},
            })

        subjects = ci_subjects(repository, s.github_environment or "", s.deploy_branches)

        state = [f"arn:{p}:s3:::{s.state_bucket}", f"arn:{p}:s3:::{s.state_bucket}/*"]
        lock = f"arn:{p}:dynamodb:{ctx.region}:{ctx.account_id}:table/{s.lock_table}"
        self.deploy_role = IamRole(
            self, "ci-deploy", name=f"{prefix}-ci-deploy", max_session_duration=3600,
            description=f"GitHub Actions of {repository} (environment {s.github_environment}) deploying {prefix}",
            assume_role_policy=trust(list(subjects["deploy"])),
            tags=tags(ctx, f"{prefix}-ci-deploy", s.extra_tags))
        IamRolePolicyAttachment(self, "ci-deploy-power-user", role=self.deploy_role.name,
                                policy_arn=f"arn:{p}:iam::aws:policy/PowerUserAccess")
        roles = f"{self._arn_iam}:role/{prefix}-*"
        IamRolePolicy(self, "ci-deploy-iam", name="platform-iam-with-boundary", role=self.deploy_role.id,
                      policy=policy_json(
                          {"Sid": "CreateRolesOnlyWithTheBoundary", "Effect": "Allow",
                           "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary"], "Resource": roles,
                           "Condition": {"StringEquals": {"iam:PermissionsBoundary": self.boundary_arn_literal}}},
                          {"Sid": "ManagePlatformRoles", "Effect": "Allow",
                           "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePolicy",
                                      "iam:DeleteRolePolicy", "iam:DeleteRole", "iam:TagRole", "iam:UntagRole",
                                      "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:PassRole",
                                      "iam:CreateServiceLinkedRole"],
                           "Resource": roles},
                          {"Sid": "ManagePlatformPoliciesAndProfiles", "Effect": "Allow",
                           "Action": ["iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy",
                                      "iam:DeletePolicyVersion", "iam:TagPolicy", "iam:CreateInstanceProfile",
                                      "iam:DeleteInstanceProfile", "iam:AddRoleToInstanceProfile",
                                      "iam:RemoveRoleFromInstanceProfile", "iam:TagInstanceProfile"],
                           "Resource": [f"{self._arn_iam}:policy/{prefix}-*",
                                        f"{self._arn_iam}:instance-profile/{prefix}-*"]},
                          # Measured (pipeline/least_privilege.py, tests/test_least_privilege.py): refreshing the
                          # state of the platform's IAM resources reads them; PowerUserAccess grants no iam: reads.
                          {"Sid": "ReadPlatformIam", "Effect": "Allow",
                           "Action": ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies",
                                      "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
                                      "iam:ListRoleTags", "iam:GetInstanceProfile", "iam:GetPolicy",
                                      "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:ListPolicyTags"],
                           "Resource": [roles, f"{self._arn_iam}:policy/{prefix}-*",
                                        f"{self._arn_iam}:instance-profile/{prefix}-*",
                                        f"arn:{p}:iam::aws:policy/*"]},
                          {"Sid": "AccountBaselineGroupsOidcPasswordPolicy", "Effect": "Allow",
                           "Action": ["iam:CreateGroup", "iam:GetGroup", "iam:DeleteGroup", "iam:AttachGroupPolicy",
                                      "iam:DetachGroupPolicy", "iam:ListAttachedGroupPolicies",
                                      "iam:ListGroupPolicies", "iam:CreateOpenIDConnectProvider",
                                      "iam:GetOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider",
                                      "iam:TagOpenIDConnectProvider", "iam:UntagOpenIDConnectProvider",
                                      "iam:UpdateOpenIDConnectProviderThumbprint",
                                      "iam:AddClientIDToOpenIDConnectProvider",
                                      "iam:RemoveClientIDFromOpenIDConnectProvider"],
                           "Resource": [f"{self._arn_iam}:group/people/{prefix}-*",
                                        f"{self._arn_iam}:oidc-provider/{GITHUB_OIDC_HOST}"]},
                          {"Sid": "AccountPasswordPolicy", "Effect": "Allow",
                           "Action": ["iam:GetAccountPasswordPolicy", "iam:UpdateAccountPasswordPolicy",
                                      "iam:DeleteAccountPasswordPolicy"],
                           "Resource": "*"},
                          {"Sid": "NeverRemoveTheBoundary", "Effect": "Deny",
                           "Action": "iam:DeleteRolePermissionsBoundary", "Resource": "*"},
                      ))
        self.exempt_roles.append(self.deploy_role)
        if s.plan_on_pull_requests:
            self.plan_role = IamRole(
                self, "ci-plan", name=f"{prefix}-ci-plan", max_session_duration=3600,
                description=f"GitHub Actions of {repository} (pull requests, {', '.join(s.deploy_branches)}): "
                            f"read-only plan of {prefix}",
                assume_role_policy=trust(list(subjects["plan"])),
                tags=tags(ctx, f"{prefix}-ci-plan", s.extra_tags))
            IamRolePolicyAttachment(self, "ci-plan-read-only", role=self.plan_role.name,
                                    policy_arn=f"arn:{p}:iam::aws:policy/ReadOnlyAccess")
            IamRolePolicy(self, "ci-plan-state", name="terraform-state-lock", role=self.plan_role.id,
                          policy=policy_json(
                              {"Sid": "ReadState", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                               "Resource": state},
                              {"Sid": "Lock", "Effect": "Allow",
                               "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
                               "Resource": lock},
                              {"Sid": "LockFile", "Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
                               "Resource": f"arn:{p}:s3:::{s.state_bucket}/*.tflock"},
                              {"Sid": "RecordThePlanRun", "Effect": "Allow", "Action": "s3:PutObject",
                               "Resource": f"arn:{p}:s3:::{s.state_bucket}/{s.run_log_prefix}*"},
                              # The state bucket is SSE-KMS with the bootstrap's key (pipeline/bootstrap.py): reading
                              # an object needs kms:Decrypt, writing one (lock file, run record) kms:GenerateDataKey,
                              # both only through S3 in this region.
                              # https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
                              # https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
                              {"Sid": "StateKeyThroughS3", "Effect": "Allow",
                               "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                               "Resource": f"arn:{p}:kms:{ctx.region}:{ctx.account_id}:key/*",
                               "Condition": {"StringEquals": {"kms:ViaService": f"s3.{ctx.region}.amazonaws.com"}}},
                          ))
            self.exempt_roles.append(self.plan_role)

    def _audit(self, account_id: str, external_id: str) -> None:
        ctx, s = self.ctx, self.settings
        prefix, p = ctx.name_prefix, ctx.partition
        self.audit_role = IamRole(
            self, "security-audit", name=f"{prefix}-security-audit", max_session_duration=3600,
            description=f"Read-only security audit of {prefix} from account {account_id}",
            assume_role_policy=policy_json({
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{p}:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }),
            tags=tags(ctx, f"{prefix}-security-audit", s.extra_tags))
        for i, managed in enumerate(("SecurityAudit", "ReadOnlyAccess")):
            IamRolePolicyAttachment(self, f"security-audit-{i}", role=self.audit_role.name,
                                    policy_arn=f"arn:{p}:iam::aws:policy/{managed}")
        self.exempt_roles.append(self.audit_role)
