"""Hub-format models (gankit/hub.py, gankit/modelcard.py): ``gankit publish`` / ``Run.save_pretrained`` write a
folder that ``gankit.from_pretrained`` loads back to the same samples; the model card; bad input; the Hub offline."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.data.datasets import DATASETS, LICENCES
from gankit.hub import HubError
from tests.test_conformance import tiny_overrides, train_tiny

PRESETS = ("gan", "cgan", "pix2pix", "mle")  # noise (points), conditional (digits), translation, text (oracle)


@pytest.fixture(scope="module")
def published(tmp_path_factory, paired_npz) -> dict[str, tuple]:  # noqa: ANN001
    """Each preset trained tiny, the gan run evaluated, then published with the CLI: {preset: (run, folder)}."""
    root = tmp_path_factory.mktemp("hub")
    out = {}
    for preset in PRESETS:
        run = train_tiny(preset, tiny_overrides(preset), root / preset, paired_npz)
        if preset == "gan":
            run.evaluate(n=64)  # modes on ring8: the card lists it with its protocol
        folder = root / f"{preset}-hub"
        assert main(["publish", str(run.path), "--out", str(folder)]) == 0
        out[preset] = (run, folder)
    return out


@pytest.mark.parametrize("preset", PRESETS)
def test_round_trip_gives_the_same_samples(published, preset: str) -> None:  # noqa: ANN001
    run, folder = published[preset]
    loaded = gankit.from_pretrained(folder, device="cpu")
    assert isinstance(loaded, gankit.Run) and loaded.step == run.step == 2
    labels = [0, 3, 9, 9] if preset == "cgan" else None
    assert torch.equal(loaded.sample(4, labels, seed=7), run.sample(4, labels, seed=7))
    if preset == "pix2pix":  # the user's own images, and the run's data set (still here) as input
        images = torch.rand(3, *run.recipe.input_shape) * 2 - 1
        assert torch.equal(loaded.translate(images), run.translate(images))
    if preset == "mle":  # the vocabulary travels in config.json
        assert loaded.data.tokens == run.data.tokens
        assert loaded.sentences(3, seed=1) == run.sentences(3, seed=1)
    assert torch.equal(gankit.load(folder, device="cpu").sample(2, labels and labels[:2], seed=1),
                       run.sample(2, labels and labels[:2], seed=1))  # every RUN verb takes a published folder


def test_config_json_names_gankit_and_what_the_weights_are(published) -> None:  # noqa: ANN001
    run, folder = published["gan"]
    config = json.loads((folder / "config.json").read_text())
    assert config["library_name"] == "gankit" and config["gankit_version"] == gankit.__version__
    assert (config["preset"], config["step"], config["data"]["name"]) == ("gan", 2, "ring8")
    assert config["weights"]["networks"] == ["G", "ema"] and config["weights"]["left_out"] == ["D"]
    assert config["training"]["batch_size"] == 4 and config["training"]["steps"] == 2
    from safetensors import safe_open

    with safe_open(folder / "model.safetensors", "pt") as f:
        assert sorted({k.split(".")[0] for k in f.keys()}) == ["G", "ema"]


def test_discriminator_on_request(published, tmp_path) -> None:  # noqa: ANN001
    run, _ = published["cgan"]
    folder = run.save_pretrained(tmp_path / "with-d", discriminator=True)
    weights = json.loads((folder / "config.json").read_text())["weights"]
    assert (weights["networks"], weights["left_out"]) == (["D", "G", "ema"], [])
    loaded = gankit.from_pretrained(folder, device="cpu")
    for key, value in run.recipe.D.state_dict().items():
        assert torch.equal(loaded.recipe.D.state_dict()[key], value), key


def test_model_card(published) -> None:  # noqa: ANN001
    from huggingface_hub import ModelCard

    run, folder = published["gan"]
    card = ModelCard.load(folder / "README.md")
    assert (card.data.library_name, card.data.license, card.data.datasets) == ("gankit", "mit", ["ring8"])
    assert "gan" in card.data.tags
    text = card.text
    assert "preset: `gan`" in text and run.config.paper in text and "Goodfellow et al. 2014" in text
    assert LICENCES["ring8"].terms in text
    row = json.loads((run.path / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["kind"] == "eval"
    assert f"| 1 | 2 | latest.pt | {row['eval/high_quality']:.4g} | {row['eval/modes']} | inf |" in text
    assert "reference: ring8:test; seed: 0; sampler: ema" in text  # the evaluation's protocol
    # the Hub's model-index: each finite score of the latest evaluation (reverse_kl is inf: left out)
    results = {r.metric_type: r for r in card.data.eval_results}
    assert card.data.model_name == "gan-ring8" and "reverse_kl" not in results
    assert results["modes"].metric_value == row["eval/modes"] and results["modes"].dataset_split == "test"
    assert results["high_quality"].dataset_name == "ring8" and "sampler: ema" in results["high_quality"].metric_config
    assert "- batch size: 4" in text and "None detected during training." in text
    assert f"gankit.from_pretrained({str(folder)!r})" in text
    with Image.open(folder / "samples.png") as image:
        image.verify()
        assert image.format == "PNG" and image.size[0] > 100
    assert "![samples](samples.png)" in text


def test_resaving_a_loaded_folder_keeps_its_card(published, tmp_path) -> None:  # noqa: ANN001
    run, folder = published["gan"]
    again = gankit.from_pretrained(folder, device="cpu").save_pretrained(tmp_path / "again")
    config, first = (json.loads((f / "config.json").read_text()) for f in (again, folder))
    assert config["evaluations"] == first["evaluations"] and config["evaluations"][0]["eval/reverse_kl"] == "inf"
    assert (config["training"], config["checkpoint"]) == (first["training"], "latest.pt")
    assert _card(again) == _card(folder)
    assert (again / "samples.png").read_bytes() == (folder / "samples.png").read_bytes()


def test_card_of_conditional_and_text_runs(published) -> None:  # noqa: ANN001
    from huggingface_hub import ModelCard

    _, folder = published["cgan"]
    card = ModelCard.load(folder / "README.md")
    assert (card.data.license, card.data.pipeline_tag) == ("cc-by-4.0", "unconditional-image-generation")
    assert "run.sample(16, labels=0, seed=0)" in card.text and "Not evaluated" in card.text
    run, folder = published["mle"]
    text = (folder / "README.md").read_text()
    assert not (folder / "samples.png").exists()
    assert "\n".join(run.sentences(8, seed=0)) in text  # text runs show their sentences


def test_every_registered_data_set_has_a_licence() -> None:
    assert set(LICENCES) == set(DATASETS.names())
    assert all(lic.hub_id in ("mit", "cc-by-4.0", "cc-by-sa-3.0", "unknown", "other") for lic in LICENCES.values())
    assert all(lic.link for lic in LICENCES.values() if lic.hub_id == "other")  # the Hub wants license_link


def _card(folder: Path) -> str:
    """The folder's README.md, its own path written DIR (the card's loading example names it)."""
    return (folder / "README.md").read_text().replace(str(folder), "DIR")


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_bad_runs_and_taken_out_folders(published, tmp_path, capsys) -> None:  # noqa: ANN001
    run, folder = published["gan"]
    broken = tmp_path / "broken"
    shutil.copytree(run.path, broken)
    latest = broken / "checkpoints" / "latest.pt"
    latest.write_bytes(latest.read_bytes()[:200])  # truncated
    before = _files(tmp_path)
    assert main(["publish", str(broken), "--out", str(tmp_path / "out")]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    latest.unlink()
    assert main(["publish", str(broken), "--out", str(tmp_path / "out")]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    assert _files(tmp_path) == [p for p in before if p != "broken/checkpoints/latest.pt"]  # no out, no temp folder

    taken = _files(folder)
    assert main(["publish", str(run.path), "--out", str(folder)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err and _files(folder) == taken
    assert main(["publish", str(run.path), "--out", str(folder), "--force"]) == 0
    assert _files(folder) == taken
    assert main(["publish", str(run.path), "--out", str(broken), "--force"]) == 2  # --force replaces only its own
    assert "not a pretrained folder written by gankit" in capsys.readouterr().err and (broken / "config.yaml").is_file()


def test_bad_pretrained_folders(published, tmp_path, capsys) -> None:  # noqa: ANN001
    _, gan = published["gan"]
    _, cgan = published["cgan"]
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text(json.dumps({"model_type": "bert", "transformers_version": "4.0"}))
    corrupt = shutil.copytree(gan, tmp_path / "corrupt")
    (corrupt / "config.json").write_text("{not json")
    mixed = shutil.copytree(gan, tmp_path / "mixed")
    shutil.copy(cgan / "model.safetensors", mixed / "model.safetensors")  # another model's weights
    resized = shutil.copytree(gan, tmp_path / "resized")
    config = json.loads((resized / "config.json").read_text())
    config["config"]["model"]["g_width"] *= 2  # the same keys, other shapes
    (resized / "config.json").write_text(json.dumps(config))
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = {foreign: "was not written by gankit (library_name None, a transformers model)",
             corrupt: "is not valid JSON", mixed: "does not match the networks its config.json builds (missing",
             resized: "does not match the networks its config.json builds (wrong shape: G.", empty: "no config.yaml"}
    for folder, message in cases.items():
        before = _files(tmp_path)
        assert main(["sample", str(folder), "--out", str(tmp_path / "samples.png")]) == 2, folder
        assert message in capsys.readouterr().err, folder
        assert _files(tmp_path) == before
        if folder is not empty:
            with pytest.raises(gankit.CheckpointError, match="gankit|JSON|match"):
                gankit.from_pretrained(folder)


@pytest.fixture
def hub_offline(monkeypatch) -> None:  # noqa: ANN001
    """HF_HUB_OFFLINE=1 as huggingface_hub reads it (at import, into constants.HF_HUB_OFFLINE): every request
    it would make raises; nothing reaches a network, whether or not this machine has one."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def test_hub_offline_fails_clearly(published, tmp_path, capsys, hub_offline) -> None:  # noqa: ANN001
    run, _ = published["gan"]
    with pytest.raises(HubError, match=r"cannot push to the Hugging Face Hub repository 'someone/gan-ring8' "
                                       r"\(HF_HUB_OFFLINE is set\).*gankit publish RUN --out DIR"):
        run.push_to_hub("someone/gan-ring8", token="hf_unused")
    with pytest.raises(HubError, match="cannot download from the Hugging Face Hub repository 'someone/gan-ring8'"):
        gankit.from_pretrained("someone/gan-ring8")  # no such local folder: a Hub repo id
    before = _files(tmp_path)
    out = tmp_path / "new" / "out"  # its parent too is made while writing, and removed when the push fails
    assert main(["publish", str(run.path), "--out", str(out), "--push", "someone/gan-ring8"]) == 2
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().err and _files(tmp_path) == before
    assert main(["publish", str(run.path), "--out", str(tmp_path / "out"), "--push", "not a repo"]) == 2
    assert "is not a Hugging Face repository id" in capsys.readouterr().err and _files(tmp_path) == before
