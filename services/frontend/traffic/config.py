"""Command-line arguments of the traffic generator, validated into a TrafficConfig."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Callable, NoReturn, Optional, Union
from urllib.parse import urlsplit

from shopcommon.settings import Number

PROG = "python -m traffic"
DEFAULT_HOST = "http://127.0.0.1:8080"  # the local mesh's gateway
MAX_RATE = 1000.0
MAX_DURATION = 86_400.0
MAX_CUSTOMERS = 10_000
_SHARE = Number(low=0, high=1)
_POSITIVE = {"low": 0, "low_open": True}


class UsageError(ValueError):
    """A bad argument; the message is the one line the CLI prints."""


@dataclass(frozen=True)
class TrafficConfig:
    host: str
    rate: float  # page views per second, all customers together
    duration: float  # seconds
    customers: int
    click_relevant: float  # click propensity for a 2.0 banner on a product page
    click_general: float  # click propensity for every other banner
    cart: float  # chance to add the product to the cart after viewing it
    home_share: float  # chance a page view goes to the home page instead of a product
    progress: float  # seconds between progress lines
    seed: Optional[int] = None
    summary_json: Optional[str] = None


# The numeric options: (flag, parser, default, help).
_NUMBERS: tuple[tuple[str, Number, Union[float, int, None], str], ...] = (
    ("--rate", Number(high=MAX_RATE, **_POSITIVE), 5.0,
     "page views per second, all customers together (default 5)"),
    ("--duration", Number(high=MAX_DURATION, **_POSITIVE), 60.0, "seconds to run (default 60)"),
    ("--customers", Number(whole=True, low=1, high=MAX_CUSTOMERS), 20,
     "simulated customers, each with its own cookies (default 20)"),
    ("--click-relevant", _SHARE, 0.08,
     "click propensity for a 2.0 (relevant) banner on a product page (default 0.08)"),
    ("--click-general", _SHARE, 0.03, "click propensity for any other banner (default 0.03)"),
    ("--cart", _SHARE, 0.1, "chance to add a viewed product to the cart (default 0.1)"),
    ("--home-share", _SHARE, 0.3, "share of page views that go to the home page (default 0.3)"),
    ("--progress", Number(high=3600, **_POSITIVE), 5.0, "seconds between progress lines (default 5)"),
    ("--seed", Number(whole=True, low=0, high=2**31 - 1), None, "random seed, for repeatable customers"),
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _argument(parse: Callable[[str], object]) -> Callable[[str], object]:
    """parse as an argparse type: its reason, after the value, in argparse's one-line error."""

    def checked(raw: str) -> object:
        try:
            return parse(raw)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{raw!r}: {error}") from None

    return checked


def _host(raw: str) -> str:
    parts = urlsplit(raw)
    parts.port  # noqa: B018 - raises ValueError (the reason) on a malformed port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must look like http://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must not carry a path, query or fragment")
    return raw.rstrip("/")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Simulated customers browse the shop, add to cart and click ads (Locust, headless).",
    )
    parser.add_argument(
        "--host",
        type=_argument(_host),
        default=os.environ.get("TRAFFIC_HOST") or DEFAULT_HOST,
        help=f"shop URL (default: TRAFFIC_HOST or {DEFAULT_HOST})",
    )
    for flag, parse, default, description in _NUMBERS:
        parser.add_argument(flag, type=_argument(parse), default=default, help=description)
    parser.add_argument(
        "--summary-json", metavar="PATH", default=None, help="also write the final counts as JSON to PATH"
    )
    return parser


def parse_args(argv: Optional[list[str]] = None) -> TrafficConfig:
    """Validated settings; UsageError with a one-line message on bad input."""
    args = _parser().parse_args(argv)
    if args.summary_json and not os.path.isdir(os.path.dirname(os.path.abspath(args.summary_json))):
        raise UsageError(f"argument --summary-json: the folder of {args.summary_json!r} does not exist")
    return TrafficConfig(**vars(args))
