"""Executor-level tests of VersionedPusher: numbered, atomic, never-overwriting pushes."""

import json
import os
import tempfile
import time

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan.components.versioned_pusher import executor

import tensorflow as tf
from tfx.types import standard_artifacts

NAMES = ["generator", "discriminator_features"]


class _Doubler(tf.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = tf.Variable(factor)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def __call__(self, x):
        return x * self.factor


def _make_model(self) -> None:
    """Two tiny SavedModels in a Model artifact under a fresh temporary root."""
    self.root = tempfile.mkdtemp(dir=self.get_temp_dir())
    self.push_base = os.path.join(self.root, "serving")
    self.model = standard_artifacts.Model()
    self.model.uri = os.path.join(self.root, "model")
    for factor, name in enumerate(NAMES, start=2):
        module = _Doubler(float(factor))
        tf.saved_model.save(
            module,
            os.path.join(self.model.uri, "Format-Serving", name),
            signatures=module.__call__.get_concrete_function(),
        )


class VersionedPusherExecutorTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        _make_model(self)

    def _push(self, blessing=None, push_unblessed=True):
        pushed = standard_artifacts.PushedModel()
        pushed.uri = os.path.join(self.root, "pushed", str(time.perf_counter_ns()))
        inputs = {executor.MODEL_KEY: [self.model]}
        if blessing is not None:
            inputs[executor.MODEL_BLESSING_KEY] = [blessing]
        executor.Executor().Do(
            inputs,
            {executor.PUSHED_MODEL_KEY: [pushed]},
            {
                executor.PUSH_BASE_KEY: self.push_base,
                executor.MODEL_NAMES_KEY: json.dumps(NAMES),
                executor.PUSH_UNBLESSED_KEY: int(push_unblessed),
            },
        )
        return pushed

    def test_two_pushes_in_the_same_second_get_distinct_increasing_versions(self):
        started = int(time.time())
        first, second = self._push(), self._push()
        self.assertLessEqual(int(time.time()) - started, 1)  # Both within (about) one second.
        first_version = int(first.get_string_custom_property("pushed_version"))
        second_version = int(second.get_string_custom_property("pushed_version"))
        self.assertEqual(second_version, first_version + 1)
        self.assertGreaterEqual(first_version, started)
        for name, factor in zip(NAMES, (2.0, 3.0)):
            model_base = os.path.join(self.push_base, name)
            # Only the two versions: no temporary directories left for the poller to see.
            self.assertCountEqual(os.listdir(model_base), [str(first_version), str(second_version)])
            for version in (first_version, second_version):
                loaded = tf.saved_model.load(os.path.join(model_base, str(version)))
                self.assertAllClose(loaded(tf.constant([1.0, 2.0])), [factor, 2 * factor])
        self.assertEqual(first.get_int_custom_property("pushed"), 1)
        record = json.loads(second.get_string_custom_property("pushed_models"))
        self.assertEqual(
            record["generator"],
            {
                "version": second_version,
                "destination": os.path.join(self.push_base, "generator", str(second_version)),
            },
        )
        with open(os.path.join(second.uri, executor.PUSH_RECORD_FILE)) as handle:
            self.assertEqual(json.load(handle)["models"], record)

    def test_next_version_never_reuses_existing_versions(self):
        model_base = os.path.join(self.push_base, "generator")
        os.makedirs(os.path.join(model_base, "99999999999"))
        os.makedirs(os.path.join(model_base, ".tmp-push-x"))
        self.assertEqual(executor.next_version([model_base], now=5), 100000000000)
        self.assertEqual(executor.next_version([os.path.join(self.root, "none")], now=5), 5)

    def test_publish_skips_an_existing_version_instead_of_overwriting(self):
        model_base = os.path.join(self.push_base, "generator")
        taken = os.path.join(model_base, "7")
        os.makedirs(taken)
        with open(os.path.join(taken, "saved_model.pb"), "w") as handle:
            handle.write("someone else's model")
        source = os.path.join(self.model.uri, "Format-Serving", "generator")
        version, destination = executor.publish_saved_model(source, model_base, 7)
        self.assertEqual((version, destination), (8, os.path.join(model_base, "8")))
        with open(os.path.join(taken, "saved_model.pb")) as handle:
            self.assertEqual(handle.read(), "someone else's model")
        self.assertCountEqual(os.listdir(model_base), ["7", "8"])

    def test_blessing_decides_when_given(self):
        blessing = standard_artifacts.ModelBlessing()
        blessing.set_int_custom_property("blessed", 0)
        not_pushed = self._push(blessing=blessing, push_unblessed=False)
        self.assertEqual(not_pushed.get_int_custom_property("pushed"), 0)
        self.assertFalse(os.path.exists(self.push_base))
        blessing.set_int_custom_property("blessed", 1)
        pushed = self._push(blessing=blessing, push_unblessed=False)
        self.assertEqual(pushed.get_int_custom_property("pushed"), 1)

    def test_push_unblessed_pushes_a_model_the_probe_did_not_bless(self):
        blessing = standard_artifacts.ModelBlessing()
        blessing.set_int_custom_property("blessed", 0)
        pushed = self._push(blessing=blessing, push_unblessed=True)
        self.assertEqual(pushed.get_int_custom_property("pushed"), 1)
        for name in NAMES:
            self.assertEqual(len(os.listdir(os.path.join(self.push_base, name))), 1)

    def test_refuses_unconditional_push_without_the_flag(self):
        with self.assertRaisesRegex(ValueError, "push_unblessed"):
            self._push(push_unblessed=False)

    def test_missing_saved_model_fails_before_publishing_anything(self):
        os.remove(os.path.join(self.model.uri, "Format-Serving", NAMES[1], "saved_model.pb"))
        with self.assertRaisesRegex(FileNotFoundError, NAMES[1]):
            self._push()
        self.assertFalse(os.path.exists(os.path.join(self.push_base, NAMES[0])))


if __name__ == "__main__":
    tf.test.main()


class PushTogetherTest(tf.test.TestCase):
    """Both models of a push share one version, and a push that fails part-way leaves neither."""

    def setUp(self):
        super().setUp()
        _make_model(self)

    def _sources_and_bases(self):
        sources = {n: os.path.join(self.model.uri, "Format-Serving", n) for n in NAMES}
        return sources, {n: os.path.join(self.push_base, n) for n in NAMES}

    def test_a_version_taken_for_one_model_is_skipped_for_both(self):
        sources, bases = self._sources_and_bases()
        os.makedirs(os.path.join(bases["discriminator_features"], "12"))  # someone else's
        pushed = executor.publish_together(sources, bases, 12)
        self.assertEqual({r["version"] for r in pushed.values()}, {13})
        self.assertCountEqual(os.listdir(bases["generator"]), ["13"])
        self.assertCountEqual(os.listdir(bases["discriminator_features"]), ["12", "13"])

    def test_a_push_that_fails_part_way_leaves_no_new_version_of_either(self):
        from unittest import mock

        from tfx_dcgan import fileio

        sources, bases = self._sources_and_bases()
        first = executor.publish_together(sources, bases, 20)
        real_publish = fileio.publish_directory

        def fail_on_the_second_model(temporary, final, *, marker):
            if final.startswith(bases["discriminator_features"]):
                raise OSError(28, "No space left on device", final)
            return real_publish(temporary, final, marker=marker)

        with mock.patch.object(fileio, "publish_directory", fail_on_the_second_model):
            with self.assertRaisesRegex(OSError, "No space left"):
                executor.publish_together(sources, bases, 21)
        for name in NAMES:
            # Only the first push's version; no half push, no temporary folder left.
            self.assertCountEqual(os.listdir(bases[name]), [str(first[name]["version"])])
