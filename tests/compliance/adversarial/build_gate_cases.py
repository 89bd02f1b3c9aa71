"""Writes the hand-edited ``gate-*`` cases of the adversarial corpus (``cases/gate-*/plan.json`` + ``expect.toml``).

Not a test: the cases are committed; rerun this after changing a case here (``python -m
tests.compliance.adversarial.build_gate_cases``).  Each plan has the shape ``terraform show -json`` writes (format
1.2: ``planned_values``, ``resource_changes`` with ``after``/``after_unknown``, ``configuration`` with the
expressions), built from a few resources, then edited the way an attacker (or a broken tool) would.  The cases
whose folder name ends in ``-real`` are real Terraform plans, not written here: each was a folder holding the
``main.tf`` in :data:`REAL` (provider 5.100.0, ``default_tags`` with the five required tags, plus a role
``aws_iam_role.target``), planned with ``python tools/fixtures_tool.py FOLDER`` (``terraform plan`` against a
moto server + ``terraform show -json``) and its ``tfplan.json`` copied to ``cases/<id>/plan.json``.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

CASES = Path(__file__).resolve().parent / "cases"
REAL = {
    "gate-iam-unknown-jsonencode-real": 'resource "aws_iam_role_policy" "p" { role = aws_iam_role.target.id, policy = '
    'jsonencode({Version = "2012-10-17", Statement = [{Effect = "Allow", Action = "*", Resource = "*"}, '
    '{Effect = "Allow", Action = "sts:AssumeRole", Resource = aws_iam_role.target.arn}]}) }',
    "gate-iam-deferred-data-doc-real": 'data "aws_iam_policy_document" "doc" { statement { actions = ["*"], resources = '
    '["*"] } statement { actions = ["sts:AssumeRole"], resources = [aws_iam_role.target.arn] } } + an '
    'aws_iam_role_policy with policy = data.aws_iam_policy_document.doc.json',
    "gate-iam-scoped-data-doc-pass-real": 'the same with only the sts:AssumeRole statement',
    "gate-net-split-halves-real": 'resource "aws_security_group" with two ingress blocks, tcp 22 from 0.0.0.0/1 and '
    'from 128.0.0.0/1',
    "gate-net-default-sg-real": 'resource "aws_default_security_group" with ingress { protocol = "-1", self = true }',
}
TAGS = {"Environment": "test", "Project": "platform", "Owner": "platform-team", "CostCenter": "cc-1234",
        "ManagedBy": "terraform"}
PROVIDER = "registry.terraform.io/hashicorp/aws"
U = object()   # marks a value unknown until apply


def res(rtype: str, name: str, values: dict, refs: dict[str, list[str]] | None = None, taggable: bool = True) -> dict:
    return {"type": rtype, "name": name, "values": values, "refs": refs or {}, "taggable": taggable}


def plan(*resources: dict) -> dict:
    rcs, pvs, cfg = [], [], []
    for r in resources:
        after, unknown, exprs = {}, {}, {}
        for k, v in r["values"].items():
            if v is U:
                unknown[k] = True
                exprs[k] = {"references": r["refs"].get(k, [])}
            else:
                after[k] = v
                exprs[k] = {"constant_value": v}
        if r["taggable"]:
            after.setdefault("tags", dict(TAGS))
            after["tags_all"] = dict(TAGS)
            exprs.setdefault("tags", {"constant_value": dict(TAGS)})
        addr = f"{r['type']}.{r['name']}"
        unknown.setdefault("id", True)
        rcs.append({"address": addr, "mode": "managed", "type": r["type"], "name": r["name"], "provider_name": PROVIDER,
                    "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": unknown,
                               "before_sensitive": False, "after_sensitive": {}}})
        pvs.append({"address": addr, "mode": "managed", "type": r["type"], "name": r["name"],
                    "provider_name": PROVIDER, "schema_version": 0, "values": after, "sensitive_values": {}})
        cfg.append({"address": addr, "mode": "managed", "type": r["type"], "name": r["name"],
                    "provider_config_key": "aws", "expressions": exprs, "schema_version": 0})
    return {"format_version": "1.2", "terraform_version": "1.11.4", "planned_values": {"root_module": {"resources": pvs}},
            "resource_changes": rcs, "configuration": {
                "provider_config": {"aws": {"name": "aws", "full_name": PROVIDER,
                                            "expressions": {"region": {"constant_value": "us-east-1"}}}},
                "root_module": {"resources": cfg}},
            "timestamp": "2026-12-01T00:00:00Z", "applyable": True, "complete": True, "errored": False}


def ingress(cidrs=(), lo=22, hi=22, proto="tcp", v6=()) -> dict:
    return {"cidr_blocks": list(cidrs), "description": "rule", "from_port": lo, "ipv6_cidr_blocks": list(v6),
            "prefix_list_ids": [], "protocol": proto, "security_groups": [], "self": False, "to_port": hi}


def sg(name: str, rules: list[dict]) -> dict:
    return res("aws_security_group", name, {"name": name, "description": f"{name} group", "ingress": rules,
                                            "egress": [], "revoke_rules_on_delete": False, "vpc_id": "vpc-0123456789abcdef0"})


def vpc_rule(name: str, sg_id: str = "sg-0123456789abcdef0", **kw) -> dict:
    vals = {"security_group_id": sg_id, "description": "rule", "ip_protocol": "tcp", "from_port": 22, "to_port": 22}
    vals.update(kw)
    return res("aws_vpc_security_group_ingress_rule", name, vals)


def sg_rule(name: str, sg_id: str = "sg-0123456789abcdef0", **kw) -> dict:
    vals = {"type": "ingress", "security_group_id": sg_id, "description": "rule", "protocol": "tcp",
            "from_port": 22, "to_port": 22, "cidr_blocks": [], "ipv6_cidr_blocks": [], "prefix_list_ids": [],
            "self": False}
    vals.update(kw)
    return res("aws_security_group_rule", name, vals, taggable=False)


def pol(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(**kw) -> dict:
    return {"Effect": "Allow", **kw}


def iam_policy(name: str, policy, **kw) -> dict:
    return res("aws_iam_policy", name, {"name": name, "path": "/", "policy": policy, **kw})


ARP = pol({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}})


def role(name: str, **kw) -> dict:
    return res("aws_iam_role", name, {"name": name, "assume_role_policy": ARP, "path": "/",
                                      "max_session_duration": 3600, "force_detach_policies": False, **kw})


def attach(rtype: str, rname: str, arn, **kw) -> dict:
    return res(rtype, rname, {"policy_arn": arn, **kw}, taggable=False)


def with_ref(r: dict, attr: str, refs: list[str]) -> dict:
    r["refs"][attr] = refs
    return r


# (case id, description, env, exit, blocking, plan document or callable editing a base plan, message substrings)
def cases() -> list[tuple[str, str, str, int, list[str], object, list[str]]]:
    out: list = []

    def add(cid, desc, doc, exit_code=1, blocking=(), env="prod", message=()):
        out.append((cid, desc, env, exit_code, list(blocking), doc, list(message)))

    N1, N3, I1 = "PLAT_NET_001", "PLAT_NET_003", "PLAT_IAM_001"
    # ---- ingress: meaning, not spelling
    add("gate-net-split-halves-ssh", "SSH from 0.0.0.0/1 and 128.0.0.0/1 (together the internet) in one group",
        plan(sg("halves", [ingress(["0.0.0.0/1"]), ingress(["128.0.0.0/1"])])), blocking=[N1])
    add("gate-net-host-bits-world", "SSH from 10.0.0.1/0: host bits set, still the whole internet",
        plan(sg("hostbits", [ingress(["10.0.0.1/0"])])), blocking=[N1])
    add("gate-net-ipv6-world-rdp", "RDP from ::/0 through aws_vpc_security_group_ingress_rule",
        plan(vpc_rule("rdp6", cidr_ipv6="::/0", from_port=3389, to_port=3389)), blocking=[N1])
    add("gate-net-ipv6-halves", "SSH from ::/1 and 8000::/1 (together all of IPv6)",
        plan(sg("v6halves", [ingress([], v6=["::/1"]), ingress([], v6=["8000::/1"])])), blocking=[N1])
    add("gate-net-protocol-all", "protocol -1 (all traffic) from 0.0.0.0/0 via aws_security_group_rule",
        plan(sg_rule("all", protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"])), blocking=[N1])
    add("gate-net-range-covers-postgres", "TCP 5000-6000 from the internet includes PostgreSQL 5432",
        plan(sg("range", [ingress(["0.0.0.0/0"], 5000, 6000)])), blocking=[N1])
    add("gate-net-halves-across-rules", "two aws_vpc_security_group_ingress_rule on one group, each half the internet",
        plan(vpc_rule("low", cidr_ipv4="0.0.0.0/1", from_port=3306, to_port=3306),
             vpc_rule("high", cidr_ipv4="128.0.0.0/1", from_port=3306, to_port=3306)), blocking=[N1])
    add("gate-net-halves-inline-and-standalone",
        "one half inline in the group, the other as aws_security_group_rule on the same group (by reference)",
        plan(sg("mixed", [ingress(["0.0.0.0/1"])]),
             with_ref(sg_rule("other_half", sg_id=U, cidr_blocks=["128.0.0.0/1"]), "security_group_id",
                      ["aws_security_group.mixed.id", "aws_security_group.mixed"])), blocking=[N1])
    add("gate-net-many-pieces", "the internet in four /2 pieces across two rules, port 22-23",
        plan(sg("pieces", [ingress(["0.0.0.0/2", "64.0.0.0/2"], 22, 23), ingress(["128.0.0.0/2", "192.0.0.0/2"], 20, 30)])),
        blocking=[N1])
    add("gate-net-unknown-cidr-prod", "SSH from a CIDR known only after apply (a VPC created in the same plan): UNKNOWN",
        plan(with_ref(vpc_rule("later", cidr_ipv4=U), "cidr_ipv4", ["aws_vpc.other.cidr_block", "aws_vpc.other"])),
        blocking=[N1])
    add("gate-net-unknown-cidr-dev", "the same UNKNOWN CIDR in dev only warns",
        plan(with_ref(vpc_rule("later", cidr_ipv4=U), "cidr_ipv4", ["aws_vpc.other.cidr_block", "aws_vpc.other"])),
        exit_code=0, env="dev")
    add("gate-net-private-ranges-pass", "benign: SSH and PostgreSQL from RFC 1918 ranges only",
        plan(sg("private", [ingress(["10.0.0.0/8"]), ingress(["172.16.0.0/12", "192.168.0.0/16"], 5432, 5432)])),
        exit_code=0)
    add("gate-net-half-internet-pass", "benign look-alike: the two halves on different ports never cover one port",
        plan(sg("notquite", [ingress(["0.0.0.0/1"], 22, 22), ingress(["128.0.0.0/1"], 23, 23)])), exit_code=0)
    add("gate-net-default-sg-ingress", "rules on the default security group (aws_default_security_group)",
        plan(res("aws_default_security_group", "default", {"vpc_id": "vpc-0123456789abcdef0", "revoke_rules_on_delete": False,
                                                           "ingress": [ingress([], 0, 0, "-1") | {"self": True}], "egress": []})),
        blocking=[N3])
    add("gate-net-default-sg-standalone-rule", "a standalone rule attached to the default security group",
        plan(res("aws_default_security_group", "default", {"vpc_id": "vpc-0123456789abcdef0", "ingress": [], "egress": [],
                                                           "revoke_rules_on_delete": False}),
             with_ref(vpc_rule("into_default", sg_id=U, cidr_ipv4="10.0.0.0/16", from_port=443, to_port=443),
                      "security_group_id", ["aws_default_security_group.default.id", "aws_default_security_group.default"])),
        blocking=[N3])
    add("gate-net-default-sg-closed-pass", "benign: the default security group adopted with no rules",
        plan(res("aws_default_security_group", "default", {"vpc_id": "vpc-0123456789abcdef0", "ingress": [], "egress": [],
                                                           "revoke_rules_on_delete": False})), exit_code=0)

    # ---- IAM: effective grants
    add("gate-iam-notaction-passrole", "Allow NotAction iam:PassRole on *: everything else, admin",
        plan(iam_policy("np", pol(allow(NotAction="iam:PassRole", Resource="*")))), blocking=[I1])
    add("gate-iam-star-colon-star", "Action *:* on *",
        plan(iam_policy("scs", pol(allow(Action="*:*", Resource="*")))), blocking=[I1])
    add("gate-iam-notresource", "Action * with NotResource: every resource but one",
        plan(iam_policy("nr", pol(allow(Action=["*"], NotResource=["arn:aws:s3:::one-bucket"])))), blocking=[I1])
    add("gate-iam-iam-star", "iam:* on *: privilege escalation to admin",
        plan(iam_policy("iamstar", pol(allow(Action="iam:*", Resource="*")))), blocking=[I1])
    add("gate-iam-escalation-wildcard", "iam:Put*Policy with s3 reads on *: can grant itself anything",
        plan(iam_policy("esc", pol(allow(Action=["s3:GetObject", "iam:Put*Policy"], Resource="*")))), blocking=[I1])
    add("gate-iam-policy-as-object", "the policy given as a JSON object instead of a string",
        plan(iam_policy("obj", {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})),
        blocking=[I1])
    add("gate-iam-admin-role-attachment", "AdministratorAccess through aws_iam_role_policy_attachment",
        plan(attach("aws_iam_role_policy_attachment", "admin", "arn:aws:iam::aws:policy/AdministratorAccess", role="app")),
        blocking=[I1])
    add("gate-iam-admin-policy-attachment", "AdministratorAccess through aws_iam_policy_attachment",
        plan(attach("aws_iam_policy_attachment", "admin", "arn:aws:iam::aws:policy/AdministratorAccess",
                    name="admins", roles=["app"], users=[], groups=[])), blocking=[I1])
    add("gate-iam-iamfull-user-attachment", "IAMFullAccess through aws_iam_user_policy_attachment",
        plan(attach("aws_iam_user_policy_attachment", "iamfull", "arn:aws:iam::aws:policy/IAMFullAccess", user="bob")),
        blocking=[I1])
    add("gate-iam-admin-group-govcloud", "AdministratorAccess in another partition through a group attachment",
        plan(attach("aws_iam_group_policy_attachment", "admin", "arn:aws-us-gov:iam::aws:policy/AdministratorAccess",
                    group="ops")), blocking=[I1])
    add("gate-iam-managed-policy-arns", "AdministratorAccess in a role's managed_policy_arns",
        plan(role("withadmin", managed_policy_arns=["arn:aws:iam::aws:policy/AdministratorAccess"])), blocking=[I1])
    add("gate-iam-inline-role-policy-block", "admin in a role's inline_policy block",
        plan(role("inline", inline_policy=[{"name": "x", "policy": pol(allow(NotAction=["iam:PassRole"], Resource="*"))}])),
        blocking=[I1])
    add("gate-iam-unknown-policy-prod",
        "a policy known only after apply (one statement names a role created in the same plan, jsonencode in HCL): "
        "UNKNOWN blocks in prod",
        plan(role("target"), with_ref(res("aws_iam_role_policy", "p", {"name": "p", "role": "app", "policy": U},
                                          taggable=False), "policy", ["aws_iam_role.target.arn", "aws_iam_role.target"])),
        blocking=[I1])
    add("gate-iam-unknown-policy-none", "the same UNKNOWN policy without --env (strictest policy) blocks",
        plan(role("target"), with_ref(res("aws_iam_role_policy", "p", {"name": "p", "role": "app", "policy": U},
                                          taggable=False), "policy", ["aws_iam_role.target.arn", "aws_iam_role.target"])),
        blocking=[I1], env="none")
    add("gate-iam-unknown-policy-dev", "the same UNKNOWN policy in dev warns",
        plan(role("target"), with_ref(res("aws_iam_role_policy", "p", {"name": "p", "role": "app", "policy": U},
                                          taggable=False), "policy", ["aws_iam_role.target.arn", "aws_iam_role.target"])),
        exit_code=0, env="dev")
    tmpl = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, '
            '{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "${aws_iam_role.target.arn}"}]}')
    p = plan(role("target"), res("aws_iam_role_policy", "p", {"name": "p", "role": "app", "policy": U}, taggable=False))
    p["configuration"]["root_module"]["resources"][1]["expressions"]["policy"] = {
        "constant_value": tmpl, "references": ["aws_iam_role.target.arn", "aws_iam_role.target"]}
    add("gate-iam-unknown-policy-template", "a JSON-syntax template policy unknown at plan: its constant statement "
        "(Action * on *) is judged from the configuration", p, blocking=[I1])
    add("gate-iam-unknown-attachment-arn", "an attached policy ARN known only after apply (a data source lookup)",
        plan(with_ref(attach("aws_iam_role_policy_attachment", "lookup", U, role="app"), "policy_arn",
                      ["data.aws_iam_policy.by_name.arn", "data.aws_iam_policy.by_name"])), blocking=[I1])
    add("gate-iam-readonly-pass", "benign: ReadOnlyAccess attached",
        plan(attach("aws_iam_role_policy_attachment", "ro", "arn:aws:iam::aws:policy/ReadOnlyAccess", role="app")),
        exit_code=0)
    add("gate-iam-deny-notaction-pass", "benign: a scoped read plus a Deny with NotAction (MFA guard)",
        plan(iam_policy("guard", pol(allow(Action="s3:GetObject", Resource="arn:aws:s3:::reports/*"),
                                     {"Effect": "Deny", "NotAction": ["iam:ChangePassword", "sts:GetSessionToken"],
                                      "Resource": "*", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}))),
        exit_code=0)
    add("gate-iam-poweruser-warns", "PowerUserAccess: broad, reported (PLAT_IAM_002 warns), not admin",
        plan(attach("aws_iam_role_policy_attachment", "power", "arn:aws:iam::aws:policy/PowerUserAccess", role="ci")),
        exit_code=0)
    add("gate-iam-known-own-policy-pass", "benign: attaching a customer policy created in the same plan (judged there)",
        plan(iam_policy("own", pol(allow(Action="s3:GetObject", Resource="arn:aws:s3:::reports/*"))),
             with_ref(attach("aws_iam_role_policy_attachment", "own", U, role="app"), "policy_arn",
                      ["aws_iam_policy.own.arn", "aws_iam_policy.own"])), exit_code=0)

    # ---- plan shape: refused with exit 2
    base = plan(sg("private", [ingress(["10.0.0.0/8"])]))

    def edit(fn):
        d = copy.deepcopy(base)
        fn(d)
        return d
    add("gate-shape-errored", "a plan Terraform marked errored", edit(lambda d: d.update(errored=True)),
        exit_code=2, message=["errored"])
    add("gate-shape-planned-values-stripped", "planned_values removed while resource_changes create resources",
        edit(lambda d: d.pop("planned_values")), exit_code=2, message=["planned_values"])
    add("gate-shape-change-without-type", "a resource change without a type",
        edit(lambda d: d["resource_changes"][0].pop("type")), exit_code=2, message=["type"])
    add("gate-shape-change-without-actions", "a resource change without change.actions",
        edit(lambda d: d["resource_changes"][0]["change"].pop("actions")), exit_code=2, message=["change.actions"])
    add("gate-shape-resource-changes-object", "resource_changes as an object instead of a list",
        edit(lambda d: d.update(resource_changes={"a": d["resource_changes"][0]})), exit_code=2,
        message=["resource_changes"])
    add("gate-shape-change-string", "a change given as a string", edit(lambda d: d["resource_changes"].append("x")),
        exit_code=2, message=["resource_changes[1]"])
    add("gate-shape-after-list", "change.after as a list instead of an object",
        edit(lambda d: d["resource_changes"][0]["change"].update(after=[1, 2])), exit_code=2, message=["change.after"])
    add("gate-shape-format-version-2", "an unknown format_version major",
        edit(lambda d: d.update(format_version="2.0")), exit_code=2, message=["format_version"])
    add("gate-shape-unknown-action", "an action Terraform never writes",
        edit(lambda d: d["resource_changes"][0]["change"].update(actions=["ignore"])), exit_code=2,
        message=["unknown action"])

    def deep_unknown(d):
        u: object = True
        for _ in range(120):
            u = {"x": u}
        d["resource_changes"][0]["change"]["after_unknown"]["ingress"] = u
    add("gate-shape-deep-after-unknown", "after_unknown nested 120 levels deep", edit(deep_unknown), exit_code=2,
        message=["nested"])
    add("gate-shape-deep-json", "JSON nested 100,000 levels deep (Python's json hits its recursion limit)",
        "DEEP", exit_code=2, message=["nested too deeply"])

    # ---- scanned count: Checkov saw fewer resources than the plan holds
    short = plan(sg("a", [ingress(["10.0.0.0/8"])]), sg("b", [ingress(["0.0.0.0/0"])]), sg("c", [ingress(["10.0.0.0/8"])]))
    short["planned_values"]["root_module"]["resources"] = short["planned_values"]["root_module"]["resources"][:1]
    add("gate-scan-count-shortfall", "planned_values lists 1 of the 3 resources resource_changes creates: Checkov "
        "scans fewer than the 3 the gate counts (exit 3, never a pass)", short, exit_code=3, message=["of the 3 resources the input holds"])
    return out


def toml_list(xs) -> str:
    return "[" + ", ".join(json.dumps(x) for x in xs) + "]"


def main() -> None:
    for cid, desc, env, exit_code, blocking, doc, message in cases():
        d = CASES / cid
        d.mkdir(parents=True, exist_ok=True)
        if doc == "DEEP":
            (d / "plan.json").write_text('{"format_version": "1.2", "resource_changes": [], "x": '
                                         + "[" * 100000 + "]" * 100000 + "}\n")
        else:
            (d / "plan.json").write_text(json.dumps(doc, indent=1) + "\n")
        lines = [f"description = {json.dumps(desc)}", 'kind = "plan"', f"env = {json.dumps(env)}",
                 f"exit = {exit_code}", f"blocking = {toml_list(blocking)}"]
        if message:
            lines.append(f"message = {toml_list(message)}")
        (d / "expect.toml").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
