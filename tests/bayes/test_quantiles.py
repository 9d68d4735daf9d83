import numpy as np
import pytest

from bayes.quantiles import sorted_quantiles


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float64])
@pytest.mark.parametrize("samples", [501, 1000])
def test_sorted_quantiles_match_numpy(dtype, samples: int) -> None:
    rng = np.random.default_rng(samples)
    draws = rng.negative_binomial(2, 0.4, size=(7, 3, samples)).astype(dtype)
    qs = np.array([0.0, 0.025, 0.05, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.95, 0.975, 1.0])
    ours, ordered = sorted_quantiles(draws, qs)
    np.testing.assert_array_equal(ours, np.quantile(draws, qs, axis=-1, method="inverted_cdf"))
    np.testing.assert_array_equal(ordered, np.sort(draws, axis=-1))
