"""The Istio release whose behaviour localmesh reproduces: its CRD schemas, routing and analyzer.

Everything that depends on the Istio version reads it from here: Python code imports it, scripts
run `python -m localmesh.versions`, and the cluster scripts (cluster/lib.sh), which must run
without the venv, read the ISTIO_VERSION line with sed, so it stays a plain double-quoted literal.
"""

from __future__ import annotations

import sys

ISTIO_VERSION = "1.29.6"
ISTIO_MINOR = ".".join(ISTIO_VERSION.split(".")[:2])


def main() -> int:
    """Print the Istio version (`--minor`: only major.minor) for scripts."""
    print(ISTIO_MINOR if "--minor" in sys.argv[1:] else ISTIO_VERSION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
