"""The ads client gives up an idle pooled connection before the server would close it.

Against a real advertisements gunicorn on a loopback port. The pool's clock is a test clock,
so "idle for 30 s" is a number, not a wait; the sockets and the server are real.
"""

from __future__ import annotations

import pytest
from shopcommon.serving import KEEPALIVE_SECONDS


class TestClock:
    __test__ = False

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _client(url: str, clock: TestClock, max_idle: float):
    from storefront.ads.client import AdsClient
    from storefront.settings import AdsSettings

    return AdsClient(AdsSettings(url=url), max_idle=max_idle, clock=clock)


def _local_ports(client, url: str) -> set:
    """The client-side ports of the connections in the pool that have a socket open."""
    pools = client.session.get_adapter(url).poolmanager.pools
    conns = [conn for key in pools.keys() for conn in list(pools[key].pool.queue)]
    return {conn.sock.getsockname()[1] for conn in conns if conn is not None and conn.sock}


def test_the_default_limit_stays_below_gunicorns_keep_alive():
    from storefront.ads.pool import MAX_IDLE_SECONDS

    assert 0 < MAX_IDLE_SECONDS < KEEPALIVE_SECONDS


def test_a_connection_is_reused_below_the_limit_and_replaced_at_it(ads_v1):
    clock = TestClock()
    client = _client(ads_v1.url, clock, max_idle=30)
    assert client.fetch_ads("home", {}) is not None
    (first,) = _local_ports(client, ads_v1.url)

    clock.now += 29.9
    assert client.fetch_ads("home", {}) is not None
    assert _local_ports(client, ads_v1.url) == {first}, "reused while idle below the limit"

    clock.now += 30
    assert client.fetch_ads("home", {}) is not None
    (second,) = _local_ports(client, ads_v1.url)
    assert second != first, "a connection idle for the limit must be replaced, not reused"


def test_the_limit_counts_from_the_last_use_of_each_connection(ads_v1):
    clock = TestClock()
    client = _client(ads_v1.url, clock, max_idle=30)
    for _ in range(4):  # used every 20 s: never idle for 30 s, so never replaced
        assert client.fetch_ads("home", {}) is not None
        clock.now += 20
    assert len(_local_ports(client, ads_v1.url)) == 1


@pytest.mark.parametrize("max_idle", [0, -1])
def test_a_limit_must_be_positive(max_idle):
    from storefront.ads.pool import IdleLimitedAdapter

    with pytest.raises(ValueError, match="max_idle"):
        IdleLimitedAdapter(max_idle=max_idle)
