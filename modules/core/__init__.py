"""Core: what every construct shares (the context, the settings error, policy and tag helpers, Terraform literals).

Imports nothing of the tiers, of `envs/` settings or of cdktf resources beyond what a helper needs."""
