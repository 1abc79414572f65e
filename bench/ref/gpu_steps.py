#!/usr/bin/env python3
"""PyTorch twin of bench/gpu/steps.c for bench/gpu_check.sh, on CUDA (or CPU with --device cpu):
  alphagan_D / _G / _arch  the alphaGAN supernet steps (G width 256, D width 128, batch 64, 32x32;
                           docs: /work/shared/docs/alphagan.md sections 1-2)
  textnas                  one retraining step (forward, cross entropy, backward, Adam) of the
                           published TextNAS architecture with bench/ref/textnas_step.py's model
                           and batch (H 256, E 300, L 64, batch 128, vocabulary 20,000)
  inception                the FID Inception-v3 forward (tests/ref/fid_inception.py, eval mode,
                           no_grad) of --inc-batch (100) RGB 32x32 images from host memory to
                           pool3 features and logits back in host memory, as pytorch-fid runs it
timed the same way: best of --iters steps after a warm-up, torch.cuda.synchronize() at the end of
each step. Prints
    BENCH key=CASE device=D ms=<best> peak_gpu_mb=<torch.cuda.max_memory_allocated> status=ok
and each step's loss on stderr. TF32 is off (torch.backends.*.allow_tf32 = False) to match
nasgan's default FP32 products. The size options are steps.c's (small runs for checks)."""
import argparse, os, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.normpath(os.path.join(HERE, '..', '..', 'tests', 'ref')))
import textnas_step as tn  # noqa: E402
from fid_inception import FIDInception  # noqa: E402

C, B, LAT, BW = 256, 64, 128, 4


class SepConv(nn.Module):
    def __init__(self, k):
        super().__init__()
        p = k // 2
        self.op = nn.Sequential(
            nn.ReLU(), nn.Conv2d(C, C, k, 1, p, groups=C, bias=False), nn.Conv2d(C, C, 1, bias=False), nn.BatchNorm2d(C, affine=False),
            nn.ReLU(), nn.Conv2d(C, C, k, 1, p, groups=C, bias=False), nn.Conv2d(C, C, 1, bias=False), nn.BatchNorm2d(C, affine=False))

    def forward(self, x):
        return self.op(x)


