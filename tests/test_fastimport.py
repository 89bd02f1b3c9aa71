"""The lazy AWS-provider import (modules/_fastimport.py) must not change a single byte of output.

Every comparison synthesizes the same app in two fresh interpreters, one with the stock eager import
(PLATFORM_STOCK_PROVIDER_IMPORT=1) and one with the fast path, and compares every output file byte for
byte (nothing is excluded: the manifest holds only relative paths). The children report how many
``cdktf_cdktf_provider_aws.*`` modules they loaded, to prove the fast path really skipped most of them.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "tests" / "fastimport_app.py"
MAIN = ROOT / "main.py"
TIMEOUT = 600

# Runs main.py in-process and reports module counts even if main.py leaves via os._exit (fast_exit).
_MAIN_DRIVER = r"""
import json, os, runpy, sys
report, argv = sys.argv[1], sys.argv[2:]
def _report(rc):
    mods = [m for m in sys.modules if m.startswith("cdktf_cdktf_provider_aws.")]
    fi = sys.modules.get("modules._fastimport")
    with open(report, "w") as fh:
        json.dump({"rc": rc, "provider_modules": len(mods),
                   "fast_active": bool(fi and fi.is_active())}, fh)
_real_exit = os._exit
def _exit(code):
    _report(code)
    _real_exit(code)
os._exit = _exit
sys.argv = ["main.py", *argv]
try:
    runpy.run_path("main.py", run_name="__main__")
    rc = 0
except SystemExit as exc:
    rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
