#!/usr/bin/env python3
"""Turns the CUDA attention kernels into host C++ for the emulator in tests/emu/emu.h.

    transform.py SOURCE_ROOT OUTPUT
reads SOURCE_ROOT/kernels/cuda/attention.cu, inlines the kernels/cuda/*.cuh it includes
(common.cuh excepted: emu.h stands in for it), and writes OUTPUT, which
tests/emu/emulated_attention.cpp includes after emu.h. The rewrites:
  - the PTX wrappers (ldmatrix, mma, cp.async, ex2) are dropped: emu.h defines them;
  - extern __shared__ arrays point at the emulated block's dynamic shared memory;
  - kernel<<<grid, block, smem, stream>>>(args) becomes emu::launch(grid, block, smem, ...);
  - Device::cuda becomes Device::cpu (the per-call tables live in host memory);
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

MAIN = 'kernels/cuda/attention.cu'
INCLUDE = re.compile(r'^#include "(kernels/cuda/[\w.]+\.cuh)"[ \t]*$', re.M)
# Functions defined with inline PTX (or helpers of it) that emu.h defines instead.
PTX_WRAPPERS = ['smem_address', 'ldmatrix_x4', 'ldmatrix_x4_trans', 'mma_16816', 'cp_async_16',
                'cp_async_commit', 'cp_async_wait', 'fast_exp2']


class TransformError(Exception):
    pass


def require(cond, message):
    if not cond:
        raise TransformError(message)


def blank(text):
    """Text of the same line count, nothing else: a rewrite keeps the lines below in place."""
    return '\n' * text.count('\n')


def read_inlined(root, path, seen):
    """path with the kernels/cuda/*.cuh it includes inlined (each once), and #line marks."""
    with open(os.path.join(root, path)) as f:
        text = f.read()
    text = re.sub(r'^#pragma once[ \t]*$', '', text, flags=re.M)
    out, pos = [f'#line 1 "{path}"\n'], 0
    for m in INCLUDE.finditer(text):
        header = m.group(1)
        out.append(text[pos:m.start()])
        pos = m.end()
        if header == 'kernels/cuda/common.cuh' or header in seen:
            continue  # emu.h stands in for common.cuh
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
    require(len(found) == 1, f'expected one definition of the PTX wrapper `__device__ ... {name}(` in the '
                             f'attention kernel sources, found {len(found)}: update tests/emu/transform.py '
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
    require(count > 0, 'found no kernel launch (<<<...>>>) in the attention sources')
    return ''.join(out)


def substitute(text, pattern, replacement, what, flags=0):
    new, n = re.subn(pattern, replacement, text, flags=flags)
    require(n > 0, f'expected {what} (pattern {pattern!r}) in the attention kernel sources: '
                   f'update tests/emu/transform.py')
    return new


def transform(root):
    text = read_inlined(root, MAIN, set())
    for header in ('cuda_bf16.h', 'cuda_runtime.h'):
        text = re.sub(r'^#include <' + re.escape(header) + r'>[ \t]*$', '', text, flags=re.M)
    text = re.sub(r'^[ \t]*#pragma unroll\b[^\n]*', '', text, flags=re.M)  # nvcc's; g++ would warn
    for name in PTX_WRAPPERS:
        text = drop_function(text, name)
    text = substitute(text, r'\bextern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([\w:]+(?:\s+[\w:]+)*?)\s+(\w+)\s*\[\s*\]\s*;',
                      r'\1* \2 = reinterpret_cast<\1*>(emu::shared_mem());', 'extern __shared__ arrays')
    text = substitute(text, r'\bnamespace alibi::cuda\s*\{', 'namespace alibi::cuda_emu {',
                      '`namespace alibi::cuda {`')
    text = substitute(text, r'\bDevice::cuda\b', 'Device::cpu', 'Device::cuda')
    text = rewrite_launches(text)

    code = re.sub(r'//[^\n]*', '', text)  # what the compiler will see, roughly
    while (m := re.search(r'\bALIBI_CUDA_CHECK\s*\(', code)):  # emu.h drops these calls whole
        end = matching(code, m.end() - 1, '(', ')')
        code = code[:m.start()] + blank(code[m.start():end + 1]) + code[end + 1:]
    for construct, why in ((r'\basm\b', 'inline PTX outside the known wrappers (PTX_WRAPPERS)'),
                           (r'__shared__', 'static __shared__ arrays, which emu.h does not emulate'),
                           (r'\bcuda[A-Z]\w*\s*\(', 'a CUDA runtime call outside ALIBI_CUDA_CHECK')):
        m = re.search(construct, code)
        require(m is None, f'line {code.count(chr(10), 0, m.start()) + 1 if m else 0} of the inlined attention '
                           f'source has {why}: extend tests/emu/emu.h and tests/emu/transform.py')
    return text


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: transform.py SOURCE_ROOT OUTPUT')
    root, output = sys.argv[1], sys.argv[2]
    try:
        text = transform(root)
    except (TransformError, OSError) as e:
        sys.exit(f'tests/emu/transform.py: {e}')
    header = (f'// Generated by tests/emu/transform.py from {MAIN} under {os.path.abspath(root)}: do not edit.\n')
    tmp = output + '.tmp'
    with open(tmp, 'w') as f:
        f.write(header + text)
    os.replace(tmp, output)


if __name__ == '__main__':
    main()
