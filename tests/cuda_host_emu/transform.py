# nasgan_cuda.cu -> C++ for the host emulation: every `k<<<grid, block, 0, s>>>(args);` becomes
# `emu_launch(grid, block, [&] { k(args); });`.
import re, sys
src = open(sys.argv[1]).read()
def split_top(s):
    out, depth, cur = [], 0, ''
    for ch in s:
        if ch in '([': depth += 1
        if ch in ')]': depth -= 1
        if ch == ',' and depth == 0: out.append(cur.strip()); cur = ''
        else: cur += ch
    out.append(cur.strip())
    return out
pat = re.compile(r'(\w+(?:<[^<>;]*>)?)<<<(.*?)>>>\((.*?)\);', re.S)
def rep(m):
    cfg = split_top(m.group(2))
    return 'emu_launch(%s, %s, [&] { %s(%s); });' % (cfg[0], cfg[1], m.group(1), m.group(3))
out, n = pat.subn(rep, src)
sys.stderr.write('%d launches rewritten\n' % n)
open(sys.argv[2], 'w').write(out)
