"""Open Inference Protocol tensors on the wire: JSON ``data`` and the binary tensor extension.

A request body is a JSON header, optionally followed by raw tensor bytes. When the request has an
``Inference-Header-Content-Length: N`` header, the first ``N`` bytes are the JSON and the rest
holds, in input order, the bytes of every input whose ``parameters.binary_data_size`` is set.
Fixed-size datatypes are laid out row-major, little-endian; ``BYTES`` tensors are a sequence of
elements, each a 4-byte little-endian length followed by that many bytes (what ``tritonclient``
sends). Responses use the same layout for outputs asked for in binary.

Every malformed request raises :class:`argus.errors.InvalidInputError` naming the problem.

Example:
    >>> header, binary = split_body(b'{"inputs": []}', None)
    >>> header, bytes(binary)
    ({'inputs': []}, b'')
    >>> deserialize_bytes(serialize_bytes([b"ab", b""]), "x")
    [b'ab', b'']
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from argus.errors import ImageTooLargeError, InvalidInputError

HEADER_LENGTH = "Inference-Header-Content-Length"

DATATYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8), "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32), "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8), "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32), "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16), "FP32": np.dtype(np.float32), "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(np.object_),
}
_NAMES = {(dtype.kind, dtype.itemsize): name for name, dtype in DATATYPES.items() if name != "BYTES"}
_LENGTH = struct.Struct("<I")

Wanted = list[tuple[str, bool]] | None
"""Requested outputs as ``(name, binary)``; None means every output."""
Output = tuple[str, np.ndarray, bool]
"""An output to send: name, value, in binary or not."""


MAX_DIMENSIONS = 8
"""Tensor ranks accepted (numpy stops at 64; image models use 4)."""


@dataclass
class Tensor:
    """One decoded request input."""

    name: str
    datatype: str
    shape: list[int]
    array: np.ndarray
    binary: bool
    parameters: dict[str, Any] = field(default_factory=dict)


def datatype_of(dtype: np.dtype) -> str:
    """The OIP datatype of a numpy dtype (strings and objects are ``BYTES``).

    Raises:
        InvalidInputError: for dtypes the protocol cannot carry (complex numbers, dates ...).
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "OSU":
        return "BYTES"
    name = _NAMES.get((dtype.kind, dtype.itemsize))
    if name is None:
        raise InvalidInputError(f"numpy dtype {dtype} has no Open Inference Protocol datatype.")
    return name


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo a ``Content-Encoding`` of gzip or deflate, refusing output beyond ``limit`` bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise InvalidInputError(f"Content-Encoding '{encoding}' is not supported; use gzip, deflate or none.")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # accepts gzip and zlib framing
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise InvalidInputError(f"The {encoding} body could not be decompressed ({error}).") from None
    if len(out) > limit:
        raise ImageTooLargeError(f"The decompressed body is larger than the limit of {limit} bytes.")
    return out


def split_body(body: bytes, header_length: str | None) -> tuple[dict[str, Any], memoryview]:
    """The JSON header and the binary part of a request body."""
    view = memoryview(body)
    if header_length is None:
        json_part, binary = view, view[len(view):]
    else:
        try:
            length = int(header_length.strip())
        except ValueError:
            raise InvalidInputError(f"{HEADER_LENGTH} must be an integer, got {header_length[:40]!r}.") from None
        if not 0 <= length <= len(view):
            raise InvalidInputError(
                f"{HEADER_LENGTH} is {length} but the body has {len(view)} bytes.")
        json_part, binary = view[:length], view[length:]
    if not len(json_part):
        raise InvalidInputError("The inference request is empty; send a JSON header with 'inputs'.")
    return _loads_object(json_part, "inference request header"), binary


