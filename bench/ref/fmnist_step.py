"""PyTorch twin of bench/fmnist_step.c: one training step of the Fashion-MNIST CNN.
Run with Debian's python3 (torch 1.13): /usr/bin/python3 bench/ref/fmnist_step.py CASE"""
import resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.conv2, self.bn2 = nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64)
        self.fc1, self.fc2 = nn.Linear(64 * 7 * 7, 128), nn.Linear(128, 10)
    def forward(self, x):
        x = F.avg_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.avg_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(F.dropout(x, 0.3, self.training))

def main():
    if sys.argv[1:] == ["--list"]:
        print("fmnist_train_step_b128"); return
    case = sys.argv[1]
    assert case == "fmnist_train_step_b128", case
    torch.manual_seed(1)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    x = torch.rand(128, 1, 28, 28) * 2 - 1
    y = torch.randint(0, 10, (128,))
    best = 1e30
    for it in range(13):
        t0 = time.perf_counter()
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if it >= 3:
            best = min(best, dt)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"BENCH key={case} ms={best * 1e3:.3f} peak_mb={peak:.1f}")

if __name__ == "__main__":
    main()
