"""How an entry point reads the flags of `flags.py`: a `Command` and the two config builders.

    experiment_from_flags()            -> config.ExperimentConfig  (one training run)
    pipeline_config_from_flags(...)    -> config.PipelineConfig    (the pipeline around it)

A `Command` names the flags an entry point accepts (a flag of another command given to it is an
error, not silently ignored), its own defaults and, where a shared flag means something more
specific there, its own help line. `parse_environment_flagfile` reads the flagfile named by
$TFX_DCGAN_FLAGFILE where there is no command line (an Airflow DAG file at parse time).
"""

from __future__ import annotations

import dataclasses
import os
import re
import textwrap
from collections.abc import Mapping

from tfx_dcgan.cli.flags import CONFIG_SECTIONS, FLAGFILE_ENV, FLAGS, PIPELINE_FIELD_FLAGS, PRESETS
from tfx_dcgan.config import ConfigError, ExperimentConfig, PipelineConfig

__all__ = [
    "Command",
    "experiment_from_flags",
    "pipeline_config_from_flags",
    "parse_environment_flagfile",
    "flag_error_message",
]

# The modules defining the shared flags (`tfx_dcgan.cli.flags` and the one it imports).
_FLAGS_MODULES = ("tfx_dcgan.cli.flags", "tfx_dcgan.cli.client_flags")


@dataclasses.dataclass(frozen=True)
class Command:
    """An entry point: the flags it accepts, its own defaults and help lines.

    Attributes:
      name: as the user types it, e.g. "tfx-dcgan train".
      flag_names: the flags it reads, in the order --help lists them. Flags defined in this module
        but not listed are refused when given.
      defaults: flag name -> this command's default (shown by its --help).
      help_overrides: flag name -> the help line for this command.
      own_flags_module: a module defining flags only this command uses (listed after the shared).
    """

    name: str
    flag_names: tuple[str, ...]
    defaults: Mapping[str, object] = dataclasses.field(default_factory=dict)
    help_overrides: Mapping[str, str] = dataclasses.field(default_factory=dict)
    own_flags_module: str = ""

    def apply_defaults(self) -> None:
        """Makes this command's defaults the flags' defaults (call before parsing)."""
        for name, value in self.defaults.items():
            FLAGS.set_default(name, value)

    def with_environment_flagfile(self, argv: list[str]) -> list[str]:
        """argv with `--flagfile=$TFX_DCGAN_FLAGFILE` first (the command line still wins)."""
        path = os.environ.get(FLAGFILE_ENV)
        if not path:
            return list(argv)
        from tfx_dcgan import fileio

        if not fileio.isfile(path):
            raise ConfigError(f"{FLAGFILE_ENV}={path!r}: no such flagfile")
        return [argv[0], f"--flagfile={path}", *argv[1:]]

    def accepted(self) -> set[str]:
        names = set(self.flag_names)
        if self.own_flags_module:
            names |= {f.name for f in FLAGS.get_flags_for_module(self.own_flags_module)}
        return names

    def check_given_flags(self) -> None:
        """Refuses flags of other commands (given on the command line or in a flagfile).

        Raises:
          ConfigError: naming the flags and the command.
        """
        ours = {f.name for module in _FLAGS_MODULES for f in FLAGS.get_flags_for_module(module)}
        if self.own_flags_module:
            ours |= {f.name for f in FLAGS.get_flags_for_module(self.own_flags_module)}
        stray = sorted(n for n in ours - self.accepted() if FLAGS[n].present)
        if stray:
            raise ConfigError(
                f"{self.name} does not use "
                + ", ".join(f"--{n}" for n in stray)
                + f" (see `{self.name} --help`)"
            )

    def help_text(self, doc: str = "") -> str:
        """The command's docstring and each of its flags with its help and default."""
        lines = [doc.strip(), "", f"flags of {self.name}:"] if doc else [f"flags of {self.name}:"]
        names = list(self.flag_names)
        if self.own_flags_module:
            names += [f.name for f in FLAGS.get_flags_for_module(self.own_flags_module)]
        for name in names:
            flag = FLAGS[name]
            shown = f"--[no]{name}" if flag.boolean else f"--{name}"
            text = self.help_overrides.get(name, flag.help)
            default = self.defaults.get(name, flag.default)
            lines.append(f"  {shown}:")
            lines += textwrap.wrap(
                f"{text} (default: {default!r})",
                width=98,
                initial_indent="    ",
                subsequent_indent="    ",
            )
        return "\n".join(lines)


def _value(name: str) -> object:
    """The flag's value, or the preset's when the flag was not given explicitly."""
    preset = PRESETS[FLAGS.preset]
    if name in preset and not FLAGS[name].present:
        return preset[name]
    return FLAGS[name].value


