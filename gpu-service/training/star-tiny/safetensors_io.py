"""Reads and writes the safetensors format (an 8-byte little-endian header
length, a JSON header, then raw little-endian tensor bytes) with numpy only,
so the trainer needs nothing beyond Debian's python3-torch and python3-numpy."""
import json
import struct

import numpy as np

DTYPES = {'F32': np.float32, 'I64': np.int64, 'I32': np.int32, 'U8': np.uint8}
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


def read(path):
    """Returns ({name: ndarray}, metadata dict)."""
    with open(path, 'rb') as f:
        data = f.read()
    (size,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + size])
    base = 8 + size
    meta = header.pop('__metadata__', {})
    out = {}
    for name, t in header.items():
        start, end = t['data_offsets']
        out[name] = np.frombuffer(data[base + start:base + end], dtype=DTYPES[t['dtype']]).reshape(t['shape']).copy()
    return out, meta


def write(path, tensors, metadata=None):
    """tensors: {name: ndarray} written in sorted name order."""
    header = {}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        raw = arr.astype(arr.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': NAMES[arr.dtype], 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