class MixedNormal(nn.Module):
    def __init__(self):
        super().__init__()
        self.ops = nn.ModuleList([nn.Sequential(nn.ReLU(), nn.Conv2d(C, C, k, 1, k // 2)) for k in (1, 3, 5)] + [SepConv(k) for k in (3, 5, 7)])

    def forward(self, x, w):
        return sum(wk * op(x) for wk, op in zip(w, self.ops))


class MixedUp(nn.Module):
    def __init__(self):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(C, C, 2, 2)

    def forward(self, x, w, times=1):
        outs = []
        for k in range(3):
            y = x
            for _ in range(times):
                y = self.deconv(y) if k == 0 else F.interpolate(y, scale_factor=2, mode='nearest' if k == 1 else 'bilinear', align_corners=None if k == 1 else False)
            outs.append(w[k] * y)
        return sum(outs)


class Cell(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.ModuleList([MixedUp(), MixedUp()])
        self.normal = nn.ModuleList([MixedNormal() for _ in range(3)])

    def forward(self, x, a_up, a_n, skips=()):
        n1 = self.up[0](x, F.softmax(a_up[0], -1))
        n3 = self.up[1](x, F.softmax(a_up[1], -1))
        n2 = self.normal[0](n1, F.softmax(a_n[0], -1))
        n4 = self.normal[1](n2, F.softmax(a_n[1], -1)) + self.normal[2](n3, F.softmax(a_n[2], -1))
        for s in skips:
            n4 = n4 + s
        return n1, n4


class G(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(LAT, BW * BW * C)
        self.cells = nn.ModuleList([Cell() for _ in range(3)])
        self.skip2 = MixedUp()
        self.skip3 = nn.ModuleList([MixedUp(), MixedUp()])
        self.to_rgb = nn.Sequential(nn.BatchNorm2d(C), nn.ReLU(), nn.Conv2d(C, 3, 3, 1, 1), nn.Tanh())
        self.a_normal = [nn.Parameter(1e-3 * torch.randn(3, 6)) for _ in range(3)]
        self.a_up = [nn.Parameter(1e-3 * torch.randn(2, 3)) for _ in range(3)]
        self.a_skip2 = nn.Parameter(1e-3 * torch.randn(1, 3))
        self.a_skip3 = nn.Parameter(1e-3 * torch.randn(2, 3))

    def alphas(self):
        return self.a_normal + self.a_up + [self.a_skip2, self.a_skip3]

    def forward(self, z):
        h = self.l1(z).view(-1, C, BW, BW)
        c1_n1, h = self.cells[0](h, self.a_up[0], self.a_normal[0])
        s2 = self.skip2(c1_n1, F.softmax(self.a_skip2[0], -1))
        c2_n1, h = self.cells[1](h, self.a_up[1], self.a_normal[1], (s2,))
        s30 = self.skip3[0](c1_n1, F.softmax(self.a_skip3[0], -1), times=2)
        s31 = self.skip3[1](c2_n1, F.softmax(self.a_skip3[1], -1))
        _, h = self.cells[2](h, self.a_up[2], self.a_normal[2], (s30, s31))
        return self.to_rgb(h)


SN = nn.utils.spectral_norm


class DBlock(nn.Module):
    def __init__(self, cin, cout, down, first=False):
        super().__init__()
        self.c1, self.c2 = SN(nn.Conv2d(cin, cout, 3, 1, 1)), SN(nn.Conv2d(cout, cout, 3, 1, 1))
        self.down, self.first = down, first
        self.sc = SN(nn.Conv2d(cin, cout, 1)) if (cin != cout or down) else None

    def forward(self, x):
        h = x if self.first else F.relu(x)
        h = self.c2(F.relu(self.c1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.first:
            s = self.sc(F.avg_pool2d(x, 2))
        elif self.sc is not None:
            s = self.sc(x)
            s = F.avg_pool2d(s, 2) if self.down else s
        else:
            s = x
        return h + s


class D(nn.Module):
    def __init__(self, df=128):
        super().__init__()
        self.blocks = nn.Sequential(DBlock(3, df, True, True), DBlock(df, df, True), DBlock(df, df, False), DBlock(df, df, False))
        self.l5 = SN(nn.Linear(df, 1, bias=False))

    def forward(self, x):
        return self.l5(F.relu(self.blocks(x)).sum(dim=(2, 3)))


def sync(dev):
    if dev.type == 'cuda':
        torch.cuda.synchronize()


PROFILE = False   # --profile


def self_time_us(e, dev):
    """an averaged profiler event's own time on the device (CUDA kernels it launched; its CPU
    time with --device cpu), in microseconds; the attribute's name changed in torch 2.4"""
    if dev.type != 'cuda':
        return e.self_cpu_time_total
    for name in ('self_device_time_total', 'self_cuda_time_total'):
        v = getattr(e, name, None)
        if v is not None:
            return v
    return 0


def profile_step(key, dev, step):
    """one more step under torch.profiler, printed as steps.c's --profile prints its kernels:
    the aten ops with the most own device time (99% of it, at most 20 rows), then the step"""
    try:
        from torch.profiler import profile, ProfilerActivity
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == 'cuda' else [])
        sync(dev)
        with profile(activities=acts) as prof:
            t0 = time.perf_counter()
            step()
            sync(dev)
            dt = time.perf_counter() - t0
        # host-side ops only: kernel events would count their time a second time
        rows = sorted(((self_time_us(e, dev), e.key, e.count) for e in prof.key_averages()
                       if str(getattr(e, 'device_type', 'CPU')).endswith('CPU')), reverse=True)
        rows = [r for r in rows if r[0] > 0]
    except Exception as ex:   # the profiler is a diagnostic: never lose the benchmark to it
        print(f'PROFILE key={key} op=all pass=step status=failed reason="{type(ex).__name__}: {ex}"', flush=True)
        return
    total = sum(r[0] for r in rows)
    shown = 0.0
    for us, name, count in rows[:20]:
        if shown >= 0.99 * total:
            break
        shown += us
        print(f'PROFILE key={key} op={name.replace(" ", "_")} pass=torch ms={us / 1e3:.3f} calls={count} '
              f'share={100.0 * us / total:.1f}%')
    print(f'PROFILE key={key} op=all pass=step ms={dt * 1e3:.3f} kernels_ms={total / 1e3:.3f}', flush=True)


def timed(key, dev, iters, step):
    """best of iters calls of step() (returns the loss) after one warm-up; prints the BENCH line"""
    if dev.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    best = 1e30
    for it in range(iters + 1):
        t0 = time.perf_counter()
        loss = step()
        sync(dev)
        dt = time.perf_counter() - t0
        print(f'{key} step {it}: {dt * 1e3:.2f} ms, loss {loss.item():.7f}', file=sys.stderr)
        if it >= 1:
            best = min(best, dt)
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == 'cuda' else 0
    if PROFILE and key != 'inception':
        profile_step(key, dev, step)
    print(f'BENCH key={key} device={dev.type} ms={best * 1e3:.2f} peak_gpu_mb={peak:.0f} status=ok', flush=True)


def run_alphagan(key, dev, iters, g, d, z, x):
    def step():
        params = list(d.parameters()) if key == 'alphagan_D' else list(g.parameters()) if key == 'alphagan_G' else g.alphas()
        if key == 'alphagan_D':
            loss = F.relu(1 - d(x)).mean() + F.relu(1 + d(g(z).detach())).mean()
        else:
            loss = -d(g(z)).mean()
        torch.autograd.grad(loss, params)
        return loss.detach()
    timed(key, dev, iters, step)


def run_textnas(a, dev):
    torch.manual_seed(1)
    ids, lens, labels = tn.make_batch(a.text_batch, a.text_len, a.text_vocab, dev)
    net = tn.Net(a.text_vocab, a.text_embed, a.text_hidden).to(dev).train()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3, eps=1e-3, weight_decay=1e-6)

    def step():
        loss = F.cross_entropy(net(ids, lens), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()
    timed('textnas', dev, a.iters, step)


def run_inception(a, dev):
    torch.manual_seed(1)
    net = FIDInception().to(dev).eval()
    x = torch.rand(a.inc_batch, 3, 32, 32) * 2 - 1

    def step():
        with torch.no_grad():
            pool3, logits = net(x.to(dev))
            pool3, logits = pool3.cpu(), logits.cpu()
        return pool3.sum()
    timed('inception', dev, a.iters, step)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--iters', type=int, default=5)
    ap.add_argument('--width', type=int, default=256, help="the generator's width")
    ap.add_argument('--disc-width', type=int, default=128, help="the discriminator's width")
    ap.add_argument('--gan-batch', type=int, default=64)
    ap.add_argument('--text-hidden', type=int, default=tn.H)
    ap.add_argument('--text-len', type=int, default=tn.LEN)
    ap.add_argument('--text-batch', type=int, default=tn.N)
    ap.add_argument('--text-vocab', type=int, default=tn.V)
    ap.add_argument('--text-embed', type=int, default=tn.E)
    ap.add_argument('--inc-batch', type=int, default=100)
    ap.add_argument('--list', action='store_true')
    ap.add_argument('--profile', action='store_true', help='after the timed steps, one more under torch.profiler '
                    '(alphaGAN and TextNAS cases): PROFILE lines of the aten ops with the most device time')
    ap.add_argument('cases', nargs='*')
    a = ap.parse_args()
    keys = ['alphagan_D', 'alphagan_G', 'alphagan_arch', 'textnas', 'inception']
    if a.list:
        print('\n'.join(keys))
        return
    global C, B, PROFILE
    C, B, PROFILE = a.width, a.gan_batch, a.profile
    dev = torch.device(a.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f'torch {torch.__version__}, device {dev}' + (f' ({torch.cuda.get_device_name(0)})' if dev.type == 'cuda' else ''), file=sys.stderr)
    gan = None
    for key in (a.cases or keys):
        if key == 'textnas':
            run_textnas(a, dev)
            continue
        if key == 'inception':
            run_inception(a, dev)
            continue
        if gan is None:   # built once, for the alphaGAN cases only
            torch.manual_seed(1)
            g, d = G().to(dev), D(a.disc_width).to(dev)
            for p in g.alphas():
                p.data = p.data.to(dev)
            gan = (g, d, torch.randn(B, LAT, device=dev), torch.rand(B, 3, 32, 32, device=dev) * 2 - 1)
        run_alphagan(key, dev, a.iters, *gan)


if __name__ == '__main__':
    main()
