"""tfx-dcgan: DCGAN (Radford, Metz & Chintala 2015) as a TensorFlow 2 / TFX pipeline.

Importing the package sets two environment defaults before TensorFlow loads (a caller's own
setting wins):
  * TF_USE_LEGACY_KERAS=1: `tf.keras` is Keras 2 (tf-keras 2.16) everywhere, including inside TFX
    components, which need `save_format='tf'` SavedModels;
  * TF_ENABLE_ONEDNN_OPTS=1: TF 2.16 leaves oneDNN off on CPUs without AVX-512; on this project's
    CPUs turning it on makes the training step ~1.5x faster (see bench/train_step.py).
Import `tfx_dcgan` before `tensorflow` in entry points for these to take effect.
"""

import os as _os

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

__version__ = "0.1.0"
