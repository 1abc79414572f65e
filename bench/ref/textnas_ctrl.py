"""PyTorch twin of bench/textnas_ctrl.c: the TextNAS controller (NNI's EnasMutator as TextNAS's
search.py drives it: lstm 64, no bias, tanh_constant None, entropy_reduction "mean", the fixed
(h, c) order) and one EnasTrainer controller step, written from /work/shared/docs/textnas.md 3.1.
Run with Debian's python3 (torch 1.13), OPENBLAS_NUM_THREADS=1:
  /usr/bin/python3 bench/ref/textnas_ctrl.py --list | CASE"""
import resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
CASES = {"ctrl_step_24l": (1, 100), "ctrl_sample_24l": (0, 200)}
L, K, S, N_OPS = 24, 5, 64, 8


class Controller(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTMCell(S, S, bias=False)
        self.attn_anchor = nn.Linear(S, S, bias=False)
        self.attn_query = nn.Linear(S, S, bias=False)
        self.v_attn = nn.Linear(S, 1, bias=False)
        self.g_emb = nn.Parameter(torch.randn(1, S) * 0.1)
        self.soft = nn.Linear(S, N_OPS, bias=False)
        self.embedding = nn.Embedding(N_OPS + 1, S)   # as NNI: created, overwritten before use
        self.register_buffer("skip_targets", torch.tensor([0.6, 0.4]))

    def sample(self):
        h = torch.zeros(1, S)
        c = torch.zeros(1, S)
        inp = self.g_emb.data
        anchors = []
        log_prob = entropy = skip_penalty = 0
        arch = []
        for i in range(L):
            prec = -1
            if i > 0:
                cand = anchors[max(0, i - K):]
                q = torch.cat([self.attn_anchor(a) for a in cand], 0)
                q = self.v_attn(torch.tanh(q + self.attn_query(h)))
                logit = q.view(1, -1)
                idx = torch.multinomial(F.softmax(logit, dim=-1), 1).view(-1)
                lp = F.cross_entropy(logit, idx, reduction="none")
                log_prob = log_prob + lp.mean()
                entropy = entropy + (lp * torch.exp(-lp)).detach().mean()
                prec = max(0, i - K) + idx.item()
                inp = anchors[prec]
            h, c = self.lstm(inp, (h, c))
            logit = self.soft(h)
            op = torch.multinomial(F.softmax(logit, dim=-1), 1).view(-1)
            lp = F.cross_entropy(logit, op, reduction="none")
            log_prob = log_prob + lp.mean()
            entropy = entropy + (lp * torch.exp(-lp)).detach().mean()
            inp = self.embedding(op)
            skip = None
            if i > 0:
                q = torch.cat([self.attn_anchor(a) for a in anchors], 0)
                q = self.v_attn(torch.tanh(q + self.attn_query(h)))
                logit = torch.cat([-q, q], 1)
                skip = torch.multinomial(F.softmax(logit, dim=-1), 1).view(-1)
                skip_prob = torch.sigmoid(logit)
                skip_penalty = skip_penalty + torch.sum(skip_prob * torch.log(skip_prob / self.skip_targets))
                lp = F.cross_entropy(logit, skip, reduction="none")
                log_prob = log_prob + lp.mean()
                entropy = entropy + (lp * torch.exp(-lp)).detach().mean()
                inp = (torch.matmul(skip.float(), torch.cat(anchors, 0)) / (1. + torch.sum(skip))).unsqueeze(0)
            anchors.append(h)
            arch.append((prec, op.item(), skip))
        return arch, log_prob, entropy, skip_penalty


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(CASES)); return
    case = sys.argv[1]
    step, iters = CASES[case]
    torch.manual_seed(1)
    ctrl = Controller()
    opt = torch.optim.Adam(ctrl.parameters(), lr=2e-3)
    baseline = 0.0
    best = 1e30
    for it in range(iters + 5):
        t0 = time.perf_counter()
        if step:
            arch, log_prob, entropy, skip_penalty = ctrl.sample()
            reward = sum(op == 3 for _, op, _ in arch) / L          # dummy reward
            reward += 1e-4 * entropy.item()
            baseline = baseline * 0.99 + reward * (1 - 0.99)
            loss = log_prob * (reward - baseline) + 0.8 * skip_penalty
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(ctrl.parameters(), 5.0)
            opt.step()
        else:
            with torch.no_grad():
                ctrl.sample()
        dt = time.perf_counter() - t0
        if it >= 5:
            best = min(best, dt)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"BENCH key={case} ms={best * 1e3:.3f} peak_mb={peak:.1f}")


if __name__ == "__main__":
    main()
