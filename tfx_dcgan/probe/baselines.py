"""The paper's comparisons around the feature probe, as one resumable table (Radford et al. 2015).

Rows, each at all labels and at k labels per class (default k = 1000 and 100):
  * probe_trained: the linear L2-SVM probe on a GAN-trained discriminator's features;
  * probe_random: the same probe on a randomly initialised D of the same architecture (how much
    did GAN training add?);
  * supervised: a CNN with D's architecture (the same conv stack, batch norm and LeakyReLU; a
    softmax layer instead of the realness logit) trained from scratch on the same labels (the
    paper's SVHN comparison, Table 2).

Probe rows share one feature extraction per discriminator: BN statistics re-estimated on all
(unlabelled) train images, features standardised with the train statistics; a k-labels row then
fits the SVM on its k labels per class only (C chosen on a held-out part of those labels, never
on test, with the fit part re-standardised without the held-out rows). Each row records where its
statistics came from (`statistics`). The supervised network's BN statistics are re-estimated on its labelled train images.

Every finished row is written to `<output_dir>/rows/<row_id>.json` at once; running the same
command again skips the finished rows (resume after an interruption, or add seeds/rows later).
`<output_dir>/results.json` and `results.md` hold the table.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from tfx_dcgan import fileio, models, probe
from tfx_dcgan.config import ModelConfig
from tfx_dcgan.probe import data as probe_data
from tfx_dcgan.probe.discriminators import DiscriminatorSource
from tfx_dcgan.probe.supervised import (
    SupervisedConfig,
    predict_classes,
    train_supervised_classifier,
)

import numpy as np

__all__ = [
    "ROW_KINDS",
    "BaselineConfig",
    "run_baselines",
    "format_table",
]

log = logging.getLogger(__name__)

ROW_KINDS = ("probe_trained", "probe_random", "supervised")
_KIND_TITLES = {
    "probe_trained": "L2-SVM probe, GAN-trained D",
    "probe_random": "L2-SVM probe, random-init D",
    "supervised": "supervised CNN, D's architecture",
}


@dataclasses.dataclass(frozen=True)
class BaselineConfig:
    """What the table holds.

    Attributes:
      output_dir: rows/, results.json and results.md go here.
      kinds: subset of ROW_KINDS.
      label_budgets: labels per class; 0 means all labels.
      seeds: probe seeds (validation split, few-label draw, supervised init and order).
      probe: the probe configuration (its seed is replaced by each of `seeds`).
      supervised: the supervised network's training.
    """

    output_dir: str
    kinds: tuple[str, ...] = ROW_KINDS
    label_budgets: tuple[int, ...] = (0, 1000, 100)
    seeds: tuple[int, ...] = (0,)
    probe: probe.ProbeConfig = dataclasses.field(default_factory=probe.ProbeConfig)
    supervised: SupervisedConfig = dataclasses.field(default_factory=SupervisedConfig)


def _row_id(kind: str, budget: int, seed: int) -> str:
    return f"{kind}-{'all' if budget == 0 else f'{budget}pc'}-seed{seed}"


def _write_json_atomically(path: str, payload: dict[str, Any]) -> None:
    fileio.write_atomically(path, json.dumps(payload, indent=2, allow_nan=False))


def _check_run_key(output_dir: str, run_key: dict[str, Any]) -> None:
    """Refuses to mix rows of different data/models/settings in one output folder."""
    path = os.path.join(output_dir, "run_key.json")
    if fileio.exists(path):
        stored = json.loads(fileio.read_text(path))
        if stored != run_key:
            changed = sorted(
                k for k in set(stored) | set(run_key) if stored.get(k) != run_key.get(k)
            )
            raise ValueError(
                f"{output_dir} holds rows of a different setup (changed: {', '.join(changed)}); "
                "use another --output_dir, or delete that folder to start over"
            )
    else:
        _write_json_atomically(path, run_key)


@dataclasses.dataclass
class _TableInputs:
    """What every row of one table reads."""

    train: probe_data.LabelledImages
    test: probe_data.LabelledImages
    config: BaselineConfig
    model_config: ModelConfig
    trained: DiscriminatorSource | None
    random_seed: int
    num_classes: int
    class_names: list[str]


class _FeatureCache:
    """Standardised train/test features of one discriminator at a time (they are large)."""

    def __init__(self, inputs: _TableInputs) -> None:
        self._inputs = inputs
        self._kind = ""
        self._value: tuple[np.ndarray, np.ndarray, dict[str, float]] | None = None

    def _discriminator(self, kind: str) -> Any:
        inputs = self._inputs
        if kind == "probe_trained":
            return inputs.trained.discriminator
        return models.build_discriminator(inputs.model_config, seed=inputs.random_seed)

    def get(self, kind: str) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """(train features [N, F], test features [M, F], timings) of `kind`'s D."""
        if kind != self._kind or self._value is None:
            self._value = None  # free the previous D's features first
            inputs, probe_config = self._inputs, self._inputs.config.probe
            start = time.perf_counter()
            feature_model, bn_s = probe.prepare_feature_model(
                self._discriminator(kind), inputs.train.images, probe_config
            )
            train_features = probe.extract_features(
                feature_model, inputs.train.images, batch_size=probe_config.batch_size, name="train"
            )
            test_features = probe.extract_features(
                feature_model, inputs.test.images, batch_size=probe_config.batch_size, name="test"
            )
            probe.standardize_features(train_features, test_features)
            timings = {
                "bn_reestimation_s": round(bn_s, 1),
                "features_s": round(time.perf_counter() - start - bn_s, 1),
            }
            self._kind, self._value = kind, (train_features, test_features, timings)
        return self._value


