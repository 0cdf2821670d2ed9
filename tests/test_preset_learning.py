"""Every preset learns (issue 10): a short run at a small size beats the untrained generator of the same seed
on the preset's own signal, the scores of its ``eval.metrics`` computed as ``gankit bench quality`` computes
them (``gankit.bench.learning_scores``: one Evaluation, the trained G and the G built before training).

Networks and steps are shrunk, never the objective (loss, penalties, n_critic, packing, extra players).
gan, dcgan, cgan, pacgan, pix2pix and cyclegan have their learning tests in tests/test_learning.py; sagan,
wgan and stargan need more steps than a fast test can afford and are checked by `gankit bench quality` only
(BENCH_ONLY says why, with the numbers). The settings are those of the reduced `gankit bench quality` run in
the README ("Every preset learns"; srgan's here is smaller still); the values measured on seeds 0 and 1 are
written beside each case as trained / untrained. The test runs seed 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

import gankit
from gankit.bench import learning_scores, margin
from gankit.config import list_presets, resolve
from gankit.evaluate import METRICS, higher_is_better
from conftest import shared_file  # tests/ is on sys.path under pytest

pytestmark = pytest.mark.usefixtures("evaluator_cache")  # every test: domain evaluators in a fresh cache

FAST = ["train.progress=false", "device=cpu", "train.sample_every=100000", "train.checkpoint_every=100000"]
DIGITS32 = ["model.g_width=32", "model.d_width=32"]  # the dcgan nets at half width, on the 8x8 digits
MLP128 = ["model.g_width=128", "model.d_width=128"]  # PacGAN's 2D nets, 128 wide instead of 400 / 200
FACADES = ["data.image_size=32", "data.limit=32", "model.g_width=16", "model.d_width=16", "recipe_args.n_layers=2"]
COVERED_IN_TEST_LEARNING = {"gan", "dcgan", "cgan", "pacgan", "pix2pix", "cyclegan", "ebgan", "began", "ssgan", "triplegan", "deligan",
                            "biggan", "stylegan", "progan", "lapgan"}  # biggan: tests/test_large_scale.py, with the
# truncation trick on the same run; stylegan: tests/test_stylegan.py, with the style-mixing signal; progan and lapgan:
# tests/test_progan.py (with the stage grids) and tests/test_lapgan.py (against the pyramid without its refining level)
COVERED_IN_TEST_LEARNING |= {"crnngan"}  # tests/test_sequences.py: spectrum and domain FID against the untrained G
# tests/test_text.py (the oracle's NLL and nll_test of seqgan and relgan, nll_test and BLEU of mle on COCO),
# tests/test_maskgan.py (fill-in), tests/test_irgan.py (precision@5 against popularity and the untrained model)
COVERED_IN_TEST_LEARNING |= {"mle", "seqgan", "relgan", "maskgan", "irgan", "bpr"}
# issue 15's applications, each against its untrained G (and the inpainting one against mean fill) in its own file:
# tests/test_inpainting.py, test_texture.py (psgan, markovian-gan), test_video.py, test_shapes3d.py, test_stackgan.py
COVERED_IN_TEST_LEARNING |= {"context-encoder", "psgan", "markovian-gan", "vgan", "mocogan", "3dgan", "stackgan"}
# too slow to show a margin within a fast test's budget on 2 CPU cores: `gankit bench quality` only (README table)
BENCH_ONLY = {
    "context-encoder-l2": "the L2-only ablation of context-encoder (same networks and data flow, adv_weight 0): "
                          "python benchmarks/inpainting_baselines.py, hole PSNR 16.43 dB vs 12.64 untrained",
    "sgan": "the psgan recipe with local noise only (psgan's learning test covers the recipe): "
            "python benchmarks/texture_signal.py sgan OUT, Gram distance 0.066 vs 0.999 untrained",
    "wgan": "n_critic 5 with RMSprop at 5e-5: 400 steps (about 28 s of one thread) for fid 199 vs 438 untrained",
    "stargan": "n_critic 5 with a gradient penalty: 80 steps (23 s) give class_acc .19 vs .10; 300 steps give 1.00",
    "sagan": "attention at 16 px, TTUR 1e-4 / 4e-4, beta1 0: 150 steps (21 s) give fid 347 vs 341 untrained; 400 steps "
             "(about 55 s) fid 320 vs 341 and class entropy .71 vs .64",
}


@dataclass(frozen=True)
class Case:
    data: str | None  # None: the preset's own data set
    overrides: list[str]
    n: int  # generated samples per score
    bounds: dict[str, float] = field(default_factory=dict)  # the trained score is at least this good ...
    margins: dict[str, float] = field(default_factory=dict)  # ... and this much better than the untrained G's
    needs: str | None = None  # a file of ../shared/data the data set comes from


CASES: dict[str, Case] = {
    # AAE (issue 12): codes of test digits against the prior (multi-scale MMD^2), FID of decoded prior draws; the labelled
    # mixture also: G(a draw of component k) is digit k
    "aae": Case("digits", ["model.g_width=32", "model.d_width=256", "train.steps=300"], 500,  # prior_mmd .0008 / .316,
                {"prior_mmd": 0.02}, {"prior_mmd": 0.2, "fid": 150}),  # .0044 / .324; fid 72.1 / 377.9, 120.6 / 449.9
    "aae-labelled": Case("digits", ["model.g_width=32", "model.d_width=256", "train.steps=300"], 500,  # class_acc .800 / .112,
                         {"class_acc": 0.55, "prior_mmd": 0.05},  # .682 / .002; prior_mmd .0161 / .354, .0179 / .367;
                         {"class_acc": 0.4, "prior_mmd": 0.2, "fid": 150}),  # fid 268.7 / 545.7, 275.1 / 563.9
    # VAE (no D) and VAE-GAN at width 32, 300 steps: reconstructions of test digits and domain FID of prior samples
    # (tests/test_vae.py: the VAE-GAN's FID below the VAE's at the same steps)
    "vae": Case("digits", DIGITS32 + ["train.steps=300"], 500,  # recon_error .089 / 1.032, .079 / .603;
                {"recon_error": 0.15, "recon_acc": 0.85, "fid": 130},  # recon_acc .953, .966;
                {"recon_error": 0.3, "fid": 120}),  # fid 96.6 / 401.6, 90.1 / 267.4
    "vaegan": Case("digits", DIGITS32 + ["train.steps=300"], 500,  # recon_error .079 / 1.032, .075 / .603;
                   {"recon_error": 0.15, "recon_acc": 0.85, "fid": 110},  # recon_acc .960, .973;
                   {"recon_error": 0.3, "fid": 120}),  # fid 72.7 / 401.6, 74.8 / 267.4
    # GLO (no D): test digits rebuilt from codes inferred by optimisation (50 Adam steps), domain FID of samples of
    # the Gaussian fitted to the learnt codes
    "glo": Case("digits", ["train.steps=300", "recipe_args.encode_steps=50"], 500,  # recon_error .033 / .647,
                {"recon_error": 0.08, "recon_acc": 0.9, "fid": 80},  # .034 / .637; recon_acc .983 / .387, .990 / .269;
                {"recon_error": 0.4, "fid": 150}),  # fid 41.2 / 347.2, 42.5 / 306.6
    # the encoder family (issue 12): reconstructions G(E(x)) of test digits and domain FID of samples (D with spectral
    # norm, as the presets; 2,000 steps: README)
    "bigan": Case("digits", DIGITS32 + ["train.steps=600"], 500,  # recon_error .326 / .771, .379 / .779; recon_acc
                  {"recon_error": 0.5, "recon_acc": 0.4},  # .552 / .108, .572 / .074;
                  {"recon_error": 0.3, "fid": 60}),  # fid 135.2 / 253.7, 166.9 / 418.5
    "ali": Case("digits", DIGITS32 + ["train.steps=600"], 500,  # recon_error .404 / .779, .450 / .779;
                {"recon_error": 0.55}, {"recon_error": 0.25, "fid": 50}),  # fid 152.2 / 253.7, 184.8 / 418.5
    # IcGAN: test digits edited to another class are classified as asked, and lie nearer their input than random
    # samples of that class do (edit_style < 1; an untrained G's blobs score anything, so no margin on it)
    "icgan": Case("digits", DIGITS32 + ["train.steps=600"], 500,  # edit_acc 1.0 / .168, .997 / .125;
                  {"edit_acc": 0.8, "edit_style": 0.97}, {"edit_acc": 0.5, "fid": 100}),  # style .914, .904; fid 111.5 / 310.3, 110.5 / 308.1
    # BiCoGAN: the class reaches G only through the joint D, so it takes longer than IcGAN's AC-GAN (1,000 steps, one
    # thread, seeds 0 / 1; the README has 2,000 steps, where edit_acc is .99 / .98)
    "bicogan": Case("digits", DIGITS32 + ["train.steps=1000"], 500,  # recon_acc .933 / .114, .889 / .084; class_acc
                    {"recon_acc": 0.75, "class_acc": 0.35, "edit_acc": 0.2},  # .576 / .108, .590 / .096; edit_acc .306 /
                    {"recon_acc": 0.5, "edit_acc": 0.15, "fid": 150}),  # .084, .391 / .064; fid 101.5 / 414.4, 86.1 / 389.3
    # image presets on the 8x8 digits: domain FID and the spread of the digits evaluator's classes
    "lsgan": Case("digits", DIGITS32 + ["train.steps=600"], 500,  # fid 162.6 / 437.6, 179.1 / 274.9;
                  {"fid": 230, "class_entropy": 0.9, "class_min_share": 0.02},  # entropy .952 / .492, .945 / .816;
                  {"fid": 60, "class_entropy": 0.08}),  # min share .046 / 0, .036 / .002
    "sngan": Case("digits", DIGITS32 + ["train.steps=600"], 500,  # fid 190.3 / 278.2, 183.7 / 302.3;
                  {"fid": 230, "class_entropy": 0.88, "class_min_share": 0.02},  # entropy .932 / .757, .958 / .651;
                  {"fid": 50, "class_entropy": 0.1}),  # min share .044 / .004, .046 / .006
    # R3GAN (issue 13): the relativistic pairing loss with R1 + R2 on its normalisation-free backbone, preset widths
    "r3gan": Case("digits", ["train.steps=200"], 500,  # fid 146.1 / 617.2, 149.4 / 642.8;
                  {"fid": 200, "class_entropy": 0.85},  # class_entropy .905 / .678, .910 / .663
                  {"fid": 400, "class_entropy": 0.15}),
    # StyleGAN2: the style G with lazy R1 and path-length regularisation, preset widths
    "stylegan2": Case("digits", ["train.steps=300"], 500,  # fid 172.1 / 456.4, 190.3 / 561.6;
                      {"fid": 250, "class_entropy": 0.75},  # class_entropy .942 / .491, .828 / .664
                      {"fid": 200, "class_entropy": 0.1}),
    # conditional: the class asked for, as the digits evaluator sees it (biggan: tests/test_large_scale.py)
    "acgan": Case("digits", DIGITS32 + ["train.steps=600"], 500,  # class_acc .826 / .074, .924 / .098;
                  {"class_acc": 0.7}, {"class_acc": 0.5, "fid": 80}),  # fid 114.8 / 256.5, 115.3 / 339.9
    # PacDCGAN's packing of m=2 images into D, checked on the digits (Stacked MNIST's 1,000 modes: bench quality)
    "pacdcgan": Case("digits", DIGITS32 + ["train.steps=600", "eval.metrics=[fid, classes]", "eval.features=domain"], 500,
                     {"fid": 280, "class_entropy": 0.9, "class_min_share": 0.015},  # fid 226.8 / 437.6, 227.1 / 274.9;
                     {"fid": 40, "class_entropy": 0.08}),  # entropy .948 / .492, .932 / .816; min share .030 / 0, .030 / .002
    "wgan-gp": Case("digits", DIGITS32 + ["train.steps=200"], 500,  # fid 214.9 / 437.6, 248.8 / 274.9;
                    {"fid": 260, "class_entropy": 0.85, "class_min_share": 0.005},  # entropy .879 / .492, .875 / .816;
                    {"fid": 20, "class_entropy": 0.03}),  # min share .014 / 0, .010 / .002
    "infogan": Case("digits", DIGITS32 + ["train.steps=800"], 500,  # code_acc .524 / .174, .480 / .168 (chance .1);
                    {"code_acc": 0.4}, {"code_acc": 0.2, "fid": 50}),  # fid 147.0 / 320.3, 171.1 / 261.9
    # the anti-collapse recipes on ring8, PacGAN's protocol (2,500 samples; a mode holds a sample within 3 std)
    "madgan": Case("ring8", MLP128 + ["train.steps=600"], 2500,  # one thread, seeds 0 / 1 / 2: modes 7 / 1, 7 / 2, 7 / 1;
                   {"modes": 6, "reverse_kl": 0.8}, {"modes": 4, "reverse_kl": 0.5}),  # reverse KL .54, .40, .45 (untrained 2.08, 1.39)
    "mgan": Case("ring8", MLP128 + ["train.steps=400"], 2500,  # modes 8 / 1, 8 / 2; high quality 12.8% / 0.1%,
                 {"modes": 7, "high_quality": 0.03}, {"modes": 4}),  # 6.0% / 0.1%; reverse KL .272, .184
    "d2gan": Case("ring8", MLP128 + ["train.steps=400"], 2500,  # modes 7 / 2, 8 / 1; reverse KL .350 / 1.39,
                  {"modes": 6, "reverse_kl": 0.7}, {"modes": 4, "reverse_kl": 0.5}),  # .156 / 2.08; high quality 2.3%, 1.2%
    "gman": Case("ring8", MLP128 + ["train.steps=400"], 2500,  # modes 8 / 2, 8 / 1; high quality 22.1% / 0.2%,
                 {"modes": 7, "high_quality": 0.05}, {"modes": 4}),  # 11.0% / 0.1%; reverse KL .092, .192
    "dropoutgan": Case("ring8", MLP128 + ["train.steps=400"], 2500,  # modes 8 / 2, 7 / 1; high quality 18.4% / 0.2%,
                       {"modes": 6, "high_quality": 0.04}, {"modes": 4}),  # 8.2% / 0.1%; reverse KL .073, .214
    "unrolled": Case("ring8", MLP128 + ["train.steps=200"], 2500,  # 5 look-ahead steps, second order; modes 8 / 2, 8 / 1;
                     {"modes": 7, "high_quality": 0.02}, {"modes": 4}),  # high quality 6.0% / 0.2%, 5.2% / 0.1%; reverse KL .125, .139
    # translation: PSNR / SSIM of G(input) against the paired targets of the test split
    "pix2pix-l1": Case(None, FACADES + ["train.steps=200"], 500,  # psnr 14.31 / 10.83, 14.33 / 10.85 dB;
                       {"psnr": 13.0, "ssim": 0.08}, {"psnr": 2.0, "ssim": 0.06}, needs="facades.npz"),  # ssim .129 / .012, .135 / .013
    # 4x super-resolution of 8x8 CIFAR-10 crops; at this budget still below bicubic (21.38 dB, SSIM .591)
    "srgan": Case(None, ["data.limit=256", "model.g_width=16", "model.d_width=16", "recipe_args.n_blocks=2",
                         "recipe_args.content=mse", "train.steps=80"], 500,  # psnr 15.19 / 12.55, 15.42 / 12.55 dB;
                  {"psnr": 14.0, "ssim": 0.2}, {"psnr": 1.5, "ssim": 0.03}, needs="cifar10.npz"),  # ssim .225 / .167, .230 / .172
}


def test_every_preset_has_a_learning_check() -> None:
    """A preset added later fails here until it has a case (or a test in tests/test_learning.py)."""
    assert set(list_presets()) == set(CASES) | COVERED_IN_TEST_LEARNING | set(BENCH_ONLY)
    for preset, case in CASES.items():  # the checked scores are those of the preset's own evaluation
        metrics = resolve(preset, case.data, case.overrides).eval.metrics
        scores = {key for m in metrics for key in METRICS.get(m).keys}
        assert set(case.bounds) | set(case.margins) <= scores, (preset, metrics)


@pytest.mark.parametrize("preset", list(CASES))
def test_preset_beats_its_untrained_generator(preset: str, tmp_path) -> None:  # noqa: ANN001
    case = CASES[preset]
    root = [f"data.root={shared_file(case.needs).parent}"] if case.needs else []
    run = gankit.train(preset, case.data, out=tmp_path / preset, overrides=FAST + root + case.overrides + ["seed=0"])
    trained, untrained = learning_scores(run, n=case.n)
    for key, bound in case.bounds.items():
        good = trained[key] >= bound if higher_is_better(key) else trained[key] <= bound
        assert good, (key, bound, trained, untrained)
    for key, least in case.margins.items():
        assert margin(key, trained[key], untrained[key]) >= least, (key, least, trained, untrained)
