import numpy as np
import pandas as pd
import pytest
from factor_analyzer.rotator import Rotator
from sklearn.decomposition import PCA

from emolib.human import appraisal
from emolib import released
from emolib.human.appraisal import ITEM_PATTERNS, AppraisalPCA, name_components, parallel_analysis, varimax


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    ratings = released.appraisal_ratings()
    return ratings[ratings["included"]][list(released.APPRAISAL_ITEMS.values())]


def _two_factor_data(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((n, 2))
    pattern = np.zeros((2, 8))
    pattern[0, :4], pattern[1, 4:] = 0.9, 0.8
    return factors @ pattern + 0.5 * rng.standard_normal((n, 8))


def test_numpy_varimax_equals_factor_analyzer_rotator():
    rng = np.random.default_rng(1)
    loadings = rng.normal(size=(20, 4))
    rotated, rotation = varimax(loadings)
    rotator = Rotator(method="varimax", normalize=True, max_iter=1000, tol=1e-5)
    np.testing.assert_allclose(rotator.fit_transform(loadings), rotated, atol=1e-12)
    np.testing.assert_allclose(rotator.rotation_, rotation, atol=1e-12)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(4), atol=1e-12)
    np.testing.assert_allclose((rotated**2).sum(1), (loadings**2).sum(1))  # communalities kept


def test_varimax_increases_the_varimax_criterion():
    rng = np.random.default_rng(2)
    loadings = rng.normal(size=(15, 3))

    def criterion(a: np.ndarray) -> float:
        h = a / np.sqrt((a**2).sum(1, keepdims=True))
        return float(((h**4).mean(0) - (h**2).mean(0) ** 2).sum())

    assert criterion(varimax(loadings)[0]) > criterion(loadings)


def test_parallel_analysis_counts_strong_components_and_matches_a_loop():
    x = _two_factor_data()
    result = parallel_analysis(x, n_sets=20, seed=3)
    assert result.n_components == 2
    rng = np.random.default_rng(3)
    z = rng.standard_normal((20, *x.shape))
    loop = np.array([np.linalg.eigvalsh(np.corrcoef(s, rowvar=False))[::-1] for s in z])
    np.testing.assert_allclose(result.simulated, np.quantile(loop, 0.95, axis=0), atol=1e-10)
    noise_counts = [parallel_analysis(np.random.default_rng(s).standard_normal((300, 8)), seed=s).n_components
                    for s in range(10)]
    assert np.mean(noise_counts) < 0.5  # pure noise: a component only by chance (~5 % per rank)
    with pytest.raises(ValueError, match="quantile"):
        parallel_analysis(x, quantile=1.5)


def test_unrotated_solution_matches_sklearn_pca_on_standardised_data(items):
    pca = AppraisalPCA(n_components=6, rotation="none").fit(items)
    z = items.fillna(5).to_numpy(float)
    z = (z - z.mean(0)) / z.std(0, ddof=1)
    reference = PCA().fit(z)
    np.testing.assert_allclose(pca.eigenvalues_, reference.explained_variance_, rtol=1e-10)
    # loadings = eigenvector * sqrt(eigenvalue), up to the column sign
    ref = reference.components_[:6].T * np.sqrt(reference.explained_variance_[:6])
    np.testing.assert_allclose(np.abs(pca.unrotated_loadings_), np.abs(ref), atol=1e-10)


def test_psych_conventions_on_the_appraisal_items(items):
    pca = AppraisalPCA(seed=0)
    assert pca.fit(items) is pca
    assert pca.n_components_ == 6 and pca.parallel_.n_components == 6
    loadings = pca.loadings_.to_numpy()
    assert (loadings.sum(0) > 0).all()
    assert (np.diff(pca.ss_loadings_.to_numpy()) < 0).all()
    # the component order and names of the method notes (RC1, RC2, RC3, RC5, RC6, RC4)
    assert pca.psych_labels_ == ["RC1", "RC2", "RC3", "RC5", "RC6", "RC4"]
    assert pca.names_ == ["control", "fairness", "self-relativity", "other-relativity", "expectedness", "novelty"]
    scores = pca.transform(items)
    np.testing.assert_allclose(scores.std(ddof=1), 1.0, atol=1e-10)  # regression scores of components
    np.testing.assert_allclose(np.corrcoef(scores.to_numpy(), rowvar=False), np.eye(6), atol=1e-10)
    # rotation_ maps the unrotated loadings to the reported ones
    np.testing.assert_allclose(pca.unrotated_loadings_ @ pca.rotation_, loadings, atol=1e-12)


def test_names_follow_the_loadings_not_the_position(items):
    pca = AppraisalPCA(seed=0).fit(items)
    shuffled = pca.loadings_.iloc[:, [3, 0, 5, 1, 4, 2]]
    assert name_components(shuffled) == [pca.names_[k] for k in [3, 0, 5, 1, 4, 2]]
    assert name_components(-shuffled) == name_components(shuffled)  # sign does not matter
    with pytest.raises(ValueError, match="lack the pattern items"):
        name_components(shuffled.drop(index="fairness"))
    assert set(ITEM_PATTERNS) == set(pca.names_)


def test_bad_input_raises_value_errors(items):
    with pytest.raises(ValueError, match="rotation"):
        AppraisalPCA(rotation="promax").fit(items)
    with pytest.raises(ValueError, match="n_components"):
        AppraisalPCA(n_components=0).fit(items)
    with pytest.raises(ValueError, match="not fitted"):
        AppraisalPCA().transform(items)
    with pytest.raises(ValueError, match="item columns"):
        AppraisalPCA(n_components=2).fit(items).transform(items.iloc[:, :5])
    assert appraisal.__all__


def test_summary_lists_psych_labels_ss_loadings_and_top_items(items):
    pca = AppraisalPCA(seed=0).fit(items)
    summary = pca.summary()
    assert summary.index.name == "attribute" and summary.index.tolist() == pca.names_
    assert summary["psych label"].tolist() == pca.psych_labels_
    ss = (pca.loadings_**2).sum(axis=0).to_numpy()
    np.testing.assert_allclose(summary["sum of squared loadings"], ss, rtol=1e-12)
    assert summary["sum of squared loadings"].is_monotonic_decreasing
    for name in pca.names_:
        size = {item: abs(pca.loadings_.loc[item, name]) for item in pca.items_}
        top = sorted(size, key=size.get, reverse=True)[:3]
        assert pca.summary(n_items=3).loc[name, "top items"] == ", ".join(top)
    assert summary.loc["control", "top items"].split(", ")[0] in ITEM_PATTERNS["control"]
    with pytest.raises(ValueError, match="not fitted"):
        AppraisalPCA().summary()
