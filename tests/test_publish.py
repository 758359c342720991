"""The publish rule on a tie: a model level with the live one is not "better", so it never goes live unasked."""
import pytest

from mnistcore.lab import publish as policy


@pytest.mark.parametrize("accuracy, live", [(0.9812, 0.9812), (0.98121, 0.98119), (0.98124, 0.98116)])
def test_a_tie_with_the_live_model_is_not_better(accuracy, live):
    check = policy.check_publish(accuracy, live, 0.95)
    assert not check.good
    assert "no better than the live model (both read 98.12%)" in check.warning
    assert "worse" not in check.warning
    assert policy.refusal(check, demo=True, confirmed=True) is not None  # demo mode: only better models
    assert policy.refusal(check, demo=False, confirmed=False) is not None  # open mode: ticked first
    assert policy.refusal(check, demo=False, confirmed=True) is None


def test_one_hundredth_of_a_percent_more_is_better():
    assert policy.check_publish(0.9813, 0.9812, 0.95).good
    assert not policy.check_publish(0.9811, 0.9812, 0.95).good
    assert "worse than the live model" in policy.check_publish(0.9811, 0.9812, 0.95).warning
