"""The command line: parse -> config -> library call. Verbs in the style of git."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from gankit.errors import ConfigError, GankitError

EXIT_BAD_INPUT = 2


def cmd_list(args: argparse.Namespace) -> None:
    from gankit import config
    from gankit.data import list_datasets
    from gankit.losses import LOSSES, PENALTIES
    from gankit.losses.terms import TERMS
    from gankit.metrics import METRICS
    from gankit.nets import ARCHS
    from gankit.recipes import RECIPES
    from gankit.tricks import TRICKS

    sections = [
        ("presets (gankit train PRESET)", [(p, config.preset_paper(p)) for p in config.list_presets()]),
        ("profiles (gankit train PRESET --profile NAME: the preset sized for a GPU and any image folder)",
         [(p, ", ".join(config.list_profiles(p))) for p in config.list_presets() if config.list_profiles(p)]),
        ("recipes (data flows; presets build on them)", [(n, RECIPES.doc(n)) for n in RECIPES]),
        ("losses (loss=...)", [(n, LOSSES.doc(n)) for n in LOSSES]),
        ("penalties (penalties=[...])", [(n, PENALTIES.doc(n)) for n in PENALTIES]),
        ("auxiliary terms (terms=[...])", [(n, TERMS.doc(n)) for n in TERMS]),
        ("training tricks (tricks=[...])", [(n, TRICKS.doc(n)) for n in TRICKS]),
        ("architectures (model.arch=...)", [(n, ARCHS.doc(n)) for n in ARCHS]),
        ("data sets (--data ...; or a path to an image folder or .npz)", list_datasets()),
        ("metrics (gankit eval RUN --metrics ...; eval.metrics=[...])", [(n, METRICS.doc(n)) for n in METRICS]),
    ]
    for title, rows in sections:
        print(f"{title}:")
        width = max(len(name) for name, _ in rows)
        for name, doc in rows:
            print(f"  {name:<{width}}  {doc}")
        print()


def cmd_train(args: argparse.Namespace) -> None:
    import gankit

    overrides = list(args.overrides)
    if args.resume:
        if args.minutes is not None:
            raise GankitError("--minutes sets the budget of a new run; a resumed run keeps the train.steps it chose "
                              "(give train.steps=N to change them)")
        if args.profile is not None:
            raise GankitError("--profile sizes a new run; a resumed run keeps its own config")
        if args.preset and "=" in args.preset:
            overrides.insert(0, args.preset)
        elif args.preset:
            raise GankitError(f"--resume continues a run with its own preset; drop {args.preset!r}")
    else:
        if not args.preset:
            raise GankitError("train needs a preset (e.g. `gankit train dcgan --data digits`) or --resume RUN_DIR; "
                              "`gankit list` shows the presets")
        if args.minutes is not None:
            overrides.append(f"train.minutes={args.minutes}")
        if args.profile is not None:
            overrides.append(f"profile={args.profile}")
    if args.nproc is not None and args.nproc < 1:
        raise GankitError(f"--nproc must be >= 1, got {args.nproc}")
    if args.nproc is not None and args.nproc > 1:
        _launch_train(args, overrides)
        return
    if args.resume:
        run = gankit.resume(args.resume, overrides)
    else:
        run = gankit.train(args.preset, args.data, out=args.out, overrides=overrides)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one summary (rank 0's)
        print(f"run directory: {run.path}")
        print(f"samples:       {run.path / 'samples'}")
        print(f"report:        {run.path / 'report.html'}")


def _launch_train(args: argparse.Namespace, overrides: list[str]) -> None:
    """``--nproc N``: this train command in N processes on this machine, started by torch's elastic launcher
    (``torchrun --standalone --nproc_per_node N -m gankit train ...``). Bad input fails here, before any process
    starts (exit 2); a failed rank's exit status becomes this command's."""
    from gankit import config as cfgmod
    from gankit.train.checkpoint import LATEST, check_world_size, saved_world_size
    from gankit.train.rundir import RunDir

    if "LOCAL_RANK" in os.environ:
        raise GankitError("--nproc starts torchrun itself: under torchrun, leave it out (torchrun's --nproc_per_node "
                          "says how many processes)")
    if args.resume:
        run = RunDir(args.resume)
        if not run.config.is_file():
            raise GankitError(f"cannot resume {run.path}: no config.yaml there (is it a gankit run directory?)")
        check_world_size(saved_world_size(run.checkpoints / LATEST), args.nproc, run.path)
        argv = ["train", "--resume", str(args.resume), *overrides]
    else:
        cfgmod.resolve(args.preset, args.data, overrides)  # a config error now, not once per rank
        if args.out:
            RunDir(args.out).check_new()
        argv = ["train", args.preset, *overrides, *(["--data", args.data] if args.data else []),
                *(["--out", str(args.out)] if args.out else [])]
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    try:
        torchrun(["--standalone", f"--nproc_per_node={args.nproc}", "-m", "gankit", *argv])
    except ChildFailedError as e:
        code = e.get_first_failure()[1].exitcode
        raise SystemExit(code if code > 0 else 128 - code if code < 0 else 1) from None
    except SignalException as e:  # Ctrl-C or a kill of the launcher: it has stopped the ranks (which said so)
        raise SystemExit(128 + int(e.sigval)) from None


def _write_image(image, out: Path) -> None:  # noqa: ANN001
    from gankit.viz import save_png

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    save_png(image, tmp)
    os.replace(tmp, out)


def cmd_sample(args: argparse.Namespace) -> None:
    import gankit
    from gankit.recipes.encoding import Encoding
    from gankit.recipes.translation import Translation

    run = gankit.load(args.run, device=args.device)
    if args.size is not None or args.tile:
        _write_texture(run, args)
        return
    if args.text:
        _write_text_samples(run, args)
        return
    args.n = 64 if args.n is None else args.n
    if run.writes_text():
        _write_sentences(run, args)
        return
    out = Path(args.out or "samples.png")
    if run.data.kind == "video" and out.suffix.lower() in (".gif", ".mp4"):
        _write_clips(run, args, out)
        return
    if out.suffix.lower() == ".obj" or (run.data.kind == "voxel" and args.out and not out.suffix):
        _write_meshes(run, args, out)
        return
    if out.suffix.lower() == ".mp4":
        raise ConfigError(f"--out {out}: MP4 is for video runs; preset {run.config.preset!r} makes "
                          f"{run.data.kind} samples: write a .png grid")
    _write_image(run.grid(args.n, labels=args.class_, seed=args.seed, truncation=args.truncation,
                          temperature=args.temperature), out)
    what = "translations (input | output [| target])" if isinstance(run.recipe, Translation) else "samples"
    if isinstance(run.recipe, Encoding) and run.data.kind == "image":
        what += ", then rows of test image | reconstruction pairs"
    print(f"wrote a grid of {args.n} {what} to {out}")


SAMPLING_OPTIONS = {"class_": "--class", "truncation": "--truncation", "temperature": "--temperature"}


def _refuse_options(args: argparse.Namespace, names: tuple[str, ...], why: str, hint: str = "") -> None:
    """ConfigError when one of the sampling options ``names`` (attributes of ``args``) was given to a kind of
    sample they do not shape; ``why`` says what this kind of sample is."""
    if any(getattr(args, name) is not None for name in names):
        flags = [SAMPLING_OPTIONS[name] for name in names]
        said = flags[0] if len(flags) == 1 else f"{', '.join(flags[:-1])} and {flags[-1]}"
        raise ConfigError(f"{why}: {said} do{'es' if len(flags) == 1 else ''} not apply{hint}")


def _write_texture(run, args: argparse.Namespace) -> None:  # noqa: ANN001  (Run)
    """Texture runs: --n textures (default 1) of --size px (default: the training crop); --tile makes them
    tileable and writes a 2x2 tiling of the first beside them (OUT-2x2.png) to show the seams are gone."""
    _refuse_options(args, ("class_", "truncation", "temperature"),
                    f"--size/--tile draw unconditional textures of preset {run.config.preset!r}")
    size = args.size if args.size is not None else run.config.recipe_args.get("crop", 64)
    n = 1 if args.n is None else args.n
    image = run.texture(size, n, seed=args.seed, tile=args.tile)  # checks the run before anything is written
    out = Path(args.out or "texture.png")
    _write_image(image, out)
    if args.tile:
        first = image if n == 1 else run.texture(size, 1, seed=args.seed, tile=True)
        _write_image(first.repeat(1, 2, 2), out.with_name(f"{out.stem}-2x2{out.suffix}"))
    side = "x".join(str(d) for d in image.shape[1:]) if n == 1 else f"{size}"
    print(f"wrote {n} {'tileable ' if args.tile else ''}texture(s) of {side} px to {out}"
          + (f" and a 2x2 tiling to {out.stem}-2x2{out.suffix}" if args.tile else ""))


def _write_clips(run, args: argparse.Namespace, out: Path) -> None:  # noqa: ANN001  (Run)
    """Video runs: n generated clips as one animated grid (GIF or MP4; the PNG grid shows their frames)."""
    from gankit.clips import write_clips

    _refuse_options(args, ("class_", "temperature"), f"preset {run.config.preset!r} generates unconditional clips")
    write_clips(run.sample(args.n, seed=args.seed, truncation=args.truncation), out)
    print(f"wrote an animated grid of {args.n} clips to {out}")


def _write_text_samples(run, args: argparse.Namespace) -> None:  # noqa: ANN001  (Run)
    """Text-to-image runs: --n samples (default 8) per --text caption, a row of stage I | stage II pairs each."""
    _refuse_options(args, ("class_", "truncation", "temperature"), "--text picks what to draw")
    n, out = args.n or 8, Path(args.out or "samples.png")
    _write_image(run.from_text(args.text, n, seed=args.seed, grid=True), out)
    print(f"wrote {n} samples for each of {len(args.text)} caption(s) to {out}, a row per caption of stage I | "
          "stage II pairs")


def _write_meshes(run, args: argparse.Namespace, out: Path) -> None:  # noqa: ANN001  (Run)
    """Voxel runs (3D-GAN): marching-cubes meshes, all in one .obj or one .obj each in a folder."""
    from gankit.voxelviz import write_meshes

    volumes = run.sample(args.n, labels=args.class_, seed=args.seed, truncation=args.truncation)
    written = write_meshes(volumes, out)  # a run of another kind is refused before anything is written
    print(f"wrote {args.n} shape(s) as meshes (marching cubes) to " + (str(out) if len(written) == 1 else f"{out}/"))


def _write_sentences(run, args: argparse.Namespace) -> None:  # noqa: ANN001  (Run)
    """Text runs: n sentences printed, or written one a line to --out (atomically)."""
    _refuse_options(args, ("class_", "truncation"), f"preset {run.config.preset!r} writes sentences",
                    hint=" (use --temperature)")
    lines = run.sentences(args.n, seed=args.seed, temperature=args.temperature)
    if args.out is None:
        print("\n".join(lines))
        return
    from gankit.train.rundir import write_text_atomic

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, "".join(f"{line}\n" for line in lines))
    print(f"wrote {len(lines)} sentences to {out}")


def cmd_mix(args: argparse.Namespace) -> None:
    import gankit

    run = gankit.load(args.run, device=args.device)
    _write_image(run.mix(args.rows, args.cols, cutoff=args.cutoff, seed=args.seed), Path(args.out))
    print(f"wrote the style-mixing grid to {args.out}: top row {args.cols} sources of fine styles, left column "
          f"{args.rows} sources of coarse styles")


def cmd_translate(args: argparse.Namespace) -> None:
    import gankit
    from gankit.imageio import list_inputs, read_images, write_images

    run = gankit.load(args.run, device=args.device)
    channels, size = run.input_spec()  # a run that does not translate, or a bad --to, fails before any file is read
    to = run.domain_index(args.to)
    files = list_inputs(args.input)
    out = Path(args.out)
    written = 0
    for start in range(0, len(files), args.batch_size):
        part = files[start:start + args.batch_size]
        outputs = run.translate(read_images(part, channels=channels, size=size), to=to)
        write_images(outputs, [out / f"{f.stem}.png" for f in part])
        written += len(part)
    print(f"wrote {written} translated image(s) to {out}")


def cmd_inpaint(args: argparse.Namespace) -> None:
    import gankit
    from gankit.data.masks import read_mask
    from gankit.imageio import list_inputs, read_images, write_images

    run = gankit.load(args.run, device=args.device)
    channels, size = run.inpaint_spec()  # a run that does not inpaint fails before any file is read
    files = list_inputs(args.input)
    mask = None if args.mask is None else read_mask(args.mask, size)  # a bad mask fails before anything is written
    images = read_images(files, channels=channels, size=size)  # every image is read before the first is written
    write_images(run.inpaint(images, mask), [Path(args.out) / f"{f.stem}.png" for f in files])
    hole = f"the mask {args.mask}" if args.mask else "the run's own mask"
    print(f"wrote {len(files)} inpainted image(s) to {args.out} (hole: {hole})")


def _read_exact(run, path: str) -> "torch.Tensor":  # noqa: ANN001, F821
    """The images at ``path`` (a file or a folder), at exactly the size and channels the run was trained on."""
    from gankit.imageio import list_inputs, read_images

    run.encoder()  # a run without an encoder fails before any file is read
    shape = run.data.sample_shape
    return read_images(list_inputs(path), channels=shape[0], size=tuple(shape[1:]), exact=True)


def cmd_interpolate(args: argparse.Namespace) -> None:
    import gankit
    from gankit.viz import picture, save_gif

    if (args.from_ is None) != (args.to is None):
        raise ConfigError("interpolate between real images needs both --from and --to")
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".gif"):
        raise ConfigError(f"--out {out}: write a .png (grid) or a .gif (animation)")
    run = gankit.load(args.run, device=args.device)
    if args.from_ is not None:
        start, end = _read_exact(run, args.from_), _read_exact(run, args.to)
        walk = run.interpolate(steps=args.steps, code=args.code, start=start, end=end)
        rows = len(start)
    else:
        walk = run.interpolate(args.rows, args.steps, code=args.code, seed=args.seed)
        rows = args.rows
    if out.suffix.lower() == ".gif":
        frames = walk.view(rows, args.steps, *walk.shape[1:]).transpose(0, 1)  # one frame per step
        out.parent.mkdir(parents=True, exist_ok=True)
        save_gif([picture(f, nrow=rows) for f in frames], out)
    else:
        _write_image(picture(walk, nrow=args.steps), out)
    print(f"wrote a {rows}x{args.steps} latent walk to {out}")


def cmd_edit(args: argparse.Namespace) -> None:
    import gankit
    from gankit.imageio import list_inputs, write_images

    run = gankit.load(args.run, device=args.device)
    files = list_inputs(args.input)
    images = _read_exact(run, args.input)
    edited = run.edit(images, args.class_)  # a bad class or a run that cannot edit fails before anything is written
    out = Path(args.out)
    write_images(edited, [out / f"{f.stem}.png" for f in files])
    print(f"wrote {len(files)} image(s) edited to class {args.class_} to {out}")


def cmd_encode(args: argparse.Namespace) -> None:
    import numpy as np

    import gankit
    from gankit.imageio import list_inputs

    out = Path(args.out)
    if out.suffix.lower() != ".npz":
        raise ConfigError(f"--out {out}: codes are written as a NumPy .npz file (e.g. codes.npz)")
    run = gankit.load(args.run, device=args.device)
    files = list_inputs(args.input)
    images = _read_exact(run, args.input)
    latent = run.encode(images)
    arrays = {"z": latent.z.numpy(), "files": np.array([f.name for f in files])}
    if latent.y is not None:
        arrays["y"] = latent.y.numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, out)  # never half-written
    print(f"wrote the codes of {len(files)} image(s) to {out}: {', '.join(f'{k} {v.shape}' for k, v in arrays.items())}")


def cmd_info(args: argparse.Namespace) -> None:
    import gankit

    print(json.dumps(gankit.load(args.run, device="cpu").info(), indent=2))


def cmd_report(args: argparse.Namespace) -> None:
    from gankit.report import write_report

    if not (Path(args.run) / "config.yaml").is_file():
        raise GankitError(f"{args.run} is not a gankit run directory (no config.yaml)")
    print(f"wrote {write_report(args.run)}")


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def cmd_eval(args: argparse.Namespace) -> None:
    import gankit

    if Path(args.run).is_file():  # an exported generator (gankit export)
        cmd_eval_exported(args)
        return
    if args.data or args.out:
        raise ConfigError("--data and --out are for an exported generator file (gankit export); a run is scored on "
                          "its own data and its scores are appended to RUN/metrics.jsonl")
    run = gankit.load(args.run, device=args.device, checkpoint=args.checkpoint)
    row = run.evaluate(_csv(args.metrics) if args.metrics else None, n=args.n, features=args.features,
                       split=args.split, seed=args.seed, truncation=args.truncation)
    _print_scores(f"{run.config.preset} on {run.data.name}, step {run.step} ({run.checkpoint}):", row)
    print(f"appended to {run.path / 'metrics.jsonl'}")


def cmd_eval_exported(args: argparse.Namespace) -> None:
    """gankit eval FILE: an exported generator scored by the same evaluation; the row is printed, and written
    (JSON) only to --out: nothing is written beside the file."""
    from gankit.export_eval import evaluate_exported

    if args.checkpoint:
        raise ConfigError(f"--checkpoint picks a run's checkpoint; {args.run!r} is an exported file, which holds one")
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.is_dir():
        raise ConfigError(f"--out {str(out)!r}: the folder {str(out.parent)!r} does not exist; create it first")
    row = evaluate_exported(args.run, _csv(args.metrics) if args.metrics else None, data=args.data, n=args.n,
                            features=args.features, split=args.split, seed=args.seed, truncation=args.truncation)
    p = row["protocol"]
    _print_scores(f"{args.run} ({p['reference']}):", row)
    if out is None:
        print("not saved: an exported file has no metrics.jsonl; pass --out FILE.json to keep this row")
        return
    from gankit.train.rundir import write_text_atomic

    write_text_atomic(out, json.dumps(row, indent=1) + "\n")
    print(f"wrote {out}")


def _print_scores(title: str, row: dict) -> None:
    """An evaluation row's scores, one a line, and its protocol."""
    scores = {k.removeprefix("eval/"): v for k, v in row.items() if k.startswith("eval/")}
    width = max(len(k) for k in scores)
    print(title)
    for key, value in scores.items():
        print(f"  {key:<{width}}  {value:.6g}")
    p = row["protocol"]
    print(f"protocol: {p.get('extractor', 'no features')} (sha256 {p.get('weights_sha256', '')[:12] or '-'}), "
          f"resize {p.get('resize', '-')}, {p['n_fake']} generated vs {p['n_real']} real ({p['reference']}), "
          f"seed {p['seed']}, sampler {p['sampler']}")