_report(rc)
sys.exit(rc)
"""


def _env(stock: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PLATFORM_COMMIT", "0" * 40)  # same commit stamp in both children
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = env.get("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    env.pop("PLATFORM_STOCK_PROVIDER_IMPORT", None)
    if stock:
        env["PLATFORM_STOCK_PROVIDER_IMPORT"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _run_pair(make_cmd) -> dict[str, subprocess.CompletedProcess]:
    """Start the stock and fast children concurrently (the stock one is slow); wait for both."""
    procs = {}
    for mode in ("stock", "fast"):
        procs[mode] = subprocess.Popen(
            make_cmd(mode), cwd=ROOT, env=_env(mode == "stock"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
    done = {}
    for mode, proc in procs.items():
        out, err = proc.communicate(timeout=TIMEOUT)
        done[mode] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        assert proc.returncode == 0, f"{mode} child failed ({proc.returncode}):\n{out}\n{err[-4000:]}"
    return done


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _assert_identical(stock_dir: Path, fast_dir: Path) -> None:
    stock, fast = _tree(stock_dir), _tree(fast_dir)
    assert stock, f"stock run wrote nothing under {stock_dir}"
    assert sorted(stock) == sorted(fast), "different sets of output files"
    differing = [name for name in stock if stock[name] != fast[name]]
    assert not differing, f"files differ between stock and fast import: {differing}"
    assert any(name.endswith("cdk.tf.json") for name in stock)


def _last_json(stdout: str) -> dict:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    assert lines, f"child printed no JSON report:\n{stdout}"
    return json.loads(lines[-1])


def test_sample_app_byte_identical(tmp_path: Path) -> None:
    """Stock import vs the fast path (which also exits through fast_exit): identical bytes."""
    def cmd(mode):
        extra = ["--fast-exit"] if mode == "fast" else []
        return [sys.executable, str(APP), str(tmp_path / mode), *extra]

    runs = _run_pair(cmd)
    _assert_identical(tmp_path / "stock", tmp_path / "fast")

    stock, fast = _last_json(runs["stock"].stdout), _last_json(runs["fast"].stdout)
    print(json.dumps({"stock": stock, "fast": fast}))
    assert stock["fast"] is False and stock["provider_modules"] > 2000
    assert fast["fast"] is True and fast["fast_active"] is True
    # 14 submodules used; each counts twice (module + publication's ._private twin).
    assert fast["provider_modules"] < 100, fast


def test_main_synth_byte_identical(tmp_path: Path) -> None:
    def cmd(mode):
        return [sys.executable, "-c", _MAIN_DRIVER, str(tmp_path / f"{mode}.json"),
                "synth", "--outdir", str(tmp_path / mode)]

    _run_pair(cmd)
    _assert_identical(tmp_path / "stock", tmp_path / "fast")
    stock = json.loads((tmp_path / "stock.json").read_text())
    fast = json.loads((tmp_path / "fast.json").read_text())
    print(json.dumps({"stock": stock, "fast": fast}))
    assert stock["rc"] == fast["rc"] == 0
    assert stock["provider_modules"] > 2000 and stock["fast_active"] is False
    assert fast["fast_active"] is True, "main.py did not go through modules._fastimport.install()"
    assert fast["provider_modules"] < 400, fast


def _child(code: str, stock: bool = False) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(stock),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return _last_json(proc.stdout)


def test_install_is_noop_with_stock_env_and_after_import() -> None:
    code = (
        "import json, sys\n"
        "from modules import _fastimport as f\n"
        "first = f.install()\n"
        "import cdktf_cdktf_provider_aws\n"
        "print(json.dumps({'first': first, 'again': f.install(), 'active': f.is_active(),\n"
        "  'finder': any(type(x).__name__ == '_ProviderFinder' for x in sys.meta_path)}))\n"
    )
    # modules/__init__ already installed it: install() is idempotent and reports the fast path.
    assert _child(code) == {"first": True, "again": True, "active": True, "finder": True}
    assert _child(code, stock=True) == {"first": False, "again": False, "active": False, "finder": False}
    # Package already imported (here: a stand-in, to avoid a 30 s stock import) -> False, no finder.
    late = (
        "import json, sys, types\n"
        "sys.modules['cdktf_cdktf_provider_aws'] = types.ModuleType('cdktf_cdktf_provider_aws')\n"
        "from modules import _fastimport as f\n"
        "print(json.dumps({'r': f.install(), 'finder': any(type(x).__name__ == '_ProviderFinder' for x in sys.meta_path)}))\n"
    )
    assert _child(late) == {"r": False, "finder": False}


def test_lazy_attribute_access_and_jsii_on_demand_resolution() -> None:
    code = (
        "import json, sys\n"
        "import modules\n"
        "import cdktf_cdktf_provider_aws as aws\n"
        "before = 'cdktf_cdktf_provider_aws.kms_alias' in sys.modules\n"
        "cls = aws.kms_alias.KmsAlias\n"
        "from jsii import _reference_map as rm\n"
        "ok = rm._try_import_type_module('@cdktf/provider-aws.securityGroup.SecurityGroup')\n"
        "try:\n"
        "    aws.no_such_thing\n"
        "    missing = 'no error'\n"
        "except AttributeError:\n"
        "    missing = 'AttributeError'\n"
        "print(json.dumps({'before': before, 'cls': cls.__name__, 'resolved': ok,\n"
        "  'sg': 'cdktf_cdktf_provider_aws.security_group' in sys.modules,\n"
        "  'sg_type': '@cdktf/provider-aws.securityGroup.SecurityGroup' in rm._types,\n"
        "  'missing': missing, 'in_dir': 'vpc' in dir(aws)}))\n"
    )
    assert _child(code) == {"before": False, "cls": "KmsAlias", "resolved": True, "sg": True,
                            "sg_type": True, "missing": "AttributeError", "in_dir": True}


def test_fqn_map_matches_every_submodule_jsii_type() -> None:
    """The snake_case -> camelCase jsii submodule mapping must hold for all 2,135 submodules."""
    from modules import _fastimport

    spec = importlib.machinery.PathFinder.find_spec(_fastimport.PACKAGE)
    prepared = _fastimport._prepare(spec)
    assert prepared is not None, "installed provider package no longer has the expected layout"
    _, names = prepared
    assert len(names) > 2000
    pkg_dir = Path(spec.origin).parent
    pattern = re.compile(r'jsii_type="@cdktf/provider-aws\.([A-Za-z0-9]+)\.')
    wrong = []
    for name in names:
        with open(pkg_dir / name / "__init__.py", encoding="utf-8") as fh:
            head = ""
            while (chunk := fh.read(65536)):
                head += chunk
                m = pattern.search(head)
                if m:
                    break
        if not m or m.group(1) != _fastimport._camel(name):
            wrong.append((name, m and m.group(1)))
    assert not wrong, wrong[:20]


def test_unexpected_layout_falls_back(tmp_path: Path) -> None:
    from modules import _fastimport

    pkg = tmp_path / "fakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from . import a\nx = 1\n")
    spec = importlib.util.spec_from_file_location("fakepkg", pkg / "__init__.py",
                                                  submodule_search_locations=[str(pkg)])
    assert _fastimport._prepare(spec) is None
