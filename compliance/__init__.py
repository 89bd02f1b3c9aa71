"""The compliance gate: Checkov plus the platform's checks, the policy, waivers, reports and the plan review."""

#: The project's repository: the GitHub repository the platform's own CI deploys from (``security.ci_github_repository``
#: in envs/*.toml). One place for every reference to it: pyproject's ``[project.urls]``, SARIF's ``informationUri``,
#: the copy-paste snippets of docs/adopting-the-gate.md and .pre-commit-hooks.yaml (tests/test_project_urls.py).
REPOSITORY = "example-org/webplatform"
HOMEPAGE = f"https://github.com/{REPOSITORY}"
