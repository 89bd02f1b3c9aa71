"""Live progress from Terraform's machine-readable UI (pipeline/progress.py), on event streams recorded from real
Terraform 1.11.4 runs (tests/fixtures/terraform_ui/: ``main.tf.json`` is the configuration; ``plan -json``,
``apply -json`` of the saved plan and ``apply -destroy -json``), and the runner streaming a real ``init -json``."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from pipeline.progress import ProgressRenderer, duration
from pipeline.terraform import TerraformError, TerraformRunner
from pipeline.tfconfig import TerraformSetupError, find_terraform

UI = Path(__file__).parent / "fixtures" / "terraform_ui"


def render(name: str, **options) -> tuple[list[str], ProgressRenderer]:
    lines: list[str] = []
    renderer = ProgressRenderer(say=lines.append, live=False, **options)
    for line in (UI / f"{name}.jsonl").read_text().splitlines():
        renderer.feed(line)
    renderer.close()
    return lines, renderer


def test_apply_prints_each_resource_with_elapsed_time_counts_and_the_failure_where_it_happened() -> None:
    lines, r = render("apply", operation="apply", total=3)
    assert lines[:4] == ["  creating   terraform_data.fast", "  created    terraform_data.fast (0s) [1/3]",
                         "  creating   terraform_data.broken", "  creating   terraform_data.slow"]
    failed = lines.index("  FAILED     terraform_data.broken: create failed after 0s [2/3]")
    # what the failing resource said comes right under its FAILED line, before the next resource completes
    assert "no such bucket: demo" in lines[failed + 2]
    assert lines.index("  created    terraform_data.slow (12s) [3/3]") > failed + 2
    # the provider's error (Terraform sends it at the end) names the resource
    assert lines[-2] == "  Error      terraform_data.broken: local-exec provisioner error"
    assert "exit status 1" in lines[-1]
    assert r.done == 3 and r.failed == ["terraform_data.broken"] and len(r.errors) == 1
    assert not any(line.strip().startswith("...") for line in lines)  # 10 s of silence < the 30 s heartbeat


def test_ci_heartbeat_while_a_resource_is_in_progress() -> None:
    lines, _ = render("apply", operation="apply", total=3, heartbeat=5)
    beats = [line for line in lines if line.strip().startswith("...")]
    assert beats == ["  ...        2/3 done, 1 in progress: terraform_data.slow 10s (10s elapsed)"]


def test_live_line_on_a_terminal_is_redrawn_in_place_and_cleared() -> None:
    stream = io.StringIO()
    lines: list[str] = []
    renderer = ProgressRenderer(say=lines.append, operation="apply", total=3, live=True, stream=stream)
    for line in (UI / "apply.jsonl").read_text().splitlines():
        renderer.feed(line)
    renderer.close()
    drawn = stream.getvalue()
    assert "\r\x1b[K  1/3 done, 2 in progress: terraform_data.broken 0s, terraform_data.slow 0s" in drawn
    assert "2/3 done, 1 in progress: terraform_data.slow 10s (10s elapsed)" in drawn
    assert drawn.endswith("\r\x1b[K")  # nothing left on the terminal's last line
    assert "  created    terraform_data.slow (12s) [3/3]" in lines  # the permanent lines are the same
    assert not any(line.strip().startswith("...") for line in lines)  # no heartbeat lines on a terminal


def test_destroy_plan_and_init_streams() -> None:
    lines, _ = render("destroy", operation="destroy")
    assert lines[:2] == ["  destroying terraform_data.broken", "  destroyed  terraform_data.broken (0s) [1/3]"]
    assert lines[-1] == "  Apply complete! Resources: 0 added, 0 changed, 3 destroyed. (0s)"
    lines, r = render("plan", operation="plan")
    assert lines == ["  Plan: 3 to add, 0 to change, 0 to destroy. (0s)"] and r.total == 3
    lines, _ = render("init", operation="init")
    assert lines[0] == "  Initializing the backend..." and lines[-1] == "  Terraform has been successfully initialized!"


def test_errors_are_scrubbed_and_output_values_never_printed() -> None:
    lines: list[str] = []
    renderer = ProgressRenderer(say=lines.append, live=False)
    renderer.feed(json.dumps({"type": "diagnostic", "@timestamp": "2026-12-02T08:11:14Z", "diagnostic": {
        "severity": "error", "summary": "AccessDenied", "address": "aws_s3_bucket.b",
        "detail": "request signed with AKIAIOSFODNN7EXAMPLE failed"}}))
    renderer.feed(json.dumps({"type": "outputs", "outputs": {"db_password": {"value": "Fixture-Pa55word-1",
                                                                             "sensitive": True}}}))
    text = "\n".join(lines)
    assert "AccessDenied" in text and "AKIAIOSFODNN7EXAMPLE" not in text and "Fixture-Pa55word-1" not in text


def test_duration() -> None:
    assert [duration(s) for s in (0, 7.4, 65, 3725)] == ["0s", "7s", "1m05s", "1h02m"]


@pytest.fixture
def terraform_env() -> dict[str, str]:
    try:
        find_terraform()
    except TerraformSetupError as exc:
        pytest.fail(str(exc))
    return dict(os.environ)


def test_runner_streams_init_json_to_the_renderer_and_reads_errors_from_it(tmp_path: Path, terraform_env) -> None:
    (tmp_path / "main.tf.json").write_text((UI / "main.tf.json").read_text())  # terraform_data: nothing to download
    made: list[tuple[str, object]] = []
    lines: list[str] = []

    def progress(operation: str, total: int | None) -> ProgressRenderer:
        made.append((operation, total))
        return ProgressRenderer(say=lines.append, operation=operation, total=total, live=False)

    TerraformRunner(tmp_path, terraform_env, progress=progress).init(backend=False)
    assert made == [("init", None)] and "  Terraform has been successfully initialized!" in lines

    (tmp_path / "main.tf.json").write_text(json.dumps({"terraform": {"backend": {"no_such_backend": {}}}}))
    with pytest.raises(TerraformError) as caught:
        TerraformRunner(tmp_path, terraform_env, progress=progress).init()
    assert "Error: Unsupported backend type" in caught.value.diagnostics  # from the JSON diagnostic, formatted
    assert any("Unsupported backend type" in line for line in lines)  # and shown as it happened
