"""PyTorch twin of bench/gan_steps.c: alphaGAN's search steps on the supernet generator
(CIFAR-10 shapes: batch 64, 32x32x3, latent 128) and AutoGAN's discriminator (width 128,
spectral norm on every conv and the final linear), written from /work/shared/docs/alphagan.md
sections 1-3. Run with Debian's python3 (torch 1.13), OPENBLAS_NUM_THREADS=1:
  /usr/bin/python3 bench/ref/gan_steps.py --list | CASE | --params CASE

Cases (gfW: generator width W; D width 128 always):
  d_step_gfW     hinge D loss on a fixed random "real" batch and 64 fakes G(z) (detached), Adam(2e-4, (0, 0.9)) on D
  g_step_gfW     -mean D(G(z)) into G's weights, Adam(2e-4, (0, 0.9)) on G's weights
  arch_step_gfW  duality gap V(G, D_worst) - V(G_worst, D) (two z draws, one real batch, G_worst with its own
                 alpha copy) into G's alpha, Adam(3e-4, (0.5, 0.999), weight_decay 1e-3) on alpha
Only the tensors a step updates require a gradient during it (requires_grad is set per case, outside the
timing), so autograd records and differentiates what nasgan's tape does (ng_ctx_grad_for): the D step's G
forward and the frozen worst-case nets build no graph. Every net is in train mode (BN batch statistics and
running-stat updates, one SN power iteration per forward), as in the search.
A case: 2 warm-up steps, then the best of N; prints "BENCH key=CASE ms=<best> peak_mb=<peak RSS MiB>".
--params prints the parameter counts that bench_gan_steps --params prints."""
import resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)

BATCH, LATENT, BW, CH, DF = 64, 128, 4, 3, 128
# key: (step, gf, iters)
CASES = {
    "d_step_gf32": ("d", 32, 5), "g_step_gf32": ("g", 32, 4), "arch_step_gf32": ("arch", 32, 4),
    "d_step_gf64": ("d", 64, 4), "g_step_gf64": ("g", 64, 3), "arch_step_gf64": ("arch", 64, 3),
}


