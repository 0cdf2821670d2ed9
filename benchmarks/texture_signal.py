"""The texture presets' signal (README, texture synthesis): train a preset, print its Gram distance to held-out real
crops beside an untrained G's and the crop-vs-crop floor.

    python benchmarks/texture_signal.py psgan OUT_DIR [key=value ...]
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time

import torch

import gankit
from gankit.evaluate import Evaluation


def main(preset: str, out: str, overrides: list[str]) -> None:
    started = time.time()
    run = gankit.train(preset, out=out, overrides=["train.progress=false", "device=cpu", *overrides])
    seconds = round(time.time() - started, 1)
    trained = run.evaluate(["gram"], n=256)
    untrained = gankit.api.build_recipe(run.config, run.data, torch.device("cpu"))  # the run's seed: its start
    config = dataclasses.replace(run.config.eval, metrics=["gram"], n=256)
    before = Evaluation(config, run.config.data, run.data, untrained, torch.device("cpu"))(untrained, 0)
    print(json.dumps({"preset": preset, "train_seconds": seconds, "trained_gram": trained["eval/gram"],
                      "crop_vs_crop": trained["eval/gram_real"], "untrained_gram": before["eval/gram"],
                      "features": trained["protocol"].get("gram")}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
