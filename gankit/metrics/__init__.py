"""Metrics: the math on features (FID, KID, IS, precision-recall, density-coverage, modes, ...) and, beside it
in the same file, each metric's registered class (``gankit.metrics.base``: the ``METRICS`` registry)."""
from gankit.metrics.base import METRICS, Features, Inputs, Metric, Need, Setting, register_metric
from gankit.metrics.fid import fid, fid_from_stats
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid
from gankit.metrics.modes import modes_2d
from gankit.metrics.prdc import density_coverage, precision_recall
from gankit.metrics.stats import MetricInputError, RunningStats
from gankit.metrics.conditional import class_accuracy, code_accuracy
from gankit.metrics.class_balance import class_balance
from gankit.metrics.image import psnr, ssim
from gankit.metrics.memorisation import memorisation
from gankit.metrics import semi_supervised  # noqa: F401  (registers ssl_acc)
from gankit.metrics.encoding import linear_probe
from gankit.metrics import prior_match  # noqa: F401  (registers prior_match: AAE codes against the prior)
from gankit.metrics import ppl, style_mixing  # noqa: F401  (registers ppl and style_mixing: style generators)
from gankit.metrics import ndcg_at_k, precision_at_k  # noqa: F401  (registers them: item recommendation)
from gankit.metrics import autocorr, spectrum  # noqa: F401  (registers autocorr and spectrum: continuous sequences)
from gankit.metrics import bleu, fill_in, nll_oracle, nll_test, self_bleu  # noqa: F401  (registers the text metrics)
from gankit.metrics import hole_l1, hole_psnr  # noqa: F401  (registers the inpainting metrics: scores inside the hole)
from gankit.metrics import content_consistency, frame_fid, fvd, motion  # noqa: F401  (registers the video metrics)
from gankit.metrics import gram  # noqa: F401  (registers gram: the texture GANs' Gram distance)
from gankit.metrics import stages  # noqa: F401  (registers stage1_fid: StackGAN's stage I)
from gankit.metrics.domain import DomainEvaluator, load_evaluator, train_evaluator
from gankit.metrics.inception import FIDInceptionV3, inception_available, load_inception
from gankit.metrics.stacked import stacked_mnist_modes

__all__ = ["METRICS", "Metric", "Need", "Inputs", "Features", "Setting", "register_metric",
           "modes_2d", "fid", "fid_from_stats", "RunningStats", "kid", "inception_score",
           "precision_recall", "density_coverage", "MetricInputError", "class_accuracy", "code_accuracy",
           "class_balance", "psnr", "ssim", "memorisation", "linear_probe",
           "DomainEvaluator", "load_evaluator", "train_evaluator", "FIDInceptionV3", "inception_available",
           "load_inception", "stacked_mnist_modes"]
