import pytest

from edge.errors import ConfigError
from edge.store import RetentionPolicy, parse_duration_s, parse_retention


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("30m", 1800),
                                           ("24h", 86400), ("7d", 604800), ("1.5h", 5400),
                                           ("2w", 1209600)])
def test_durations(text, seconds):
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-1h", "24x", "h", "nan", "1e999", "365251d"])
def test_bad_durations_name_the_option(text):
    with pytest.raises(ConfigError, match="--since"):
        parse_duration_s(text, "--since")


def test_retention_overrides_and_forever():
    p = parse_retention(["strip=2d", "beat=0", "link=12h"])
    assert (p.strip_days, p.beat_days, p.device_days) == (2.0, 0.0, 0.5)
    assert p.alert_days == RetentionPolicy().alert_days


@pytest.mark.parametrize("item", ["strips=2d", "strip", "strip=soon"])
def test_bad_retention(item):
    with pytest.raises(ConfigError):
        parse_retention([item])


def test_policy_validates():
    with pytest.raises(ConfigError, match="strip_days"):
        RetentionPolicy(strip_days=-1)
