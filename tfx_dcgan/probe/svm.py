"""Label subsets and splits, and the linear L2-SVM (primal L-BFGS, liblinear, SGD)."""

from __future__ import annotations

import logging
import time
from typing import Any

from tfx_dcgan.probe.config import (
    ProbeConfig,
    ProbeError,
)
from tfx_dcgan.probe.features import standardize_features

import numpy as np

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------------------
# Label subsets and splits


def few_label_indices(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of `per_class` examples of every class, drawn without replacement, seeded.

    Args:
      labels: int [N], class indices >= 0.
      per_class: k, the labels kept per class.
      seed: the draw's seed (the same seed gives the same subset).

    Returns:
      Sorted int64 indices, k per class.

    Raises:
      ProbeError: some class has fewer than k examples (the message names it).
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise ProbeError(
                f"class {int(label)} has {len(members)} labelled examples, fewer than the "
                f"{per_class} labels per class asked for"
            )
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Splits indices into (kept, held_out) with `fraction` of each class held out.

    Every class with at least 2 examples gives at least one to each side.

    Returns:
      Two sorted int64 index arrays.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = int(round(fraction * len(members)))
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        else:
            count = 0
        held.append(members[:count])
        kept.append(members[count:])
    return np.sort(np.concatenate(kept)).astype(np.int64), np.sort(np.concatenate(held)).astype(
        np.int64
    )


# ----------------------------------------------------------------------------------------------
# The linear L2-SVM


def _resolve_solver(solver: str, num_train: int, num_features: int) -> str:
    del num_train, num_features  # Measured faster and more accurate at every size tried.
    return "primal" if solver == "auto" else solver


class PrimalL2Svm:
    """One-vs-rest L2-regularised squared-hinge linear SVM solved in the primal with L-BFGS.

    Minimises, for each class k with targets y in {-1, +1},
        0.5 ||w_k||^2 + C * sum_i max(0, 1 - y_ik (w_k . x_i + b_k))^2,
    LinearSVC's objective (loss="squared_hinge", penalty="l2"; the bias is not penalised here),
    for all classes at once. The objective is smooth (once differentiable), so quasi-Newton
    converges to the same optimum liblinear's coordinate descent finds; each iteration is two
    float32 [N, F] x [F, K] matrix products, so it runs on every core through BLAS, on the caller's
    float32 matrix without copies. scipy.optimize.minimize does the L-BFGS.

    Attributes (after fit): coef_ float32 [K, F], intercept_ float32 [K], classes_ [K], n_iter_.
    """

    def __init__(
        self,
        C: float = 1.0,
        max_iter: int = 100,
        tol: float = 1e-4,
        warm_start_from: PrimalL2Svm | None = None,
    ) -> None:
        self.C, self.max_iter, self.tol = C, max_iter, tol
        self.warm_start_from = warm_start_from

    def fit(self, features: np.ndarray, labels: np.ndarray) -> PrimalL2Svm:
        from scipy.optimize import minimize

        features = np.asarray(features, np.float32)
        self.classes_, encoded = np.unique(labels, return_inverse=True)
        count, size = features.shape
        num_classes = len(self.classes_)
        targets = -np.ones((count, num_classes), np.float32)
        targets[np.arange(count), encoded] = 1.0
        # Divide by C * N: the same minimiser, with values and gradients of order one.
        scale = 1.0 / (self.C * count)

        def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
            weights = params[: size * num_classes].reshape(size, num_classes)
            bias = params[size * num_classes :]
            margins = features @ weights.astype(np.float32) + bias.astype(np.float32)
            slack = np.maximum(0.0, 1.0 - targets * margins)
            value = (
                0.5 * scale * float(np.sum(weights**2))
                + float(np.sum(slack.astype(np.float64) ** 2)) / count
            )
            residual = (-2.0 / count) * targets * slack
            grad_w = scale * weights + (features.T @ residual).astype(np.float64)
            grad_b = residual.sum(axis=0, dtype=np.float64)
            return value, np.concatenate([grad_w.ravel(), grad_b])

        start = np.zeros(size * num_classes + num_classes, np.float64)
        previous = self.warm_start_from
        if previous is not None and previous.coef_.shape == (num_classes, size):
            # Along a path of growing C, the last solution is a close start (fewer iterations).
            start[: size * num_classes] = previous.coef_.T.ravel()
            start[size * num_classes :] = previous.intercept_
        solution = minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.max_iter, "gtol": self.tol * 1e-2, "ftol": self.tol * 1e-3},
        )
        self.n_iter_ = int(solution.nit)
        self.converged_ = bool(solution.success)
        params = solution.x
        self.coef_ = params[: size * num_classes].reshape(size, num_classes).T.astype(np.float32)
        self.intercept_ = params[size * num_classes :].astype(np.float32)
        return self

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, np.float32) @ self.coef_.T + self.intercept_

    def predict(self, features: np.ndarray) -> np.ndarray:
        scores = self.decision_function(features)
        return self.classes_[np.argmax(scores, axis=1)]


