"""Network tier: the VPC, its subnet tiers, egress, NACLs, flow logs and gateway endpoints."""
