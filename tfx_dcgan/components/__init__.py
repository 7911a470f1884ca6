"""Custom TFX components of the tfx-dcgan pipeline (each in its own folder: component + executor)."""
