"""DistributedDataParallel for a recipe's trained networks, without changing the recipe or its checkpoints.

A recipe calls its networks as attributes (``self.G(z)``, ``self.D(x)``) and knows nothing of DDP. The
trainer owns one DDP wrapper per network of ``recipe.networks()`` and puts it in the recipe only while a
phase that trains that network runs (``Parallel.phase``); before and after, the recipe holds its plain
networks again. So:

- ``state_dict`` keys, checkpoints, sampling, evaluation and the EMA only ever see the plain networks:
  a checkpoint of a DDP run is the checkpoint one process writes (no "module." prefix), and nothing
  outside a training phase can reach a DDP collective (a sample grid drawn on rank 0 alone cannot hang);
- a network that the current phase does not train (D while G trains, whose parameters ``_only_trains``
  froze) is called plain: its reducer is never armed, so it never waits for gradients that do not come
  (the classic "Expected to have finished reduction in the prior iteration");
- a trained network called several times before one backward (D on real, on fake, and on the gradient
  penalty's interpolates with ``torch.autograd.grad(create_graph=True)``) is fine: DDP's hooks sit on each
  parameter's gradient accumulator, which fires once per backward with the sum of every use, and
  ``autograd.grad`` towards the inputs never reaches them.

Buffers: DDP's own ``broadcast_buffers`` is off. It would broadcast rank 0's buffers inside every forward
(a collective hidden in a call) and still leave the ranks apart after it, because each forward updates
them locally. Instead ``sync_buffers`` runs once at the end of every training step, on every rank, before
the EMA copies them: batch-norm running statistics are averaged over the ranks (for equal per-rank
batches, the running mean is then exactly the one a single process would keep for the global batch),
every other buffer (spectral norm's power-iteration vectors, which every rank computes alike from the same
weights; a recipe's own state) is rank 0's. With ``model.sync_bn`` batch norms normalise with the global
batch's statistics (``SyncBatchNorm``), as one process with the global batch does.
"""
from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel

from gankit import distributed
from gankit.errors import ConfigError


class CPUSyncBatchNorm(_BatchNorm):
    """SyncBatchNorm for CPU processes (gloo), which torch's SyncBatchNorm (and DDP around it) refuse.

    In training, the global batch's mean and variance come from differentiable all-reduces (the sum, then
    the sum of squared deviations: as exact as one process's two-pass statistics), and the backward pass
    all-reduces their gradients, as torch's CUDA kernel does. Same parameters and buffers as BatchNorm, so
    the state-dict keys do not change.
    """

    def _check_input_dim(self, input: Tensor) -> None:  # noqa: A002  (torch's name)
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        if not (self.training and distributed.world_size() > 1):
            return super().forward(input)
        self._check_input_dim(input)
        dims = [0, *range(2, input.dim())]  # every axis but the channels
        count = torch.tensor(float(input.numel() // input.shape[1]), dtype=input.dtype)
        n = distributed.all_reduce_sum_autograd(count)
        mean = distributed.all_reduce_sum_autograd(input.sum(dims)) / n  # (C,)
        shape = [1, -1] + [1] * (input.dim() - 2)
        centred = input - mean.view(shape)
        var = distributed.all_reduce_sum_autograd((centred * centred).sum(dims)) / n  # biased, as for normalising
        out = centred * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach() * n / max(float(n) - 1, 1.0))
        return out

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, unbiased_var: Tensor) -> None:
        """As F.batch_norm updates them: an exponential (or, momentum None, cumulative) average."""
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.lerp_(mean, factor)
        self.running_var.lerp_(unbiased_var, factor)


SYNCED_NORMS = (nn.SyncBatchNorm, CPUSyncBatchNorm)


