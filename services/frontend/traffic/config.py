"""Command-line arguments of the traffic generator, validated into a TrafficConfig."""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from typing import NoReturn, Optional
from urllib.parse import urlsplit

PROG = "python -m traffic"
DEFAULT_HOST = "http://127.0.0.1:8080"  # the local mesh's gateway
MAX_RATE = 1000.0
MAX_DURATION = 86_400.0
MAX_CUSTOMERS = 10_000


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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _number(low: float, high: float, low_open: bool = False) -> object:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
        too_low = value <= low if low_open else value < low
        if math.isnan(value) or too_low or value > high:
            bound = f"more than {low:g}" if low_open else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"{raw!r} must be {bound} and at most {high:g}")
        return value

    return parse


def _integer(low: int, high: int) -> object:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{raw!r} must be between {low} and {high}")
        return value

    return parse


def _host(raw: str) -> str:
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{raw!r}: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{raw!r} must look like http://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{raw!r} must not carry a path, query or fragment")
    return raw.rstrip("/")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Simulated customers browse the shop, add to cart and click ads (Locust, headless).",
    )
    parser.add_argument(
        "--host",
        type=_host,
        default=os.environ.get("TRAFFIC_HOST") or DEFAULT_HOST,
        help=f"shop URL (default: TRAFFIC_HOST or {DEFAULT_HOST})",
    )
    parser.add_argument(
        "--rate",
        type=_number(0, MAX_RATE, low_open=True),
        default=5.0,
        help="page views per second, all customers together (default 5)",
    )
    parser.add_argument(
        "--duration",
        type=_number(0, MAX_DURATION, low_open=True),
        default=60.0,
        help="seconds to run (default 60)",
    )
    parser.add_argument(
        "--customers",
        type=_integer(1, MAX_CUSTOMERS),
        default=20,
        help="simulated customers, each with its own cookies (default 20)",
    )
    parser.add_argument(
        "--click-relevant",
        type=_number(0, 1),
        default=0.08,
        help="click propensity for a 2.0 (relevant) banner on a product page (default 0.08)",
    )
    parser.add_argument(
        "--click-general",
        type=_number(0, 1),
        default=0.03,
        help="click propensity for any other banner (default 0.03)",
    )
    parser.add_argument(
        "--cart",
        type=_number(0, 1),
        default=0.1,
        help="chance to add a viewed product to the cart (default 0.1)",
    )
    parser.add_argument(
        "--home-share",
        type=_number(0, 1),
        default=0.3,
        help="share of page views that go to the home page (default 0.3)",
    )
    parser.add_argument(
        "--progress",
        type=_number(0, 3600, low_open=True),
        default=5.0,
        help="seconds between progress lines (default 5)",
    )
    parser.add_argument(
        "--seed", type=_integer(0, 2**31 - 1), default=None, help="random seed, for repeatable customers"
    )
    parser.add_argument(
        "--summary-json", metavar="PATH", default=None, help="also write the final counts as JSON to PATH"
    )
    return parser


def parse_args(argv: Optional[list[str]] = None) -> TrafficConfig:
    """Validated settings; UsageError with a one-line message on bad input."""
    args = _parser().parse_args(argv)
    if args.summary_json and not os.path.isdir(os.path.dirname(os.path.abspath(args.summary_json))):
        raise UsageError(f"argument --summary-json: the folder of {args.summary_json!r} does not exist")
    return TrafficConfig(
        host=args.host,
        rate=args.rate,
        duration=args.duration,
        customers=args.customers,
        click_relevant=args.click_relevant,
        click_general=args.click_general,
        cart=args.cart,
        home_share=args.home_share,
        progress=args.progress,
        seed=args.seed,
        summary_json=args.summary_json,
    )
