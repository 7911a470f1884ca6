"""VersionedPusher: publishes named SavedModels of a Model artifact for TF Serving's file poller.

Import the component from `.component` (it imports TFX); `.executor` holds the executor and the
plain publishing functions.
"""
