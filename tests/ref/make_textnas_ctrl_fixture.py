#!/usr/bin/python3
"""PyTorch reference for the TextNAS controller (src/textnas_ctrl.c): tests/fixtures/textnas_ctrl.ngfx.

    /usr/bin/python3 tests/ref/make_textnas_ctrl_fixture.py

Written from /work/shared/docs/textnas.md section 3.1 (Variant A: NNI's EnasMutator as driven by
examples/nas/legacy/textnas/search.py, entropy_reduction "mean", the FIXED StackedLSTMCell that
reads h, not c). The decisions are teacher-forced: each case stores the weights (float32 values),
an architecture (input, op, skip matrix) and what the controller gives for it:
    <case>/cfg    int32 [lstm_size, n_layers, choose_from]
    <case>/hyper  float32 [skip_target, tanh_constant (0 = none), temperature (0 = none)]
    <case>/input, <case>/op  int32 (L);  <case>/skip  int32 (L, L), skip[i][j] = 1: j summed into i
    <case>/p/<param>     the weights (C names: lstm.weight_ih, ..., g_emb)
    <case>/log_prob, <case>/entropy, <case>/skip_penalty   0-d
    <case>/glp/<param>, <case>/gsp/<param>  d log_prob / d param, d skip_penalty / d param
and one REINFORCE trajectory ("traj"): 3 controller steps (NNI EnasTrainer order: R = reward +
1e-4 entropy, baseline = 0.99 baseline + 0.01 R before the loss, loss = log_prob (R - baseline)
+ 0.8 skip_penalty, clip_grad_norm_ 5, Adam lr 2e-3) with stored architectures and rewards:
    traj/input, traj/op, traj/skip  (3, L) / (3, L, L);  traj/reward (3);  traj/baseline (3)
    traj/after/<param>  the weights after the 3 steps
Everything is computed in float64 from the float32 inputs (see make_fixtures.py). The script also
runs the trajectory in float32 and checks that its weight changes stay inside the C test's tolerance
(TRAJ_ATOL, TRAJ_RTOL below must match tests/test_textnas_ctrl.c)."""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import Cases, write_fixture  # noqa: E402  (sets float64 default, 1 thread)

TRAJ_ATOL, TRAJ_RTOL = 1e-6, 1e-3  # on the weight CHANGE after - before
N_OPS = 8
PNAMES = ["lstm.weight_ih", "lstm.weight_hh", "soft.weight", "attn_anchor.weight",
          "attn_query.weight", "v_attn.weight", "g_emb"]


def shapes(S):
    return {"lstm.weight_ih": (4 * S, S), "lstm.weight_hh": (4 * S, S), "soft.weight": (N_OPS, S),
            "attn_anchor.weight": (S, S), "attn_query.weight": (S, S), "v_attn.weight": (1, S),
            "g_emb": (1, S)}


def draw_weights(rng, S):
    scale = {"lstm.weight_ih": 0.6, "lstm.weight_hh": 0.6, "soft.weight": 1.2,
             "attn_anchor.weight": 0.6, "attn_query.weight": 0.6, "v_attn.weight": 1.5, "g_emb": 0.8}
    return {k: rng.uniform(-scale[k], scale[k], size=s).astype(np.float32) for k, s in shapes(S).items()}


def draw_arch(rng, L, cf, p_skip=0.4):
    inp = np.full(L, -1, np.int32)
    op = rng.integers(0, N_OPS, size=L).astype(np.int32)
    skip = np.zeros((L, L), np.int32)
    for i in range(1, L):
        inp[i] = rng.integers(max(0, i - cf), i)
        skip[i, :i] = rng.uniform(size=i) < p_skip
    return inp, op, skip


