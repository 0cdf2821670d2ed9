"""StackGAN's signals on a trained run against the untrained G of the same seed (Zhang et al. 2017).

    python benchmarks/stackgan_signal.py RUN_DIR [--n 2000]

Prints one table: the class the domain evaluator sees is the class the caption names (stage I and stage II, chance
10%), domain FID of stage II and of stage I (upsampled by the evaluator), against the test split, and the attribute
check: measured stroke thickness of "a thick <digit>" minus "a thin <digit>" samples (MNIST captions; in ink pixels
per skeleton pixel; the real test digits' thick-minus-thin gap beside it).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

import gankit
from gankit.data import load_dataset
from gankit.data.captions import encode_captions, stroke_attributes
from gankit.data.text import Vocabulary
from gankit.metrics.domain import load_evaluator
from gankit.metrics.fid import fid_from_stats
from gankit.recipes.srgan import downsample
from gankit.recipes.stackgan import StackGAN


def features(evaluator, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """(feature rows (n, D) float64, predicted classes (n,))."""
    rows, logits = evaluator.extract(images.clamp(-1, 1), 500)
    return rows.double().numpy(), logits.argmax(1).numpy()


def fid(rows: np.ndarray, real: np.ndarray) -> float:
    return fid_from_stats(real.mean(0), np.cov(real, rowvar=False), rows.mean(0), np.cov(rows, rowvar=False))


def thickness_gap(recipe: StackGAN, vocab: Vocabulary, nouns: list[str], n: int, seed: int) -> float:
    """Mean measured thickness of stage-II samples for "a thick <noun>" minus "a thin <noun>", over the nouns."""
    gaps = []
    for noun in nouns:
        measured = []
        for word in ("thick", "thin"):
            ids = encode_captions(vocab, [f"a {word} {noun}"])
            latent = recipe.text_latent(ids, n, generator=torch.Generator().manual_seed(seed))
            images = recipe.stage_images(latent)[1]
            measured.append(stroke_attributes(((images[:, 0] + 1) / 2).double().numpy())["thickness"].mean())
        gaps.append(measured[0] - measured[1])
    return float(np.mean(gaps))


def signals(recipe: StackGAN, evaluator, real_rows: np.ndarray, vocab: Vocabulary, classes: list[str], n: int,  # noqa: ANN001
            seed: int) -> dict[str, float]:
    """Class accuracy and FID of both stages on n balanced captions, and the thickness gap."""
    labels = torch.arange(n) % len(classes)
    latent = recipe.sample_latent(n, labels=labels, generator=torch.Generator().manual_seed(seed))
    low, high = recipe.stage_images(latent)
    out = {}
    for stage, images in (("stage I", low), ("stage II", high)):
        rows, predicted = features(evaluator, images)
        out[f"class_acc {stage}"] = float((predicted == labels.numpy()).mean())
        out[f"fid {stage}"] = fid(rows, real_rows)
    if "thick" in vocab.index:
        out["thick - thin"] = thickness_gap(recipe, vocab, classes, max(50, n // 20), seed)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    run = gankit.load(args.run, device="cpu")
    untrained = gankit.api.build_recipe(run.config, run.data, torch.device("cpu"))
    untrained.load_state_dict({k: v for k, v in run.recipe.state_dict().items() if "caption" in k}, strict=False)
    evaluator = load_evaluator(run.data.name, root=run.config.data.root)
    test = load_dataset(run.data.name, split="test", root=run.config.data.root,
                        image_size=run.data.sample_shape[-1]).x[:args.n]
    real_rows, _ = features(evaluator, test)
    vocab, classes = Vocabulary(run.data.tokens), run.data.class_names
    trained = signals(run.recipe, evaluator, real_rows, vocab, classes, args.n, args.seed)
    baseline = signals(untrained, evaluator, real_rows, vocab, classes, args.n, args.seed)
    grey = ((test[:, 0] + 1) / 2).double().numpy()
    data = load_dataset(run.data.name, split="test", root=run.config.data.root)
    words = [set(s.split()) for s in vocab.decode(data.captions[:args.n])]
    thick = stroke_attributes(grey)["thickness"]
    real_gap = (thick[[("thick" in w) for w in words]].mean() - thick[[("thin" in w) for w in words]].mean()) \
        if "thick" in vocab.index else float("nan")
    print(f"run {run.path} (step {run.step}), n = {args.n}, seed {args.seed}")
    print("| signal | trained | untrained (same seed) |")
    print("|---|---|---|")
    for key in trained:
        print(f"| {key} | {trained[key]:.3f} | {baseline[key]:.3f} |")
    low_real = downsample(test, run.recipe.upscale)  # what a perfect stage I would give, upsampled the same way
    print(f"real test digits thick - thin: {real_gap:.3f}; fid of the real test digits at stage I's size "
          f"(a perfect stage I): {fid(features(evaluator, low_real)[0], real_rows):.1f}")


if __name__ == "__main__":
    main()
