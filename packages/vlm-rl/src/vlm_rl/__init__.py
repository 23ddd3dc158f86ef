"""vlm-rl: train vision-language models to play Game Boy games with RL (the Odysseus recipe)."""

__version__ = "0.1.0"
