"""Adam over a dict of per-Gaussian tensors, with the row surgery densification needs."""

from __future__ import annotations

import torch

from .cpu_project import adam_update


class GaussianAdam:
    """Adam whose moment rows can be selected and extended together with the parameters."""

    def __init__(self, params: dict[str, torch.Tensor], lrs: dict[str, float],
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-15):
        self.params = params
        self.lrs = dict(lrs)
        self.betas = betas
        self.eps = eps
        self.step_count = 0
        self.m = {k: torch.zeros_like(v) for k, v in params.items()}
        self.v = {k: torch.zeros_like(v) for k, v in params.items()}

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every parameter that has a gradient; gradients are cleared.

        A non-finite gradient entry (an overflow in a degenerate projection) counts as zero:
        once in the moments it would turn the parameter into NaN for good.
        """
        self.step_count += 1
        b1, b2 = self.betas
        c1 = 1 - b1 ** self.step_count
        c2 = 1 - b2 ** self.step_count
        for k, p in self.params.items():
            if p.grad is None:
                continue
            if _fused(p, p.grad, self.m[k], self.v[k]):  # one pass in numba instead of six torch ops
                adam_update(*(x.detach().numpy().reshape(-1) for x in (p, p.grad, self.m[k], self.v[k])),
                            self.lrs[k], b1, b2, c1, c2, self.eps)
                p.grad = None
                continue
            torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
            self.m[k].mul_(b1).add_(p.grad, alpha=1 - b1)
            self.v[k].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            denom = (self.v[k] / c2).sqrt_().add_(self.eps)
            p.addcdiv_(self.m[k], denom, value=-self.lrs[k] / c1)
            p.grad = None

    def state_dict(self) -> dict:
        """Moments and step count, for a checkpoint (the parameters are saved by the caller)."""
        return {"m": self.m, "v": self.v, "step_count": self.step_count}

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict()`'s moments onto the parameters' device."""
        device = self.params["means"].device
        self.m = {k: v.to(device) for k, v in state["m"].items()}
        self.v = {k: v.to(device) for k, v in state["v"].items()}
        self.step_count = state["step_count"]

    @torch.no_grad()
    def replace(self, new_values: dict[str, torch.Tensor], keep: torch.Tensor, added: int) -> None:
        """Install new parameter tensors made of the rows `keep` followed by `added` new rows.

        Moments of kept rows are preserved; new rows start at zero.
        """
        for k, value in new_values.items():
            pad = (added,) + tuple(value.shape[1:])
            zeros = torch.zeros(pad, device=value.device)
            self.m[k] = torch.cat([self.m[k][keep], zeros])
            self.v[k] = torch.cat([self.v[k][keep], zeros])
            self.params[k] = value.contiguous().requires_grad_()

    @torch.no_grad()
    def drop_nonfinite(self) -> int:
        """Remove the Gaussians with any non-finite parameter; returns how many went."""
        finite = torch.ones(len(self.params["means"]), dtype=torch.bool, device=self.params["means"].device)
        for v in self.params.values():
            finite &= torch.isfinite(v.detach()).reshape(len(v), -1).all(dim=1)
        dropped = int((~finite).sum())
        if dropped:
            self.replace({k: v.detach()[finite] for k, v in self.params.items()}, finite, 0)
        return dropped

    @torch.no_grad()
    def reset_moments(self, key: str) -> None:
        """Zero the moments of one parameter (used after an opacity reset)."""
        self.m[key].zero_()
        self.v[key].zero_()


def _fused(*tensors: torch.Tensor) -> bool:
    """Whether the numba Adam can update these in place: contiguous float32 on the CPU."""
    return all(t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous() for t in tensors)
