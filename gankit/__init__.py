"""gankit: the family of generative adversarial networks under one engine."""
from gankit.api import Run, from_pretrained, load, resume, train
from gankit.errors import CheckpointError, ConfigError, DataError, GankitError, NonFiniteLossError

__version__ = "0.1.0"
__all__ = ["train", "load", "resume", "from_pretrained", "Run", "GankitError", "ConfigError", "DataError", "CheckpointError", "NonFiniteLossError"]
