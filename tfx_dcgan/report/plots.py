"""The run report's figures as PNG bytes (matplotlib's Agg canvas: no display, no pyplot state).

training_curves_png(log)                    losses and D(x) / D(G(z)) against the step
per_class_accuracy_png(accuracy, names)     the probe's test recall per class
confusion_matrix_png(matrix, names)         counts, coloured by each true class's share
thumbnail_png(png, max_side)                a smaller copy of a PNG (the progress strip)
"""

from __future__ import annotations

import io
import math

from tfx_dcgan.report.collect import TrainingLog

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

__all__ = [
    "training_curves_png",
    "per_class_accuracy_png",
    "confusion_matrix_png",
    "thumbnail_png",
]

_DPI = 100
_D_COLOUR, _G_COLOUR = "#1f77b4", "#d62728"


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def training_curves_png(log: TrainingLog) -> bytes:
    """Two panels: D's and G's losses, and D's mean output on real (D(x)) and generated
    (D(G(z))) images, against the training step.

    Raises:
      ValueError: the log has no step.
    """
    if not log.steps:
        raise ValueError("training_curves_png needs at least one logged step")
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    losses, outputs = figure.subplots(1, 2)
    marker = "o" if len(log.steps) <= 30 else None
    losses.plot(log.steps, log.disc_loss, color=_D_COLOUR, marker=marker, ms=3, label="D loss")
    losses.plot(log.steps, log.gen_loss, color=_G_COLOUR, marker=marker, ms=3, label="G loss")
    losses.set(title="losses", xlabel="step", ylabel="loss")
    outputs.plot(log.steps, log.d_real, color=_D_COLOUR, marker=marker, ms=3, label="D(x), real")
    outputs.plot(
        log.steps, log.d_fake, color=_G_COLOUR, marker=marker, ms=3, label="D(G(z)), generated"
    )
    outputs.axhline(0.5, color="0.6", lw=0.8, ls="--")
    outputs.set(title="discriminator outputs", xlabel="step", ylabel="mean sigmoid", ylim=(0, 1))
    for axes in (losses, outputs):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend(loc="best", fontsize=9)
    return _png(figure)


def per_class_accuracy_png(accuracy: list[float | None], class_names: list[str]) -> bytes:
    """Horizontal bars of each class's test recall (None: the class is absent from the test set).

    Raises:
      ValueError: the two lists differ in length, or are empty.
    """
    if not class_names or len(accuracy) != len(class_names):
        raise ValueError(
            f"per_class_accuracy_png: {len(accuracy)} accuracies for {len(class_names)} classes"
        )
    values = [float("nan") if a is None else float(a) for a in accuracy]
    height = 0.9 + 0.32 * len(class_names)
    figure = Figure(figsize=(4.4, height), layout="constrained")
    axes = figure.subplots()
    positions = np.arange(len(class_names))
    axes.barh(positions, [0 if math.isnan(v) else v for v in values], color=_D_COLOUR)
    for position, value in zip(positions, values):
        text = "absent" if math.isnan(value) else f"{value:.2f}"
        axes.text(
            min(value, 0.88) + 0.02 if not math.isnan(value) else 0.02,
            position,
            text,
            va="center",
            fontsize=9,
        )
    axes.set_yticks(positions, class_names)
    axes.invert_yaxis()
    axes.set(xlim=(0, 1), xlabel="test accuracy (recall)", title="per-class accuracy")
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)


def confusion_matrix_png(matrix: list[list[int]], class_names: list[str]) -> bytes:
    """The confusion matrix (rows: true class, columns: predicted), each cell's count written in
    it and coloured by the share of its row.

    Raises:
      ValueError: the matrix is not square with one row per class.
    """
    counts = np.asarray(matrix, dtype=np.int64)
    size = len(class_names)
    if size == 0 or counts.shape != (size, size):
        raise ValueError(
            f"confusion_matrix_png: matrix of shape {counts.shape} for {size} class names"
        )
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    side = 1.5 + 0.38 * size
    figure = Figure(figsize=(side + 0.9, side), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    font = 10 if size <= 10 else 7
    for row in range(size):
        for column in range(size):
            axes.text(
                column,
                row,
                str(counts[row, column]),
                ha="center",
                va="center",
                fontsize=font,
                color="white" if shares[row, column] > 0.5 else "black",
            )
    axes.set_xticks(range(size), class_names, rotation=45, ha="right")
    axes.set_yticks(range(size), class_names)
    axes.set(xlabel="predicted class", ylabel="true class", title="confusion matrix")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
    return _png(figure)


def thumbnail_png(png: bytes, max_side: int = 256) -> bytes:
    """A copy of a PNG whose longer side is at most `max_side` (unchanged when already smaller)."""
    picture = Image.open(io.BytesIO(png))
    picture.load()
    scale = max_side / max(picture.size)
    if scale >= 1:
        return png
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    buffer = io.BytesIO()
    picture.resize(size, Image.LANCZOS).save(buffer, format="PNG")
    return buffer.getvalue()