def convert_sync_batchnorm(net: nn.Module, device: torch.device) -> int:
    """Replace every batch norm inside ``net`` by a synchronised one sharing its parameters and buffers (torch's
    SyncBatchNorm on a GPU, CPUSyncBatchNorm on the CPU), in place: ``net`` stays the same object, so the recipe's
    attribute and the optimiser's parameters are unchanged. Returns how many were replaced."""
    cls = CPUSyncBatchNorm if device.type == "cpu" else nn.SyncBatchNorm
    count = 0
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, _BatchNorm) and not isinstance(child, SYNCED_NORMS):
                module._modules[name] = _synced(child, cls)
                count += 1
    return count


def _synced(bn: _BatchNorm, cls: type[_BatchNorm]) -> _BatchNorm:
    sync = cls(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    if bn.affine:
        sync.weight, sync.bias = bn.weight, bn.bias
    if bn.track_running_stats:
        sync.running_mean, sync.running_var = bn.running_mean, bn.running_var
        sync.num_batches_tracked = bn.num_batches_tracked
    sync.train(bn.training)
    return sync


class Parallel:
    """One DDP wrapper per trained network of a recipe, swapped into the recipe phase by phase."""

    def __init__(self, recipe: nn.Module, groups: dict[str, list[nn.Parameter]], device: torch.device) -> None:
        self.recipe = recipe
        self.plain: dict[str, nn.Module] = dict(recipe.networks())
        self.trains: dict[str, str] = {}  # network key -> the one parameter group it belongs to
        self._check(groups)
        ids = {id(p) for params in groups.values() for p in params}
        self.wrapped: dict[str, DistributedDataParallel] = {
            key: _ddp(net, device) for key, net in self.plain.items() if any(id(p) in ids for p in net.parameters())}
        self.called: set[str] = set()  # the wrapped networks called in the current phase
        for key, ddp in self.wrapped.items():
            ddp.register_forward_pre_hook(lambda module, args, key=key: self.called.add(key))

    def _check(self, groups: dict[str, list[nn.Parameter]]) -> None:
        """Each network is the recipe's submodule at its key and trains in one group; every trained parameter
        lives in a network (DDP averages gradients only there)."""
        recipe_name = type(self.recipe).__name__
        for key, net in self.plain.items():
            try:
                found = self.recipe.get_submodule(key)
            except AttributeError:
                found = None
            if found is not net:
                raise ConfigError(f"recipe {recipe_name}: networks() key {key!r} must be the network's path in the "
                                  "recipe (recipe.get_submodule(key)), e.g. 'G', 'D', 'G_BA', 'D.0'")
            if isinstance(net, (nn.ModuleList, nn.ModuleDict, nn.ParameterList, nn.ParameterDict)):
                raise ConfigError(f"recipe {recipe_name}: networks() entry {key!r} is a {type(net).__name__}, which DDP "
                                  f"cannot call; list each network in it instead ('{key}.0', '{key}.1', ...)")
            own = {id(p) for p in net.parameters()}
            names = sorted(g for g, params in groups.items() if any(id(p) in own for p in params))
            if len(names) > 1:
                raise ConfigError(f"recipe {recipe_name}: network {key!r} has parameters in the groups "
                                  f"{', '.join(names)}; under DDP each network trains in one group: declare its parts "
                                  "as separate networks in networks()")
            if names:
                self.trains[key] = names[0]
        covered = {id(p) for net in self.plain.values() for p in net.parameters()}
        trained = {id(p) for params in groups.values() for p in params}
        loose = [name for name, p in self.recipe.named_parameters() if id(p) in trained - covered]
        if loose:
            raise ConfigError(f"recipe {recipe_name}: trained parameters outside its networks() ({', '.join(loose[:5])}); "
                              "DDP would not average their gradients: add their module to networks()")

    def _put(self, key: str, module: nn.Module) -> None:
        parent_path, _, name = key.rpartition(".")
        parent = self.recipe.get_submodule(parent_path) if parent_path else self.recipe
        parent._modules[name] = module  # in place, so an nn.ModuleList element ("D.0") keeps its index

    @contextlib.contextmanager
    def phase(self, group: str) -> Iterator[None]:
        """While a phase trains ``group``: its networks called through DDP, every other one plain."""
        self.called = set()
        for key, ddp in self.wrapped.items():
            if self.trains.get(key) == group:
                self._put(key, ddp)
        try:
            yield
        finally:
            for key, net in self.plain.items():
                self._put(key, net)

    def check_gradients(self, group: str) -> None:
        """After a backward through DDP: every parameter of ``group``'s networks got a gradient. DDP waits for all
        of them, so one the loss never reaches (a head the recipe does not use) would otherwise surface at the
        next forward as torch's "Expected to have finished reduction in the prior iteration". A network of the
        group the phase never calls (AAE's decoder in the code game) is left alone: DDP waits only after a forward;
        so is a network that grows (ProGAN's levels not grown yet): its DDP looks for unused parameters."""
        for key in self.wrapped:
            if self.trains.get(key) != group or key not in self.called:
                continue
            missing = [name for name, p in self.plain[key].named_parameters() if p.requires_grad and p.grad is None]
            if missing and not _may_skip_parameters(self.plain[key]):
                raise ConfigError(
                    f"recipe {type(self.recipe).__name__}: under DDP every trained parameter must get a gradient in "
                    f"its phase, but {key}'s {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''} got none "
                    f"(phase training {group!r}). A part of {key} the loss never uses is dead weight: build {key} "
                    "without it, or train in one process")

    @torch.no_grad()
    def sync_buffers(self) -> None:
        """Make every rank hold the same buffers (see the module docstring): batch-norm running statistics
        averaged, everything else rank 0's. The EMA is left out: it copies the live buffers after this."""
        averaged, broadcast = [], []
        ema = getattr(self.recipe, "ema", None)
        skip = {id(b) for b in ema.buffers()} if ema is not None else set()
        for module in self.recipe.modules():
            if (isinstance(module, _BatchNorm) and not isinstance(module, SYNCED_NORMS) and module.track_running_stats
                    and id(module.running_mean) not in skip):
                averaged += [module.running_mean, module.running_var]
                skip.update((id(module.running_mean), id(module.running_var)))
        for buffer in self.recipe.buffers():
            if id(buffer) not in skip:
                broadcast.append(buffer)
                skip.add(id(buffer))
        _coalesced(averaged, average=True)
        _coalesced(broadcast, average=False)


def _ddp(net: nn.Module, device: torch.device) -> DistributedDataParallel:
    """DDP without its buffer broadcast in every forward (``sync_buffers`` does it once a step); parameters and
    buffers are still made rank 0's when it is built."""
    quiet = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters  # newer torch renamed it
    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=_may_skip_parameters(net),
                                   **({"forward_sync_buffers": False} if quiet else {"broadcast_buffers": False}))


def _may_skip_parameters(net: nn.Module) -> bool:
    """Whether a forward of ``net`` may leave some of its parameters out (ProGAN's levels not grown yet)."""
    return any(getattr(m, "may_skip_parameters", False) for m in net.modules())


def _coalesced(tensors: list[Tensor], *, average: bool) -> None:
    """All-reduce-mean (``average``) or broadcast from rank 0 ``tensors`` in place, one collective per dtype."""
    by_dtype: dict[torch.dtype, list[Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    for dtype, group in by_dtype.items():
        flat = torch.cat([t.reshape(-1) for t in group])
        if average:
            dist.all_reduce(flat)
            flat /= distributed.world_size()
        else:
            dist.broadcast(flat, src=0)
        for t, part in zip(group, flat.split([t.numel() for t in group])):
            t.copy_(part.view_as(t))


def state_digest(module: nn.Module) -> str:
    """sha256 of a module's state dict (names, dtypes and bytes), to compare what ranks hold."""
    import hashlib

    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


__all__ = ["CPUSyncBatchNorm", "SYNCED_NORMS", "convert_sync_batchnorm", "Parallel", "state_digest"]
