"""FeatureProbeEvaluator: the paper's linear probe on D's features, blessing the model.

Import the component from `.component` (it imports TFX); `.executor` holds the executor and the
plain functions it calls (`evaluate_trainer_model`, `write_outcome`).
"""
