# nasgan_cuda.cu -> C++ for the host emulation: every `k<<<grid, block, 0, s>>>(args);` becomes
# `emu_launch(grid, block, [&] { k(args); });`, and every `__shared__ T a[..], b[..];` becomes
# `static T a[..], b[..]; EMU_SHARED(a); EMU_SHARED(b);` (filled with NaN bytes when a block
# first reaches it: a read of shared memory that no thread of the block wrote shows).
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
shared = re.compile(r'__shared__\s+(\w+)\s+([^;]*);')
def rep_shared(m):
    names = [re.match(r'\s*(\w+)', d).group(1) for d in split_top(m.group(2))]
    return 'static %s %s;%s' % (m.group(1), m.group(2), ''.join(' EMU_SHARED(%s);' % x for x in names))
out, ns = shared.subn(rep_shared, out)
sys.stderr.write('%d launches, %d shared declarations rewritten\n' % (n, ns))
open(sys.argv[2], 'w').write(out)
