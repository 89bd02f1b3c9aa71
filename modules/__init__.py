# Load only the AWS provider submodules that are used (see modules/_fastimport.py).
# Must run before anything imports cdktf_cdktf_provider_aws.
from modules import _fastimport as _fastimport

_fastimport.install()
