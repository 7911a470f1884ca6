"""Compiles the tfx-dcgan pipeline to a Kubeflow Pipelines v2 / Vertex AI pipeline-spec JSON.

    python -m pipelines.kubeflow_v2_runner \\
        --default_image=us-docker.pkg.dev/PROJECT/repo/tfx-dcgan:0.1.0 \\
        --pipeline_root=gs://BUCKET/tfx-dcgan --data_dir=gs://BUCKET/images \\
        --push_base=gs://BUCKET/serving --output_file=tfx_dcgan_pipeline.json

The image must contain this repository installed (`pip install .[pipeline]`), because components
run `tfx_dcgan.*` by import path. Nothing is read from --data_dir at compile time: --layout says
whether it holds train/ and test/ sub-roots. Model and training flags are the local runner's
(--steps, --image_size, --ngf, ...). Submit the JSON with the KFP client or Vertex AI
(`aiplatform.PipelineJob(template_path=...)`). Pushes to gs:// are not atomic (see
tfx_dcgan/components/versioned_pusher/executor.py); TF Serving should poll a POSIX volume.
"""

from __future__ import annotations

import os

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

from absl import app, flags

from pipelines import local_runner  # noqa: F401  (defines the shared model/training flags)

FLAGS = flags.FLAGS

flags.DEFINE_string("default_image", None, "Container image with this project installed.")
flags.DEFINE_string("pipeline_root", None, "Artifact root, e.g. gs://BUCKET/tfx-dcgan.")
flags.DEFINE_string("output_file", "tfx_dcgan_pipeline.json", "Pipeline-spec JSON to write.")
flags.DEFINE_enum(
    "layout",
    "split_subroots",
    ["split_subroots", "single"],
    "split_subroots: --data_dir holds train/<class>/* and test/<class>/* ('train' and 'eval' "
    "splits); single: class folders (or flat) hash-split 9:1 into train and eval.",
)
flags.mark_flags_as_required(["default_image", "pipeline_root"])


def _input_config():
    from tfx.proto import example_gen_pb2

    if FLAGS.layout == "split_subroots":
        return example_gen_pb2.Input(
            splits=[
                example_gen_pb2.Input.Split(name="train", pattern="train/*"),
                example_gen_pb2.Input.Split(name="eval", pattern="test/*"),
            ]
        )
    return example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name="single_split", pattern="*")]
    )


def main(argv: list[str]) -> None:
    del argv
    experiment = local_runner._experiment()  # noqa: SLF001 - shared flag parsing.
    from tfx import v1 as tfx

    from pipelines import pipeline

    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=FLAGS.default_image
        ),
        output_dir=os.path.dirname(os.path.abspath(FLAGS.output_file)),
        output_filename=os.path.basename(FLAGS.output_file),
    )
    runner.run(
        pipeline.create_pipeline(
            pipeline_name=FLAGS.pipeline_name.replace("_", "-"),
            pipeline_root=FLAGS.pipeline_root,
            data_dir=FLAGS.data_dir,
            experiment=experiment,
            push_base=FLAGS.push_base or os.path.join(FLAGS.pipeline_root, "serving"),
            schema_path=FLAGS.schema_path or pipeline.DEFAULT_SCHEMA_PATH,
            beam_pipeline_args=local_runner._beam_pipeline_args(),  # noqa: SLF001
            input_config=_input_config(),
        )
    )
    print(f"wrote {os.path.abspath(FLAGS.output_file)}")


if __name__ == "__main__":
    app.run(main)
