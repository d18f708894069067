"""`python -m traffic ...`: validate the arguments, then run Locust headless."""

from __future__ import annotations

import sys

from .config import PROG, UsageError, parse_args


def main() -> int:
    try:
        config = parse_args(sys.argv[1:])
    except UsageError as error:
        print(f"{PROG}: error: {error} (see --help)", file=sys.stderr)
        return 2
    from .run import run  # imported late: Locust monkey-patches the standard library on import

    return run(config)


if __name__ == "__main__":
    sys.exit(main())
