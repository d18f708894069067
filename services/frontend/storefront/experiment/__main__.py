"""Command line: `python -m storefront.experiment reset --yes` or `... report` (from services/frontend).

Uses DATABASE_URL like the app (else the SQLite file in services/frontend/instance/), or
--database-url. Errors are one line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import NoReturn, Optional

from shopcommon.settings import SettingError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from . import store
from .report import build_report
from .settings import load_settings

PROG = "python -m storefront.experiment"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line and a non-zero exit, not argparse's usage block: the shop's commands all answer so.
        self.exit(2, f"{PROG}: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Manage the ads A/B experiment's stored events.")
    parser.add_argument("--database-url", help="database URL (default: DATABASE_URL, else the SQLite file)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    reset = commands.add_parser("reset", help="delete every impression and click (the schema stays)")
    reset.add_argument("--yes", action="store_true", help="really delete")
    commands.add_parser("report", help="print the experiment report as JSON")
    return parser


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 1


def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    # --database-url stands for DATABASE_URL, and is checked like it.
    environ = {**os.environ, **({"DATABASE_URL": args.database_url} if args.database_url else {})}
    try:
        config = load_settings(environ)
    except SettingError as error:
        return _fail(str(error))
    url = config.database_url
    shown = make_url(url).render_as_string(hide_password=True)
    engine = store.make_engine(url)
    try:
        store.ensure_schema(engine)
        if args.command == "reset":
            if not args.yes:
                counts = {row.name: 0 for row in (store.impressions, store.clicks)}
                for cell in store.segment_counts(engine):
                    counts["impressions"] += cell.impressions
                    counts["clicks"] += cell.clicks
                print(
                    f"{PROG}: would delete {counts['impressions']} impressions and {counts['clicks']} clicks "
                    f"from {shown}; add --yes to do it",
                    file=sys.stderr,
                )
                return 2
            deleted = store.reset_experiment(engine)
            print(f"deleted {deleted['impressions']} impressions and {deleted['clicks']} clicks from {shown}")
            return 0
        cells = store.segment_counts(engine)
        report = build_report(cells, config.weights, config.mde, config.baseline, srm_unit=config.srm_unit)
        dropped = store.dropped_counts(engine)
        report["recording"] = {"dropped": {"impressions": dropped["impression"], "clicks": dropped["click"]}}
        print(json.dumps(report, indent=2))
        return 0
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return _fail(f"database {shown}: {reason}")
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