def _supervised_row(
    inputs: _TableInputs, subset: np.ndarray, budget: int, seed: int
) -> dict[str, Any]:
    supervised_config = inputs.config.supervised
    steps = supervised_config.few_label_steps if budget else supervised_config.steps
    network, info = train_supervised_classifier(
        inputs.train.images[subset],
        inputs.train.labels[subset],
        inputs.model_config,
        inputs.num_classes,
        supervised_config,
        steps,
        seed,
    )
    predictions = predict_classes(network, inputs.test.images)
    return {
        "status": "ok",
        "accuracy": float(np.mean(predictions == inputs.test.labels)),
        "budget": {
            "network_steps": info["steps"],
            "network_train_wall_s": info["train_wall_s"],
            "batch_size": supervised_config.batch_size,
        },
        "details": {"final_train_loss": info["final_loss"]},
    }


def _gan_budget(inputs: _TableInputs, kind: str) -> dict[str, Any]:
    if kind == "probe_trained":
        return {
            "gan_steps": inputs.trained.step,
            "gan_train_wall_s": inputs.trained.train_wall_s,
            "source": inputs.trained.description,
        }
    return {
        "gan_steps": 0,
        "gan_train_wall_s": 0.0,
        "source": f"random init seed {inputs.random_seed}",
    }


def _probe_row(
    inputs: _TableInputs,
    features: _FeatureCache,
    kind: str,
    subset: np.ndarray,
    budget: int,
    seed: int,
) -> dict[str, Any]:
    train_features, test_features, timings = features.get(kind)
    validation_fraction = inputs.config.probe.validation_fraction
    statistics = (
        f"BN and standardisation statistics from all {len(inputs.train)} train images "
        "(labels unused); C chosen with the fit part of "
        + (f"the {len(subset)} labelled images" if budget else "train")
        + f" re-standardised without its {validation_fraction:.0%} held out"
    )
    result = probe.probe_features(
        train_features if not budget else train_features[subset],
        inputs.train.labels[subset],
        test_features,
        inputs.test.labels,
        dataclasses.replace(inputs.config.probe, seed=seed),
        class_names=inputs.class_names,
        standardize=False,
        labels_per_class=budget or None,
        timings=dict(timings),
    )
    return {
        "statistics": statistics,
        "status": "ok",
        "accuracy": result.accuracy,
        "budget": _gan_budget(inputs, kind),
        "details": {
            "chosen_c": result.chosen_c,
            "validation_accuracy": result.validation_accuracy,
            "feature_size": result.feature_size,
            "solver": result.solver,
            "per_class_accuracy": result.to_dict()["per_class_accuracy"],
            "timings": result.timings,
        },
    }


def _compute_row(
    inputs: _TableInputs, features: _FeatureCache, kind: str, budget: int, seed: int
) -> dict[str, Any]:
    """One row: its labelled subset, then the supervised network or the probe on it."""
    start = time.perf_counter()
    row: dict[str, Any] = {
        "row_id": _row_id(kind, budget, seed),
        "kind": kind,
        "method": _KIND_TITLES[kind],
        "labels_per_class": budget or None,
        "seed": seed,
    }
    if budget:
        try:
            subset = probe.few_label_indices(inputs.train.labels, budget, seed)
        except probe.ProbeError as error:
            row.update(status="skipped", reason=str(error))
            log.warning("row %s skipped: %s", row["row_id"], error)
            return row
    else:
        subset = np.arange(len(inputs.train))
    row["num_train_labels"] = int(len(subset))
    row["num_test"] = int(len(inputs.test))
    if kind == "supervised":
        row.update(_supervised_row(inputs, subset, budget, seed))
    else:
        row.update(_probe_row(inputs, features, kind, subset, budget, seed))
    row["row_wall_s"] = round(time.perf_counter() - start, 1)
    log.info("row %s: accuracy %.4f (%.0f s)", row["row_id"], row["accuracy"], row["row_wall_s"])
    return row