def cmd_export(args: argparse.Namespace) -> None:
    """gankit export RUN --format onnx|torchscript --out FILE: write, check, then put the file in place."""
    import gankit
    from gankit.export import TOLERANCE, check_format, check_out_path

    check_format(args.format)
    check_out_path(Path(args.out), args.force)  # before loading: a bad --out fails at once
    run = gankit.load(args.run, device="cpu", checkpoint=args.checkpoint)
    result = run.export(args.out, format=args.format, overwrite=args.force)
    inputs = ", ".join(f"{i['name']} ({', '.join(map(str, i['shape']))}) {i['dtype']}"
                       for i in json.loads(result.metadata["inputs"]))
    print(f"wrote {result.path} ({result.format}; {run.config.preset}, step {run.step}, {run.checkpoint}, sampler "
          f"{result.metadata['sampler']})")
    print(f"inputs: {inputs}; output: ({', '.join(map(str, json.loads(result.metadata['output_shape'])))})")
    print(f"checked with {'onnxruntime' if result.format == 'onnx' else 'torch.jit.load'} on batches of 1 and 3: "
          f"max |difference| from the PyTorch generator {result.max_difference:.3g} (tolerance {TOLERANCE:g})")


def cmd_quality_diversity(args: argparse.Namespace) -> None:
    import gankit
    from gankit import quality_diversity as qd

    temperatures = [float(t) for t in _csv(args.temperatures)]
    runs = [gankit.load(path, device=args.device) for path in args.runs]
    rows = qd.curve(runs, temperatures, n=args.n, seed=args.seed, split=args.split)
    print(qd.table(rows))
    print(f"wrote {qd.plot(rows, Path(args.out))}")


