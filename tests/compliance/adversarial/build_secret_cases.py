"""Writes the ``secret-*`` cases of the adversarial corpus (``cases/secret-*/plan.json`` + ``expect.toml``).

Not a test: the cases are committed; rerun this after changing a case here (``python -m
tests.compliance.adversarial.build_secret_cases``).  Each plan has the shape ``terraform show -json`` writes (format
1.2: ``planned_values``, ``resource_changes`` with ``after``/``after_unknown``/``after_sensitive``,
``configuration``), with a secret hidden the way a careless (or hostile) change would: under a credential name, in
environment variables, ECS container definitions (JSON in a string), container commands, tags, base64 user data,
URL-encoded, inside policy documents, in values Terraform marks sensitive.  Every secret is listed in
``never_print``: no output of ``check`` (all formats), ``review`` (markdown, JSON) or the orchestrator's review may
contain it, nor its base64 or URL-encoded form.

The secret values are made up for these tests (none is a real credential).
"""
from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path

CASES = Path(__file__).resolve().parent / "cases"
TAGS = {"Environment": "test", "Project": "platform", "Owner": "platform-team", "CostCenter": "cc-1234",
        "ManagedBy": "terraform"}
PROVIDER = "registry.terraform.io/hashicorp/aws"

# made-up secrets, one per case (distinct, so a leak names its case)
DB_PASSWORD = "Corpus-Db-Pa55word-7f3a"
LAMBDA_SECRET = "lambda-Token-9Qx2-Zk81"
AWS_KEY_ID = "AKIAZ7CORPUSEXAMPLE2"
AWS_SECRET = "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"
ECS_PASSWORD = "ecs-P4ssw0rd-In-Env-31"
ECS_CMD_KEY = "cmdApiKey-5Jk2-LmN8pQ"
ECS_ENTRY_TOKEN = "EntryTok-88aZ-qq71-Pw"
USERDATA_PASSWORD = "Userdata-Secr3t-44Lq"
INSTANCE_PASSWORD = "Pl41n-Userdata-Pass-09"
TAG_PASSWORD = "Tag-Passw0rd-Zz-7731"
GITHUB_TOKEN = "ghp_Corpus0Token1For2Tests3Only4abcdEFGH"
URL_PASSWORD = "UrlCr3ds-Hx81-LmQ"
URLENC_PASSWORD = "Enc0ded-Url-Pw-5521"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjb3JwdXMtdGVzdCIsImlhdCI6MTcwMDAwMDAwMH0."
       "Qm9ndXNTaWduYXR1cmVGb3JDb3JwdXNUZXN0cw")
PEM_BODY = ("MIIEowIBAAKCAQEAcorpusTESTkeyNOTrealAAAAB3NzaC1yc2EAAAADAQABAAABAQCx7Qk9Lm2Pq8Rs4Tu6Vw1Xy3Za5"
            "Bc7De9Fg0Hi2Jk4Lm6No8Pq0Rs2Tu4Vw6Xy8Za0Bc2De4Fg6Hi8Jk0Lm2No4Pq6Rs8Tu0Vw2Xy4Za6Bc8De0Fg2")
PRIVATE_KEY = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----\n"
SENSITIVE_VALUE = "correct horse battery staple corpus"
OLD_PASSWORD = "Old-Rotated-Pw-1122"
NEW_PASSWORD = "New-Rotated-Pw-3344"
VAR_PASSWORD = "FromSensitiveVar-6677"
POLICY_TOKEN = "ghp_PolicyCondition0Token1XyZ2abc3DEF4"
BASIC_CREDS = "svcuser:B4sicAuth-Corpus-99"
CURL_PASSWORD = "CurlPass-Corpus-8812"
SLACK_HOOK = "https://hooks.slack.com/services/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"
HEX_KEY_SECRET = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def res(rtype: str, name: str, values: dict, *, sensitive: dict | None = None, before: dict | None = None,
        before_sensitive: dict | None = None, taggable: bool = True, actions: list[str] | None = None) -> dict:
    return {"type": rtype, "name": name, "values": values, "sensitive": sensitive or {}, "before": before,
            "before_sensitive": before_sensitive or {}, "taggable": taggable, "actions": actions or ["create"]}


