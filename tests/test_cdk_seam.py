"""Issue 17 item 6: the one import seam (modules/cdk.py) that decides which CDK backs the ``cdktf`` and
``cdktf_cdktf_provider_aws`` namespaces. The trial with the real CDK Terrain (docs/cdk-terrain.md) needs AWS provider
bindings generated locally (~4 min and ~7 GB of memory on this machine's 2 cores), too costly for every CI run; these
tests prove what the seam itself does, with stand-in packages where CDK Terrain would be: the selection rules, the
aliasing (the same module objects under both names, submodules and relative imports included), and the refusals."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modules import cdk

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("environ", "installed", "expected"), [
    ({}, {"cdktf", "cdktn"}, "cdktf"),                      # both installed: the pinned default
    ({}, {"cdktf"}, "cdktf"),
    ({}, {"cdktn"}, "cdktn"),                               # only CDK Terrain installed: it is chosen
    ({}, set(), "cdktf"),                                   # neither: cdktf (its import error says what to install)
    ({"PLATFORM_CDK": "cdktn"}, {"cdktf", "cdktn"}, "cdktn"),
    ({"PLATFORM_CDK": " CDKTF "}, {"cdktn"}, "cdktf"),
])
def test_choose(environ: dict[str, str], installed: set[str], expected: str) -> None:
    assert cdk.choose(environ, installed=lambda name: name in installed) == expected


def test_choose_refuses_an_unknown_cdk() -> None:
    with pytest.raises(ValueError, match=r"PLATFORM_CDK='terrain' is not one of cdktf, cdktn"):
        cdk.choose({"PLATFORM_CDK": "terrain"}, installed=lambda name: True)


def test_aliases() -> None:
    assert cdk.aliases("cdktf", {}) == {}
    assert cdk.aliases("cdktn", {}) == {"cdktf": "cdktn", "cdktf_cdktf_provider_aws": "imports.aws"}
    assert cdk.aliases("cdktn", {"PLATFORM_CDKTN_AWS": "my_bindings.aws"})["cdktf_cdktf_provider_aws"] == \
        "my_bindings.aws"


def test_this_checkout_runs_on_cdktf() -> None:
    import cdktf
    import cdktf_cdktf_provider_aws

    assert cdk.backend == "cdktf" and cdktf.__name__ == "cdktf"
    assert cdktf_cdktf_provider_aws.__name__ == "cdktf_cdktf_provider_aws"


def _stand_ins(root: Path) -> None:
    """A ``cdktn`` and an ``imports/aws`` shaped like the real ones (a package, submodules, relative imports)."""
    files = {
        "cdktn/__init__.py": "class App:\n    pass\nclass TerraformStack:\n    pass\n",
        "cdktn/testing_matchers/__init__.py": "MATCH = 'cdktn matcher'\n",
        "imports/aws/__init__.py": "from ._jsii import ASSEMBLY\n",
        "imports/aws/_jsii/__init__.py": "ASSEMBLY = 'aws@0.0.0'\nLOADS = []\nLOADS.append(__name__)\n",
        "imports/aws/s3_bucket/__init__.py": "from .._jsii import *\nimport cdktn\n"
                                             "class S3Bucket(cdktn.TerraformStack):\n    pass\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _python(code: str, *, path: list[Path], **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PLATFORM_CDK")}
    environ.update(env, PYTHONPATH=os.pathsep.join(str(p) for p in path))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environ, capture_output=True, text=True,
                          timeout=120, cwd=path[0])


def test_cdk_terrain_backs_the_cdktf_namespaces_through_the_seam(tmp_path: Path) -> None:
    _stand_ins(tmp_path)
    proc = _python("""
        import sys
        import modules                                     # the seam runs first, as for every construct file
        from modules import cdk, _fastimport
        from cdktf import App                              # what the construct files write, unchanged
        from cdktf.testing_matchers import MATCH
        from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
        import cdktn, imports.aws.s3_bucket as real
        assert cdk.backend == "cdktn" and not _fastimport.is_active()
        assert App is cdktn.App and MATCH == "cdktn matcher"
        assert S3Bucket is real.S3Bucket                   # the same class object, not a second copy
        assert sys.modules["cdktf_cdktf_provider_aws.s3_bucket"] is real
        assert real.__spec__.name == "imports.aws.s3_bucket"   # the real module keeps its own spec
        assert sys.modules["imports.aws._jsii"].LOADS == ["imports.aws._jsii"]  # the assembly loaded once
        print("ok")
    """, path=[tmp_path, ROOT], PLATFORM_CDK="cdktn")
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    # chosen without the variable where cdktf is not installed (a virtualenv with CDK Terrain only): simulated by a
    # path finder that does not find cdktf, patched before modules is imported
    hidden = _python("""
        import importlib.machinery
        real = importlib.machinery.PathFinder.find_spec
        importlib.machinery.PathFinder.find_spec = classmethod(
            lambda cls, name, path=None, target=None: None if name == "cdktf" else real(name, path, target))
        import modules
        from modules import cdk
        print(cdk.backend)
    """, path=[tmp_path, ROOT])
    assert hidden.returncode == 0 and hidden.stdout.strip() == "cdktn", hidden.stderr


@pytest.mark.parametrize(("env", "message"), [
    ({"PLATFORM_CDK": "cdktn"}, "error: PLATFORM_CDK=cdktn: cdktn (what backs cdktf) is not importable: "
                                "pip install cdktn==0.24.0"),
    ({"PLATFORM_CDK": "cdk-terrain"}, "error: PLATFORM_CDK='cdk-terrain' is not one of cdktf, cdktn"),
])
def test_a_selection_that_cannot_load_says_the_fix_and_exits_2(env: dict[str, str], message: str,
                                                               tmp_path: Path) -> None:
    proc = _python("import modules", path=[ROOT], **env)
    assert proc.returncode == 2 and proc.stderr.startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_aws_bindings_name_the_recipe(tmp_path: Path) -> None:
    _stand_ins(tmp_path)
    proc = _python("import modules", path=[tmp_path, ROOT], PLATFORM_CDK="cdktn", PLATFORM_CDKTN_AWS="nowhere.aws")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: PLATFORM_CDK=cdktn: nowhere.aws (what backs cdktf_cdktf_provider_aws) is "
                                  "not importable: generate the AWS 5.100.0 bindings with `cdktn get` "
                                  "(docs/cdk-terrain.md)"), proc.stderr
