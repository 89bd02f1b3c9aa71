"""Environment settings: the schema, the loader and one TOML file per environment (data, not code paths)."""
from .loader import ENVIRONMENTS, Problem, SettingsError, available, envs_dir, load, load_all, load_file
from .schema import EnvironmentSettings, NatStrategy, ProtectionLevel
from .target import AWS, EMULATOR_UNSUPPORTED, Target

__all__ = ["AWS", "EMULATOR_UNSUPPORTED", "ENVIRONMENTS", "EnvironmentSettings", "NatStrategy", "Problem",
           "ProtectionLevel", "SettingsError", "Target", "available", "envs_dir", "load", "load_all", "load_file"]
