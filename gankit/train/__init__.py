"""Training: the loop, checkpoints and the run directory."""
from gankit.train.checkpoint import load_checkpoint, save_checkpoint
from gankit.train.rundir import RunDir
from gankit.train.trainer import Trainer

__all__ = ["Trainer", "RunDir", "load_checkpoint", "save_checkpoint"]
