import pytest
import redis

from config.policy import stage_policies
from pipeline.errors import InputVanishedError, PermanentError, TransientError
from workers.broker import retry_when_for


@pytest.mark.parametrize("stage", sorted(stage_policies()))
def test_an_outage_is_retried_long_enough_to_outlast_minutes_a_bug_briefly_a_bad_upload_never(stage):
    policy = stage_policies()[stage]
    retry = retry_when_for(policy)
    backoff = sum(min(policy.min_backoff_s * 2 ** n, policy.max_backoff_s) for n in range(policy.max_retries))
    assert backoff >= 300, f"{stage}: transient retries cover only {backoff:.0f} s"
    for error in (TransientError("S3 transport: reset"), redis.ConnectionError("refused"), ConnectionResetError()):
        assert retry(policy.max_retries - 1, error) and not retry(policy.max_retries, error)
    assert retry(0, KeyError("ours")) and not retry(policy.max_unexpected_retries, KeyError("ours"))
    assert not retry(0, PermanentError("bad upload")) and not retry(0, InputVanishedError("gone"))