def plan(*resources: dict, variables: dict | None = None, sensitive_vars: tuple[str, ...] = (),
         outputs: dict | None = None) -> dict:
    rcs, pvs, cfg = [], [], []
    for r in resources:
        after = dict(r["values"])
        exprs = {k: {"constant_value": v} for k, v in after.items()}
        if r["taggable"]:
            after.setdefault("tags", dict(TAGS))
            after["tags_all"] = {**TAGS, **after["tags"]}
            exprs.setdefault("tags", {"constant_value": after["tags"]})
        addr = f"{r['type']}.{r['name']}"
        rcs.append({"address": addr, "mode": "managed", "type": r["type"], "name": r["name"], "provider_name": PROVIDER,
                    "change": {"actions": r["actions"], "before": r["before"], "after": after,
                               "after_unknown": {"id": True, "arn": True},
                               "before_sensitive": r["before_sensitive"] if r["before"] is not None else False,
                               "after_sensitive": r["sensitive"]}})
        pvs.append({"address": addr, "mode": "managed", "type": r["type"], "name": r["name"],
                    "provider_name": PROVIDER, "schema_version": 0, "values": after,
                    "sensitive_values": r["sensitive"]})
        cfg.append({"address": addr, "mode": "managed", "type": r["type"], "name": r["name"],
                    "provider_config_key": "aws", "expressions": exprs, "schema_version": 0})
    doc = {"format_version": "1.2", "terraform_version": "1.11.4",
           "planned_values": {"root_module": {"resources": pvs}}, "resource_changes": rcs,
           "configuration": {"provider_config": {"aws": {"name": "aws", "full_name": PROVIDER, "expressions": {
               "region": {"constant_value": "us-east-1"}}}}, "root_module": {"resources": cfg}},
           "timestamp": "2026-12-01T00:00:00Z", "applyable": True, "complete": True, "errored": False}
    if variables:
        doc["variables"] = {k: {"value": v} for k, v in variables.items()}
        doc["configuration"]["root_module"]["variables"] = {
            k: ({"sensitive": True} if k in sensitive_vars else {}) for k in variables}
    if outputs:
        doc["output_changes"] = {k: {"actions": ["create"], "before": None, "after": v, "after_unknown": False,
                                     "before_sensitive": False, "after_sensitive": True} for k, v in outputs.items()}
    return doc


