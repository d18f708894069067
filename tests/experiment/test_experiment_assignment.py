"""Sticky assignment: one arm per customer for good, and the configured share within exact bounds."""

from __future__ import annotations

import random
import uuid

import pytest
from scipy import stats as sps
from storefront.experiment import assignment


def synthetic_customers(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [uuid.UUID(int=rng.getrandbits(128), version=4).hex for _ in range(count)]


def test_the_same_customer_always_gets_the_same_arm():
    for customer in synthetic_customers(50, seed=1):
        arms = {assignment.assign(customer) for _ in range(50)}
        assert len(arms) == 1
        assert assignment.bucket(customer) == assignment.bucket(customer)


@pytest.mark.parametrize("share", [0.5, 0.2, 0.9])
def test_share_of_v2_over_2000_customers_is_within_exact_binomial_bounds(share):
    customers = synthetic_customers(2000, seed=7)
    v2 = sum(assignment.assign(c, share=share) == "v2" for c in customers)
    low, high = sps.binom.interval(0.999, 2000, share)
    assert low <= v2 <= high


def test_share_edges_and_salt():
    customers = synthetic_customers(200, seed=3)
    assert all(assignment.assign(c, share=0.0) == "v1" for c in customers)
    assert all(assignment.assign(c, share=1.0) == "v2" for c in customers)
    # A new salt is a new experiment: a different (but again fixed) split.
    moved = sum(assignment.assign(c, salt="a") != assignment.assign(c, salt="b") for c in customers)
    assert 0 < moved < len(customers)
    with pytest.raises(ValueError):
        assignment.assign(customers[0], share=1.5)


def test_customer_id_format():
    fresh = assignment.new_customer_id()
    assert assignment.is_valid_customer_id(fresh)
    assert len({assignment.new_customer_id() for _ in range(100)}) == 100
    for bad in [
        None,
        "",
        "x" * 32,
        fresh.upper(),
        fresh[:-1],
        fresh + "0",
        str(uuid.UUID(fresh)),
        uuid.uuid1().hex,
        "../../etc/passwd",
        fresh[:12] + "1" + fresh[13:],
    ]:
        assert not assignment.is_valid_customer_id(bad), bad
