"""The reconnect backoff: doubling, the two ceilings, jitter, and its rules."""
import pytest

from edge.errors import ConfigError
from edge.sinks.backoff import Backoff


def test_doubles_from_the_minimum_up_to_the_ceiling():
    b = Backoff(min_delay_s=0.5, max_delay_s=10.0, alarm_max_delay_s=1.0, jitter=0.0)
    assert b.delay_s(0, urgent=False, u=0.9) == 0.0  # the first attempt does not wait
    assert [b.delay_s(n, urgent=False, u=0.0) for n in range(1, 8)] == \
        [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert b.delay_s(10_000, urgent=False, u=0.0) == 10.0  # no overflow


def test_an_alarm_lowers_the_ceiling_at_any_failure_count():
    b = Backoff(min_delay_s=0.5, max_delay_s=30.0, alarm_max_delay_s=1.0, jitter=0.0)
    assert [b.delay_s(n, urgent=True, u=0.0) for n in range(1, 6)] == \
        [0.5, 1.0, 1.0, 1.0, 1.0]
    assert b.delay_s(6, urgent=False, u=0.0) == 16.0


@pytest.mark.parametrize("u", [0.0, 0.25, 0.5, 0.999])
def test_jitter_takes_a_share_of_the_delay(u):
    b = Backoff(min_delay_s=1.0, max_delay_s=8.0, alarm_max_delay_s=1.0, jitter=0.5)
    d = b.delay_s(3, urgent=False, u=u)
    assert d == pytest.approx(4.0 * (1 - 0.5 * u))
    assert 2.0 < d <= 4.0 or (u == 0.0 and d == 4.0)
    assert b.delay_s(3, urgent=True, u=u) <= 1.0


@pytest.mark.parametrize("kw,field", [
    ({"min_delay_s": 0}, "min_delay_s"),
    ({"min_delay_s": float("nan")}, "min_delay_s"),
    ({"max_delay_s": 0.1}, "max_delay_s"),
    ({"alarm_max_delay_s": 20.0}, "alarm_max_delay_s"),
    ({"alarm_max_delay_s": 0.1}, "alarm_max_delay_s"),
    ({"jitter": 1.5}, "jitter"),
    ({"jitter": True}, "jitter"),
])
def test_rules_name_the_field(kw, field):
    with pytest.raises(ConfigError) as err:
        Backoff(**kw)
    assert err.value.field == field
