"""Executor of PackagedImportSchemaGen: resolves `package:` references, then TFX's own import.

`schema_file` is either a path or URI any `tf.io.gfile` reader opens (`gs://...`, a local file),
or `package:<module>/<path inside it>` (e.g. `package:tfx_dcgan/schema/schema.pbtxt`), resolved
with `importlib.resources` where the executor runs: inside a container image, on an Airflow worker
or on this machine, always the schema of the installed package, never a path of the machine that
compiled the pipeline.
"""

from __future__ import annotations

import importlib.resources
from typing import Any

from tfx.components.schema_gen.import_schema_gen import executor as import_schema_gen_executor
from tfx.types import standard_component_specs

__all__ = ["PACKAGE_PREFIX", "Executor", "resolve_schema_file"]

PACKAGE_PREFIX = "package:"


def resolve_schema_file(schema_file: str) -> str:
    """A readable path for `schema_file` (a `package:` reference resolved; anything else as is).

    Raises:
      FileNotFoundError: a `package:` reference to a module that is not installed or to a file
        it does not hold (the message names both).
    """
    if not schema_file.startswith(PACKAGE_PREFIX):
        return schema_file
    reference = schema_file[len(PACKAGE_PREFIX) :].strip("/")
    package, _, inner = reference.partition("/")
    if not package or not inner:
        raise FileNotFoundError(
            f"schema_file {schema_file!r}: expected 'package:<package>/<file inside it>'"
        )
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError as error:
        raise FileNotFoundError(
            f"schema_file {schema_file!r}: package {package!r} is not installed here"
        ) from error
    resource = root.joinpath(inner)
    if not resource.is_file():
        raise FileNotFoundError(
            f"schema_file {schema_file!r}: the installed package {package!r} ({root}) holds no "
            f"file {inner!r}"
        )
    return str(resource)


class Executor(import_schema_gen_executor.Executor):
    """TFX's ImportSchemaGen executor on the resolved schema file."""

    def Do(  # noqa: N802 - TFX API.
        self,
        input_dict: dict[str, list],
        output_dict: dict[str, list],
        exec_properties: dict[str, Any],
    ) -> None:
        key = standard_component_specs.SCHEMA_FILE_KEY
        resolved = dict(exec_properties)
        resolved[key] = resolve_schema_file(str(exec_properties.get(key) or ""))
        super().Do(input_dict, output_dict, resolved)
