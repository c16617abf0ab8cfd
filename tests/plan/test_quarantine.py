"""grid.plan.quarantine: never more than max_unhealthy of a pool out of service; beyond it, stop and say why."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from grid.plan.quarantine import MASS_FAILURE, decide_quarantine
from grid.spec.lifecycle import Health, allowed_nodes


def addresses(*indexes: int) -> list[str]:
    return [f"lab/train/node-{i:04d}" for i in indexes]


def test_three_of_eight_failing_at_25_percent_quarantines_two_and_stops() -> None:
    decision = decide_quarantine(Health(on_failure="quarantine", max_unhealthy="25%"), 8, [],
                                 addresses(6, 1, 3))
    assert decision.quarantine == tuple(addresses(1, 3)) and decision.left_in_service == tuple(addresses(6))
    assert decision.stop and decision.limit == 2
    assert decision.message == (f"3 of 8 failing > max_unhealthy 25% (2): stopping — {MASS_FAILURE}")
    assert "fabric outage or a grid bug" in decision.message


def test_one_failing_node_is_quarantined() -> None:
    decision = decide_quarantine(Health(on_failure="replace", max_unhealthy="25%"), 8, [], addresses(4))
    assert decision.quarantine == tuple(addresses(4)) and not decision.stop
    assert decision.message == "1 of 8 failing ≤ max_unhealthy 25% (2): replace node-0004"


def test_nodes_already_out_count_against_the_limit() -> None:
    health = Health(on_failure="quarantine", max_unhealthy=2)
    decision = decide_quarantine(health, 8, addresses(0), addresses(0, 5, 7))
    assert decision.quarantine == tuple(addresses(5)) and decision.left_in_service == tuple(addresses(7))
    assert decision.stop and decision.message.startswith("3 of 8 failing or out > max_unhealthy 2: stopping")
    full = decide_quarantine(health, 8, addresses(0, 1), addresses(2))
    assert full.quarantine == () and full.stop


def test_report_quarantines_nothing_but_still_says_a_mass_failure() -> None:
    one = decide_quarantine(None, 8, [], addresses(3))  # no policy: the default, report at 10%
    assert one.quarantine == () and one.left_in_service == tuple(addresses(3)) and not one.stop
    assert one.message == "1 of 8 failing: reported only (on_failure: report)"
    many = decide_quarantine(Health(), 8, [], addresses(1, 2))
    assert many.quarantine == () and many.stop and "max_unhealthy 10% (1)" in many.message


def test_nothing_new_failing() -> None:
    decision = decide_quarantine(Health(on_failure="quarantine"), 8, addresses(2), [])
    assert decision.quarantine == () and not decision.stop
    assert decision.message == "no node newly failing (1 of 8 out of service, max_unhealthy 10% (1))"


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 30), share=st.one_of(st.integers(1, 30), st.integers(1, 100).map(lambda p: f"{p}%")),
       out=st.sets(st.integers(0, 29), max_size=10), failing=st.sets(st.integers(0, 29), max_size=30),
       mode=st.sampled_from(["report", "quarantine", "replace"]))
def test_never_more_than_max_unhealthy_out(size: int, share: int | str, out: set[int], failing: set[int],
                                           mode: str) -> None:
    health = Health.model_validate({"on_failure": mode, "max_unhealthy": share})
    limit = allowed_nodes(share, size)
    out_now = {i for i in out if i < size}
    if len(out_now) > limit:
        out_now = set(sorted(out_now)[:limit])
    failing_now = {i for i in failing if i < size}
    decision = decide_quarantine(health, size, addresses(*out_now), addresses(*failing_now))
    new = set(addresses(*failing_now)) - set(addresses(*out_now))
    assert len(out_now) + len(decision.quarantine) <= limit
    assert set(decision.quarantine) | set(decision.left_in_service) == new
    assert not set(decision.quarantine) & set(decision.left_in_service)
    assert decision.stop == (len(out_now) + len(new) > limit)
    if mode == "report":
        assert decision.quarantine == ()
    elif not decision.stop:
        assert set(decision.quarantine) == new
