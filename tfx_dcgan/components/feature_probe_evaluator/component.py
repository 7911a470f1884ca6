"""FeatureProbeEvaluator: the DCGAN paper's feature probe (Radford et al. 2015, Sec. 5.1) as a gate.

    probe = FeatureProbeEvaluator(
        examples=example_gen.outputs["examples"],   # labelled raw examples (image/encoded, label)
        model=trainer.outputs["model"],
        accuracy_threshold=0.6,
    )
    pusher = VersionedPusher(model=trainer.outputs["model"],
                             model_blessing=probe.outputs["blessing"], push_base=...)

Extracts D's features (every conv layer max-pooled to 4x4, concatenated) with batch-norm
statistics re-estimated on the real train split and frozen, fits an L2-SVM on train (C chosen on a
held-out part of train), scores the test split ("test", else "eval", which is what the image
ingest names a test/ sub-root; a held-out part of train when there is neither)
and blesses the model when test accuracy >= `accuracy_threshold`.

Outputs:
  evaluation: ModelEvaluation; `probe_metrics.json` (accuracy, per-class accuracy, confusion
    matrix, chosen C, timings, notes) and custom properties accuracy, chosen_c, num_train,
    num_test, feature_size, probe_status ("ok"/"skipped"), reason.
  blessing: ModelBlessing; a `BLESSED` or `NOT_BLESSED` file (holding the reason) and custom
    property `blessed` = 1/0 as TFX's Evaluator writes it, plus accuracy, accuracy_threshold, reason,
    current_model.

Unlabelled examples (no labels, or a single class) skip the probe: NOT_BLESSED with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from tfx_dcgan import probe
from tfx_dcgan.components.feature_probe_evaluator import executor

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

__all__ = ["FeatureProbeEvaluator", "FeatureProbeEvaluatorSpec"]


class FeatureProbeEvaluatorSpec(ComponentSpec):
    PARAMETERS = {
        executor.ACCURACY_THRESHOLD_KEY: ExecutionParameter(type=float),
        executor.C_GRID_KEY: ExecutionParameter(type=str),  # comma-separated floats
        executor.MAX_TRAIN_EXAMPLES_KEY: ExecutionParameter(type=int),
        executor.MAX_TEST_EXAMPLES_KEY: ExecutionParameter(type=int),
        executor.VALIDATION_FRACTION_KEY: ExecutionParameter(type=float),
        executor.TEST_FRACTION_KEY: ExecutionParameter(type=float),
        executor.SOLVER_KEY: ExecutionParameter(type=str),
        executor.BATCH_SIZE_KEY: ExecutionParameter(type=int),
        executor.SEED_KEY: ExecutionParameter(type=int),
        executor.TRAIN_SPLIT_KEY: ExecutionParameter(type=str),
        executor.TEST_SPLIT_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        executor.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        executor.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {
        executor.EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        executor.BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
    }


class FeatureProbeEvaluator(base_component.BaseComponent):
    """Linear probe on D's features; blesses the model when test accuracy reaches a threshold."""

    SPEC_CLASS = FeatureProbeEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        model: types.BaseChannel,
        accuracy_threshold: float = 0.0,
        c_grid: Sequence[float] = probe.DEFAULT_C_GRID,
        max_train_examples: int = 0,
        max_test_examples: int = 0,
        validation_fraction: float = 0.1,
        test_fraction: float = 0.2,
        solver: str = "auto",
        batch_size: int = 256,
        seed: int = 0,
        train_split: str = "train",
        test_split: str = "",
    ):
        """Builds the component.

        Args:
          examples: Examples channel of labelled images (the image ingest's raw examples:
            `image/encoded` bytes, `label` int64, `label/text`), with a train split and ideally a
            test split.
          model: the Trainer's Model channel (`keras/discriminator/` and `model_config.json` under
            its serving model dir).
          accuracy_threshold: bless when probe test accuracy >= this, in [0, 1] (0 blesses any
            model the probe could score; unlabelled data is never blessed).
          c_grid: candidate SVM C values (LinearSVC's parameterisation), chosen on a held-out part
            of train.
          max_train_examples: probe on a seeded random subset of this many train examples (0 =
            all); bounds the run time (full CIFAR-10: ~15 min on 2 cores).
          max_test_examples: likewise for the test split (0 = all).
          validation_fraction: share of each train class held out to choose C.
          test_fraction: with no test split, share of each train class held out as the test set.
          solver: "auto", "liblinear" (exact LinearSVC) or "sgd" (SGDClassifier, same objective;
            used for large sets). See tfx_dcgan.probe.
          batch_size: images per forward pass.
          seed: seeds subsets, hold-outs and the solver.
          train_split: the split the probe trains on (BN statistics and SVM).
          test_split: the split it is scored on; "" picks "test", else "eval" (what the image
            ingest calls a test/ sub-root), else holds out `test_fraction` of train.

        Raises:
          ValueError: a value out of range (the message names the argument).
        """
        if not 0.0 <= accuracy_threshold <= 1.0:
            raise ValueError(
                f"FeatureProbeEvaluator: accuracy_threshold must be in [0, 1], got "
                f"{accuracy_threshold}"
            )
        grid = executor.parse_c_grid(list(c_grid))
        for name, value in (
            ("validation_fraction", validation_fraction),
            ("test_fraction", test_fraction),
        ):
            if not 0.0 < value < 1.0:
                raise ValueError(f"FeatureProbeEvaluator: {name} must be in (0, 1), got {value}")
        if solver not in probe.SOLVERS:
            raise ValueError(
                f"FeatureProbeEvaluator: solver must be one of {probe.SOLVERS}, got {solver!r}"
            )
        for name, value in (
            ("max_train_examples", max_train_examples),
            ("max_test_examples", max_test_examples),
        ):
            if value < 0:
                raise ValueError(f"FeatureProbeEvaluator: {name} must be >= 0, got {value}")
        if batch_size <= 0:
            raise ValueError(
                f"FeatureProbeEvaluator: batch_size must be positive, got {batch_size}"
            )
        spec = FeatureProbeEvaluatorSpec(
            examples=examples,
            model=model,
            accuracy_threshold=float(accuracy_threshold),
            c_grid=",".join(f"{c:g}" for c in grid),
            max_train_examples=int(max_train_examples),
            max_test_examples=int(max_test_examples),
            validation_fraction=float(validation_fraction),
            test_fraction=float(test_fraction),
            solver=solver,
            batch_size=int(batch_size),
            seed=int(seed),
            train_split=train_split,
            test_split=test_split,
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing),
        )
        super().__init__(spec=spec)