def controller(W, inp_c, op_c, skip_c, L, cf, skip_target, tanh_c, temp, dtype):
    """NNI EnasMutator's walk over the TextNAS layers with forced decisions."""
    S = W["g_emb"].shape[1]
    lstm = torch.nn.LSTMCell(S, S, bias=False).to(dtype)
    with torch.no_grad():  # use the given tensors themselves as the cell's weights
        del lstm.weight_ih, lstm.weight_hh
    lstm.weight_ih, lstm.weight_hh = W["lstm.weight_ih"], W["lstm.weight_hh"]
    soft = lambda x: F.linear(x, W["soft.weight"])            # noqa: E731
    attn_anchor = lambda x: F.linear(x, W["attn_anchor.weight"])  # noqa: E731
    attn_query = lambda x: F.linear(x, W["attn_query.weight"])    # noqa: E731
    v_attn = lambda x: F.linear(x, W["v_attn.weight"])            # noqa: E731
    targets = torch.tensor([1.0 - skip_target, skip_target], dtype=torch.float32).to(dtype)

    def shape_logits(x):
        if temp:
            x = x / temp
        if tanh_c:
            x = tanh_c * torch.tanh(x)
        return x

    h = torch.zeros(1, S, dtype=dtype)
    c = torch.zeros(1, S, dtype=dtype)
    inp = W["g_emb"].detach()           # NNI: self._inputs = self.g_emb.data
    anchors = []
    log_prob = entropy = skip_penalty = 0
    for i in range(L):
        if i > 0:  # input choice: attention over the last cf anchors, no LSTM step
            cand = list(range(max(0, i - cf), i))
            q = torch.cat([attn_anchor(anchors[j]) for j in cand], 0)
            q = shape_logits(v_attn(torch.tanh(q + attn_query(h))))
            logit = q.view(1, -1)
            idx = torch.tensor([int(inp_c[i]) - cand[0]])
            lp = F.cross_entropy(logit, idx, reduction="none")
            log_prob = log_prob + lp.mean()
            entropy = entropy + (lp * torch.exp(-lp)).detach().mean()
            inp = anchors[int(inp_c[i])]
        h, c = lstm(inp, (h, c))       # the fixed StackedLSTMCell: (h, c) in the right order
        logit = shape_logits(soft(h))
        lp = F.cross_entropy(logit, torch.tensor([int(op_c[i])]), reduction="none")
        log_prob = log_prob + lp.mean()
        entropy = entropy + (lp * torch.exp(-lp)).detach().mean()
        if i > 0:  # skip connections: same h as the op step
            q = torch.cat([attn_anchor(anchors[j]) for j in range(i)], 0)
            q = shape_logits(v_attn(torch.tanh(q + attn_query(h))))
            logit = torch.cat([-q, q], 1)
            skip = torch.tensor([int(s) for s in skip_c[i, :i]])
            skip_prob = torch.sigmoid(logit)
            skip_penalty = skip_penalty + torch.sum(skip_prob * torch.log(skip_prob / targets))
            lp = F.cross_entropy(logit, skip, reduction="none")
            log_prob = log_prob + lp.mean()
            entropy = entropy + (lp * torch.exp(-lp)).detach().mean()
        anchors.append(h)
    if not torch.is_tensor(skip_penalty):
        skip_penalty = torch.zeros((), dtype=dtype)
    return log_prob, entropy, skip_penalty


def leaves(Wnp, dtype):
    return {k: torch.from_numpy(v.astype(np.float64)).to(dtype).requires_grad_(True) for k, v in Wnp.items()}