def experiment_from_flags(data_dir: str | None = None) -> ExperimentConfig:
    """The run's ExperimentConfig from the parsed flags (and --preset); not validated.

    Args:
      data_dir: overrides --data_dir for `DataConfig.data_dir` (the pipelines pass "": their
        Trainer reads the Transform output, and --data_dir goes to PipelineConfig instead).
    """
    sections = {}
    for section, cls in CONFIG_SECTIONS:
        sections[section] = cls(**{f.name: _value(f.name) for f in dataclasses.fields(cls)})
    if data_dir is not None or sections["data"].data_dir is None:
        sections["data"] = dataclasses.replace(sections["data"], data_dir=data_dir or "")
    return ExperimentConfig(**sections)


def _absolute(path: str | None) -> str:
    if not path:
        return ""
    # URIs and package references (package:tfx_dcgan/...) are resolved where they are read.
    return path if "://" in path or path.startswith("package:") else os.path.abspath(path)


def pipeline_config_from_flags(
    *, pipeline_root: str, push_base: str, check_local_paths: bool = True
) -> PipelineConfig:
    """The PipelineConfig from the parsed flags, validated.

    Args:
      pipeline_root: the runner's artifact root (--pipeline_root, or <output_dir>/root locally).
      push_base: the Pusher's base path when --push_base is not given.
      check_local_paths: check that a local --data_dir exists (off when compiling for a cluster).

    Raises:
      ConfigError: a bad value; the message names the field as `pipeline.<flag>`.
    """
    from tfx_dcgan.ingest import tfds_source, tfrecord_source

    try:
        split_mapping = tfds_source.parse_split_mapping(FLAGS.tfds_split_mapping)
        if FLAGS.tfrecord_pattern:
            tfrecord_source.parse_tfrecord_pattern(FLAGS.tfrecord_pattern)
        feature_map = tfrecord_source.parse_feature_map(FLAGS.feature_map)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    config = PipelineConfig(
        pipeline_name=FLAGS.pipeline_name,
        pipeline_root=pipeline_root,
        source=FLAGS.source,
        data_dir=_absolute(FLAGS.data_dir),
        layout=FLAGS.layout,
        tfds_name=FLAGS.tfds_name or "",
        tfds_data_dir=_absolute(FLAGS.tfds_data_dir),
        tfds_split_mapping=split_mapping,
        tfds_image_key=FLAGS.tfds_image_key,
        tfds_label_key=FLAGS.tfds_label_key,
        tfrecord_pattern=FLAGS.tfrecord_pattern or "",
        feature_map=dict(feature_map),
        label_names=tuple(FLAGS.label_names or ()),
        schema_path=_absolute(FLAGS.schema_path),
        beam_workers=FLAGS.beam_workers,
        beam_args=tuple(FLAGS.beam_arg),
        enable_cache=FLAGS.enable_cache,
        allow_anomalies=FLAGS.allow_anomalies,
        probe=FLAGS.probe,
        probe_threshold=FLAGS.probe_threshold,
        probe_max_train_examples=FLAGS.probe_max_train_examples,
        probe_max_test_examples=FLAGS.probe_max_test_examples,
        fid=FLAGS.fid,
        fid_count=FLAGS.fid_count,
        fid_ceiling=FLAGS.fid_ceiling,
        fid_baselines=FLAGS.fid_baselines,
        fid_batch_size=FLAGS.fid_batch_size,
        fid_cache_dir=_absolute(FLAGS.fid_cache_dir),
        inception_weights=_absolute(FLAGS.inception_weights),
        push_base=_absolute(FLAGS.push_base) or push_base,
        push_unblessed=FLAGS.push_unblessed,
        max_logged_skipped=FLAGS.max_logged_skipped,
    )
    return config.validate(check_local_paths=check_local_paths)


def flag_error_message(error: Exception) -> str:
    """A ConfigError's text with config field paths as the flags that set them.

    "model.ngf must be positive" -> "--ngf must be positive"; "pipeline.probe_threshold" ->
    "--probe_threshold"; "pipeline.beam_args" -> "--beam_arg".
    """

    def flag(match: re.Match) -> str:
        return "--" + PIPELINE_FIELD_FLAGS.get(match.group(1), match.group(1))

    return re.sub(r"\b(?:model|train|data|pipeline)\.(\w+)", flag, str(error))


def parse_environment_flagfile(command: Command, argv0: str = "tfx-dcgan") -> list[str]:
    """Parses the flagfile named by $TFX_DCGAN_FLAGFILE as `command`'s flags (no command line).

    For callers without a command line, such as an Airflow DAG file at parse time. Without the
    variable the command's defaults apply.

    Returns:
      The remaining (non-flag) arguments.

    Raises:
      ConfigError: the file is missing, or holds flags `command` does not use.
    """
    command.apply_defaults()
    remaining = FLAGS(command.with_environment_flagfile([argv0]))
    command.check_given_flags()
    return remaining
