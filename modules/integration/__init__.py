"""Integration tier: API Gateway, service networking (VPC Lattice, Cloud Map) and outbound integrations (interface
endpoints, external credentials), composed by `modules.integration.tier`."""
