"""The pipeline records and prints no secret: Terraform outputs marked sensitive are masked (a real Terraform run of a
configuration without providers), Terraform diagnostics and the run record are scrubbed of credential-shaped text."""
from __future__ import annotations

import json
import os
from pathlib import Path

from pipeline.runlog import new_record
from pipeline.terraform import IsFlagged, TerraformError, TerraformRunner

SECRET = "Output-Pa55word-Corpus-42"


def test_sensitive_terraform_outputs_are_masked(tmp_path: Path) -> None:
    (tmp_path / "main.tf.json").write_text(json.dumps({"output": {
        "db_password": {"value": SECRET, "sensitive": True},
        "endpoint": {"value": "db.internal:5432"},
        "conn": {"value": f"postgres://app:{SECRET}@db.internal/app"}}}))
    runner = TerraformRunner(tmp_path, {**os.environ, "TF_IN_AUTOMATION": "1"})
    runner.init(backend=False)
    runner._run("apply", input=False, auto_approve=IsFlagged)  # a local state with three outputs, no provider
    outputs = runner.output_json()
    assert outputs["endpoint"]["value"] == "db.internal:5432"
    assert outputs["db_password"]["value"] == "(sensitive value)" and outputs["db_password"]["sensitive"] is True
    assert SECRET not in json.dumps(outputs)


def test_terraform_diagnostics_and_run_record_are_scrubbed() -> None:
    err = TerraformError("terraform apply", 1, f"Error: connecting to postgres://app:{SECRET}@db/app: refused")
    assert SECRET not in str(err) and SECRET not in err.diagnostics
    record = new_record("dev", "local", "deploy", "0123456789ab", "ci")
    record.message = f"apply failed: password={SECRET} rejected; key AKIAZ7CORPUSEXAMPLE2"
    text = record.to_json()
    assert SECRET not in text and "AKIAZ7CORPUSEXAMPLE2" not in text
    assert json.loads(text)["env"] == "dev"
