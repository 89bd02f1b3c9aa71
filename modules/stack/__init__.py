"""The stack layer: one stack per environment. The only place that reads `EnvironmentSettings` (envs/) and maps
it onto the typed settings of each tier."""
