"""Run the customers headless with Locust's library API, bounded in rate and time, with progress lines."""

from __future__ import annotations

import json
import signal
import sys
import time

import gevent
from locust import constant_throughput
from locust.env import Environment
from locust.log import setup_logging

from .config import PROG, TrafficConfig
from .customer import ShopCustomer, Tally

# More failed requests than this share makes the run exit non-zero (the shop should never fail).
MAX_FAILURE_RATIO = 0.01
STOP_TIMEOUT_SECONDS = 30.0


def _banners(counter: dict) -> str:
    return (
        " ".join(f"{source}/{version}={count}" for (source, version), count in sorted(counter.items())) or "-"
    )


def _progress_line(env: Environment, tally: Tally, started: float) -> str:
    total = env.stats.total
    elapsed = time.monotonic() - started
    return (
        f"[{elapsed:5.0f}s] requests {total.num_requests} ({total.num_requests / max(elapsed, 1e-9):.1f}/s), "
        f"failures {total.num_failures}, page views {tally.page_views}, cart adds {tally.cart_adds}, "
        f"banners {_banners(tally.banners)}, clicks {_banners(tally.clicks)}"
    )


def run(config: TrafficConfig) -> int:
    """Run until config.duration has passed; 0 if (nearly) every request succeeded."""
    setup_logging("WARNING")
    tally = Tally()
    customer = type(
        "Customer",
        (ShopCustomer,),
        {
            "abstract": False,
            "config": config,
            "tally": tally,
            "host": config.host,
            # Each task run is one action; spreading the rate over the customers bounds the total.
            "wait_time": constant_throughput(config.rate / config.customers),
        },
    )
    # When the time is up, each customer finishes the request it has in flight (bounded): a page
    # the shop served, and counted as an impression, is then in this summary too.
    env = Environment(user_classes=[customer], host=config.host, stop_timeout=STOP_TIMEOUT_SECONDS)
    runner = env.create_local_runner()
    print(
        f"traffic: {config.customers} customers, {config.rate:g} actions/s for {config.duration:g}s "
        f"against {config.host} (click propensity: relevant {config.click_relevant:g}, "
        f"general {config.click_general:g}; cart {config.cart:g})",
        flush=True,
    )
    started = time.monotonic()
    # Ramp customers in over about a second of the target rate, not all in the first instant.
    runner.start(config.customers, spawn_rate=max(1.0, min(float(config.customers), config.rate)))

    def report_progress() -> None:
        while True:
            gevent.sleep(config.progress)
            print(_progress_line(env, tally, started), flush=True)

    progress = gevent.spawn(report_progress)
    gevent.spawn_later(config.duration, runner.quit)
    # SIGTERM (docker stop, Kubernetes) ends the run as its duration would. Python as a container's
    # PID 1 would otherwise ignore it until the engine's SIGKILL.
    gevent.signal_handler(signal.SIGTERM, runner.quit)
    runner.greenlet.join()
    progress.kill()

    total = env.stats.total
    print(_progress_line(env, tally, started).replace("[", "[done ", 1), flush=True)
    summary = {
        "host": config.host,
        "duration": round(time.monotonic() - started, 3),
        "requests": total.num_requests,
        "failures": total.num_failures,
        "errors": [f"{e.method} {e.name}: {e.error}" for e in list(env.stats.errors.values())[:5]],
        **tally.as_dict(),
    }
    if config.summary_json:
        with open(config.summary_json, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2)
    if total.num_requests == 0 or total.num_failures > MAX_FAILURE_RATIO * total.num_requests:
        first = summary["errors"][0] if summary["errors"] else "no request completed"
        print(
            f"{PROG}: {total.num_failures} of {total.num_requests} requests failed ({first})", file=sys.stderr
        )
        return 1
    return 0
