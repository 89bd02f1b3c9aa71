"""PLAT_LOG_001: CloudTrail trails are multi-region with log file validation enabled."""
from compliance.checklib import CheckCategories, PlatformCheck, combine, require, truthy


class CloudTrailMultiRegionValidated(PlatformCheck):
    ID = "PLAT_LOG_001"
    NAME = "CloudTrail is multi-region with log file validation"
    RESOURCES = ("aws_cloudtrail",)
    CATEGORY = CheckCategories.LOGGING

    def evaluate(self, attrs, ctx):
        return combine([require(truthy(attrs.get("is_multi_region_trail"))),
                        require(truthy(attrs.get("enable_log_file_validation")))])


check = CloudTrailMultiRegionValidated()
