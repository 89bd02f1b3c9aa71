"""Terraform CLI configuration (provider mirror, plugin cache) and the process environment."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

MIRROR_ENV = "TF_PROVIDER_MIRROR"
CLI_CONFIG_NAME = "terraform.rc"
PLUGIN_CACHE_NAME = "plugin-cache"
_MIRRORED = "registry.terraform.io/hashicorp/*"


class TerraformSetupError(RuntimeError):
    """Terraform or its provider source is missing or misconfigured."""


def find_terraform(path: str | None = None) -> str:
    """Return the path of ``terraform`` on ``path`` (default: this process's PATH)."""
    found = shutil.which("terraform", path=path)
    if found is None:
        raise TerraformSetupError("terraform not found on PATH: install Terraform 1.11+")
    return found


def write_cli_config(build_dir: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """Write ``build_dir/terraform.rc`` and return its path.

    When ``TF_PROVIDER_MIRROR`` is set, hashicorp providers are installed only from that
    filesystem mirror; otherwise from the registry. Either way a plugin cache in
    ``build_dir/plugin-cache`` is used (and created).
    """
    build_dir = Path(build_dir).resolve()
    cache_dir = build_dir / PLUGIN_CACHE_NAME
    cache_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"plugin_cache_dir = {_hcl_string(cache_dir)}"]
    mirror_value = environ.get(MIRROR_ENV, "").strip()
    if mirror_value:
        mirror = Path(mirror_value).expanduser().resolve()
        if not (mirror / "registry.terraform.io").is_dir():
            raise TerraformSetupError(
                f"{MIRROR_ENV}={mirror_value} does not hold a registry.terraform.io/ folder: point "
                f"{MIRROR_ENV} at a provider mirror (create one with `terraform providers mirror <dir>`) "
                "or unset it to install providers from the registry"
            )
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f"    path    = {_hcl_string(mirror)}",
            f"    include = [{_hcl_string(_MIRRORED)}]",
            "  }",
            "  direct {",
            f"    exclude = [{_hcl_string(_MIRRORED)}]",
            "  }",
            "}",
        ]
    config = build_dir / CLI_CONFIG_NAME
    config.write_text("\n".join(lines) + "\n")
    return config


#: Go's garbage-collection target for Terraform and its providers (Go's own default is 100): collect when the heap
#: has grown by 400% instead of 100%. Trades memory for CPU; the caller's ``GOGC`` wins.
TERRAFORM_GOGC = "400"


def terraform_env(
    build_dir: Path,
    extra: Mapping[str, str] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """A copy of ``environ`` set up for non-interactive Terraform runs in ``build_dir``, plus ``extra``.

    Terraform and the AWS provider are Go programs that spend much of a plan in the garbage collector: unless
    ``environ`` sets ``GOGC`` itself, it is :data:`TERRAFORM_GOGC` (a plan of dev: ~25% less CPU, a peak of ~0.7 GB
    instead of ~0.5 GB in the largest process; ``benchmarks/bench_terraform_gc.py``)."""
    env = dict(environ)
    env.update(
        TF_CLI_CONFIG_FILE=str(write_cli_config(build_dir, environ)),
        TF_IN_AUTOMATION="1",
        CHECKPOINT_DISABLE="1",
        TF_INPUT="0",
    )
    env.setdefault("GOGC", TERRAFORM_GOGC)
    env.update(extra or {})
    return env


def _hcl_string(value: object) -> str:
    """Quote ``value`` as an HCL string literal (JSON escaping, template sequences escaped)."""
    return json.dumps(str(value)).replace("${", "$${").replace("%{", "%%{")
