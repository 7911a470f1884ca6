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
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from tfx_dcgan import image_ops, models, probe, probe_data
from tfx_dcgan.config import ModelConfig

import numpy as np
import tensorflow as tf

__all__ = [
    "ROW_KINDS",
    "DiscriminatorSource",
    "SupervisedConfig",
    "BaselineConfig",
    "infer_model_config",
    "load_discriminator_source",
    "build_supervised_classifier",
    "train_supervised_classifier",
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
class SupervisedConfig:
    """Training of the supervised same-architecture CNN.

    Attributes:
      steps: optimizer steps when trained on all labels.
      few_label_steps: optimizer steps when trained on k labels per class.
      batch_size: examples per step (sampled in shuffled epochs of the labelled set).
      learning_rate, beta1: Adam's (the DCGAN values by default).
    """

    steps: int = 5000
    few_label_steps: int = 2000
    batch_size: int = 64
    learning_rate: float = 2e-4
    beta1: float = 0.5


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


@dataclasses.dataclass
class DiscriminatorSource:
    """A trained D and where it came from.

    Attributes:
      discriminator: the model (from `models.build_discriminator` or an equivalent SavedModel).
      model_config: its architecture.
      description: where it was loaded from.
      step: GAN training steps (-1 if unknown).
      train_wall_s: GAN training wall time in seconds, estimated from train_log.jsonl (None if
        unknown).
    """

    discriminator: tf.keras.Model
    model_config: ModelConfig
    description: str
    step: int = -1
    train_wall_s: float | None = None


def infer_model_config(discriminator: tf.keras.Model, z_dim: int = 100) -> ModelConfig:
    """Reads D's architecture (size, channels, ndf, kernel) off a loaded model."""
    _, size, _, channels = discriminator.input_shape
    first = discriminator.get_layer("d_conv0")
    return ModelConfig(
        image_size=int(size),
        channels=int(channels),
        ndf=int(first.filters),
        kernel_size=int(first.kernel_size[0]),
        z_dim=z_dim,
    )


def _estimate_train_wall_s(workdir: str, batch_size: int) -> float | None:
    """Sum over train_log.jsonl lines of (steps since last line) x batch / images per second."""
    path = os.path.join(workdir, "train_log.jsonl")
    if not os.path.exists(path):
        return None
    total, last_step = 0.0, 0
    with open(path) as stream:
        for line in stream:
            try:
                entry = json.loads(line)
                step, rate = int(entry["step"]), float(entry["images_per_second"])
            except (ValueError, KeyError):
                continue
            if rate > 0 and step > last_step:
                total += (step - last_step) * batch_size / rate
            last_step = max(last_step, step)
    return total or None


def load_discriminator_source(
    workdir: str = "", discriminator_dir: str = ""
) -> DiscriminatorSource:
    """Loads the trained D from a training workdir or a SavedModel folder.

    Args:
      workdir: a `tfx-dcgan train` workdir (latest checkpoint, config.json, train_log.jsonl).
      discriminator_dir: a Trainer serving model dir (model_config.json + keras/discriminator/),
        a Model artifact folder holding Format-Serving/, or a Keras SavedModel of D itself.

    Raises:
      ValueError: neither or both given.
      FileNotFoundError: nothing loadable there (the message names the path).
    """
    if bool(workdir) == bool(discriminator_dir):
        raise ValueError("give exactly one of --workdir and --discriminator_dir")
    if workdir:
        from tfx_dcgan import train_lib

        with open(os.path.join(workdir, train_lib.CONFIG_FILE)) as stream:
            experiment = json.load(stream)
        _, discriminator, step = train_lib.restore_models(workdir)
        config = infer_model_config(discriminator)
        batch = int(experiment.get("train", {}).get("batch_size", 0))
        return DiscriminatorSource(
            discriminator,
            config,
            f"checkpoint in {workdir}",
            step,
            _estimate_train_wall_s(workdir, batch) if batch else None,
        )
    try:
        discriminator, experiment, step, model_dir = probe_data.load_trainer_discriminator(
            discriminator_dir
        )
        description = f"Trainer model {model_dir}"
    except FileNotFoundError:
        if not tf.io.gfile.exists(os.path.join(discriminator_dir, "saved_model.pb")):
            raise FileNotFoundError(
                f"--discriminator_dir {discriminator_dir}: neither a Trainer model (with "
                "model_config.json) nor a Keras SavedModel (saved_model.pb)"
            ) from None
        discriminator = probe_data.load_keras_discriminator(discriminator_dir)
        step, description = -1, f"Keras SavedModel {discriminator_dir}"
    return DiscriminatorSource(discriminator, infer_model_config(discriminator), description, step)


# ----------------------------------------------------------------------------------------------
# The supervised baseline


def build_supervised_classifier(
    config: ModelConfig, num_classes: int, seed: int | None = None
) -> tf.keras.Model:
    """D's architecture with a softmax classifier instead of the realness logit.

    Returns:
      A Keras model: float32 [N, S, S, C] in [-1, 1] -> logits [N, num_classes]; layers d_conv*,
      d_bn*, d_lrelu*, d_flatten as in `models.build_discriminator`, then `class_logits`.
    """
    discriminator = models.build_discriminator(config, seed=seed)
    flat = discriminator.get_layer("d_flatten").output
    logits = tf.keras.layers.Dense(
        num_classes,
        kernel_initializer=tf.keras.initializers.RandomNormal(
            stddev=models.WEIGHT_INIT_STDDEV, seed=seed
        ),
        name="class_logits",
        dtype="float32",
    )(flat)
    return tf.keras.Model(discriminator.input, logits, name="supervised_classifier")


def train_supervised_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    model_config: ModelConfig,
    num_classes: int,
    config: SupervisedConfig,
    steps: int,
    seed: int = 0,
) -> tuple[tf.keras.Model, dict[str, Any]]:
    """Trains `build_supervised_classifier` with Adam on softmax cross-entropy.

    Args:
      images: uint8 [N, S, S, C] labelled train images.
      labels: int [N].
      model_config: the architecture (D's).
      num_classes: softmax width.
      config: batch size and optimiser.
      steps: optimizer steps.
      seed: init and batch order.

    Returns:
      (the trained network with BN statistics re-estimated on `images` and frozen,
       {"steps", "train_wall_s", "final_loss"}).
    """
    tf.keras.utils.set_random_seed(seed)
    network = build_supervised_classifier(model_config, num_classes, seed=seed)
    optimizer = tf.keras.optimizers.Adam(config.learning_rate, beta_1=config.beta1)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def train_step(batch_images: tf.Tensor, batch_labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            logits = network(batch_images, training=True)
            loss = loss_fn(batch_labels, logits)
        grads = tape.gradient(loss, network.trainable_variables)
        optimizer.apply_gradients(zip(grads, network.trainable_variables))
        return loss

    rng = np.random.default_rng(seed)
    batch = min(config.batch_size, len(images))
    order, position = rng.permutation(len(images)), 0
    start = time.perf_counter()
    last_log = start
    loss = float("nan")
    for step in range(steps):
        if position + batch > len(order):
            order, position = rng.permutation(len(images)), 0
        index = np.sort(order[position : position + batch])
        position += batch
        loss = float(
            train_step(
                image_ops.to_model_range(images[index]),
                tf.constant(labels[index], tf.int64),
            )
        )
        now = time.perf_counter()
        if now - last_log > 30 or step + 1 == steps:
            last_log = now
            log.info(
                "supervised: step %d/%d, loss %.4f, %.1f steps/s",
                step + 1,
                steps,
                loss,
                (step + 1) / (now - start),
            )
    wall = time.perf_counter() - start
    frozen = probe.reestimate_batch_norm(network, images, batch_size=256)
    return frozen, {"steps": steps, "train_wall_s": round(wall, 1), "final_loss": loss}


def _predict(network: tf.keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    forward = probe.make_inference_fn(network)
    return np.concatenate(
        [
            forward(batch).numpy().argmax(axis=1)
            for batch in probe.iterate_batches(images, batch_size)
        ]
    )


# ----------------------------------------------------------------------------------------------
# The table


def _row_id(kind: str, budget: int, seed: int) -> str:
    return f"{kind}-{'all' if budget == 0 else f'{budget}pc'}-seed{seed}"


def _write_json_atomically(path: str, payload: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(handle, "w") as stream:
        json.dump(payload, stream, indent=2, allow_nan=False)
    os.replace(temporary, path)


def _check_run_key(output_dir: str, run_key: dict[str, Any]) -> None:
    """Refuses to mix rows of different data/models/settings in one output folder."""
    path = os.path.join(output_dir, "run_key.json")
    if os.path.exists(path):
        with open(path) as stream:
            stored = json.load(stream)
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
    os.makedirs(os.path.join(config.output_dir, "rows"), exist_ok=True)
    _check_run_key(config.output_dir, run_key or {})
    num_classes = int(max(train.labels.max(), test.labels.max())) + 1
    class_names = train.class_names or [str(i) for i in range(num_classes)]
    kinds = [k for k in config.kinds if k != "probe_trained" or trained is not None]
    if "probe_trained" in config.kinds and trained is None:
        log.warning("no trained D (--workdir / --discriminator_dir): probe_trained rows left out")
    plan = [(k, b, s) for k in kinds for b in config.label_budgets for s in config.seeds]
    rows: list[dict[str, Any]] = []
    features_cache: dict[str, tuple[np.ndarray, np.ndarray, dict[str, float]]] = {}

    def probe_inputs(kind: str) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        if kind not in features_cache:
            features_cache.clear()  # one D's features in memory at a time
            if kind == "probe_trained":
                discriminator = trained.discriminator
            else:
                discriminator = models.build_discriminator(model_config, seed=random_seed)
            start = time.perf_counter()
            feature_model, bn_s = probe.prepare_feature_model(
                discriminator, train.images, config.probe
            )
            train_features = probe.extract_features(
                feature_model, train.images, batch_size=config.probe.batch_size, name="train"
            )
            test_features = probe.extract_features(
                feature_model, test.images, batch_size=config.probe.batch_size, name="test"
            )
            probe.standardize_features(train_features, test_features)
            timings = {
                "bn_reestimation_s": round(bn_s, 1),
                "features_s": round(time.perf_counter() - start - bn_s, 1),
            }
            features_cache[kind] = (train_features, test_features, timings)
        return features_cache[kind]

    for kind, budget, seed in plan:
        row_id = _row_id(kind, budget, seed)
        path = os.path.join(config.output_dir, "rows", f"{row_id}.json")
        if os.path.exists(path):
            with open(path) as stream:
                rows.append(json.load(stream))
            log.info("row %s: done earlier, skipped", row_id)
            continue
        log.info("row %s: computing", row_id)
        start = time.perf_counter()
        row: dict[str, Any] = {
            "row_id": row_id,
            "kind": kind,
            "method": _KIND_TITLES[kind],
            "labels_per_class": budget or None,
            "seed": seed,
        }
        if budget:
            try:
                subset = probe.few_label_indices(train.labels, budget, seed)
            except probe.ProbeError as error:
                row.update(status="skipped", reason=str(error))
                _write_json_atomically(path, row)
                rows.append(row)
                log.warning("row %s skipped: %s", row_id, error)
                continue
        else:
            subset = np.arange(len(train))
        row["num_train_labels"] = int(len(subset))
        row["num_test"] = int(len(test))
        if kind == "supervised":
            steps = config.supervised.few_label_steps if budget else config.supervised.steps
            network, info = train_supervised_classifier(
                train.images[subset],
                train.labels[subset],
                model_config,
                num_classes,
                config.supervised,
                steps,
                seed,
            )
            predictions = _predict(network, test.images)
            accuracy = float(np.mean(predictions == test.labels))
            row.update(
                status="ok",
                accuracy=accuracy,
                budget={
                    "network_steps": info["steps"],
                    "network_train_wall_s": info["train_wall_s"],
                    "batch_size": config.supervised.batch_size,
                },
                details={"final_train_loss": info["final_loss"]},
            )
        else:
            train_features, test_features, timings = probe_inputs(kind)
            probe_config = dataclasses.replace(config.probe, seed=seed)
            chosen = train_features if not budget else train_features[subset]
            row["statistics"] = (
                f"BN and standardisation statistics from all {len(train)} train images "
                "(labels unused); C chosen with the fit part of "
                + (f"the {len(subset)} labelled images" if budget else "train")
                + f" re-standardised without its {config.probe.validation_fraction:.0%} "
                "held out"
            )
            result = probe.probe_features(
                chosen,
                train.labels[subset],
                test_features,
                test.labels,
                probe_config,
                class_names=class_names,
                standardize=False,
                labels_per_class=budget or None,
                timings=dict(timings),
            )
            gan = (
                {
                    "gan_steps": trained.step,
                    "gan_train_wall_s": trained.train_wall_s,
                    "source": trained.description,
                }
                if kind == "probe_trained"
                else {
                    "gan_steps": 0,
                    "gan_train_wall_s": 0.0,
                    "source": f"random init seed {random_seed}",
                }
            )
            row.update(
                status="ok",
                accuracy=result.accuracy,
                budget=gan,
                details={
                    "chosen_c": result.chosen_c,
                    "validation_accuracy": result.validation_accuracy,
                    "feature_size": result.feature_size,
                    "solver": result.solver,
                    "per_class_accuracy": result.to_dict()["per_class_accuracy"],
                    "timings": result.timings,
                },
            )
        row["row_wall_s"] = round(time.perf_counter() - start, 1)
        _write_json_atomically(path, row)
        rows.append(row)
        log.info("row %s: accuracy %.4f (%.0f s)", row_id, row["accuracy"], row["row_wall_s"])
    _write_json_atomically(
        os.path.join(config.output_dir, "results.json"), {"run_key": run_key or {}, "rows": rows}
    )
    table = format_table(rows)
    with open(os.path.join(config.output_dir, "results.md"), "w") as stream:
        stream.write(table + "\n")
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