def make_case(cs, name, rng, S, L, cf, skip_target=0.4, tanh_c=0.0, temp=0.0):
    Wnp = draw_weights(rng, S)
    inp, op, skip = draw_arch(rng, L, cf)
    W = leaves(Wnp, torch.float64)
    lp, ent, sp = controller(W, inp, op, skip, L, cf, skip_target, tanh_c, temp, torch.float64)
    cs.put(name, "cfg", [S, L, cf], np.int32)
    cs.put(name, "hyper", [skip_target, tanh_c, temp])
    cs.put(name, "input", inp, np.int32)
    cs.put(name, "op", op, np.int32)
    cs.put(name, "skip", skip, np.int32)
    for k in PNAMES:
        cs.put(name, "p/" + k, Wnp[k])
    cs.put(name, "log_prob", lp)
    cs.put(name, "entropy", ent)
    cs.put(name, "skip_penalty", sp)
    params = [W[k] for k in PNAMES]
    for tag, y in (("glp", lp), ("gsp", sp)):
        gs = torch.autograd.grad(y, params, retain_graph=True, allow_unused=True) if y.requires_grad else [None] * 7
        for k, t, g in zip(PNAMES, params, gs):
            cs.put(name, "%s/%s" % (tag, k), g if g is not None else torch.zeros_like(t))


def trajectory(Wnp, archs, rewards, L, cf, dtype):
    W = leaves(Wnp, dtype)
    params = [W[k] for k in PNAMES]
    opt = torch.optim.Adam(params, lr=2e-3)
    baseline, baselines = 0.0, []
    for (inp, op, skip), reward in zip(archs, rewards):
        lp, ent, sp = controller(W, inp, op, skip, L, cf, 0.4, 0.0, 0.0, dtype)
        R = reward + 1e-4 * ent.item()
        baseline = baseline * 0.99 + R * (1 - 0.99)
        loss = lp * (R - baseline) + 0.8 * sp
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        baselines.append(baseline)
    return {k: W[k].detach().to(torch.float64).numpy() for k in PNAMES}, baselines


def make_traj(cs, rng):
    S, L, cf = 16, 8, 5
    Wnp = draw_weights(rng, S)
    archs = [draw_arch(rng, L, cf) for _ in range(3)]
    rewards = [float(np.float32(r)) for r in (0.41, 0.47, 0.38)]
    after, baselines = trajectory(Wnp, archs, rewards, L, cf, torch.float64)
    after32, _ = trajectory(Wnp, archs, rewards, L, cf, torch.float32)
    worst = max(float(np.max(np.abs((after32[k] - Wnp[k]) - (after[k] - Wnp[k])) /
                             (TRAJ_ATOL + TRAJ_RTOL * np.abs(after[k] - Wnp[k])))) for k in PNAMES)
    moved = max(float(np.max(np.abs(after[k] - Wnp[k]))) for k in PNAMES)
    print("traj: float32 run / C tolerance = %.3f (must stay below 0.5); largest weight change %.3g" % (worst, moved))
    if worst > 0.5:
        raise SystemExit("traj: the float32 trajectory leaves the C test's tolerance")
    cs.put("traj", "cfg", [S, L, cf], np.int32)
    cs.put("traj", "input", np.stack([a[0] for a in archs]), np.int32)
    cs.put("traj", "op", np.stack([a[1] for a in archs]), np.int32)
    cs.put("traj", "skip", np.stack([a[2] for a in archs]), np.int32)
    cs.put("traj", "reward", rewards)
    cs.put("traj", "baseline", baselines)
    for k in PNAMES:
        cs.put("traj", "p/" + k, Wnp[k])
        cs.put("traj", "after/" + k, after[k])


def main():
    rng = np.random.default_rng(20240)
    cs = Cases()
    make_case(cs, "L1", rng, 8, 1, 5)
    make_case(cs, "L2", rng, 8, 2, 5)
    make_case(cs, "L7", rng, 8, 7, 5)
    make_case(cs, "L24", rng, 16, 24, 5)
    make_case(cs, "L9_cf2_tanh_temp", rng, 8, 9, 2, skip_target=0.3, tanh_c=1.5, temp=2.0)
    make_traj(cs, rng)
    path, size = write_fixture("textnas_ctrl", cs.a)
    print("%s %d bytes (torch %s)" % (os.path.relpath(path), size, torch.__version__))


if __name__ == "__main__":
    main()
