# First: which CDK backs the cdktf / provider namespaces (modules/cdk.py: CDKTF, or CDK Terrain with PLATFORM_CDK=cdktn).
from modules import cdk as _cdk

# Then, on CDKTF, load only the AWS provider submodules that are used (see modules/_fastimport.py).
# Must run before anything imports cdktf_cdktf_provider_aws.
from modules import _fastimport as _fastimport

if _cdk.install() == "cdktf":
    _fastimport.install()
