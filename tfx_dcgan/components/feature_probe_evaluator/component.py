"""FeatureProbeEvaluator: the DCGAN paper's feature probe (Radford et al. 2015, Sec. 5.1) as a gate.

    probe = FeatureProbeEvaluator(
        examples=example_gen.outputs["examples"],   # labelled raw examples (image/encoded, label)
        model=trainer.outputs["model"],
        accuracy_threshold=0.6,
    )
    pusher = VersionedPusher(model=trainer.outputs["model"],
                             model_blessing=probe.outputs["blessing"], push_base=...)

Computes D's features (every conv layer max-pooled to 4x4, concatenated) through the exported
feature extractor, the SavedModel that will be pushed (Transform graph, then D with batch-norm
statistics the Trainer re-estimated on the real train split and froze), fits an L2-SVM on train
(C chosen on a held-out part of train), scores the test split ("test", else "eval", which is what
the image ingest names a test/ sub-root; a held-out part of train when there is neither), measures
FID and KID of the exported generator's samples against the test split (named with the count,
`fid_500`), and blesses the model when test accuracy >= `accuracy_threshold` (and, with a
`fid_ceiling`, FID <= it).

Outputs:
  evaluation: ModelEvaluation; `probe_metrics.json` (accuracy, per-class accuracy, confusion
    matrix, chosen C, timings, notes; sample_quality: FID/KID, counts, baselines),
    `feature_rows.npz` (a few test images with their feature rows) and custom properties
    accuracy, chosen_c, num_train, num_test, feature_size, probe_status ("ok"/"skipped"),
    reason, fid_<count>, kid_<count>, kid_<count>_std, fid, fid_count, fid_name.
  blessing: ModelBlessing; a `BLESSED` or `NOT_BLESSED` file (holding the reason) and custom
    property `blessed` = 1/0 as TFX's Evaluator writes it, plus accuracy, accuracy_threshold, reason,
    current_model.

Unlabelled examples (no labels, or a single class) skip the probe: NOT_BLESSED with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from tfx_dcgan import probe
from tfx_dcgan.components.feature_probe_evaluator import executor, settings

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

__all__ = ["FeatureProbeEvaluator", "FeatureProbeEvaluatorSpec"]


class FeatureProbeEvaluatorSpec(ComponentSpec):
    PARAMETERS = {
        settings.ACCURACY_THRESHOLD_KEY: ExecutionParameter(type=float),
        settings.C_GRID_KEY: ExecutionParameter(type=str),  # comma-separated floats
        settings.MAX_TRAIN_EXAMPLES_KEY: ExecutionParameter(type=int),
        settings.MAX_TEST_EXAMPLES_KEY: ExecutionParameter(type=int),
        settings.VALIDATION_FRACTION_KEY: ExecutionParameter(type=float),
        settings.TEST_FRACTION_KEY: ExecutionParameter(type=float),
        settings.SOLVER_KEY: ExecutionParameter(type=str),
        settings.BATCH_SIZE_KEY: ExecutionParameter(type=int),
        settings.SEED_KEY: ExecutionParameter(type=int),
        settings.TRAIN_SPLIT_KEY: ExecutionParameter(type=str),
        settings.TEST_SPLIT_KEY: ExecutionParameter(type=str),
        settings.FID_KEY: ExecutionParameter(type=int),  # 1/0
        settings.FID_COUNT_KEY: ExecutionParameter(type=int),
        settings.FID_CEILING_KEY: ExecutionParameter(type=float),
        settings.FID_BASELINES_KEY: ExecutionParameter(type=int),  # 1/0
        settings.FID_BATCH_SIZE_KEY: ExecutionParameter(type=int),
        settings.FID_CACHE_DIR_KEY: ExecutionParameter(type=str),
        settings.INCEPTION_WEIGHTS_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        settings.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        settings.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {
        settings.EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        settings.BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
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
        fid: bool = True,
        fid_count: int = 0,
        fid_ceiling: float = 0.0,
        fid_baselines: bool = False,
        fid_batch_size: int = 32,
        fid_cache_dir: str = "",
        inception_weights: str = "",
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
          fid: measure FID and KID of the exported generator's samples against the test split
            (the train split when there is none), with the reference Inception network.
          fid_count: generated images (and at most as many real ones); 0 = as many as the test
            split holds, up to 10,000. Figures are named with it (`fid_500`).
          fid_ceiling: bless only when FID <= this as well (0 = no ceiling, the default).
          fid_baselines: also score a random-init generator of the same architecture and real
            train images, at the same count (the floor and the roof of the scale).
          fid_batch_size: images per Inception forward pass.
          fid_cache_dir: where the real split's features are cached by content ("" =
            ~/.cache/tfx-dcgan/fid_features).
          inception_weights: the converted network weights ("" = $TFX_DCGAN_FID_WEIGHTS, else
            ~/.cache/tfx-dcgan/fid_inception_2015_12_05.npz; `bash scripts/ensure_fid_weights.sh`).

        Raises:
          ValueError: a value out of range (the message names the argument).
        """
        if not 0.0 <= accuracy_threshold <= 1.0:
            raise ValueError(
                f"FeatureProbeEvaluator: accuracy_threshold must be in [0, 1], got "
                f"{accuracy_threshold}"
            )
        grid = settings.parse_c_grid(list(c_grid))
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
        for name, value in (("fid_count", fid_count), ("fid_ceiling", fid_ceiling)):
            if value < 0:
                raise ValueError(f"FeatureProbeEvaluator: {name} must be >= 0, got {value}")
        if fid_ceiling and not fid:
            raise ValueError("FeatureProbeEvaluator: fid_ceiling needs fid=True")
        if fid_batch_size <= 0:
            raise ValueError(
                f"FeatureProbeEvaluator: fid_batch_size must be positive, got {fid_batch_size}"
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
            fid=int(bool(fid)),
            fid_count=int(fid_count),
            fid_ceiling=float(fid_ceiling),
            fid_baselines=int(bool(fid_baselines)),
            fid_batch_size=int(fid_batch_size),
            fid_cache_dir=fid_cache_dir,
            inception_weights=inception_weights,
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing),
        )
        super().__init__(spec=spec)
