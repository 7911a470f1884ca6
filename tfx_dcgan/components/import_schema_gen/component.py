"""PackagedImportSchemaGen: TFX's ImportSchemaGen whose schema file may be package data.

The pipeline's curated schema is `package:tfx_dcgan/schema/schema.pbtxt` (see executor.py), so
the compiled Kubeflow spec and the Airflow DAG carry no path of the compiling machine. Its node id
stays `ImportSchemaGen`: it is that component with one more way to name the file.
"""

from __future__ import annotations

from tfx_dcgan.components.import_schema_gen import executor

from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.base import executor_spec

__all__ = ["PackagedImportSchemaGen", "CURATED_SCHEMA"]

CURATED_SCHEMA = f"{executor.PACKAGE_PREFIX}tfx_dcgan/schema/schema.pbtxt"


class PackagedImportSchemaGen(ImportSchemaGen):
    """ImportSchemaGen(schema_file=...) accepting `package:<package>/<file>` references."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
