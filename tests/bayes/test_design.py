"""The model's covariates: what a sparse text signal turns into."""

from __future__ import annotations

import numpy as np

from bayes.design import nlp_lagged, nlp_scale_of


def sparse_signal() -> tuple[np.ndarray, np.ndarray]:
    """One notification in a 40 x 12 x 6 panel whose corpus covers the last two years."""
    signal = np.zeros((40, 12, 6))
    signal[3, 5, 4] = 1.0
    covered = np.array([0, 0, 0, 0, 1, 1], dtype=np.int8)
    return signal, covered


def test_one_mention_stays_one_mention_not_tens_of_sds() -> None:
    signal, covered = sparse_signal()
    x = nlp_lagged(signal, covered, nlp_scale_of(signal, covered))
    # Standardising by the spread of so sparse a signal gave this cell ~30; the model then read
    # a single notification as an enormous effect.
    assert 0.6 < x[0, 3, 5, 4] < np.log(2.0) + 1e-9
    assert x[1, 3, 5, 5] == x[0, 3, 5, 4]  # the same mention, a year on, at lag 1
    assert np.abs(x).max() < 1.0


def test_years_the_corpus_does_not_cover_are_masked_to_the_covered_mean() -> None:
    signal, covered = sparse_signal()
    x = nlp_lagged(signal, covered, nlp_scale_of(signal, covered))
    assert (x[0, :, :, :4] == 0).all()
    covered_cells = x[0, :, :, 4:]
    assert abs(covered_cells.mean()) < 1e-12  # centred: a masked year reads as the average year


def test_more_mentions_add_less_each() -> None:
    signal, covered = sparse_signal()
    signal[7, 2, 5] = 3.0
    x = nlp_lagged(signal, covered, nlp_scale_of(signal, covered))
    one, three = x[0, 3, 5, 4], x[0, 7, 2, 5]
    baseline = x[0, 0, 0, 5]
    assert three - baseline < 3 * (one - baseline)
    assert three > one