def _make_svm(
    solver: str, c: float, num_train: int, config: ProbeConfig, previous: Any = None
) -> Any:
    # scikit-learn costs ~1 s to import: only the probe pays it.
    from sklearn.linear_model import SGDClassifier
    from sklearn.svm import LinearSVC

    if solver == "primal":
        return PrimalL2Svm(
            C=c, max_iter=config.max_iter or 100, tol=config.tol, warm_start_from=previous
        )
    if solver == "liblinear":
        return LinearSVC(
            C=c,
            loss="squared_hinge",
            penalty="l2",
            dual=True,
            tol=config.tol,
            max_iter=config.max_iter or 2000,
            random_state=config.seed,
        )
    # 0.5||w||^2 + C sum_i h_i  ==  C n * (alpha/2 ||w||^2 + (1/n) sum_i h_i)  with alpha = 1/(C n).
    return SGDClassifier(
        loss="squared_hinge",
        penalty="l2",
        alpha=1.0 / (c * num_train),
        max_iter=config.max_iter or 30,
        tol=config.tol,
        n_iter_no_change=3,
        average=True,
        shuffle=True,
        random_state=config.seed,
        n_jobs=config.n_jobs,
    )


def _fit(
    solver: str,
    c: float,
    features: np.ndarray,
    labels: np.ndarray,
    config: ProbeConfig,
    previous: Any = None,
) -> Any:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    classifier = _make_svm(solver, c, len(features), config, previous)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        classifier.fit(features, labels)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        log.info("solver %s did not fully converge at C=%g (max_iter reached)", solver, c)
    return classifier


def selection_sets(
    features: np.ndarray, labels: np.ndarray, fit_idx: np.ndarray, val_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The C-selection fit and validation sets, standardised on the fit part alone.

    The held-out validation rows must not shape the scaling that C is chosen under, so the copies
    are re-standardised with the fit rows' mean and std. (Features standardised on all of train
    are an affine map of the raw ones, and a z-score is invariant to it: this equals scaling the
    raw features with the fit rows' statistics.)

    Returns:
      (fit_x, fit_y, val_x, val_y): float32 copies and their labels.
    """
    fit_x, val_x = features[fit_idx], features[val_idx]
    standardize_features(fit_x, val_x)
    return fit_x, labels[fit_idx], val_x, labels[val_idx]


def fit_linear_svm(
    features: np.ndarray, labels: np.ndarray, config: ProbeConfig
) -> tuple[Any, float, dict[str, float], dict[str, Any]]:
    """Chooses C on a stratified hold-out of the training data, then refits on all of it.

    During C selection the fit part is re-standardised without the held-out rows
    (`selection_sets`); the refit uses `features` as given.

    Args:
      features: float32 [N, F], standardised.
      labels: int [N], at least two classes.
      config: grid, hold-out fraction, solver, seed.

    Returns:
      (classifier fitted on all N, chosen C, {str(C): validation accuracy}, info) where info has
      solver, num_validation, c_selection_s, refit_s.
    """
    config.validate()
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        raise ProbeError("the linear probe needs at least two classes in the training labels")
    solver = _resolve_solver(config.solver, len(features), features.shape[1])
    fit_idx, val_idx = stratified_split(labels, config.validation_fraction, config.seed)
    validation_accuracy: dict[str, float] = {}
    best_classifier = None
    start = time.perf_counter()
    if len(config.c_grid) == 1 or len(val_idx) == 0:
        chosen_c = float(config.c_grid[0])
    else:
        fit_x, fit_y, val_x, val_y = selection_sets(features, labels, fit_idx, val_idx)
        previous = None
        best_classifier, best_accuracy = None, -1.0
        for c in sorted(config.c_grid):
            t0 = time.perf_counter()
            classifier = _fit(solver, c, fit_x, fit_y, config, previous)
            previous = classifier if isinstance(classifier, PrimalL2Svm) else None
            accuracy = float(np.mean(classifier.predict(val_x) == val_y))
            validation_accuracy[f"{c:g}"] = accuracy
            if accuracy > best_accuracy:
                best_classifier, best_accuracy = classifier, accuracy
            log.info(
                "C=%g: validation accuracy %.4f (%s, %d fit / %d val, %.1f s)",
                c,
                accuracy,
                solver,
                len(fit_idx),
                len(val_idx),
                time.perf_counter() - t0,
            )
        del fit_x, val_x
        # Ties go to the smaller C (stronger regularisation): the first best along the path.
        chosen_c = float(max(config.c_grid, key=lambda c: (validation_accuracy[f"{c:g}"], -c)))
    selection_s = time.perf_counter() - start
    start = time.perf_counter()
    warm = best_classifier if isinstance(best_classifier, PrimalL2Svm) else None
    classifier = _fit(solver, chosen_c, features, labels, config, warm)
    refit_s = time.perf_counter() - start
    log.info("refit on all %d train examples at C=%g: %.1f s", len(features), chosen_c, refit_s)
    info = {
        "solver": solver,
        "num_validation": int(len(val_idx)),
        "c_selection_s": selection_s,
        "refit_s": refit_s,
    }
    return classifier, chosen_c, validation_accuracy, info


def evaluate_classifier(
    classifier: Any, features: np.ndarray, labels: np.ndarray, num_classes: int
) -> tuple[float, list[float], list[list[int]]]:
    """Test accuracy, per-class accuracy (recall; NaN for a class absent from the test set) and the
    confusion matrix (rows = true class, columns = predicted)."""
    predictions = classifier.predict(features)
    labels = np.asarray(labels)
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    totals = confusion.sum(axis=1)
    per_class = [
        float(confusion[i, i] / totals[i]) if totals[i] else float("nan")
        for i in range(num_classes)
    ]
    accuracy = float(np.trace(confusion) / max(confusion.sum(), 1))
    return accuracy, per_class, confusion.tolist()
