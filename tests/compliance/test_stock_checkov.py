"""The project's checks loaded by stock Checkov (``checkov --external-checks-dir compliance/checks``): where a
verdict needs context only the gate computes (here: the provider's ``default_tags`` merged into each resource's
tags), the check answers UNKNOWN, which Checkov reports as neither passed nor failed, instead of a false FAILED."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from compliance.gate import Gate

ROOT = Path(__file__).resolve().parents[2]
FOREIGN = ROOT / "tests" / "fixtures" / "foreign" / "main.tf.json"


def test_required_tags_under_stock_checkov_are_unknown_not_failed(tmp_path: Path) -> None:
    config = json.loads(FOREIGN.read_text())
    # an explicitly empty required tag fails whatever default_tags would add
    config["resource"]["aws_sns_topic"] = {"empty_owner": {"name": "t", "tags": {"Owner": ""}}}
    (tmp_path / "main.tf.json").write_text(json.dumps(config))
    proc = subprocess.run([sys.executable, "-m", "checkov.main", "--framework", "terraform_json", "-o", "json",
                           "--soft-fail", "--skip-download", "--compact", "-d", str(tmp_path),
                           "--external-checks-dir", str(ROOT / "compliance" / "checks")],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "BC_SKIP_MAPPING": "TRUE",
                               "LOG_LEVEL": "ERROR"})
    report = json.loads(proc.stdout)
    results = (report[0] if isinstance(report, list) else report)["results"]
    failed = {(c["check_id"], c["resource"]) for c in results["failed_checks"]}
    passed = {(c["check_id"], c["resource"]) for c in results["passed_checks"]}
    assert ("PLAT_TAG_001", "resource.empty_owner") in failed  # Checkov names JSON resources so
    tag_verdicts = {r for c, r in failed | passed if c == "PLAT_TAG_001"}
    assert tag_verdicts == {"resource.empty_owner"}, tag_verdicts  # the VPC's tags: UNKNOWN to bare Checkov
    assert any(c.startswith("PLAT_") for c, _ in passed)  # the project's checks did load
    # the gate merges default_tags and judges them under the policy in force: our tag names are missing there
    gate = Gate("prod", run_checkov=False).scan_tf_json([tmp_path / "main.tf.json"])
    assert ("PLAT_TAG_001", "aws_vpc.this") in {(f.check_id, f.resource) for f in gate.blocking}
