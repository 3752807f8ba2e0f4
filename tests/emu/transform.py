#!/usr/bin/env python3
"""Turns CUDA kernel sources into host C++ for the emulator in tests/emu/emu.h.

    transform.py SOURCE_ROOT OUTPUT [TARGET]
TARGET (default attention) is one of
  attention    kernels/cuda/attention.cu          -> tests/emu/emulated_attention.cpp
  rows         kernels/cuda/rows.cu               -> tests/emu/emulated_rows.cpp
  elementwise  kernels/cuda/elementwise.cu        -> tests/emu/emulated_elementwise.cpp
  decode       kernels/cuda/attention_decode.cu   -> tests/emu/emulated_decode.cpp
  bias_gelu    kernels/cuda/bias_gelu.cu          -> tests/emu/emulated_bias_gelu.cpp
  bf16         kernels/cuda/bf16.cu               -> tests/emu/emulated_bf16.cpp
  matmul_bias  add_bias_kernel, add_bias and bias_grad (linear_backward's dbias, through
               kernels/cuda/column_sums.cuh) of kernels/cuda/matmul.cu (the cuBLAS GEMMs around
               them cannot be emulated) -> emulated_matmul_bias.cpp
It reads the source, inlines the kernels/cuda/*.cuh it includes (common.cuh too), and
writes OUTPUT, which that translation unit includes after emu.h. The rewrites:
  - the PTX wrappers (ldmatrix, mma, cp.async, ex2) are dropped: emu.h defines them;
  - common.cuh's stream() is dropped: emu.h's returns a null stream;
  - extern __shared__ arrays point at the emulated block's dynamic shared memory;
  - static `__shared__ T a[..][..], b[..];` become function-local statics, filled with NaN
    bytes by the first thread of each block to reach them (emu::static_shared);
  - kernel<<<grid, block, smem, stream>>>(args) becomes emu::launch(grid, block, smem, ...);
  - Device::cuda becomes Device::cpu (tables and staged arrays live in host memory);
  - namespace alibi::cuda becomes alibi::cuda_emu, so the real backend can link beside it;
  - `#pragma unroll` lines are emptied (g++ warns about them).
Line numbers are kept (#line, and every rewrite keeps its newlines), so compiler errors and
debuggers point at the kernel sources. Every rewrite must find what it expects: when a
kernel edit breaks one, this script exits non-zero naming the pattern, and the build (hence
the test) fails.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^#include "(kernels/cuda/[\w.]+\.cuh)"[ \t]*$', re.M)
# Functions defined with inline PTX (or helpers of it) that emu.h defines instead.
PTX_WRAPPERS = ['smem_address', 'ldmatrix_x4', 'ldmatrix_x4_trans', 'mma_16816', 'cp_async_16',
                'cp_async_commit', 'cp_async_wait', 'fast_exp2']
# The runtime calls emu.h emulates; any other is an error here rather than in the compiler.
RUNTIME_CALLS = {'cudaMemcpyAsync', 'cudaMemsetAsync', 'cudaGetLastError', 'cudaGetErrorString',
                 'cudaFuncSetAttribute'}
# TARGET: (the source it reads, the PTX wrappers it must define, whether it has extern __shared__)
TARGETS = {
    'attention': ('kernels/cuda/attention.cu', PTX_WRAPPERS, True),
    'rows': ('kernels/cuda/rows.cu', [], False),
    'elementwise': ('kernels/cuda/elementwise.cu', [], False),
    'decode': ('kernels/cuda/attention_decode.cu', [], False),
    'matmul_bias': ('kernels/cuda/matmul.cu', [], False),
    'bias_gelu': ('kernels/cuda/bias_gelu.cu', [], False),
    'bf16': ('kernels/cuda/bf16.cu', [], False),
}
WHAT = 'the kernel sources'  # set by transform() to the source being read, for messages


class TransformError(Exception):
    pass


def require(cond, message):
    if not cond:
        raise TransformError(message)


def blank(text):
    """Text of the same line count, nothing else: a rewrite keeps the lines below in place."""
    return '\n' * text.count('\n')


def read_inlined(root, path, seen, text=None):
    """path (or text, read from there) with the kernels/cuda/*.cuh it includes inlined (each
    once), and #line marks."""
    if text is None:
        with open(os.path.join(root, path)) as f:
            text = f.read()
    text = re.sub(r'^#pragma once[ \t]*$', '', text, flags=re.M)
    out, pos = [f'#line 1 "{path}"\n'], 0
    for m in INCLUDE.finditer(text):
        header = m.group(1)
        out.append(text[pos:m.start()])
        pos = m.end()
        if header in seen:
            continue
        seen.add(header)
        require(os.path.exists(os.path.join(root, header)), f'{path} includes {header}, which does not exist')
        inlined = read_inlined(root, header, seen)
        out.append(inlined if inlined.endswith('\n') else inlined + '\n')
        out.append(f'#line {text.count(chr(10), 0, m.end()) + 2} "{path}"')  # the line after the #include
    out.append(text[pos:])
    return ''.join(out)


def matching(text, i, open_ch, close_ch):
    """Index of the close_ch that closes the open_ch at text[i]."""
    require(text[i] == open_ch, f'expected {open_ch!r} at offset {i}')
    depth = 0
    for k in range(i, len(text)):
        if text[k] == open_ch:
            depth += 1
        elif text[k] == close_ch:
            depth -= 1
            if depth == 0:
                return k
    raise TransformError(f'unbalanced {open_ch}{close_ch} from offset {i}')


def drop_function(text, name):
    """Removes the definition of __device__ function `name` (and its template line)."""
    pattern = re.compile(r'^(template\s*<[^>\n]*>[^\n]*\n)?__device__\b[^;{(]*\b' + name + r'\s*\(', re.M)
    found = list(pattern.finditer(text))
    require(len(found) == 1, f'expected one definition of the PTX wrapper `__device__ ... {name}(` in '
                             f'{WHAT}, found {len(found)}: update tests/emu/transform.py '
                             f'(PTX_WRAPPERS) and its emulation in tests/emu/emu.h')
    start = found[0].start()
    body_end = matching(text, text.index('{', found[0].end()), '{', '}')
    return text[:start] + blank(text[start:body_end + 1]) + text[body_end + 1:]


def split_top_level(s):
    parts, depth, cur = [], 0, ''
    for ch in s:
        depth += ch in '([{<'
        depth -= ch in ')]}>'
        if ch == ',' and depth == 0:
            parts.append(cur)
            cur = ''
        else:
            cur += ch
    return parts + [cur]


def rewrite_launches(text):
    """NAME<<<grid, block[, smem[, stream]]>>>(args); -> emu::launch(grid, block, smem, lambda)."""
    out, pos, count = [], 0, 0
    while (i := text.find('<<<', pos)) >= 0:
        where = f'line {text.count(chr(10), 0, i) + 1} of the inlined source'
        # The kernel expression starts a line or follows ; { or }: `kernel<<<`, `kernel<T><<<`.
        window = max(0, i - 300)
        m = re.search(r'[;{}\n][ \t]*([\w:]+(?:\s*<[\w:, ]*>)?)\s*$', text[window:i])
        require(m is not None, f'launch at {where}: expected `kernel<<<` or `kernel<T, ...><<<` starting a '
                               f'statement, found {text[max(0, i - 60):i]!r}: update tests/emu/transform.py')
        lead = window + m.start(1)
        kernel = m.group(1).strip()
        close = text.find('>>>', i)
        require(close >= 0, f'launch at {where}: no closing >>>')
        config = [c.strip() for c in split_top_level(text[i + 3:close])]
        require(2 <= len(config) <= 4, f'launch at {where}: expected <<<grid, block, smem, stream>>>')
        smem = config[2] if len(config) > 2 else '0'
        args_open = close + 3
        require(text[args_open] == '(', f'launch at {where}: expected ( right after >>>')
        args_close = matching(text, args_open, '(', ')')
        require(text[args_close + 1] == ';', f'launch at {where}: expected ; after the arguments')
        replaced = text[lead:args_close + 2]
        args = ' '.join(text[args_open + 1:args_close].split())
        out.append(text[pos:lead])
        out.append(f'emu::launch(dim3({config[0]}), dim3({config[1]}), {smem}, [&] {{ {kernel}({args}); }});'
                   + blank(replaced))
        pos = args_close + 2
        count += 1
    out.append(text[pos:])
    require(count > 0, f'found no kernel launch (<<<...>>>) in {WHAT}')
    return ''.join(out)


def substitute(text, pattern, replacement, what, flags=0, required=True):
    new, n = re.subn(pattern, replacement, text, flags=flags)
    require(n > 0 or not required, f'expected {what} (pattern {pattern!r}) in {WHAT}: '
                                   f'update tests/emu/transform.py')
    return new


def static_shared(m):
    """`__shared__ T a[4][33], b[8];` -> static arrays, each registered with emu::static_shared."""
    align, type_, declarators = m.group(1) or '', m.group(2), split_top_level(m.group(3))
    names = []
    for d in declarators:
        dm = re.fullmatch(r'\s*(\w+)\s*(?:\[[^\]\n]+\]\s*)+', d)
        require(dm is not None, f'static __shared__ declarator {d.strip()!r} in {WHAT} is not `name[size]...` '
                                f'(initialisers and scalars are not emulated): update tests/emu/transform.py')
        names.append(dm.group(1))
    decl = f'{align}static {type_} {", ".join(d.strip() for d in declarators)};'
    marks = ' '.join(f'emu::static_shared({n}, sizeof({n}));' for n in names)
    return f'{decl} {marks}' + blank(m.group(0))


def extract(text, pattern, what, path):
    """(line, text) of the one definition or statement `pattern` starts: through its closing
    brace, or for a launch through its `;`."""
    found = list(re.finditer(pattern, text, re.M))
    require(len(found) == 1, f'expected one {what} (pattern {pattern!r}) in {path}, found {len(found)}: '
                             f'update tests/emu/transform.py (matmul_bias)')
    start = found[0].start()
    if '<<<' in pattern:
        args_open = text.index('>>>', start) + 3
        end = matching(text, args_open, '(', ')') + 1
        require(text[end] == ';', f'expected ; after the {what} in {path}')
    else:
        end = matching(text, text.index('{', found[0].end()), '{', '}')
    return text.count('\n', 0, start) + 1, text[start:end + 1]


def matmul_bias_source(root, path):
    """The bias kernels of matmul.cu and the host code that launches them, with the headers."""
    with open(os.path.join(root, path)) as f:
        text = f.read()
    kernel = extract(text, r'^__global__ void add_bias_kernel\(', 'kernel `__global__ void add_bias_kernel(`', path)
    hosts = [extract(text, r'^void add_bias\(', 'host function `void add_bias(`', path),
             extract(text, r'^void bias_grad\(', 'host function `void bias_grad(` (linear_backward\'s dbias)', path)]
    mark = lambda piece: f'#line {piece[0]} "{path}"\n{piece[1]}\n'
    return ('#include "kernels/cuda/common.cuh"\n#include "kernels/cuda/column_sums.cuh"\n'
            '#include "kernels/cuda/ops.h"\nnamespace alibi::cuda {\nnamespace {\n' + mark(kernel)
            + '}  // namespace\n' + ''.join(mark(h) for h in hosts) + '}  // namespace alibi::cuda\n')


def transform(root, target='attention'):
    global WHAT
    main, ptx_wrappers, has_extern_shared = TARGETS[target]
    WHAT = f'{main} (with what it includes)'
    if target == 'matmul_bias':
        text = read_inlined(root, main, set(), matmul_bias_source(root, main))
    else:
        text = read_inlined(root, main, set())
    require('#line 1 "kernels/cuda/common.cuh"' in text, f'{main} does not include kernels/cuda/common.cuh: '
                                                         f'update tests/emu/transform.py and tests/emu/emu.h')
    for header in ('cuda_bf16.h', 'cuda_runtime.h'):
        text = re.sub(r'^#include <' + re.escape(header) + r'>[ \t]*$', '', text, flags=re.M)
    text = re.sub(r'^[ \t]*#pragma unroll\b[^\n]*', '', text, flags=re.M)  # nvcc's; g++ would warn
    for name in ptx_wrappers:
        text = drop_function(text, name)
    text = substitute(text, r'^inline cudaStream_t stream\(\)\s*\{[^{}]*\}', lambda m: blank(m.group(0)), 'common.cuh\'s '
                      '`inline cudaStream_t stream() { ... }` (emu.h defines a null one)', flags=re.M)
    text = substitute(text, r'\bextern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([\w:]+(?:\s+[\w:]+)*?)\s+(\w+)\s*\[\s*\]\s*;',
                      r'\1* \2 = reinterpret_cast<\1*>(emu::shared_mem());', 'extern __shared__ arrays',
                      required=has_extern_shared)
    text = substitute(text, r'\b__shared__\s+(__align__\(\d+\)\s+)?([\w:]+)\s+([^;]+);', static_shared,
                      'static __shared__ arrays (common.cuh\'s block_sum has one)')
    text = substitute(text, r'\bnamespace alibi::cuda\s*\{', 'namespace alibi::cuda_emu {',
                      '`namespace alibi::cuda {`')
    text = substitute(text, r'\bDevice::cuda\b', 'Device::cpu', 'Device::cuda', required=target not in ('matmul_bias', 'bias_gelu', 'bf16'))
    text = rewrite_launches(text)

    code = re.sub(r'//[^\n]*', '', text)  # what the compiler will see, roughly
    line = lambda m: code.count(chr(10), 0, m.start()) + 1
    for construct, why in ((r'\basm\b', 'inline PTX outside the known wrappers (PTX_WRAPPERS)'),
                           (r'__shared__', 'a __shared__ declaration the rewrites above did not recognise')):
        m = re.search(construct, code)
        require(m is None, f'line {line(m) if m else 0} of the inlined {main} has {why}: extend '
                           f'tests/emu/emu.h and tests/emu/transform.py')
    for m in re.finditer(r'\b(cuda[A-Z]\w*)\s*\(', code):
        require(m.group(1) in RUNTIME_CALLS, f'line {line(m)} of the inlined {main} calls {m.group(1)}, which '
                                             f'tests/emu/emu.h does not emulate: add it there and to RUNTIME_CALLS')
    return text


def main():
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] not in TARGETS):
        sys.exit(f'usage: transform.py SOURCE_ROOT OUTPUT [{"|".join(TARGETS)}]')
    root, output = sys.argv[1], sys.argv[2]
    target = sys.argv[3] if len(sys.argv) == 4 else 'attention'
    try:
        text = transform(root, target)
    except (TransformError, OSError) as e:
        sys.exit(f'tests/emu/transform.py ({target}): {e}')
    header = (f'// Generated by tests/emu/transform.py ({target}) from {TARGETS[target][0]} under '
              f'{os.path.abspath(root)}: do not edit.\n')
    tmp = output + '.tmp'
    with open(tmp, 'w') as f:
        f.write(header + text)
    os.replace(tmp, output)


if __name__ == '__main__':
    main()
