"""ImageExampleGen: folders of images -> gzipped TFRecords of raw image `tf.Example`s.

Import the component from `.component` (it imports TFX, ~1 min); `.transforms` holds the Beam
functions the workers run and imports only Beam, TensorFlow and Pillow.
"""