def container_definitions(**container) -> str:
    base = {"name": "app", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:"
            "3f1c2b9a8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3", "essential": True,
            "memory": 512, "portMappings": [{"containerPort": 8080}],
            "secrets": [{"name": "DB_URL", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-url"}]}
    base.update(container)
    return json.dumps([base])


def lambda_fn(name: str, variables: dict) -> dict:
    return res("aws_lambda_function", name, {
        "function_name": name, "role": "arn:aws:iam::123456789012:role/app", "handler": "app.handler",
        "runtime": "python3.12", "source_code_hash": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "environment": [{"variables": variables}], "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/"
        "1234abcd-12ab-34cd-56ef-1234567890ab"})


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


CASES_SPEC: dict[str, tuple[str, str, int, list[str], list[str], dict]] = {}


def case(cid: str, description: str, env: str, exit_code: int, blocking: list[str], never: list[str], doc: dict):
    CASES_SPEC[cid] = (description, env, exit_code, blocking, never, doc)


SEC = ["PLAT_SEC_001"]

case("secret-rds-password", "an RDS master password written literally in the configuration", "prod", 1, SEC,
     [DB_PASSWORD], plan(res("aws_db_instance", "db", {
         "identifier": "app-db", "engine": "postgres", "instance_class": "db.t4g.micro", "allocated_storage": 20,
         "username": "app", "password": DB_PASSWORD, "storage_encrypted": True, "skip_final_snapshot": True},
         sensitive={"password": True})))

case("secret-lambda-env-name", "a credential in a Lambda environment variable named like one", "staging", 1, SEC,
     [LAMBDA_SECRET], plan(lambda_fn("api", {"STAGE": "staging", "API_TOKEN": LAMBDA_SECRET})))

case("secret-lambda-env-aws-keys", "AWS access keys in Lambda environment variables with innocent names "
     "(found by value: key id format, secret key entropy)", "prod", 1, SEC, [AWS_KEY_ID, AWS_SECRET],
     plan(lambda_fn("sync", {"CFG_A": AWS_KEY_ID, "CFG_B": AWS_SECRET})))

case("secret-ecs-container-env", "a database password in an ECS container definition's environment (JSON in a "
     "string), next to a proper `secrets` reference", "prod", 1, SEC, [ECS_PASSWORD],
     plan(res("aws_ecs_task_definition", "app", {"family": "app", "container_definitions": container_definitions(
         environment=[{"name": "STAGE", "value": "prod"}, {"name": "DB_PASSWORD", "value": ECS_PASSWORD}])},
         taggable=True)))

case("secret-ecs-command", "credentials passed on an ECS container's command line and entry point", "staging", 1,
     SEC, [ECS_CMD_KEY, ECS_ENTRY_TOKEN],
     plan(res("aws_ecs_task_definition", "worker", {"family": "worker", "container_definitions": container_definitions(
         command=["worker", "--api-key", ECS_CMD_KEY, "--queue", "jobs"],
         entryPoint=["sh", "-c", f"export AUTH_TOKEN={ECS_ENTRY_TOKEN} && exec worker"])})))

case("secret-launch-template-user-data-base64", "a password in a launch template's base64 user data script",
     "prod", 1, SEC, [USERDATA_PASSWORD],
     plan(res("aws_launch_template", "app", {"name": "app", "image_id": "ami-0123456789abcdef0",
                                             "instance_type": "t3.micro", "user_data": b64(
         f"#!/bin/bash\nset -e\nexport DB_PASSWORD='{USERDATA_PASSWORD}'\n/opt/app/start.sh\n")})))

case("secret-instance-user-data-plain", "a password in an instance's plain-text user data (a CLI flag)", "staging",
     1, SEC, [INSTANCE_PASSWORD],
     plan(res("aws_instance", "bastion", {"ami": "ami-0123456789abcdef0", "instance_type": "t3.micro",
                                          "user_data": f"#!/bin/bash\nmysql --host db --user admin "
                                                       f"--password={INSTANCE_PASSWORD} -e 'select 1'\n"})))

case("secret-tags", "a password and a GitHub token in resource tags", "prod", 1, SEC, [TAG_PASSWORD, GITHUB_TOKEN],
     plan(res("aws_s3_bucket", "data", {"bucket": "corpus-data-bucket",
                                        "tags": {**TAGS, "db_password": TAG_PASSWORD, "Note": GITHUB_TOKEN}})))

case("secret-url-credentials", "credentials inside a connection URL stored in a plain SSM String parameter",
     "prod", 1, SEC, [URL_PASSWORD],
     plan(res("aws_ssm_parameter", "db_url", {"name": "/app/db_url", "type": "String",
                                              "value": f"postgres://app:{URL_PASSWORD}@db.internal:5432/app"},
              sensitive={"value": True})))

case("secret-url-encoded", "a URL-encoded connection string with credentials in a Lambda variable", "staging", 1,
     SEC, [URLENC_PASSWORD],
     plan(lambda_fn("reports", {"CONN": urllib.parse.quote(f"mysql://rep:{URLENC_PASSWORD}@db:3306/r", safe="")})))

case("secret-private-key-parameter", "a PEM private key pasted into an SSM parameter", "prod", 1, SEC,
     [PEM_BODY[:60], PEM_BODY[-60:]],
     plan(res("aws_ssm_parameter", "tls_key", {"name": "/app/tls_key", "type": "SecureString",
                                               "value": PRIVATE_KEY}, sensitive={"value": True})))

case("secret-jwt-origin-header", "a bearer JWT in a CloudFront custom origin header", "prod", 1, SEC, [JWT],
     plan(res("aws_cloudfront_distribution", "cdn", {"enabled": True, "origin": [{
         "domain_name": "origin.example.com", "origin_id": "app", "custom_header": [
             {"name": "Authorization", "value": f"Bearer {JWT}"}]}]})))

case("secret-policy-condition", "a token inside an IAM policy document's condition (JSON in a string)", "prod", 1,
     SEC, [POLICY_TOKEN],
     plan(res("aws_iam_policy", "ci", {"name": "ci", "policy": json.dumps({"Version": "2012-10-17", "Statement": [{
         "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::corpus-artifacts/*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/ci": POLICY_TOKEN}}}]})})))

case("secret-basic-auth-base64", "HTTP Basic credentials, base64-encoded, in an ECS environment value", "staging", 1,
     SEC, [BASIC_CREDS],
     plan(res("aws_ecs_task_definition", "proxy", {"family": "proxy", "container_definitions": container_definitions(
         environment=[{"name": "UPSTREAM_AUTHORIZATION", "value": b64(BASIC_CREDS)}])})))

case("secret-curl-user", "a password in a `curl -u user:password` health check command", "prod", 1, SEC,
     [CURL_PASSWORD],
     plan(res("aws_ecs_task_definition", "web", {"family": "web", "container_definitions": container_definitions(
         healthCheck={"command": ["CMD-SHELL", f"curl -fsS -u monitor:{CURL_PASSWORD} http://localhost/health"],
                      "interval": 30})})))

case("secret-slack-webhook", "a Slack webhook URL (its path is the credential) as an SNS subscription endpoint",
     "prod", 1, SEC, [SLACK_HOOK.rsplit("/", 1)[1]],
     plan(res("aws_sns_topic_subscription", "alerts", {
         "topic_arn": "arn:aws:sns:us-east-1:123456789012:alerts", "protocol": "https", "endpoint": SLACK_HOOK},
         taggable=False)))

case("secret-password-rotation-update", "an in-place update of a literal password: both the old and the new value",
     "prod", 1, SEC, [OLD_PASSWORD, NEW_PASSWORD],
     plan(res("aws_rds_cluster", "aurora", {
         "cluster_identifier": "aurora", "engine": "aurora-postgresql", "master_username": "app",
         "master_password": NEW_PASSWORD, "storage_encrypted": True},
         sensitive={"master_password": True}, actions=["update"],
         before={"cluster_identifier": "aurora", "engine": "aurora-postgresql", "master_username": "app",
                 "master_password": OLD_PASSWORD, "storage_encrypted": True, "tags": TAGS, "tags_all": TAGS},
         before_sensitive={"master_password": True})))

case("secret-sensitive-variable", "a password from a sensitive root variable: the plan holds it in `variables`, "
     "in the resource and in a sensitive output", "prod", 1, SEC, [VAR_PASSWORD],
     plan(res("aws_docdb_cluster", "docs", {"cluster_identifier": "docs", "master_username": "app",
                                            "master_password": VAR_PASSWORD, "storage_encrypted": True},
              sensitive={"master_password": True}),
          variables={"docdb_password": VAR_PASSWORD, "environment": "prod"}, sensitive_vars=("docdb_password",),
          outputs={"docdb_password": VAR_PASSWORD}))

case("secret-sensitive-marked-only", "a value only Terraform's sensitive marking identifies (no credential name, "
     "no credential shape): never printed; the plan passes the dev gate", "dev", 0, [],
     [SENSITIVE_VALUE],
     plan(res("aws_ssm_parameter", "phrase", {"name": "/app/phrase", "type": "String", "value": SENSITIVE_VALUE,
                                              "description": "greeting shown on the status page"},
              sensitive={"value": True})))

case("secret-hex-key-assignment", "a hex API key passed as `API_KEY=...` inside a container command string",
     "staging", 1, SEC, [HEX_KEY_SECRET],
     plan(res("aws_ecs_task_definition", "batch", {"family": "batch", "container_definitions": container_definitions(
         command=["sh", "-c", f"API_KEY={HEX_KEY_SECRET} exec batch --once"])})))


TOML_LIST = lambda xs: "[" + ", ".join(json.dumps(x) for x in xs) + "]"  # noqa: E731


def main() -> None:
    for cid, (description, env, exit_code, blocking, never, doc) in CASES_SPEC.items():
        d = CASES / cid
        d.mkdir(parents=True, exist_ok=True)
        (d / "plan.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        (d / "expect.toml").write_text(
            f"description = {json.dumps(description)}\nkind = \"plan\"\nenv = \"{env}\"\nexit = {exit_code}\n"
            f"blocking = {TOML_LIST(blocking)}\nnever_print = {TOML_LIST(never)}\nmessage = []\n")
    print(f"wrote {len(CASES_SPEC)} cases under {CASES}")


if __name__ == "__main__":
    main()