def run_baselines(
    train: probe_data.LabelledImages,
    test: probe_data.LabelledImages,
    config: BaselineConfig,
    *,
    model_config: ModelConfig,
    trained: DiscriminatorSource | None = None,
    run_key: dict[str, Any] | None = None,
    random_seed: int = 0,
) -> list[dict[str, Any]]:
    """Computes the missing rows of the table, storing each as it finishes.

    Args:
      train, test: labelled images (uint8) at the model's geometry.
      config: rows, budgets, seeds, probe and supervised settings.
      model_config: the architecture of the random D and of the supervised CNN (the trained
        D's when there is one).
      trained: the GAN-trained D; None leaves out the probe_trained rows.
      run_key: a JSON description of data and models; rows in `output_dir` from a different key
        are refused.
      random_seed: seed of the random-init D's weights.

    Returns:
      All rows (finished earlier or now), in table order.
    """
    fileio.makedirs(os.path.join(config.output_dir, "rows"))
    _check_run_key(config.output_dir, run_key or {})
    num_classes = int(max(train.labels.max(), test.labels.max())) + 1
    inputs = _TableInputs(
        train=train,
        test=test,
        config=config,
        model_config=model_config,
        trained=trained,
        random_seed=random_seed,
        num_classes=num_classes,
        class_names=train.class_names or [str(i) for i in range(num_classes)],
    )
    kinds = [k for k in config.kinds if k != "probe_trained" or trained is not None]
    if "probe_trained" in config.kinds and trained is None:
        log.warning("no trained D (--workdir / --discriminator_dir): probe_trained rows left out")
    features = _FeatureCache(inputs)
    rows: list[dict[str, Any]] = []
    for kind, budget, seed in (
        (k, b, s) for k in kinds for b in config.label_budgets for s in config.seeds
    ):
        row_id = _row_id(kind, budget, seed)
        path = os.path.join(config.output_dir, "rows", f"{row_id}.json")
        if fileio.exists(path):
            rows.append(json.loads(fileio.read_text(path)))
            log.info("row %s: done earlier, skipped", row_id)
            continue
        log.info("row %s: computing", row_id)
        row = _compute_row(inputs, features, kind, budget, seed)
        _write_json_atomically(path, row)
        rows.append(row)
    _write_json_atomically(
        os.path.join(config.output_dir, "results.json"), {"run_key": run_key or {}, "rows": rows}
    )
    fileio.write_atomically(
        os.path.join(config.output_dir, "results.md"), format_table(rows) + "\n"
    )
    return rows


def _format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table: one line per (method, labels per class), accuracy mean +- std over seeds."""
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["kind"], row.get("labels_per_class")), []).append(row)
    lines = [
        "| method | labels/class | train labels | test accuracy | seeds | training budget | "
        "row wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for (kind, budget), members in groups.items():
        done = [r for r in members if r.get("status") == "ok"]
        labels = "all" if budget is None else str(budget)
        if not done:
            reason = members[0].get("reason", "not run")
            lines.append(f"| {_KIND_TITLES[kind]} | {labels} | - | skipped: {reason} | - | - | - |")
            continue
        accuracies = np.array([r["accuracy"] for r in done])
        accuracy = f"{100 * accuracies.mean():.2f}%"
        if len(done) > 1:
            accuracy += f" ± {100 * accuracies.std(ddof=1):.2f}"
        budget_info = done[0]["budget"]
        if kind == "supervised":
            spent = (
                f"{budget_info['network_steps']} steps x {budget_info['batch_size']}, "
                f"{_format_seconds(budget_info['network_train_wall_s'])}"
            )
        elif kind == "probe_trained":
            steps = budget_info["gan_steps"]
            spent = (
                f"GAN {steps if steps >= 0 else '?'} steps, "
                f"~{_format_seconds(budget_info['gan_train_wall_s'])}"
            )
        else:
            spent = "none (random init)"
        wall = _format_seconds(float(np.mean([r["row_wall_s"] for r in done])))
        lines.append(
            f"| {_KIND_TITLES[kind]} | {labels} | {done[0]['num_train_labels']} | {accuracy} | "
            f"{','.join(str(r['seed']) for r in done)} | {spent} | {wall} |"
        )
    return "\n".join(lines)
