"""TfdsExampleGen: a TFDS data set prepared in a local data_dir -> raw image `tf.Example`s.

Import the component from `.component` (it imports TFX); the Beam DoFn the workers run lives in
`tfx_dcgan.ingest.tfds_source`, which imports no TFX.
"""
