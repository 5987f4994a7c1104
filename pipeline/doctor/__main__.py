"""`make doctor`: Java, packages, jars, lakehouse lock (or the cluster's pieces), MySQL reachability and
grants, dbt manifest, data health."""

from __future__ import annotations

from pipeline.doctor.checks import run_checks
from pipeline.platform.cli import run_main
from pipeline.platform.config import load_settings


def main() -> int:
    checks = run_checks(load_settings())
    for c in checks:
        print(f"{'ok ' if c.ok else 'FIX'}  {c.name:<22} {c.detail}")
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)} of {len(checks)} checks ok" + ("" if not failed else "; fix the FIX lines"))
    return 1 if failed else 0


def cli() -> None:
    run_main(main)


if __name__ == "__main__":
    cli()
