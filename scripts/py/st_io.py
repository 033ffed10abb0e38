#!/usr/bin/env python3
"""Minimal safetensors reader/writer in pure Python + torch (no `safetensors` package needed).

Run the self-test:   /usr/bin/python3 scripts/py/st_io.py selftest
Dump a file:         /usr/bin/python3 scripts/py/st_io.py dump PATH
Copy (re-save) file: /usr/bin/python3 scripts/py/st_io.py copy SRC DST   (used by the TS tests)
Import:              sys.path.insert(0, 'scripts/py'); from st_io import save_file, load_file

Format (Hugging Face safetensors): 8-byte little-endian u64 header length N, N bytes of UTF-8
JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}},
then the raw little-endian data (offsets relative to the data start). The header is padded with
spaces to 8-byte alignment. Tensors are laid out as the reference library does: by dtype rank
(I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL), then by name. Works on torch 1.13 and 2.x.
"""
import json
import os
import struct
import sys

import torch

_DTYPES = {
    'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
    'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8,
    'U8': torch.uint8, 'BOOL': torch.bool,
}
_NAMES = {v: k for k, v in _DTYPES.items()}
_SIZE = {'F64': 8, 'F32': 4, 'F16': 2, 'BF16': 2, 'I64': 8, 'I32': 4, 'I16': 2, 'I8': 1, 'U8': 1, 'BOOL': 1}
_RANK = {'BOOL': 0, 'U8': 1, 'I8': 2, 'I16': 5, 'F16': 7, 'BF16': 8, 'I32': 9, 'F32': 11, 'F64': 12, 'I64': 13}
_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    pass


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _tensor_bytes(t):
    t = t.detach().to('cpu').contiguous()
    if t.numel() == 0:
        return b''
    # view as uint8 keeps the raw little-endian bytes for every dtype (incl. bf16 / bool)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return t.reshape(-1).view(torch.uint8).numpy().tobytes()


def save_bytes(tensors, metadata=None):
    """Serialize {name: tensor} (+ optional {str: str} metadata) to safetensors bytes."""
    for k, v in tensors.items():
        if not isinstance(v, torch.Tensor):
            raise SafetensorsError(f'{k}: not a torch.Tensor')
        if v.dtype not in _NAMES:
            raise SafetensorsError(f'{k}: unsupported dtype {v.dtype}')
        if k == '__metadata__':
            raise SafetensorsError('tensor name "__metadata__" is reserved')
    names = sorted(tensors, key=lambda k: (-_RANK[_NAMES[tensors[k].dtype]], k))
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError('metadata must be {str: str}')
        header['__metadata__'] = dict(metadata)
    blobs = []
    off = 0
    for k in names:
        t = tensors[k]
        b = _tensor_bytes(t)
        header[k] = {'dtype': _NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)
    return struct.pack('<Q', len(h)) + h + b''.join(blobs)