def _loads_object(data: bytes | memoryview, what: str) -> dict[str, Any]:
    """``data`` parsed as a JSON object, or a 400 naming ``what`` is wrong."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InvalidInputError(f"The {what} is not valid JSON: {error}.") from None
    if not isinstance(value, dict):
        raise InvalidInputError(f"The {what} must be a JSON object.")
    return value


def decode_inputs(header: dict[str, Any], binary: memoryview) -> list[Tensor]:
    """Every input of a request, checked and decoded; the binary part must be used exactly."""
    inputs = header.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInputError("The request needs a non-empty 'inputs' list.")
    tensors: list[Tensor] = []
    offset = 0
    for index, entry in enumerate(inputs):
        tensor, offset = _decode_input(index, entry, binary, offset)
        if any(t.name == tensor.name for t in tensors):
            raise InvalidInputError(f"Input '{tensor.name}' is given more than once.")
        tensors.append(tensor)
    if offset != len(binary):
        raise InvalidInputError(
            f"The body has {len(binary) - offset} bytes after the tensors that no input's binary_data_size "
            "accounts for.")
    return tensors


def request_parameters(header: dict[str, Any]) -> dict[str, Any]:
    """The request-level ``parameters`` (``binary_data_output`` checked)."""
    parameters = header.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInputError("'parameters' must be an object.")
    if not isinstance(parameters.get("binary_data_output", False), bool):
        raise InvalidInputError("'binary_data_output' must be true or false.")
    return parameters


def requested_outputs(header: dict[str, Any], default_binary: bool) -> Wanted:
    """``(name, binary)`` of each requested output, or None for all outputs."""
    outputs = header.get("outputs")
    if outputs is None or outputs == []:
        return None
    if not isinstance(outputs, list):
        raise InvalidInputError("'outputs' must be a list.")
    wanted = []
    for index, output in enumerate(outputs):
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            raise InvalidInputError(f"outputs[{index}] must be an object with a 'name'.")
        parameters = output.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise InvalidInputError(f"Output '{output['name']}': 'parameters' must be an object.")
        for unsupported in ("classification", "shared_memory_region"):
            if unsupported in parameters:
                raise InvalidInputError(f"Output '{output['name']}': the {unsupported} extension is not supported.")
        binary = parameters.get("binary_data", default_binary)
        if not isinstance(binary, bool):
            raise InvalidInputError(f"Output '{output['name']}': 'binary_data' must be true or false.")
        wanted.append((output["name"], binary))
    return wanted


def json_object(body: bytes) -> dict[str, Any]:
    """An optional JSON object body (empty means ``{}``)."""
    if not body.strip():
        return {}
    return _loads_object(body, "request body")


def _decode_input(index: int, entry: Any, binary: memoryview, offset: int) -> tuple[Tensor, int]:
    if not isinstance(entry, dict):
        raise InvalidInputError(f"inputs[{index}] must be an object with name, shape, datatype and data.")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"inputs[{index}] has no 'name'.")
    datatype = entry.get("datatype")
    if datatype not in DATATYPES:
        raise InvalidInputError(
            f"Input '{name}' has datatype {datatype!r}; supported: {', '.join(DATATYPES)}.")
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40
                                              for d in shape):
        raise InvalidInputError(f"Input '{name}' needs a 'shape' list of non-negative integers, got {str(shape)[:200]}.")
    if len(shape) > MAX_DIMENSIONS:
        raise InvalidInputError(f"Input '{name}' has {len(shape)} dimensions; at most {MAX_DIMENSIONS} are accepted.")
    parameters = entry.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInputError(f"Input '{name}': 'parameters' must be an object.")
    if "shared_memory_region" in parameters:
        raise InvalidInputError(f"Input '{name}': the shared-memory extension is not supported; send the data.")
    count = math.prod(shape)
    size = parameters.get("binary_data_size")
    if size is None:
        if "data" not in entry:
            raise InvalidInputError(f"Input '{name}' has neither 'data' nor parameters.binary_data_size.")
        array = _from_json(name, datatype, entry["data"], count).reshape(shape)
        return Tensor(name, datatype, shape, array, False, parameters), offset
    if "data" in entry:
        raise InvalidInputError(f"Input '{name}' has both 'data' and parameters.binary_data_size.")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidInputError(f"Input '{name}': binary_data_size must be a non-negative integer.")
    if offset + size > len(binary):
        raise InvalidInputError(
            f"Input '{name}': binary_data_size {size} runs past the end of the body "
            f"({len(binary) - offset} binary bytes left).")
    raw = binary[offset:offset + size]
    if datatype == "BYTES":
        elements = deserialize_bytes(raw, name)
        if len(elements) != count:
            raise InvalidInputError(
                f"Input '{name}' holds {len(elements)} BYTES elements but shape {shape} needs {count}.")
        array = _object_array(elements)
    else:
        dtype = DATATYPES[datatype]
        if size != count * dtype.itemsize:
            raise InvalidInputError(
                f"Input '{name}': binary_data_size is {size} bytes but shape {shape} of {datatype} needs "
                f"{count * dtype.itemsize}.")
        array = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False)
    return Tensor(name, datatype, shape, array.reshape(shape), True, parameters), offset + size


def _from_json(name: str, datatype: str, data: Any, count: int) -> np.ndarray:
    """Flattened JSON ``data`` (nested lists are accepted too) as an array of ``datatype``."""
    if datatype == "BYTES":
        elements = list(_flatten(data))
        if not all(isinstance(e, str) for e in elements):
            raise InvalidInputError(f"Input '{name}': BYTES data must be strings.")
        if len(elements) != count:
            raise InvalidInputError(
                f"Input '{name}' has {len(elements)} elements in 'data' but its shape needs {count}.")
        return _object_array([e.encode("utf-8") for e in elements])
    dtype = DATATYPES[datatype]
    try:
        values = np.asarray(data if isinstance(data, list) else [data])
    except ValueError:
        raise InvalidInputError(f"Input '{name}': 'data' is ragged; send a flat list.") from None
    if values.size != count:
        raise InvalidInputError(f"Input '{name}' has {values.size} elements in 'data' but its shape needs {count}.")
    if count == 0:
        return np.zeros(0, dtype=dtype)
    allowed = {"b": "b", "u": "iu", "i": "iu", "f": "iuf"}[dtype.kind]
    if values.dtype.kind not in allowed:
        expected = {"b": "true/false", "u": "integers", "i": "integers", "f": "numbers"}[dtype.kind]
        raise InvalidInputError(f"Input '{name}' is {datatype}: 'data' must hold {expected}.")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if int(values.min()) < info.min or int(values.max()) > info.max:
            raise InvalidInputError(f"Input '{name}': a value is outside the range of {datatype}.")
    return values.astype(dtype).reshape(-1)


def _flatten(data: Any) -> Iterable[Any]:
    if isinstance(data, list):
        for item in data:
            yield from _flatten(item)
    else:
        yield data


def _object_array(elements: list[bytes]) -> np.ndarray:
    array = np.empty(len(elements), dtype=np.object_)
    array[:] = elements
    return array


def deserialize_bytes(raw: memoryview | bytes, name: str) -> list[bytes]:
    """Length-prefixed BYTES elements (4-byte little-endian length, then the bytes)."""
    view = memoryview(raw)
    elements: list[bytes] = []
    position = 0
    while position < len(view):
        if position + 4 > len(view):
            raise InvalidInputError(f"Input '{name}': a BYTES element's 4-byte length is cut off.")
        (length,) = _LENGTH.unpack_from(view, position)
        position += 4
        if position + length > len(view):
            raise InvalidInputError(
                f"Input '{name}': a BYTES element says {length} bytes but only {len(view) - position} follow.")
        elements.append(bytes(view[position:position + length]))
        position += length
    return elements


def serialize_bytes(elements: Iterable[bytes]) -> bytes:
    """BYTES elements in the length-prefixed binary layout."""
    return b"".join(_LENGTH.pack(len(e)) + e for e in elements)


def _as_bytes(element: Any) -> bytes:
    if isinstance(element, bytes):
        return element
    return str(element).encode("utf-8")


def encode_output(name: str, array: np.ndarray, binary: bool) -> tuple[dict[str, Any], bytes | None]:
    """The response entry of one output and, when ``binary``, its raw bytes."""
    array = np.asarray(array)
    datatype = datatype_of(array.dtype)
    entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
    flat = array.reshape(-1)
    if binary:
        if datatype == "BYTES":
            raw = serialize_bytes(_as_bytes(e) for e in flat)
        else:
            raw = np.ascontiguousarray(flat, dtype=array.dtype.newbyteorder("<")).tobytes()
        entry["parameters"] = {"binary_data_size": len(raw)}
        return entry, raw
    if datatype == "BYTES":
        try:
            entry["data"] = [_as_bytes(e).decode("utf-8") for e in flat]
        except UnicodeDecodeError:
            raise InvalidInputError(
                f"Output '{name}' holds bytes that are not UTF-8; ask for it with binary_data.") from None
    else:
        entry["data"] = flat.tolist()
    return entry, None


def render(header: dict[str, Any], raws: list[bytes]) -> tuple[bytes, int | None]:
    """The response body, and the JSON header's length when binary outputs follow it."""
    text = orjson.dumps(header, option=orjson.OPT_SERIALIZE_NUMPY)
    if not raws:
        return text, None
    return text + b"".join(raws), len(text)


def parse_request(body: bytes, encoding: str | None, header_length: str | None, limit: int
                  ) -> tuple[dict[str, Any], dict[str, Any], list[Tensor], Wanted]:
    """Header, request parameters, inputs and requested outputs of an infer body."""
    header, binary_part = split_body(decompress(body, encoding, limit), header_length)
    parameters = request_parameters(header)
    inputs = decode_inputs(header, binary_part)
    return header, parameters, inputs, requested_outputs(header, parameters.get("binary_data_output", False))


def encode_response(response: dict[str, Any], outputs: list[Output]) -> tuple[bytes, int | None]:
    """The response body (and its JSON header's length when binary outputs follow)."""
    entries, raws = [], []
    for name, array, binary in outputs:
        entry, raw = encode_output(name, array, binary)
        entries.append(entry)
        if raw is not None:
            raws.append(raw)
    return render({**response, "outputs": entries}, raws)
