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
import warnings as _warnings

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

# google-api-core (pulled in by TensorFlow's dependencies) warns on every start that Python 3.10
# is old; TFX 1.16 requires Python < 3.11, so the warning is noise here.
_warnings.filterwarnings(
    "ignore", message=".*non-supported Python version.*", category=FutureWarning
)

__version__ = "0.1.0"
