"""Metrics: 2D mode coverage, and FID / KID / IS / precision-recall / density-coverage on features."""
from gankit.metrics.fid import fid, fid_from_stats
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid
from gankit.metrics.modes import modes_2d
from gankit.metrics.prdc import density_coverage, precision_recall
from gankit.metrics.stats import MetricInputError, RunningStats
from gankit.metrics.conditional import class_accuracy, code_accuracy
from gankit.metrics.domain import DomainEvaluator, load_evaluator, train_evaluator
from gankit.metrics.inception import FIDInceptionV3, inception_available, load_inception
from gankit.metrics.stacked import stacked_mnist_modes

__all__ = ["modes_2d", "fid", "fid_from_stats", "RunningStats", "kid", "inception_score",
           "precision_recall", "density_coverage", "MetricInputError", "class_accuracy", "code_accuracy",
           "DomainEvaluator", "load_evaluator", "train_evaluator", "FIDInceptionV3", "inception_available",
           "load_inception", "stacked_mnist_modes"]
