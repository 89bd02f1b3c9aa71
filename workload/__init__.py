"""The reference workload: the small service a fresh environment runs (see docs/app-tier.md).

Standard library plus ``psycopg``, ``redis`` and ``boto3`` (``requirements.txt``). It never imports the platform
(``envs``, ``modules``, ``compliance``, ``pipeline``): it is shipped alone, as a versioned tarball.
"""