# ---------------- generator supernet (spec section 1) ----------------
class SepConv(nn.Module):
    """after the leading ReLU: dw k x k -> pw 1x1 -> BN -> ReLU -> dw -> pw -> BN (no bias, affine-free BN)"""
    def __init__(self, C, k):
        super().__init__()
        self.dw1 = nn.Conv2d(C, C, k, 1, k // 2, groups=C, bias=False)
        self.pw1 = nn.Conv2d(C, C, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(C, affine=False)
        self.dw2 = nn.Conv2d(C, C, k, 1, k // 2, groups=C, bias=False)
        self.pw2 = nn.Conv2d(C, C, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(C, affine=False)

    def forward(self, r):
        h = F.relu(self.bn1(self.pw1(self.dw1(r))))
        return self.bn2(self.pw2(self.dw2(h)))


class MixedNormal(nn.Module):
    """6 candidates: conv 1x1/3x3/5x5 (bias) and sep conv 3x3/5x5/7x7, all after one shared ReLU(x)"""
    def __init__(self, C):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(C, C, k, 1, k // 2) for k in (1, 3, 5)])
        self.seps = nn.ModuleList([SepConv(C, k) for k in (3, 5, 7)])

    def forward(self, x, w):
        r = F.relu(x)
        out = w[0] * self.convs[0](r)
        for k in (1, 2):
            out = out + w[k] * self.convs[k](r)
        for k in range(3):
            out = out + w[3 + k] * self.seps[k](r)
        return out


class MixedUp(nn.Module):
    """3 candidates: deconv (ConvTranspose2d k2 s2, bias), nearest, bilinear (align_corners False);
    times = 2 applies each twice (the same deconv module: shared weights)"""
    def __init__(self, C):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(C, C, 2, 2)

    def forward(self, x, w, times=1):
        a = b = c = x
        for _ in range(times):
            a = self.deconv(a)
            b = F.interpolate(b, scale_factor=2, mode="nearest")
            c = F.interpolate(c, scale_factor=2, mode="bilinear", align_corners=False)
        return w[0] * a + w[1] * b + w[2] * c


class Cell(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.up = nn.ModuleList([MixedUp(C), MixedUp(C)])          # node0 -> node1, node0 -> node3
        self.normal = nn.ModuleList([MixedNormal(C) for _ in range(3)])  # n1->n2, n2->n4, n3->n4

    def forward(self, x, a_up, a_normal, skip=None):
        n1 = self.up[0](x, F.softmax(a_up[0], -1))
        n3 = self.up[1](x, F.softmax(a_up[1], -1))
        n2 = self.normal[0](n1, F.softmax(a_normal[0], -1))
        n4 = self.normal[1](n2, F.softmax(a_normal[1], -1)) + self.normal[2](n3, F.softmax(a_normal[2], -1))
        if skip is not None:
            n4 = n4 + skip
        return n1, n4


class GenSearch(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.C = C
        self.l1 = nn.Linear(LATENT, BW * BW * C)
        self.cells = nn.ModuleList([Cell(C) for _ in range(3)])
        self.skip2 = MixedUp(C)                                    # cell1.node1 -> cell2.node4, x2
        self.skip3 = nn.ModuleList([MixedUp(C), MixedUp(C)])       # cell1.node1 (x4), cell2.node1 (x2) -> cell3.node4
        self.bn = nn.BatchNorm2d(C)
        self.to_rgb = nn.Conv2d(C, CH, 3, 1, 1)
        # alpha: plain tensors (not registered parameters), 81 scalars
        self.alphas = [1e-3 * torch.randn(3, 6) for _ in range(3)] + [1e-3 * torch.randn(2, 3) for _ in range(3)] + \
                      [1e-3 * torch.randn(1, 3), 1e-3 * torch.randn(2, 3)]

    def forward(self, z):
        an, au, s2, s3 = self.alphas[0:3], self.alphas[3:6], self.alphas[6], self.alphas[7]
        h = self.l1(z).view(-1, self.C, BW, BW)
        c1n1, h = self.cells[0](h, au[0], an[0])
        c2n1, h = self.cells[1](h, au[1], an[1], self.skip2(c1n1, F.softmax(s2[0], -1)))
        skip = self.skip3[0](c1n1, F.softmax(s3[0], -1), 2) + self.skip3[1](c2n1, F.softmax(s3[1], -1))
        _, h = self.cells[2](h, au[2], an[2], skip)
        return torch.tanh(self.to_rgb(F.relu(self.bn(h))))


# ---------------- AutoGAN's discriminator (spec section 2) ----------------
SN = nn.utils.spectral_norm


class OptimizedDisBlock(nn.Module):
    def __init__(self, cin, C):
        super().__init__()
        self.c1, self.c2 = SN(nn.Conv2d(cin, C, 3, 1, 1)), SN(nn.Conv2d(C, C, 3, 1, 1))
        self.c_sc = SN(nn.Conv2d(cin, C, 1))

    def forward(self, x):
        h = F.avg_pool2d(self.c2(F.relu(self.c1(x))), 2)
        return h + self.c_sc(F.avg_pool2d(x, 2))


class DisBlock(nn.Module):
    def __init__(self, C, down):
        super().__init__()
        self.c1, self.c2 = SN(nn.Conv2d(C, C, 3, 1, 1)), SN(nn.Conv2d(C, C, 3, 1, 1))
        self.down = down
        self.c_sc = SN(nn.Conv2d(C, C, 1)) if down else None

    def forward(self, x):
        h = self.c2(F.relu(self.c1(F.relu(x))))
        if self.down:
            return F.avg_pool2d(h, 2) + F.avg_pool2d(self.c_sc(x), 2)
        return h + x


class Disc(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.block1 = OptimizedDisBlock(CH, C)
        self.block2 = DisBlock(C, True)
        self.block3 = DisBlock(C, False)
        self.block4 = DisBlock(C, False)
        self.l5 = SN(nn.Linear(C, 1, bias=False))

    def forward(self, x):
        h = self.block4(self.block3(self.block2(self.block1(x))))
        return self.l5(F.relu(h).sum(dim=(2, 3)))


def count(params):
    return sum(p.numel() for p in params)


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(CASES)); return
    params_only = len(sys.argv) > 2 and sys.argv[1] == "--params"
    case = sys.argv[2] if params_only else sys.argv[1]
    step, gf, iters = CASES[case]
    torch.manual_seed(1)
    G, D = GenSearch(gf), Disc(DF)
    if params_only:
        gbuf = sum(b.numel() for n, b in G.named_buffers() if not n.endswith("num_batches_tracked"))
        print(f"PARAMS key={case} g_weights={count(G.parameters())} g_alpha={count(G.alphas)} "
              f"g_buffers={gbuf} d_weights={count(D.parameters())}")
        return
    G_worst, D_worst = GenSearch(gf), Disc(DF)
    G_worst.load_state_dict(G.state_dict()); D_worst.load_state_dict(D.state_dict())
    G_worst.alphas = [a.clone() for a in G.alphas]   # its own alpha copy
    for net in (G, D, G_worst, D_worst):
        net.train()
        for p in net.parameters():
            p.requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.0, 0.9))
    opt_a = torch.optim.Adam(G.alphas, 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    # only what the step updates requires a gradient (nasgan's ng_ctx_grad_for)
    trained = {"d": list(D.parameters()), "g": list(G.parameters()), "arch": G.alphas}[step]
    for p in trained:
        p.requires_grad_(True)
    opt = {"d": opt_d, "g": opt_g, "arch": opt_a}[step]
    real = torch.rand(BATCH, CH, 8 * BW, 8 * BW) * 2 - 1
    best = 1e30
    for it in range(iters + 2):
        t0 = time.perf_counter()
        if step == "d":
            fake = G(torch.randn(BATCH, LATENT)).detach()
            loss = F.relu(1 - D(real)).mean() + F.relu(1 + D(fake)).mean()
        elif step == "g":
            loss = -D(G(torch.randn(BATCH, LATENT))).mean()
        else:
            minmax = -(F.relu(1 - D_worst(real)).mean() + F.relu(1 + D_worst(G(torch.randn(BATCH, LATENT)))).mean())
            maxmin = -(F.relu(1 - D(real)).mean() + F.relu(1 + D(G_worst(torch.randn(BATCH, LATENT)))).mean())
            loss = minmax - maxmin
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        del loss
        dt = time.perf_counter() - t0
        print(f"{case}: step {it} {dt:.3f} s", file=sys.stderr)
        if it >= 2:
            best = min(best, dt)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"BENCH key={case} ms={best * 1e3:.1f} peak_mb={peak:.1f}")


if __name__ == "__main__":
    main()
