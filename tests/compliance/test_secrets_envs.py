"""No false positive of the secret rules on the three environments: the synthesized configurations of dev, staging
and prod have no plaintext-secret finding and nothing that the renderers would scrub (every value stays readable in a
review)."""
from __future__ import annotations

from typing import Any

import pytest

from compliance.secrets import collect_secrets, find_literal_secrets


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_environments_have_no_secret_finding(synth_aws: dict[str, Any], env: str) -> None:
    doc = synth_aws[env]
    hits = [(f"{rtype}.{name}", path) for rtype, named in doc["resource"].items() for name, body in named.items()
            for path in find_literal_secrets(body)]
    assert hits == []
    assert collect_secrets(doc) == []
