"""VersionedPusher: publish named SavedModels of one Model artifact as TF Serving versions.

    VersionedPusher(
        model=trainer.outputs["model"],
        push_base="/srv/models",
        model_names=["generator", "discriminator_features"],
        push_unblessed=True,  # until an Evaluator supplies model_blessing
    )

publishes `<model>/Format-Serving/generator` to `/srv/models/generator/<version>/` and likewise
for `discriminator_features` (see executor.py for versioning and atomicity). With a
`model_blessing` input it pushes only a blessed model (custom property `blessed` == 1, as TFX's
Evaluator writes it), unless `push_unblessed` is also set. The `pushed_model` output records `pushed` (0/1), `pushed_version`,
`pushed_destination` and `pushed_models` (JSON: name -> version, destination).
"""

from __future__ import annotations

import json

from tfx_dcgan import artifact
from tfx_dcgan.components.versioned_pusher import executor

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

__all__ = ["VersionedPusher", "VersionedPusherSpec", "DEFAULT_MODEL_NAMES"]

DEFAULT_MODEL_NAMES = artifact.SERVED_MODELS


class VersionedPusherSpec(ComponentSpec):
    PARAMETERS = {
        executor.PUSH_BASE_KEY: ExecutionParameter(type=str),
        executor.MODEL_NAMES_KEY: ExecutionParameter(type=str),  # JSON list of names.
        executor.PUSH_UNBLESSED_KEY: ExecutionParameter(type=int),
    }
    INPUTS = {
        executor.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        executor.MODEL_BLESSING_KEY: ChannelParameter(
            type=standard_artifacts.ModelBlessing, optional=True
        ),
    }
    OUTPUTS = {
        executor.PUSHED_MODEL_KEY: ChannelParameter(type=standard_artifacts.PushedModel),
    }


class VersionedPusher(base_component.BaseComponent):
    """Pushes sub-directories of a Model artifact to `<push_base>/<name>/<version>/`."""

    SPEC_CLASS = VersionedPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        push_base: str,
        model_names: tuple[str, ...] | list[str] = DEFAULT_MODEL_NAMES,
        model_blessing: types.BaseChannel | None = None,
        push_unblessed: bool = False,
    ):
        """Builds the component.

        Args:
          model: a Model channel (the Trainer's `model`).
          push_base: the TF Serving model base path (local folder, or gs:// without atomicity).
          model_names: sub-directories of the model's Format-Serving dir to publish; each
            becomes a TF Serving model name.
          model_blessing: optional ModelBlessing channel; when given, push only if blessed.
          push_unblessed: push whatever the blessing says (it is still read and logged).
            Required (True) when model_blessing is None, so that an unconditional push is
            always an explicit choice.

        Raises:
          ValueError: neither a blessing nor push_unblessed, an empty push_base or no names.
        """
        if model_blessing is None and not push_unblessed:
            raise ValueError(
                "VersionedPusher: give model_blessing (push only blessed models) or set "
                "push_unblessed=True to push every trained model"
            )
        if not push_base:
            raise ValueError("VersionedPusher: push_base must be a folder path")
        names = list(model_names)
        if not names or any(not n or "/" in n or n.startswith(".") for n in names):
            raise ValueError(
                f"VersionedPusher: model_names must be plain sub-directory names, got {names}"
            )
        spec = VersionedPusherSpec(
            push_base=push_base,
            model_names=json.dumps(names),
            push_unblessed=int(bool(push_unblessed)),
            model=model,
            model_blessing=model_blessing,
            pushed_model=types.Channel(type=standard_artifacts.PushedModel),
        )
        super().__init__(spec=spec)
