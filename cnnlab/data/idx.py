"""Reading and writing the IDX format of the MNIST files, with errors that name the file.

IDX: a 4-byte magic (two zero bytes, a type code 0x08 for uint8, the number of dimensions),
one big-endian uint32 per dimension, then the data in C order.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from cnnlab.errors import DataError

UINT8_TYPE = 0x08


def read_file_bytes(path: Path) -> bytes:
    """The uncompressed bytes of `path` (gunzipped if it ends in .gz)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataError(
            f"{path} is truncated or is not a valid gzip file ({error}). "
            "Download it again or replace it with an intact copy."
        ) from None
    except OSError as error:
        raise DataError(f"{path} cannot be read: {error.strerror or error}.") from None


def parse_idx(data: bytes, path: Path) -> np.ndarray:
    """The uint8 array in `data`, the content of the IDX file `path`."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{path} is not an IDX file (it does not start with the IDX magic number); "
            "it may be corrupted or a different kind of file."
        )
    if data[2] != UINT8_TYPE:
        raise DataError(
            f"{path} holds IDX type code 0x{data[2]:02x}; cnnlab expects uint8 images and "
            "labels (0x08)."
        )
    ndim = data[3]
    if ndim == 0:
        # Checked on its own: with no dimensions the size check below expects no values and
        # can pass, and numpy then fails with an error that names no file.
        raise DataError(
            f"{path} is corrupted: its IDX header declares 0 dimensions, where images have 3 "
            "(count × rows × columns) and labels 1. Download it again or replace it with an "
            "intact copy."
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(f"{path} is truncated: it ends inside its IDX header.")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    expected = int(np.prod(shape, dtype=np.int64)) if shape else 0
    actual = len(data) - header_size
    if actual != expected:
        dims = "×".join(str(d) for d in shape)
        state = "is truncated" if actual < expected else "has trailing bytes"
        raise DataError(
            f"{path} {state}: its header declares {dims} = {expected:,} values but it holds "
            f"{actual:,}. Download it again or replace it with an intact copy."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array (used to checksum arrays that came from an .npz)."""
    header = bytes((0, 0, UINT8_TYPE, array.ndim)) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
