#!/usr/bin/env bash
# System packages the tests need beyond the machine image (Terraform, Node 20 and Python 3.11 come with it).
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
# the reference workload's tests run it against a real Redis server (workload/tests/conftest.py)
command -v redis-server >/dev/null || need+=(redis-server)
# the boot script's fetch step runs with the AWS CLI in tests (tests/test_workload_platform.py, *_e2e.py)
command -v aws >/dev/null || need+=(awscli)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
