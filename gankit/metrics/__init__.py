"""Metrics: 2D mode coverage, and FID / KID / IS / precision-recall / density-coverage on features."""
from gankit.metrics.fid import fid, fid_from_stats
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid
from gankit.metrics.modes import modes_2d
from gankit.metrics.prdc import density_coverage, precision_recall
from gankit.metrics.stats import MetricInputError, RunningStats

__all__ = ["modes_2d", "fid", "fid_from_stats", "RunningStats", "kid", "inception_score",
           "precision_recall", "density_coverage", "MetricInputError"]