def cmd_evaluator(args: argparse.Namespace) -> None:
    from gankit.metrics.domain import describe, load_evaluator, train_evaluator

    if args.action == "train":
        evaluator = train_evaluator(args.data, root=args.root, epochs=args.epochs, seed=args.seed, device=args.device,
                                    force=args.force)
    else:
        evaluator = load_evaluator(args.data, root=args.root, device="cpu")
    print(describe(evaluator))


def cmd_publish(args: argparse.Namespace) -> None:
    """RUN as a Hub-format folder (gankit/hub.py) at --out; with --push also uploaded to a Hugging Face repository."""
    import gankit
    from gankit.hub import check_out, check_repo_id, save_pretrained

    check_out(Path(args.out), args.force)  # a taken --out or a bad repo id fails before the run is loaded
    if args.push:
        check_repo_id(args.push)
    run = gankit.load(args.run, device=args.device, checkpoint=args.checkpoint)
    out = save_pretrained(run, args.out, discriminator=args.with_discriminator, force=args.force, push=args.push)
    print(f"wrote {out}: config.json, model.safetensors, README.md (model card), samples.png"
          + (f"; pushed to https://huggingface.co/{args.push}" if args.push else ""))
    print(f"load it with gankit.from_pretrained({(args.push or str(out))!r})")


