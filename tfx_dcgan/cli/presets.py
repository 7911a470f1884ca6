"""Named starting values for the flags: `--preset` and the main job's defaults (no flags here)."""

from __future__ import annotations

__all__ = ["MAIN_JOB_DEFAULTS", "PRESETS"]

# Named starting points; explicit flags override them.
PRESETS: dict[str, dict[str, object]] = {
    "none": {},
    # The paper's LSUN/faces/ImageNet generator: 4x4x1024 -> 512 -> 256 -> 128 -> 64x64x3.
    "paper_lsun64": {"image_size": 64, "ngf": 128, "ndf": 64, "kernel_size": 4},
    # CIFAR-10 at the paper's batch and the authors' 5x5 kernels.
    "cifar32": {"image_size": 32, "ngf": 64, "ndf": 64, "kernel_size": 5},
    # What the quick-start trains in a few minutes on 2 CPU cores.
    "quick": {
        "image_size": 32,
        "ngf": 32,
        "ndf": 32,
        "kernel_size": 5,
        "steps": 600,
        "log_every": 25,
        "sample_every": 100,
        "checkpoint_every": 100,
    },
}

# The main job's measured defaults (README: ~9 minutes on 2 cores), used by the pipeline runners.
MAIN_JOB_DEFAULTS: dict[str, object] = {
    "ngf": 32,
    "ndf": 32,
    "steps": 2000,
    "sample_every": 250,
    "checkpoint_every": 250,
}
