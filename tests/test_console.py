"""The console: the noise filter, the descriptor tee, bars, node lines and the overhead figure.

Fast: pure functions, and small Python processes (no TensorFlow) that start a real console and
write as TensorFlow's C++ code, absl logging, print and a child process do.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap

from tfx_dcgan import progress
from tfx_dcgan.console import log_path_for, noise, split_lines
from tfx_dcgan.console.view import BarState, View, describe_bar, visible_lines

import pytest
from pty_run import run_in_pty

from pipelines import node_events

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Lines as this project's runs print them (seen in the main job's log).
CUDA_LINES = [
    "2026-12-02 13:57:24.608636: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:479] "
    "Unable to register cuFFT factory: Attempting to register factory for plugin cuFFT when one "
    "has already been registered",
    "2026-12-02 13:57:24.644402: E external/local_xla/xla/stream_executor/cuda/cuda_dnn.cc:10575] "
    "Unable to register cuDNN factory: Attempting to register factory for plugin cuDNN when one "
    "has already been registered",
    "2026-12-02 13:57:24.644496: E external/local_xla/xla/stream_executor/cuda/cuda_blas.cc:1442] "
    "Unable to register cuBLAS factory: Attempting to register factory for plugin cuBLAS when one "
    "has already been registered",
    "2026-12-02 13:57:34.212743: W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] TF-TRT "
    "Warning: Could not find TensorRT",
    "2026-12-02 13:57:20.100000: I external/local_tsl/tsl/cuda/cudart_stub.cc:32] Could not find "
    "cuda drivers on your machine, GPU will not be used.",
    "2026-12-02 13:57:20.200000: I tensorflow/core/util/port.cc:113] oneDNN custom operations are "
    "on. You may see slightly different numerical results due to floating-point round-off errors.",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
]
HARMLESS_WARNINGS = [
    "/work/main/.venv/lib/python3.10/site-packages/google/cloud/aiplatform/models.py:52: "
    "FutureWarning: Support for google-cloud-storage < 3.0.0 will be removed in a future version",
    "W1202 13:58:31.755435 140020568652672 channel_resolver.py:105] ArtifactQuery.property_predicate "
    "is not supported.",
    "W1202 13:58:40.328536 140020568652672 tfrecordio.py:59] Couldn't find python-snappy so the "
    "implementation of _TFRecordUtil._masked_crc32c is not as fast as it could be.",
    "WARNING:tensorflow:From /x/y.py:10: calling foo (from tensorflow.python.ops) is deprecated and "
    "will be removed in a future version.",
    "2026-12-02 13:58:30.847517: W tensorflow/core/framework/local_rendezvous.cc:404] Local "
    "rendezvous is aborting with status: INVALID_ARGUMENT: Invalid JPEG data, size 621",
    "Improper call to JPEG library in state 201",
    "W1202 14:31:31.514773 1403 local_job_service.py:369] Worker: severity: WARN timestamp {   "
    "seconds: 1796221891 } message: \"Couldn\\'t find python-snappy so the implementation of "
    '_TFRecordUtil._masked_crc32c is not as fast as it could be." instruction_id: "bundle_54"',
    "W1202 14:29:42.971357 1403 local_job_service.py:369] Worker: severity: WARN timestamp {   "
    'seconds: 1796221782   nanos: 928311347 } message: "No semi_persistent_directory found: '
    'Functions defined in __main__ (interactive session) may fail." log_location: "x.py:361"',
    "W1202 14:29:49.614046 1403 local_job_service.py:369] Worker: severity: WARN timestamp {   "
    "seconds: 1796221789 } message: \"Discarding unparseable args: ['--pipeline_type_check']\"",
    "W1202 14:00:16.738768 1400 function_deserialization.py:672] Importing a function "
    "(__inference_internal_grad_fn_17450) with ops with unsaved custom gradients. Will likely fail",
]
# Shown more briefly elsewhere: ImageExampleGen's end line counts the skipped files by reason.
HARMLESS_WARNINGS += [
    "W1202 13:58:31.620315 140020568652672 example_gen_outputs.py:262] ImageExampleGen skipped 3 "
    "items (corrupt_image: 1, empty_file: 1, not_an_image: 1); the first 3:",
    "W1202 13:58:31.620588 140020568652672 example_gen_outputs.py:274]   skipped test/dog/notes.txt: "
    "not_an_image (neither TensorFlow nor Pillow recognises the format)",
]
REAL_LINES = [
    "W1202 13:58:31.620315 140020568652672 input_pipeline.py:262] 3 of 24 files skipped",
    "E1202 13:58:31.620315 1400 launcher.py:620] Execution 7 failed.",
    "2026-12-02 13:58:31.066043: E tensorflow/core/framework/op_kernel.cc:1818] OP_REQUIRES failed "
    "at conv_ops.cc:1094 : RESOURCE_EXHAUSTED: OOM when allocating tensor",
    "2026-12-02 13:58:31.066043: F tensorflow/core/platform/cpu_feature_guard.cc:1] Check failed",
    "error: the pipeline run failed: ImageExampleGen: no usable image among the 3 files",
    "Traceback (most recent call last):",
    "WARNING:absl:stopped by SIGTERM at step 7; checkpoint saved",
]


@pytest.mark.parametrize("line", CUDA_LINES + HARMLESS_WARNINGS)
def test_known_noise_is_filtered_from_the_console(line):
    assert not noise.LineFilter().show(line)
    assert noise.LineFilter(show_all=True).show(line)  # --verbosity shows it


@pytest.mark.parametrize("line", REAL_LINES)
def test_real_warnings_and_errors_are_shown(line):
    assert noise.LineFilter().show(line)


def test_info_records_and_their_continuation_lines_stay_in_the_log():
    view = noise.LineFilter()
    shown = [
        line
        for line in [
            "I1202 13:58:23.6 1400 launcher.py:584] Running launcher for node_info {",
            "  type {",
            '    name: "tfx.components.statistics_gen.component.StatisticsGen"',
            "  }",
            "}",
            "contexts {",  # a top-level proto field: still the INFO record's text
            "INFO:absl:Component StatisticsGen is running.",
            "a plain print",  # follows a hidden record: part of it (prints go to stdout)
            "W1202 13:58:31.6 1400 x.py:1] a real warning",
            "  with a second line",
            "Traceback (most recent call last):",
            '  File "x.py", line 1, in <module>',
            "ValueError: boom",
        ]
        if view.show(line)
    ]
    assert shown == [
        "W1202 13:58:31.6 1400 x.py:1] a real warning",
        "  with a second line",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "ValueError: boom",
    ]


def test_an_ignored_exception_at_exit_is_one_record():
    lines = [
        "I1202 14:33:20.08 1403 local_job_service.py:369] Python sdk harness exiting.",
        "Exception ignored in: <function AtomicFunction.__del__ at 0x7f8ede0637f0>",
        "Traceback (most recent call last):",
        '  File "/x/atomic_function.py", line 291, in __del__',
        "TypeError: 'NoneType' object is not subscriptable",
        "Exception ignored in: <function Mine.__del__ at 0x7f8e>",
        "Traceback (most recent call last):",
        "ValueError: shown",
    ]
    view = noise.LineFilter()
    assert [line for line in lines if view.show(line)] == lines[5:]


def test_plain_prints_are_shown_and_levels_are_read_from_every_prefix():
    assert noise.LineFilter().show("pipeline run 2026-12-02T13:58:23:")
    assert noise.record_level("I1202 13:58:23.594045 140 launcher.py:584] x") == 20
    assert noise.record_level("2026-12-02 13:57:24.608636: E external/x.cc:479] x") == 40
    assert noise.record_level("WARNING:apache_beam.io:x") == 30
    assert noise.record_level("/a/b.py:3: UserWarning: x") == 30
    assert noise.record_level("error: --steps must be positive") == 40
    assert noise.record_level("  indented continuation") is None
    assert noise.record_level("sample grid:       /x/final.png") is None


def test_split_lines_keeps_the_unterminated_rest():
    assert split_lines(b"par", b"tial\nnext\nrest") == ([b"partial", b"next"], b"rest")
    assert split_lines(b"", b"") == ([], b"")
    assert split_lines(b"a", b"\n") == ([b"a"], b"")


def test_visible_lines_count_a_bars_refreshes_as_one_line():
    transcript = (
        "log: /x.log\r\n\x1b[1mbold\x1b[0m\r\n"
        "\rtraining:  10%|#  | 1/10\rtraining:  50%|#####  | 5/10\r" + " " * 30 + "\r"
        "[ 8/10] Trainer   COMPLETE\r\nend\r\n\r    "
    )
    assert visible_lines(transcript) == ["log: /x.log", "bold", "[ 8/10] Trainer   COMPLETE", "end"]
    # A shorter text over a longer one leaves the longer one's tail, as a terminal does.
    assert visible_lines("abcdef\rxy\n") == ["xycdef"]


def test_progress_events_round_trip_and_are_inert_without_a_console(monkeypatch, capsys):
    event = {"e": "set", "id": "training", "n": 5, "post": {"d_loss": "0.69"}}
    line = progress.encode(event)
    assert line.endswith(b"\n") and len(line) < 4096
    assert progress.decode(line.decode().rstrip("\n")) == event
    assert progress.decode("I1202 a log line") is None
    monkeypatch.delenv(progress.ENV, raising=False)
    assert not progress.active()
    with progress.task("t", "work", total=3) as bar:
        bar.update(3, total=3)
    progress.say("a node line")
    assert capsys.readouterr().out == "a node line\n"


class _Terminal(io.StringIO):
    def isatty(self):
        return True

    def fileno(self):
        raise OSError("no descriptor")


def test_the_view_draws_one_bar_and_sums_the_workers_counts():
    out, err, logged = _Terminal(), _Terminal(), []
    view = View(out, err, logged.append, bars=True)
    view.event({"e": "open", "id": "ingest", "desc": "ingest", "total": 4, "unit": "chunk"})
    for _ in range(4):  # four chunks, as two workers would send them
        view.event({"e": "add", "id": "ingest", "n": 1, "post": {"images": 100, "skipped": 2}})
    view.line(2, "W1202 13:58:31.6 1400 x.py:1] a warning while the bar runs")
    view.line(2, "I1202 13:58:31.6 1400 x.py:1] an INFO line")
    view.event({"e": "close", "id": "ingest"})
    view.say("[ 1/10] ImageExampleGen  COMPLETE")
    lines = visible_lines(out.getvalue())
    assert lines == ["[ 1/10] ImageExampleGen  COMPLETE"]  # the bar was cleared on close
    assert "4/4" in out.getvalue() and "images=400" in out.getvalue()
    assert err.getvalue() == "W1202 13:58:31.6 1400 x.py:1] a warning while the bar runs\n"
    assert logged[0].startswith("ingest: 4/4 chunk in ")
    assert "images=400, skipped=8" in logged[0]
    assert logged[1] == "[ 1/10] ImageExampleGen  COMPLETE"


def test_without_a_terminal_no_bar_is_drawn():
    out, logged = io.StringIO(), []
    view = View(out, io.StringIO(), logged.append, bars=False)
    view.event({"e": "open", "id": "t", "desc": "training", "total": 10, "unit": "step"})
    view.event({"e": "set", "id": "t", "n": 10, "post": {"d_loss": "0.7"}})
    view.event({"e": "close", "id": "t"})
    assert out.getvalue() == ""
    assert len(logged) == 1
    assert logged[0].startswith("training: 10/10 step in ") and "d_loss=0.7" in logged[0]
    state = BarState("training", 10, "step", 10, {"d_loss": "0.7"})
    assert describe_bar(state, 2.0) == "training: 10/10 step in 2.0 s (5.0 step/s), d_loss=0.7"


def test_log_paths_are_per_command_time_and_process(tmp_path):
    import datetime

    when = datetime.datetime(2026, 12, 2, 14, 1, 2)
    assert log_path_for(str(tmp_path), "pipeline", when, pid=7) == str(
        tmp_path / "logs" / "pipeline-20261202-140102-7.log"
    )
    assert "://" not in log_path_for("gs://bucket/run", "train", when, pid=7)


# The node lines and the overhead ------------------------------------------------------------


def test_node_lines_and_figures():
    art = node_events.OutputArtifact
    assert (
        node_events.node_figure(
            [
                art(
                    "Examples",
                    "/e",
                    {"num_images": 3000, "num_skipped": 0, "num_skipped_empty_file": 0},
                )
            ]
        )
        == "3,000 images, 0 skipped"
    )
    examples = {"num_images": 41, "num_converted": 1, "num_skipped": 3, "num_skipped_empty_file": 1,
                "num_skipped_corrupt_image": 2}  # fmt: skip
    assert node_events.node_figure([art("Examples", "/e", examples)]) == (
        "41 images (1 converted), 3 skipped (corrupt_image 2, empty_file 1; listed in "
        "ingest_report.json)"
    )
    log = "\n".join(
        json.dumps(line)
        for line in (
            {"step": 1000, "images_per_second": 1100.0, "disc_loss": 1.2, "gen_loss": 0.9},
            {"step": 2000, "images_per_second": 1300.0, "disc_loss": 1.1, "gen_loss": 1.0},
        )
    )
    assert (
        node_events.node_figure(
            [art("Model", "/m", {}), art("ModelRun", "/r", {})], read_text=lambda path: log
        )
        == "2000 steps, 1200 img/s, d_loss 1.100 g_loss 1.000"
    )
    evaluation = art("ModelEvaluation", "/v", {"accuracy": 0.5163, "fid_name": "fid_500",
                                                "fid_500": 182.46})  # fmt: skip
    blessing = art("ModelBlessing", "/b", {"blessed": 1})
    assert node_events.node_figure([evaluation, blessing]) == (
        "probe accuracy 0.516; fid_500 182.5; BLESSED"
    )
    pushed = art("PushedModel", "/p", {"pushed": 1, "pushed_models": json.dumps(
        {"generator": {"version": 17}, "discriminator_features": {"version": 17}})})  # fmt: skip
    assert node_events.node_figure([pushed]) == "pushed generator v17, discriminator_features v17"
    assert node_events.node_figure([art("PushedModel", "/p", {"pushed": 0})]) == (
        "nothing pushed (not blessed)"
    )
    node = node_events.NodeRun("Trainer", 8, 10, "COMPLETE", 241.3, 240.0, "2000 steps")
    assert node_events.format_node_start(node) == "[ 8/10] Trainer                started"
    assert node_events.format_node_end(node) == (
        "[ 8/10] Trainer                COMPLETE 4 min 01 s  2000 steps"
    )


def test_overhead_is_wall_time_beyond_the_executors_work():
    timing = node_events.RunTiming(process_start=1000.0, run_start=1060.0, run_end=1400.0)
    timing.nodes["A"] = node_events.NodeRun("A", 1, 2, "COMPLETE", seconds=100.0, work_seconds=90.0)
    timing.nodes["B"] = node_events.NodeRun(
        "B", 2, 2, "COMPLETE", seconds=230.0, work_seconds=230.0
    )
    assert timing.wall_seconds == 400.0
    assert timing.work_seconds == 320.0
    assert timing.overhead_seconds == 80.0 and timing.overhead_fraction == 0.2
    line = node_events.format_overhead(timing)
    assert "orchestration overhead 1 min 20 s (20%" in line
    assert "start-up and imports 1 min 00 s, launchers 10.0 s" in line


def test_process_start_time_is_before_now():
    import time

    started = node_events.process_start_time()
    assert time.time() - 3600 < started <= time.time()


# A real console in a real process -------------------------------------------------------------

_SCRIPT = textwrap.dedent(
    """
    import ctypes, subprocess, sys, time
    from tfx_dcgan import progress
    from tfx_dcgan.console import Console

    console = Console.start("demo", sys.argv[1])
    libc = ctypes.CDLL(None)
    for line in sys.argv[2:]:  # as TensorFlow's C++ code writes: straight to fd 2
        data = (line + "\\n").encode()
        libc.write(2, data, len(data))
    print("a print")
    time.sleep(0.1)
    from absl import logging
    logging.info("an INFO record")
    logging.warning("a real warning")
    # A child process inherits the tee's descriptors (as Beam's workers do).
    subprocess.run([sys.executable, "-c", "import sys; print('child line', file=sys.stderr)"])
    with progress.task("work", "work", total=30, unit="it") as bar:
        for i in range(30):
            time.sleep(0.02)
            bar.update(i + 1, total=30, loss=0.5)
    progress.say("[ 1/1] Demo  COMPLETE")
    console.stop(int(sys.argv[1].endswith("fail")))
    """
)


def _log_of(folder) -> str:
    (name,) = os.listdir(os.path.join(folder, "logs"))
    with open(os.path.join(folder, "logs", name)) as handle:
        return handle.read()


def test_the_tee_logs_every_byte_and_shows_the_filtered_view(tmp_path):
    folder = str(tmp_path / "run")
    completed = subprocess.run(
        [sys.executable, "-c", _SCRIPT, folder, CUDA_LINES[0], REAL_LINES[2]],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    log = _log_of(folder)
    first = completed.stdout.splitlines()[0]
    assert first.startswith(f"log: {folder}/logs/demo-") and os.path.exists(first[len("log: ") :])
    assert completed.stdout.splitlines()[1:] == ["a print", "[ 1/1] Demo  COMPLETE"]
    assert completed.stderr.splitlines() == [REAL_LINES[2], "WARNING:absl:a real warning",
                                             "child line"]  # fmt: skip
    # The log holds everything, the lines filtered from the console included.
    for expected in (CUDA_LINES[0], REAL_LINES[2], "a print", "INFO:absl:an INFO record",
                     "child line", "[ 1/1] Demo  COMPLETE", "work: 30/30 it in "):  # fmt: skip
        assert expected in log
    assert progress.MARKER not in log and "\r" not in completed.stdout


def test_on_a_terminal_a_bar_is_one_line_and_a_failure_ends_with_the_log_path(tmp_path):
    folder = str(tmp_path / "fail")
    run = run_in_pty([sys.executable, "-c", _SCRIPT, folder, CUDA_LINES[1]], timeout=120)
    assert run.returncode == 0, run.transcript
    assert "work:  " in run.transcript and "\r" in run.transcript  # the bar was drawn live
    assert run.lines[0].startswith("log: ")
    assert run.lines[1:] == [
        "a print",
        "WARNING:absl:a real warning",
        "child line",
        "[ 1/1] Demo  COMPLETE",
        f"the full log: {run.lines[0][len('log: ') :]}",
    ]
    assert CUDA_LINES[1] in _log_of(folder)


def test_verbosity_brings_the_full_log_back(tmp_path):
    script = textwrap.dedent(
        """
        import ctypes, sys
        from absl import app, logging
        from tfx_dcgan.cli import console as cli_console

        def main(argv):
            console = cli_console.start("demo", argv[1])
            data = (argv[2] + "\\n").encode()
            ctypes.CDLL(None).write(2, data, len(data))
            logging.info("an INFO record")
            console.stop()

        app.run(main)
        """
    )
    for flags, shown in (([], False), (["-v", "0"], True), (["--verbosity=1"], True)):
        completed = subprocess.run(
            [sys.executable, "-c", script, *flags, str(tmp_path / str(len(flags))), CUDA_LINES[0]],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 0, completed.stderr
        assert (CUDA_LINES[0] in completed.stderr) is shown, (flags, completed.stderr)
        assert ("an INFO record" in completed.stderr) is shown, (flags, completed.stderr)
