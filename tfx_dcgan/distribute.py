"""Where training runs: tf.distribute strategies, logical CPU replicas, multi-worker roles."""

from __future__ import annotations

from tfx_dcgan.config import ConfigError, TrainConfig

import tensorflow as tf

__all__ = ["configure_cpu_replicas", "make_strategy", "worker_role"]


def configure_cpu_replicas(count: int) -> None:
    """Splits the first CPU into `count` logical devices (must run before TF initialises devices).

    Raises:
      ConfigError: TensorFlow's devices were already initialised in this process.
    """
    if count <= 1:
        return
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError as error:
        current = len(tf.config.list_logical_devices("CPU"))
        if current == count:
            return
        raise ConfigError(
            f"train.cpu_replicas={count}: TensorFlow already initialised its devices in this process "
            f"({current} logical CPU); set it before any TensorFlow op runs ({error})"
        ) from error


def make_strategy(config: TrainConfig) -> tf.distribute.Strategy:
    """Builds the distribution strategy named by `config.strategy`.

    "auto": MirroredStrategy over the visible GPUs (or over the logical CPUs when
    `cpu_replicas` > 1), else the default strategy on the CPU.
    """
    if config.strategy == "multi_worker":
        # Collective ops must be configured before anything (even listing devices) starts TF.
        return tf.distribute.MultiWorkerMirroredStrategy()
    configure_cpu_replicas(config.cpu_replicas)
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    name = config.strategy
    if name == "auto":
        name = "mirrored" if gpus or len(cpus) > 1 else "default"
    if name == "mirrored":
        devices = gpus or cpus
        # NCCL is GPU-only; reduce through one device when replicas are CPUs.
        cross_device_ops = None if gpus else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=cross_device_ops)
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0] if gpus else cpus[0])
    return tf.distribute.get_strategy()


def worker_role(strategy: tf.distribute.Strategy) -> tuple[bool, str]:
    """(is_chief, "task_type-task_id") under MultiWorkerMirroredStrategy; (True, "") otherwise."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return True, ""
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None:
        return True, ""
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    is_chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    return is_chief, f"{task_type}-{task_id}"
