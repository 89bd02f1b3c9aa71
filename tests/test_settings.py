"""The settings schema: the shipped files are valid, every rule rejects bad input with a message naming the file, the
field and the fix, and the CLI exits 2 without synthesizing anything."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import envs
from envs import SettingsError

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_environments_are_valid() -> None:
    loaded = envs.load_all()
    assert list(loaded) == ["dev", "staging", "prod"]
    prod = loaded["prod"]
    assert prod.protected and prod.network.az_count == 3 and prod.network.nat_strategy.value == "one_per_az"
    assert prod.availability_zones == ("us-east-1a", "us-east-1b", "us-east-1c")
    assert prod.state_key == "prod/terraform.tfstate"
    assert len({s.state_key for s in loaded.values()}) == 3


@pytest.fixture()
def envs_copy(tmp_path: Path) -> Path:
    for name in ("dev", "staging", "prod"):
        shutil.copy(ROOT / "envs" / f"{name}.toml", tmp_path / f"{name}.toml")
    return tmp_path


def edit(folder: Path, env: str, old: str, new: str) -> Path:
    path = folder / f"{env}.toml"
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
    return path


CASES = [
    # (env, old text, new text, field, words of the message)
    ("prod", "az_count = 3", "az_count = 2", "network.az_count", "needs 3 AZs"),
    ("prod", 'nat_strategy = "one_per_az"', 'nat_strategy = "single"', "network.nat_strategy", "one NAT gateway per AZ"),
    ("prod", 'protection_level = "high"', 'protection_level = "medium"', "protection_level", "prod must use"),
    ("staging", "az_count = 2", "az_count = 1", "network.az_count", "at least 2 AZs"),
    ("dev", 'vpc_cidr = "10.10.0.0/16"', 'vpc_cidr = "10.20.0.0/16"', "network.vpc_cidr", "overlaps"),
    ("dev", 'vpc_cidr = "10.10.0.0/16"', 'vpc_cidr = "10.10.0.0/33"', "network.vpc_cidr", "not a valid IPv4"),
    ("dev", 'vpc_cidr = "10.10.0.0/16"', 'vpc_cidr = "8.8.0.0/16"', "network.vpc_cidr", "not a private"),
    ("dev", 'vpc_cidr = "10.10.0.0/16"', 'vpc_cidr = "10.10.0.0/26"', "network.vpc_cidr", "/16 to /24"),
    ("dev", 'vpc_cidr = "10.10.0.0/16"', 'vpc_cidr = "10.10.0.0/24"\nsubnet_newbits = 6',
     "network", "smaller than AWS's /28"),
    ("dev", 'dr_region = "us-west-2"', 'dr_region = "us-east-1"', "dr_region", "equals region"),
    ("dev", 'account_id = "111111111111"', 'account_id = "1234"', "account_id", "fix the value"),
    ("dev", "log_retention_days = 30", "log_retention_days = 31", "log_retention_days", "closest: 30"),
    ("dev", "min_capacity = 1\nmax_capacity = 2", "min_capacity = 3\nmax_capacity = 2", "sizes",
     "lower sizes.min_capacity"),
    ("dev", 'name = "dev"', 'name = "qa"', "name", 'set name = "dev"'),
    ("dev", 'owner = "platform-team@example.com"\n', "", "tags.owner", "is required"),
    ("dev", "[tags]", "colour = \"blue\"\n[tags]", "colour", "not a known setting"),
    ("dev", 'nat_strategy = "single"', 'nat_strategy = "two"', "network.nat_strategy", "fix the value"),
]


@pytest.mark.parametrize("env,old,new,field,words", CASES, ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(CASES)])
def test_rule_rejects_with_file_field_and_fix(envs_copy: Path, env: str, old: str, new: str, field: str,
                                              words: str) -> None:
    path = edit(envs_copy, env, old, new)
    with pytest.raises(SettingsError) as caught:
        envs.load_all([env], envs_copy)
    messages = [str(p) for p in caught.value.problems]
    assert any(p.file == str(path) and p.field == field and words in p.message for p in caught.value.problems), messages


def test_invalid_toml_names_the_file(envs_copy: Path) -> None:
    (envs_copy / "dev.toml").write_text("name = \n")
    with pytest.raises(SettingsError, match=r"dev\.toml: \(file\): is not valid TOML"):
        envs.load_all(["dev"], envs_copy)


def test_unknown_environment(envs_copy: Path) -> None:
    with pytest.raises(SettingsError, match=r"--env: no environment 'qa'; choose one of: dev, staging, prod"):
        envs.load("qa", envs_copy)


def test_cli_exits_2_and_synthesizes_nothing(envs_copy: Path, tmp_path: Path) -> None:
    edit(envs_copy, "prod", "az_count = 3", "az_count = 2")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(envs_copy), "synth",
                           "--outdir", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "prod.toml: network.az_count: is 2; protection_level \"high\" needs 3 AZs: set network.az_count = 3" \
        in proc.stderr
    assert not out.exists(), "nothing may be synthesized when a settings file is bad"


def test_cli_bad_arguments_exit_2() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "deploy"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "--env" in proc.stderr and "--help" in proc.stderr


def test_subnet_layout_is_stable() -> None:
    network = envs.load("dev").network
    assert network.subnet_cidr("public", 0) == "10.10.0.0/20"
    assert network.subnet_cidr("private", 1) == "10.10.80.0/20"
    assert network.subnet_cidr("database", 0) == "10.10.128.0/20"
