"""Which log lines the console shows: a record's level, and known harmless noise by pattern.

The log file gets every byte; the console gets a filtered view. A *record* starts at a line with a
recognised prefix (absl's `W1202 13:57:24.608 123 file.py:12]`, TensorFlow C++'s
`2026-12-02 13:57:24.608636: W file.cc:38]`, Python logging's `WARNING:name:`, a warning's
`file.py:52: FutureWarning:`, a traceback, an `error:` line); the lines after it that start no
record (a multi-line message: TFX's pipeline IR protos, a traceback's frames) belong to it.

By default a record is shown when it is a warning or worse and matches no noise pattern (known
harmless lines, and a few that the console says more briefly elsewhere); INFO and
DEBUG records (TFX, ML Metadata, Beam and TensorFlow chatter, the IR protos) stay in the log only.
TensorFlow's own log level is never raised for this: a real error still reaches the console.
Lines that start no record and follow no hidden record (plain prints) are shown.
"""

from __future__ import annotations

import re

__all__ = ["NOISE_PATTERNS", "LineFilter", "is_noise", "record_level"]

# Harmless on this project's CPU machines, whatever the run does. Matched anywhere in the
# record's first line.
NOISE_PATTERNS: tuple[str, ...] = (
    # CUDA plugins registering twice when TensorFlow loads (every process, no GPU needed).
    r"Unable to register (cuDNN|cuFFT|cuBLAS) factory",
    r"Attempting to register factory for plugin",
    r"TF-TRT Warning",
    r"Could not find cuda drivers",
    r"failed call to cuInit",
    r"oneDNN custom operations are on",
    r"This TensorFlow binary is optimized to use available CPU instructions",
    # absl C++ before absl::InitializeLog (gRPC, ML Metadata).
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    # Deprecations of libraries this project pins.
    r"\b(Deprecation|PendingDeprecation|Future)Warning\b",
    r"is deprecated and will be removed",
    r"Instructions for updating:",
    r"\bdeprecated\b.*\bwill be removed\b",
    # TFX / ML Metadata chatter at WARNING.
    r"ArtifactQuery\.property_predicate is not supported",
    r"does not have payload_format custom property",
    r"metadata_connection_config is not provided by IR",
    # Loading the exported SavedModels for inference (no gradients or metrics are needed there).
    r"Compiled the loaded model, but the compiled metrics have yet to be built",
    r"with ops with unsaved custom gradients",
    r"No training configuration found in save file",
    # Beam: optional speed-ups, and its multi-processing workers' start-up warnings (forwarded
    # by the job service as "Worker: severity: WARN ... message: ...").
    r"Couldn\\?'t find python-snappy",  # a worker's forwarded message escapes the quote
    r"No semi_persistent_directory found",
    r"Discarding unparseable args",
    # tf.data and the executor restating an error that Python handles (a skipped image, the end
    # of a dataset): the Python side reports what matters.
    r"Local rendezvous is aborting with status",
    r"Local rendezvous recv item cancelled",
    r"will not be optimized because the dataset does not implement",
    r"Your input ran out of data",
    # Said more briefly on the console already: the ingest's skip list (ImageExampleGen's end
    # line gives the counts by reason; ingest_report.json and the log list the files).
    r"ExampleGen skipped \d+ items \(.*\); the first \d+:",
    r"example_gen_outputs\.py:\d+\] +skipped \S",
    # libjpeg on a corrupt file the ingest skips and counts.
    r"Improper call to JPEG library in state",
    r"Corrupt JPEG data:",
    r"Premature end of JPEG file",
    r"Invalid SOS parameters for sequential JPEG",
    # A process (a Beam worker) exiting while TensorFlow's functions are garbage-collected.
    r"Exception ignored in: <function AtomicFunction\.__del__",
)
_NOISE = re.compile("|".join(f"(?:{pattern})" for pattern in NOISE_PATTERNS))

# Record starts and the level each gives (10 DEBUG, 20 INFO, 30 WARNING, 40 ERROR, 50 FATAL).
_LETTER_LEVEL = {"D": 10, "I": 20, "W": 30, "E": 40, "F": 50}
_NAME_LEVEL = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50, "FATAL": 50}
_ABSL = re.compile(r"^([DIWEF])\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ \S+:\d+\]")
_TF_CPP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ([DIWEF]) \S+\]")
_PYTHON_LOGGING = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL|FATAL):[\w.\-]*:")
_BARE_LEVEL = re.compile(r"^(WARNING|ERROR|FATAL)(?::|\s)")
_PYTHON_WARNING = re.compile(r"^\S.*?:\d+: [A-Z]\w*Warning: ")
# Python's report of an exception in __del__ or at exit: its traceback is part of it.
_EXCEPTION_IGNORED = re.compile(r"^Exception ignored in: ")
_TRACEBACK = re.compile(r"^Traceback \(most recent call last\):")
_ERROR_STARTS = re.compile(
    r"^(Traceback \(most recent call last\):|error: |Error: |Fatal Python error|"
    r"\*\*\* Check failure stack trace|Segmentation fault|Killed\b|Aborted\b)"
)
# libjpeg writes its warnings to stderr without a prefix; they start a (noise) record.
_BARE_NOISE = re.compile(
    r"^(Improper call to JPEG library|Corrupt JPEG data:|Premature end of JPEG file|"
    r"Invalid SOS parameters)"
)


def record_level(line: str) -> int | None:
    """The level of the record `line` starts, or None when it starts none (a continuation line
    or a plain print)."""
    for pattern, levels in ((_ABSL, _LETTER_LEVEL), (_TF_CPP, _LETTER_LEVEL)):
        match = pattern.match(line)
        if match:
            return levels[match.group(1)]
    match = _PYTHON_LOGGING.match(line) or _BARE_LEVEL.match(line)
    if match:
        return _NAME_LEVEL[match.group(1)]
    if _PYTHON_WARNING.match(line) or _BARE_NOISE.match(line) or _EXCEPTION_IGNORED.match(line):
        return 30
    if _ERROR_STARTS.match(line):
        return 40
    return None


def is_noise(line: str) -> bool:
    """True when a record's first line is known harmless noise (NOISE_PATTERNS)."""
    return bool(_NOISE.search(line))


class LineFilter:
    """Decides line by line what the console shows of one stream (stdout or stderr).

    Stateful: a record's continuation lines follow the verdict on its first line.
    """

    def __init__(self, show_all: bool = False, min_level: int = 30) -> None:
        """Args:
        show_all: show every line (the user asked for the full log with --verbosity).
        min_level: the lowest record level shown (WARNING).
        """
        self.show_all = show_all
        self.min_level = min_level
        self._showing = True
        self._after_exception_ignored = False

    def show(self, line: str) -> bool:
        """Whether the console shows `line` (without its newline)."""
        if self.show_all:
            return True
        level = record_level(line)
        after_exception_ignored, self._after_exception_ignored = (
            self._after_exception_ignored,
            bool(_EXCEPTION_IGNORED.match(line)),
        )
        if level is None or (after_exception_ignored and _TRACEBACK.match(line)):
            return self._showing
        self._showing = level >= self.min_level and not is_noise(line)
        return self._showing
