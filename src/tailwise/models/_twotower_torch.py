"""The torch side of :class:`~tailwise.models.twotower.TwoTower`: parameters, one step per
batch, and the export of the arrays its NumPy scorer needs. torch is handed in by the caller,
so importing this module imports no torch; its log lines go to the twotower model's logger."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from tailwise.models.twotower import TwoTower

log = logging.getLogger("tailwise.models.twotower")


@contextmanager
def _torch_settings(torch: Any, threads: int, seed: int) -> Iterator[None]:
    """Seeded, deterministic, thread-limited torch for the block; global settings restored."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        torch.set_num_threads(int(threads))
        torch.use_deterministic_algorithms(True, warn_only=True)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)


def _device(torch: Any, spec: str) -> Any:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(spec)


def _mlp(torch: Any, d_in: int, hidden: int, d_out: int) -> Any:
    nn = torch.nn
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


def _histories(train: sp.csr_matrix, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated history item indices of `users` and the offset of each user's run."""
    ptr = train.indptr
    lens = ptr[users + 1] - ptr[users]
    offsets = np.r_[0, np.cumsum(lens)[:-1]]
    pos = np.arange(lens.sum()) - np.repeat(offsets, lens) + np.repeat(ptr[users], lens)
    return train.indices[pos].astype(np.int64), offsets.astype(np.int64)


class _Trainer:
    """The torch side of :meth:`TwoTower._fit`: parameters, one step per batch, the export."""

    def __init__(self, m: TwoTower, torch: Any, train: sp.csr_matrix, emb: np.ndarray) -> None:
        self.m, self.torch, self.train = m, torch, train
        self.dev = dev = _device(torch, m.device)
        self.rng = np.random.default_rng(m.random_state)
        n_items, d_text = emb.shape
        counts = np.diff(train.tocsc().indptr).astype(np.float64)
        gate = np.divide(counts, counts + m.evidence, out=np.zeros_like(counts), where=counts > 0)
        log_pop = np.log(np.maximum(counts, 1.0) / max(counts.sum(), 1.0))
        self.hist_len = np.diff(train.indptr)
        self.warm = np.flatnonzero(counts > 0)
        # built on the CPU, so the seeded CPU generator alone decides the initial values
        self.item_mlp = _mlp(torch, d_text, m.hidden, m.dim).to(dev)
        self.user_mlp = _mlp(torch, d_text, m.hidden, m.dim).to(dev)
        self.item_id = torch.nn.Parameter((0.01 * torch.randn(n_items, m.dim)).to(dev))
        self.ctx_id = torch.nn.Parameter((0.01 * torch.randn(n_items, m.dim)).to(dev))
        self.e = self.tensor(emb)
        self.g = self.tensor(gate.astype(np.float32))
        self.log_pop = self.tensor(log_pop.astype(np.float32))
        self.user_sum_e = self.tensor(np.asarray(train @ emb, dtype=np.float32))

    def tensor(self, a: np.ndarray) -> Any:
        return self.torch.from_numpy(a).to(self.dev)

    def user_side(self, ub: np.ndarray, ib: np.ndarray) -> Any:
        """User vectors of a batch of pairs, each from its history without the pair's item."""
        flat, offsets = _histories(self.train, ub)
        it = self.tensor(ib)
        gated_ctx = self.g[:, None] * self.ctx_id
        c_sum = self.torch.nn.functional.embedding_bag(
            self.tensor(flat), gated_ctx, self.tensor(offsets), mode="sum"
        )
        cnt = self.tensor(np.maximum(self.hist_len[ub] - 1, 1).astype(np.float32))[:, None]
        e_bar = (self.user_sum_e[self.tensor(ub)] - self.e[it]) / cnt
        c_bar = (c_sum - gated_ctx[it]) / cnt
        return self.user_mlp(e_bar) + c_bar

    def item_side(self, it: Any) -> Any:
        """Item vectors ``MLP_I(e_i) + g_i q_i`` (the MLP runs once per distinct item)."""
        uniq, inv = self.torch.unique(it, return_inverse=True)
        return self.item_mlp(self.e[uniq])[inv] + self.g[it, None] * self.item_id[it]

    def loss(self, ub: np.ndarray, ib: np.ndarray) -> Any:
        """The batch loss of pairs (ub[b], ib[b]) under ``loss="softmax"`` or ``"bce"``."""
        torch, F = self.torch, self.torch.nn.functional
        u, it, b = self.user_side(ub, ib), self.tensor(ib), len(ib)
        if self.m.loss == "softmax":
            logits = u @ self.item_side(it).T
            if self.m.logq:
                logits = logits - self.log_pop[it][None, :]
            clash = it[:, None] == it[None, :]  # the same item as another row's positive
            clash.fill_diagonal_(False)
            logits = logits.masked_fill(clash, float("-inf"))
            return F.cross_entropy(logits, torch.arange(b, device=self.dev))
        k = self.m.negatives
        neg = self.tensor(self.warm[self.rng.integers(0, len(self.warm), (b, k))])
        pos_logit = (u * self.item_side(it)).sum(dim=1, keepdim=True)
        neg_vecs = self.item_side(neg.reshape(-1)).reshape(b, k, -1)
        logits = torch.cat([pos_logit, torch.einsum("bd,bkd->bk", u, neg_vecs)], dim=1)
        labels = torch.zeros_like(logits)
        labels[:, 0] = 1.0
        return F.binary_cross_entropy_with_logits(logits, labels)

    def run(self) -> dict[str, np.ndarray]:
        """Train, then export the arrays the NumPy scorer needs."""
        from tailwise.text.base import progress_bar

        m, torch = self.m, self.torch
        modules = (self.item_mlp, self.user_mlp)
        params = [p for mod in modules for p in mod.parameters()] + [self.item_id, self.ctx_id]
        opt = torch.optim.Adam(params, lr=m.lr)
        pair_users = np.repeat(np.arange(self.train.shape[0]), self.hist_len)
        pair_items = self.train.indices.astype(np.int64)
        n_pairs = len(pair_items)
        steps = -(-n_pairs // m.batch_size)
        with progress_bar(
            m.epochs * steps, f"{m.name} ({m.loss})", m.progress, unit="steps"
        ) as advance:
            for epoch in range(m.epochs):
                order = self.rng.permutation(n_pairs)
                total = 0.0
                for s in range(steps):
                    sel = order[s * m.batch_size : (s + 1) * m.batch_size]
                    loss = self.loss(pair_users[sel], pair_items[sel])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(sel)
                    advance(1)
                mean_loss = total / max(n_pairs, 1)
                log.info(
                    "%s epoch %d/%d: %s loss %.4f", m.name, epoch + 1, m.epochs, m.loss, mean_loss
                )
        return self.export()

    def export(self) -> dict[str, Any]:
        with self.torch.no_grad():
            lin1, lin2 = self.user_mlp[0], self.user_mlp[2]
            arrays = {
                "item_vectors_": self.item_side(self.torch.arange(len(self.g), device=self.dev)),
                "context_vectors_": self.g[:, None] * self.ctx_id,
                "user_w1_": lin1.weight.T,
                "user_b1_": lin1.bias,
                "user_w2_": lin2.weight.T,
                "user_b2_": lin2.bias,
                "item_w1_": self.item_mlp[0].weight.T,
                "item_b1_": self.item_mlp[0].bias,
                "item_w2_": self.item_mlp[2].weight.T,
                "item_b2_": self.item_mlp[2].bias,
            }
            return {
                k: np.ascontiguousarray(v.detach().cpu().numpy(), dtype=np.float32)
                for k, v in arrays.items()
            }