def save_file(tensors, path, metadata=None):
    """Write {name: tensor} to `path` atomically (tmp file, fsync, rename)."""
    data = save_bytes(tensors, metadata)
    tmp = f'{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}'
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_bytes(buf, name='<bytes>'):
    """Parse safetensors bytes; returns ({name: tensor}, metadata). Validates strictly."""
    def fail(msg):
        raise SafetensorsError(f'safetensors file {name}: {msg}')
    if len(buf) < 8:
        fail(f'file is {len(buf)} bytes, shorter than the 8-byte header length')
    (n,) = struct.unpack('<Q', buf[:8])
    if n > _MAX_HEADER:
        fail(f'header length {n} is absurd')
    if 8 + n > len(buf):
        fail(f'header length {n} goes beyond the file size {len(buf)}')
    try:
        header = json.loads(bytes(buf[8:8 + n]).decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as e:
        fail(f'header is not valid UTF-8 JSON ({e})')
    if not isinstance(header, dict):
        fail('header is not a JSON object')
    metadata = header.pop('__metadata__', None) or {}
    data = memoryview(buf)[8 + n:]
    spans = []
    out = {}
    for k, info in header.items():
        dt = info.get('dtype') if isinstance(info, dict) else None
        if dt not in _DTYPES:
            fail(f'tensor "{k}": unknown dtype {dt!r}')
        shape = info.get('shape')
        b, e = info.get('data_offsets', [None, None])
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            fail(f'tensor "{k}": bad shape {shape!r}')
        if not (isinstance(b, int) and isinstance(e, int) and 0 <= b <= e <= len(data)):
            fail(f'tensor "{k}": data_offsets {[b, e]} out of range')
        if e - b != _numel(shape) * _SIZE[dt]:
            fail(f'tensor "{k}": {dt} shape {shape} does not match {e - b} bytes')
        spans.append((b, e, k))
        raw = bytearray(data[b:e])
        if dt == 'BOOL':
            t = torch.frombuffer(raw, dtype=torch.uint8).to(torch.bool) if raw else torch.empty(0, dtype=torch.bool)
        else:
            t = torch.frombuffer(raw, dtype=_DTYPES[dt]) if raw else torch.empty(0, dtype=_DTYPES[dt])
        out[k] = t.reshape(shape)
    pos = 0
    for b, e, k in sorted(spans):
        if b != pos:
            fail(f'tensor "{k}": data_offsets overlap or leave a gap at {pos}')
        pos = e
    if pos != len(data):
        fail(f'data section is {len(data)} bytes but tensors cover {pos}')
    return out, metadata


def load_file(path):
    """Read a safetensors file into {name: tensor} (CPU tensors)."""
    return load_file_with_metadata(path)[0]


def load_file_with_metadata(path):
    with open(path, 'rb') as f:
        buf = f.read()
    return load_bytes(buf, path)


def _selftest():
    import tempfile
    g = torch.Generator().manual_seed(0)
    ts = {
        'f32': torch.randn(3, 4, generator=g),
        'f64': torch.randn(2, 2, dtype=torch.float64, generator=g),
        'f16': torch.randn(5, generator=g).half(),
        'bf16': torch.randn(2, 3, generator=g).bfloat16(),
        'i64': torch.arange(-3, 3, dtype=torch.int64),
        'i32': torch.arange(6, dtype=torch.int32).reshape(2, 3),
        'i16': torch.tensor([-7, 7], dtype=torch.int16),
        'i8': torch.tensor([-128, 127, 0], dtype=torch.int8),
        'u8': torch.tensor([0, 255, 1], dtype=torch.uint8),
        'bool': torch.tensor([True, False, True]),
        'scalar': torch.tensor(3.5),
        'empty': torch.zeros(0, 3),
        'noncontig': torch.randn(4, 3, generator=g).t(),
    }
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, 'x.safetensors')
        save_file(ts, p, {'format': 'pt', 'k': 'v'})
        back, meta = load_file_with_metadata(p)
        assert meta == {'format': 'pt', 'k': 'v'}, meta
        assert set(back) == set(ts)
        for k, v in ts.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
            assert torch.equal(back[k], v), k
        with open(p, 'rb') as f:
            raw = f.read()
        (n,) = struct.unpack('<Q', raw[:8])
        assert (8 + n) % 8 == 0
        assert save_bytes(ts, {'format': 'pt', 'k': 'v'}) == raw, 'not deterministic'
        for bad in (raw[:5], raw[:-1], raw + b'\0', struct.pack('<Q', 10**12) + raw[8:]):
            try:
                load_bytes(bad, 'bad')
            except SafetensorsError:
                pass
            else:
                raise AssertionError('corrupt file accepted')
    print('st_io selftest OK')


def _main(argv):
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__)
        return 0
    cmd = argv[0]
    if cmd == 'selftest':
        _selftest()
    elif cmd == 'dump':
        ts, meta = load_file_with_metadata(argv[1])
        print(json.dumps({'metadata': meta, 'tensors': {
            k: {'dtype': _NAMES[v.dtype], 'shape': list(v.shape),
                'values': v.double().reshape(-1).tolist() if v.dtype != torch.bool else v.reshape(-1).tolist()}
            for k, v in ts.items()}}))
    elif cmd == 'copy':
        ts, meta = load_file_with_metadata(argv[1])
        save_file(ts, argv[2], meta)
    else:
        print(f'unknown command {cmd!r}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(_main(sys.argv[1:]))
