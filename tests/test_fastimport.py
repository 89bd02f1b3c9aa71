"""The lazy AWS-provider import (modules/_fastimport.py) must not change a single byte of output.

Every comparison synthesizes the same app in two interpreters, one with the stock eager import
(PLATFORM_STOCK_PROVIDER_IMPORT=1) and one with the fast path, and compares every output file byte for
byte (nothing is excluded: the manifest holds only relative paths). The children report how many
``cdktf_cdktf_provider_aws.*`` modules they loaded, to prove the fast path really skipped most of them.

The stock side is expensive (importing the whole provider eagerly takes 20-30 s on a 2-core machine), so
the module starts ONE stock interpreter (the ``stock`` fixture) that does, in order, everything the
three comparisons need from the stock import: the ``install()`` no-op checks, the sample app's synthesis
and ``main.py synth``. It runs in the background while each test runs its own fast child(ren) in a fresh
interpreter; each test then waits for the stock measurements and asserts exactly what it asserted when it
started a stock interpreter of its own. (Sharing the stock interpreter can only make the stock output
differ from a fresh one, which the byte comparison would report; it cannot hide a difference.)
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

# Runs main.py in-process with MAIN_ARGV and calls _report(rc) even if main.py leaves via os._exit (fast_exit);
# _main_result(rc) is what a report holds about that run. The tail of both child scripts below, each with its _report.
_RUN_MAIN = r"""
def _main_result(rc):
    mods = [m for m in sys.modules if m.startswith("cdktf_cdktf_provider_aws.")]
    fi = sys.modules.get("modules._fastimport")
    return {"rc": rc, "provider_modules": len(mods), "fast_active": bool(fi and fi.is_active())}
_real_exit = os._exit
def _exit(code):
    _report(code)
    _real_exit(code)
os._exit = _exit
sys.argv = ["main.py", *MAIN_ARGV]
try:
    runpy.run_path("main.py", run_name="__main__")
    rc = 0
except SystemExit as exc:
    rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
_report(rc)
sys.exit(rc)
"""

# Runs main.py in-process and reports module counts even if main.py leaves via os._exit (fast_exit).
_MAIN_DRIVER = r"""
import json, os, runpy, sys
report, MAIN_ARGV = sys.argv[1], sys.argv[2:]
def _report(rc):
    with open(report, "w") as fh:
        json.dump(_main_result(rc), fh)
""" + _RUN_MAIN


def _env(stock: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PLATFORM_COMMIT", "0" * 40)  # same commit stamp in both children
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = env.get("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    env.pop("PLATFORM_STOCK_PROVIDER_IMPORT", None)
    if stock:
        env["PLATFORM_STOCK_PROVIDER_IMPORT"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _run_fast(cmd: list[str]) -> subprocess.CompletedProcess:
    """Run a fast-path child in a fresh interpreter (while the shared stock child works in the background)."""
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(False), capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"fast child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc


# install() and the provider import, as test_install_is_noop_with_stock_env_and_after_import checks them: run in a
# fast child by the test and in the stock child by the shared stock run (prints one JSON line).
_INSTALL_CODE = (
    "import json, sys\n"
    "from modules import _fastimport as f\n"
    "first = f.install()\n"
    "import cdktf_cdktf_provider_aws\n"
    "print(json.dumps({'first': first, 'again': f.install(), 'active': f.is_active(),\n"
    "  'finder': any(type(x).__name__ == '_ProviderFinder' for x in sys.meta_path)}))\n"
)

# The one stock interpreter of this module: the stock import once, then every stock measurement the tests need.
# Writes {"install": "<stdout>", "app": {"rc", "stdout"}, "main": {"rc", "provider_modules", "fast_active"}} to its
# report file, also when main.py leaves through os._exit.
_STOCK_DRIVER = r"""
import contextlib, io, json, os, runpy, sys
report, install_code, app, app_out, main_out = sys.argv[1:6]
result = {}
def _write():
    with open(report, "w") as fh:
        json.dump(result, fh)

# 1. install() is a no-op with the stock environment (test_install_is_noop_with_stock_env_and_after_import):
#    _INSTALL_CODE, run in this fresh interpreter; it does the one stock import of the provider
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    exec(install_code, {"__name__": "__install_check__"})
result["install"] = buf.getvalue()
_write()

