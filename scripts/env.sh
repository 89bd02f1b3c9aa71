# Sourced by the Makefile and .ci/run: the environment every command of platform-iac runs with.
# TF_PROVIDER_MIRROR: the folder holding registry.terraform.io/ (a Terraform filesystem mirror). When unset, the
# machine image's mirror is looked for in the usual places; when none is found Terraform uses the registry.
if [ -z "${TF_PROVIDER_MIRROR:-}" ]; then
  for root in /opt /usr/local/share /usr/share /root/.terraform.d "$HOME/.terraform.d"; do
    found=$(find "$root" -maxdepth 4 -type d -name registry.terraform.io 2>/dev/null | head -n 1)
    if [ -n "$found" ]; then export TF_PROVIDER_MIRROR=$(dirname "$found"); break; fi
  done
fi
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
export PATH="$(pwd)/.venv/bin:$PATH"