def cmd_compare(args: argparse.Namespace) -> None:
    from gankit.report import compare_text, summary, write_compare

    print(compare_text([summary(r) for r in args.runs]))
    print(f"wrote {write_compare(args.runs, args.out)}")


def cmd_serve(args: argparse.Namespace) -> None:
    from gankit.serve import serve

    serve(args.runs, host=args.host, port=args.port, device=args.device)


def cmd_bench(args: argparse.Namespace) -> None:
    from gankit import bench
    from gankit.config import list_presets

    out = Path(args.out or f"runs/bench-{args.suite}")
    if args.suite == "quality":
        if args.data and len(_csv(args.data)) > 1:
            raise GankitError(f"bench quality trains each preset on one data set; got --data {args.data}")
        cells = bench.quality_bench(_csv(args.presets) if args.presets else list_presets(), args.seeds, out,
                                    data=args.data, steps=args.steps, n=args.n, overrides=args.overrides,
                                    device=args.device)
        text = bench.quality_table(cells, args.seeds)
    else:
        cells = bench.modes_bench(_csv(args.presets or "gan"), _csv(args.data or "ring8,grid25"), args.seeds, out,
                                  steps=args.steps, overrides=args.overrides, device=args.device)
        text = bench.table(cells, args.seeds)
    print()
    print(text)
    print(f"runs and {args.suite}.md in {out}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit", description="Train, sample and inspect GANs.")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    sub.add_parser("list", help="presets, recipes, losses, penalties, data sets").set_defaults(fn=cmd_list)

    p = sub.add_parser("train", help="train a preset: gankit train dcgan --data mnist train.steps=5000")
    p.add_argument("preset", nargs="?", help="preset name (gankit list)")
    p.add_argument("overrides", nargs="*", help="key=value config overrides, e.g. loss=hinge optim.lr=1e-4")
    p.add_argument("--data", help="data set name, image folder or .npz (default: the preset's)")
    p.add_argument("--out", help="run directory (default: runs/PRESET-DATA-TIME); never overwritten")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its latest checkpoint")
    p.add_argument("--minutes", type=float, help="wall-clock budget (same as train.minutes=M): train.steps is set from "
                   "a measured warm-up so the whole run ends in M minutes")
    p.add_argument("--profile", help="a sized variant of the preset (same as profile=NAME), e.g. gpu-128: the preset "
                   "for a GPU and an image folder at 128 px (gankit list shows them)")
    p.add_argument("--nproc", type=int, help="train in N processes on this machine (DDP; one per GPU, or CPU processes "
                   "on gloo) through torchrun; train.batch_size is per process. Several machines: torchrun itself, "
                   "see the README")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("sample", help="a grid of samples from a run (text runs: sentences)")
    p.add_argument("run")
    p.add_argument("--n", type=int, help="how many samples (default 64; textures: 1)")
    p.add_argument("--size", type=int, help="texture runs (sgan, psgan, markovian-gan): textures of this side in px, "
                                            "from spatial noise of the matching size")
    p.add_argument("--tile", action="store_true", help="texture runs: seamlessly tileable textures (periodic noise), "
                                                       "and a 2x2 tiling beside them")
    p.add_argument("--out", help="the picture to write (default samples.png); text runs: a .txt file, one sentence a "
                                 "line (default: print them); video runs (vgan, mocogan): .gif or .mp4 for an "
                                 "animated grid of clips, .png for a grid of their frames; voxel runs (3dgan): .png "
                                 "rendered views, .obj meshes "
                                 "or a folder of one .obj each")
    p.add_argument("--temperature", type=float, help="text runs: divide G's logits by this (> 0; 1: the model's own "
                                                      "distribution; lower: likelier, less diverse sentences)")
    p.add_argument("--class", dest="class_", type=int, help="class to sample (conditional presets; InfoGAN: cat0)")
    p.add_argument("--text", action="append", metavar="CAPTION", help="text-to-image runs (stackgan): a caption to "
                   "draw, e.g. \"a thick slanted seven\"; repeat for several (--n samples each, default 8)")
    p.add_argument("--seed", type=int)
    p.add_argument("--truncation", type=float, metavar="PSI",
                   help="the truncation trick: keep the central PSI of the noise's normal mass, in (0, 1] (BigGAN's "
                        "truncated normal; 1: none); fidelity up, diversity down as PSI falls")
    p.add_argument("--device", default="auto")
    p.set_defaults(fn=cmd_sample)

    p = sub.add_parser("quality-diversity", help="text runs: BLEU against self-BLEU as the sampling temperature "
                       "varies, every run on one plot (Caccia et al. 2020)")
    p.add_argument("runs", nargs="+")
    p.add_argument("--temperatures", default="0.6,0.8,1.0,1.2", help="comma-separated, each > 0")
    p.add_argument("--n", type=int, default=500, help="samples per run and temperature")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default="test", help="the reference sentences for BLEU")
    p.add_argument("--out", default="quality_diversity.png")
    p.add_argument("--device", default="auto")
    p.set_defaults(fn=cmd_quality_diversity)

    p = sub.add_parser("mix", help="the style-mixing grid of a stylegan/stylegan2 run")
    p.add_argument("run")
    p.add_argument("--rows", type=int, default=4, help="sources of the coarse styles (left column)")
    p.add_argument("--cols", type=int, default=4, help="sources of the fine styles (top row)")
    p.add_argument("--cutoff", type=int, help="the first layer whose style comes from the top row (default: half)")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", default="mix.png")
    p.add_argument("--device", default="auto")
    p.set_defaults(fn=cmd_mix)

    p = sub.add_parser("translate", help="translate images with a pix2pix/cyclegan/stargan/srgan run")
    p.add_argument("run")
    p.add_argument("--input", required=True, help="an image file or a folder of images (resized to the run's input size)")
    p.add_argument("--out", required=True, help="folder for the results (one PNG per input, same name)")
    p.add_argument("--to", help="target domain: StarGAN a class name or index; CycleGAN B (default) or A")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto")
    p.set_defaults(fn=cmd_translate)

    p = sub.add_parser("inpaint", help="fill holes in images with a context-encoder run")
    p.add_argument("run")
    p.add_argument("--input", required=True, help="an image file or a folder of images (resized to the run's size)")
    p.add_argument("--mask", help="a PNG of the run's image size, white (255) on the hole, black (0) elsewhere "
                                  "(default: the run's own mask)")
    p.add_argument("--out", required=True, help="folder for the results (one PNG per input, same name)")
    p.add_argument("--device", default="auto")
    p.set_defaults(fn=cmd_inpaint)

    p = sub.add_parser("interpolate", help="a latent walk as a PNG grid or GIF")
    p.add_argument("run")
    p.add_argument("--out", default="walk.png", help=".png (grid) or .gif (animation)")
    p.add_argument("--rows", type=int, default=8)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--code", help="vary one InfoGAN code (cat0, cont0, ...) instead of z")
    p.add_argument("--from", dest="from_", metavar="IMAGE", help="runs with an encoder: walk from this image's code "
                   "(a file, or a folder: one row per image) ...")
    p.add_argument("--to", metavar="IMAGE", help="... to this image's code (as many images as --from)")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", default="auto")
    p.set_defaults(fn=cmd_interpolate)

    p = sub.add_parser("encode", help="codes of real images from a run with an encoder (bigan, ali, aae, vae, ...)")
    p.add_argument("run")
    p.add_argument("--input", required=True, help="an image file or a folder of images, at the run's training size")
    p.add_argument("--out", required=True, help="a .npz file: z (N, Z), files (N,), and y (N,) where the code has a class")
    p.add_argument("--device", default="auto")
    p.set_defaults(fn=cmd_encode)

    p = sub.add_parser("edit", help="IcGAN, BiCoGAN: real images given another class, keeping their style")
    p.add_argument("run")
    p.add_argument("--input", required=True, help="an image file or a folder of images, at the run's training size")
    p.add_argument("--class", dest="class_", type=int, required=True, help="the class to give them")
    p.add_argument("--out", required=True, help="folder for the results (one PNG per input, same name)")
    p.add_argument("--device", default="auto")
    p.set_defaults(fn=cmd_edit)

    p = sub.add_parser("info", help="what a run is: preset, data, step, parameters")
    p.add_argument("run")
    p.set_defaults(fn=cmd_info)

    p = sub.add_parser("report", help="write RUN/report.html")
    p.add_argument("run")
    p.set_defaults(fn=cmd_report)

    from gankit.evaluate import metrics_help
    from gankit.metrics import METRICS

    p = sub.add_parser("eval", help="score a run: gankit eval RUN --metrics fid,kid,is,pr --n 10000",
                       description="Score a run and append the scores and their protocol to RUN/metrics.jsonl.\n\n"
                       "metrics (name: the eval/<score> keys it writes - what it is):\n" + metrics_help(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--metrics", help=f"comma-separated, from: {' '.join(METRICS)} (default: the run's eval.metrics)")
    p.add_argument("--n", type=int, help="generated samples (default: the run's eval.n)")
    p.add_argument("--features", help="feature network: inception (FID InceptionV3), domain (the data set's evaluator), "
                   "domain:NAME (another labelled data set's evaluator, e.g. domain:cifar10 for photos), or auto "
                   "(inception when its weights are here)")
    p.add_argument("--split", help="reference split of the real data (default test)")
    p.add_argument("--seed", type=int, help="seed of the generated samples")
    p.add_argument("--truncation", type=float, metavar="PSI", help="score samples drawn with the truncation trick "
                   "(see gankit sample --truncation); recorded in the protocol")
    p.add_argument("--checkpoint", help="latest (default), best, or a checkpoint file")
    p.add_argument("--device", default="auto")
    p.add_argument("--data", help="an exported generator file: the reference data set (default: the one in its metadata)")
    p.add_argument("--out", help="an exported generator file: write the scores and protocol here as JSON (default: "
                                 "print only)")
    p.set_defaults(fn=cmd_eval)

    p = sub.add_parser("export", help="the run's sampling generator as ONNX or TorchScript: gankit export RUN --format "
                       "onnx --out g.onnx", description="Export the sampling generator (EMA where enabled, eval mode, "
                       "spectral norm baked into plain weights, dynamic batch axis) with the run's description in the "
                       "file's metadata; the file is checked against the PyTorch generator (onnxruntime / torch.jit) "
                       "before it is put in place. Score it with gankit eval FILE.")
    p.add_argument("run")
    p.add_argument("--format", default="onnx", help="onnx (default) or torchscript")
    p.add_argument("--out", required=True, help="the file to write; its folder must exist")
    p.add_argument("--force", action="store_true", help="replace --out when it exists")
    p.add_argument("--checkpoint", help="latest (default), best, or a checkpoint file")
    p.set_defaults(fn=cmd_export)

    p = sub.add_parser("evaluator", help="the offline domain evaluator: gankit evaluator train mnist")
    p.add_argument("action", choices=["train", "info"])
    p.add_argument("data", help="labelled data set: digits, mnist, fashion-mnist, cifar10, a class-folder or .npz")
    p.add_argument("--root", help="folder holding mnist.npz etc. (as data.root)")
    p.add_argument("--epochs", type=int, help="training epochs (default: sized for the data)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="retrain even when a cached evaluator exists")
    p.add_argument("--device", default="cpu")
    p.set_defaults(fn=cmd_evaluator)

    p = sub.add_parser("publish", help="a run as a Hugging Face-format model folder with a model card: "
                       "gankit publish RUN --out DIR [--push OWNER/NAME]")
    p.add_argument("run")
    p.add_argument("--out", required=True, help="the folder to write (config.json, model.safetensors, README.md, "
                   "samples.png); must not exist or be empty")
    p.add_argument("--checkpoint", help="latest (default), best, or a checkpoint file")
    p.add_argument("--push", metavar="REPO_ID", help="also upload the folder to this Hugging Face model repository "
                   "(OWNER/NAME; needs a network and a write token: HF_TOKEN or `hf auth login`)")
    p.add_argument("--with-discriminator", action="store_true", help="keep the discriminators' weights too (to "
                   "fine-tune); by default only what samples is saved")
    p.add_argument("--force", action="store_true", help="replace an earlier pretrained folder at --out (never "
                   "another non-empty folder)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(fn=cmd_publish)

    p = sub.add_parser("compare", help="runs side by side: a table here and an HTML page")
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", default="compare.html")
    p.set_defaults(fn=cmd_compare)

    p = sub.add_parser("serve", help="a local web page to explore runs: gankit serve RUN [RUN ...] --port 7860",
                       description="Serve a page to draw samples, move through the latent space, interpolate, "
                       "upload images (translation, encoder and inpainting runs) and read each run's evaluations "
                       "and symptoms. Writes nothing into the runs.")
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                   "only; another address, e.g. 0.0.0.0, exposes the page and your runs to the network)")
    p.add_argument("--device", default="auto")
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("bench", help="benchmarks: gankit bench modes --presets gan,wgan-gp --data ring8,grid25 --seeds 5; "
                       "gankit bench quality --presets dcgan,cgan --seeds 3")
    p.add_argument("suite", choices=["modes", "quality"],
                   help="modes: the PacGAN mode table; quality: each preset's own scores, trained vs untrained G")
    p.add_argument("overrides", nargs="*", help="key=value config overrides for every run")
    p.add_argument("--presets", "--recipes", dest="presets",
                   help="comma-separated presets (default: modes gan, quality every preset)")
    p.add_argument("--data", help="modes: comma-separated data sets (default ring8,grid25; also stacked-mnist); "
                   "quality: one data set for every preset (default: each preset's own)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--steps", type=int, help="training steps per run (default: each preset's)")
    p.add_argument("--n", type=int, help="quality: generated samples per score (default: each preset's eval.n)")
    p.add_argument("--out", help="folder of the runs and the table (default runs/bench-SUITE); re-running reuses "
                   "finished runs")
    p.add_argument("--device", default="auto")
    p.set_defaults(fn=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse cannot take positionals after options, so key=value overrides may arrive here
    takes_overrides = args.verb in ("train", "bench")
    unknown_args = [a for a in extra if not takes_overrides or a.startswith("-") or "=" not in a]
    if unknown_args:
        parser.error(f"unrecognized arguments: {' '.join(unknown_args)}")
    if takes_overrides:
        args.overrides = list(args.overrides) + extra
    for name in ("n", "rows", "steps", "seeds", "epochs", "batch_size"):
        if getattr(args, name, 1) is not None and getattr(args, name, 1) < 1:
            print(f"gankit: error: --{name} must be >= 1", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        args.fn(args)
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        if os.environ.get("RANK", "0") == "0":  # under torchrun every rank is interrupted: one line is enough
            print("gankit: interrupted; continue from the last checkpoint with `gankit train --resume RUN_DIR`",
                  file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
