"""TFRecordExampleGen: existing TFRecords of `tf.Example`, feature names remapped to ours.

Import the component from `.component` (it imports TFX); the Beam DoFn the workers run lives in
`tfx_dcgan.ingest.tfrecord_source`, which imports no TFX.
"""