# 2. the sample app, as `python tests/fastimport_app.py OUTDIR` (test_sample_app_byte_identical)
buf = io.StringIO()
sys.argv = [app, app_out]
with contextlib.redirect_stdout(buf):
    try:
        runpy.run_path(app, run_name="__main__")
        app_rc = 0
    except SystemExit as exc:
        app_rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
result["app"] = {"rc": app_rc, "stdout": buf.getvalue()}
_write()

# 3. `main.py synth --outdir OUTDIR` (test_main_synth_byte_identical), reported even if it leaves via os._exit
def _report(rc):
    result["main"] = _main_result(rc)
    _write()
MAIN_ARGV = ["synth", "--outdir", main_out]
""" + _RUN_MAIN


class StockRun:
    """The shared stock child, started when the first test asks for it; ``result()`` waits for its report."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.app_out, self.main_out = workdir / "app", workdir / "main"
        self._report = workdir / "report.json"
        self._out, self._err = workdir / "stdout.txt", workdir / "stderr.txt"
        with open(self._out, "w") as out, open(self._err, "w") as err:  # files: no pipe to fill while it waits
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _STOCK_DRIVER, str(self._report), _INSTALL_CODE, str(APP), str(self.app_out),
                 str(self.main_out)],
                cwd=ROOT, env=_env(True), stdout=out, stderr=err, text=True,
            )
        self._done: dict | None = None

    def result(self) -> dict:
        if self._done is None:
            self._proc.wait(timeout=TIMEOUT)
            out, err = self._out.read_text(), self._err.read_text()
            assert self._proc.returncode == 0, f"stock child failed ({self._proc.returncode}):\n{out}\n{err[-4000:]}"
            self._done = json.loads(self._report.read_text())
            assert set(self._done) == {"install", "app", "main"}, self._done
        return self._done

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


@pytest.fixture(scope="module")
def stock_run(tmp_path_factory: pytest.TempPathFactory):
    run = StockRun(tmp_path_factory.mktemp("stock"))
    try:
        yield run
    finally:
        run.stop()


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


@pytest.mark.slow
def test_sample_app_byte_identical(stock_run: StockRun, tmp_path: Path) -> None:
    """Stock import vs the fast path (which also exits through fast_exit): identical bytes."""
    run = _run_fast([sys.executable, str(APP), str(tmp_path / "fast"), "--fast-exit"])
    app = stock_run.result()["app"]
    assert app["rc"] == 0, app
    _assert_identical(stock_run.app_out, tmp_path / "fast")

    stock, fast = _last_json(app["stdout"]), _last_json(run.stdout)
    print(json.dumps({"stock": stock, "fast": fast}))
    assert stock["fast"] is False and stock["provider_modules"] > 2000
    assert fast["fast"] is True and fast["fast_active"] is True
    # 14 submodules used; each counts twice (module + publication's ._private twin).
    assert fast["provider_modules"] < 100, fast


@pytest.mark.slow
def test_main_synth_byte_identical(stock_run: StockRun, tmp_path: Path) -> None:
    _run_fast([sys.executable, "-c", _MAIN_DRIVER, str(tmp_path / "fast.json"),
               "synth", "--outdir", str(tmp_path / "fast")])
    stock = stock_run.result()["main"]
    _assert_identical(stock_run.main_out, tmp_path / "fast")
    fast = json.loads((tmp_path / "fast.json").read_text())
    print(json.dumps({"stock": stock, "fast": fast}))
    assert stock["rc"] == fast["rc"] == 0
    assert stock["provider_modules"] > 2000 and stock["fast_active"] is False
    assert fast["fast_active"] is True, "main.py did not go through modules._fastimport.install()"
    assert fast["provider_modules"] < 400, fast


def _child(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(False),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return _last_json(proc.stdout)


@pytest.mark.slow
def test_install_is_noop_with_stock_env_and_after_import(stock_run: StockRun) -> None:
    # modules/__init__ already installed it: install() is idempotent and reports the fast path.
    assert _child(_INSTALL_CODE) == {"first": True, "again": True, "active": True, "finder": True}
    # The same code with the stock environment: the shared stock child ran it first thing.
    assert _last_json(stock_run.result()["install"]) == {"first": False, "again": False, "active": False,
                                                         "finder": False}
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
