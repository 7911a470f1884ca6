"""The paper's experiments as tools (latent walks, vector arithmetic, guided backprop, nearest
neighbours): reserved for the issues that build them; nothing here yet."""
