"""The gate's Checkov entry point: ``python -m compliance.checkov_main ARGS`` is ``python -m checkov.main ARGS``
with one change in how Checkov reads Terraform JSON, nothing in what it checks.

Checkov's ``terraform_json`` parser reads each file with PyYAML's pure-Python ``SafeLoader`` (JSON is YAML, and
the YAML loader records each object's ``__startline__``/``__endline__``).  Over dev, staging and prod that costs
about 1 s of the gate's CPU (profiled: ~0.35 s per 400 KB stack, a quarter of Checkov's per-environment work).
:func:`install_fast_json_loader` swaps in the same loader on PyYAML's libyaml parser (``CSafeLoader``): the same
constructor (``SafeConstructor``), the same resolver, the same ``bool_values`` and the same line marks, so the
parsed document is the same object tree, about 8x sooner.  Any input the libyaml loader raises on goes to Checkov's
own loader, unchanged, and so does any file holding a tab character (libyaml accepts tabs between tokens where
PyYAML's loader refuses them), so every error path is Checkov's.
``tests/compliance/test_checkov_entry.py`` holds that both loaders give equal trees for every Terraform JSON in
the repository and that the gate's Checkov reports equal stock ``python -m checkov.main`` on the same files.

Nothing here selects, skips or filters a check, a framework or a resource.
"""
from __future__ import annotations

import sys
import types
from typing import Any, Sequence


def install_fast_json_loader() -> bool:
    """Make Checkov's terraform_json parser load with libyaml; False (and nothing changed) without libyaml."""
    import yaml

    if not getattr(yaml, "__with_libyaml__", False):
        return False
    from checkov.common.parsers.yaml import loader as stock
    from checkov.terraform_json import parser

    if getattr(parser.loader, "__name__", "") == __name__ + ".libyaml":
        return True

    class CSafeLineLoader(yaml.CSafeLoader):  # type: ignore[misc, name-defined]
        bool_values = stock.SafeLineLoader.bool_values

        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            # the stock SafeLineLoader.construct_mapping, line for line
            mapping = super().construct_mapping(node, deep=deep)
            mapping["__startline__"] = node.start_mark.line + 1
            mapping["__endline__"] = node.end_mark.line + 1
            return mapping

    def loads(content: str) -> list[dict[str, Any]]:
        if "\t" in content:
            # libyaml reads tabs between JSON tokens that PyYAML's own loader refuses (Checkov then reports the
            # file as a parsing error, which fails the gate): such a file takes Checkov's own path, as before
            return stock.loads(content)
        try:
            return list(yaml.load_all(content, Loader=CSafeLineLoader))
        except Exception:
            return stock.loads(content)  # Checkov's own loader decides (and logs) what it cannot read

    shim = types.ModuleType(__name__ + ".libyaml")
    shim.loads = loads  # type: ignore[attr-defined]
    shim.CSafeLineLoader = CSafeLineLoader  # type: ignore[attr-defined]
    parser.loader = shim  # the parser calls ``loader.loads(content=...)`` through its module global
    return True


def run(argv: Sequence[str]) -> int:
    """Checkov's CLI (``checkov.main.Checkov(argv).run()``, what ``python -m checkov.main`` does) with the fast
    loader; returns the exit code."""
    install_fast_json_loader()
    from checkov.main import Checkov

    try:
        code = Checkov(list(argv)).run()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return int(exc.code or 0)
        print(exc.code, file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
