# cython: language_level=3
"""Compiled face of the native coder (csrc/lic/coder.h).

Holds the engine objects and does the argument conversion in C so that a
StreamDecoder.decode call costs about a microsecond plus the coding itself.
Use lic_core.coder, which documents the API; this module is its implementation.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int32_t, uint8_t, uint64_t
from libcpp.memory cimport shared_ptr

import numpy as np
cimport numpy as cnp

from ..errors import (IndexOutOfRangeError, InvalidArgumentError, InvalidTableError,
                     SymbolOutOfRangeError, raise_for_status)

cnp.import_array()


cdef extern from "lic/status.h":
    ctypedef enum lic_status:
        LIC_OK


cdef extern from "lic/lic.h":
    # The engine's one definition of the precision (lic.h); exported below.
    int LIC_MAX_PRECISION
    int LIC_DEFAULT_PRECISION


cdef extern from "lic/coder.h" namespace "lic" nogil:
    cdef cppclass ErrorInfo:
        lic_status status
        char message[256]

    cdef cppclass CTableSet "lic::TableSet":
        size_t n_tables()
        unsigned precision()
        size_t max_len()

    lic_status table_set_create "lic::TableSet::create"(
        const int32_t* cdfs, size_t n_tables, size_t max_len, const int32_t* cdf_lengths,
        const int32_t* offsets, unsigned precision, shared_ptr[const CTableSet]* out,
        ErrorInfo* err)

    cdef cppclass StreamInfo:
        unsigned version
        unsigned lanes
        unsigned precision
        uint64_t n_symbols
        size_t header_bytes
        size_t n_words

    lic_status read_stream_info(const uint8_t* data, size_t size, StreamInfo* info, ErrorInfo* err)

    cdef cppclass EncodedStream:
        size_t size()
        void write(uint8_t* dst)
        unsigned lanes()

    lic_status encode_into(const CTableSet& tables, const int32_t* symbols, const int32_t* indexes,
                           size_t n, EncodedStream* out, ErrorInfo* err)

    cdef cppclass CEncoder "lic::Encoder":
        CEncoder(shared_ptr[const CTableSet] tables)
        lic_status push(const int32_t* symbols, const int32_t* indexes, size_t n, ErrorInfo* err)
        lic_status flush(EncodedStream* out, ErrorInfo* err)
        size_t staged()

    cdef cppclass CDecoder "lic::Decoder":
        CDecoder()
        lic_status open(shared_ptr[const CTableSet] tables, const uint8_t* data, size_t size,
                        ErrorInfo* err)
        lic_status decode(const int32_t* indexes, size_t n, int32_t* out, ErrorInfo* err)
        lic_status finish(ErrorInfo* err)
        uint64_t n_symbols()
        uint64_t n_decoded()

    lic_status decode_all(shared_ptr[const CTableSet] tables, const uint8_t* data, size_t size,
                          const int32_t* indexes, size_t n, int32_t* out, ErrorInfo* err)


# Below this many symbols the GIL is kept: re-acquiring it after a short call
# can wait a whole switch interval (5 ms) when another thread runs Python,
# which would dwarf a 192-symbol decode (the autoregressive models' pattern).
cdef enum:
    GIL_RELEASE_MIN = 4096

_INT32_MIN = -2147483648
_INT32_MAX = 2147483647

#: Largest table precision the engine codes (cdf totals up to 2**MAX_PRECISION).
MAX_PRECISION = LIC_MAX_PRECISION
#: The default precision of tables, models and every ``precision=`` argument here.
PRECISION = LIC_DEFAULT_PRECISION


cdef inline int _check(lic_status status, ErrorInfo* err) except -1:
    if status != LIC_OK:
        raise_for_status(<int>status, err.message.decode("utf-8", "replace"))
    return 0


cdef cnp.ndarray _as_int32(object obj, str name):
    """Any integer array-like -> C-contiguous int32 ndarray (same shape).

    Zero-copy for a C-contiguous int32 ndarray. Values outside int32 raise
    (IndexOutOfRangeError for indexes, SymbolOutOfRangeError otherwise).
    """
    cdef cnp.ndarray arr
    if isinstance(obj, cnp.ndarray):
        arr = <cnp.ndarray>obj
        if cnp.PyArray_TYPE(arr) == cnp.NPY_INT32 and cnp.PyArray_IS_C_CONTIGUOUS(arr):
            return arr
    elif isinstance(obj, (list, tuple)) and len(obj) == 0:
        return np.empty(0, dtype=np.int32)
    else:
        try:
            arr = np.asarray(obj)
        except (ValueError, TypeError) as exc:
            raise InvalidArgumentError(f"{name} must be an integer array: {exc}") from None
    if arr.dtype.kind not in "iu":
        raise InvalidArgumentError(
            f"{name} must hold integers, got dtype {arr.dtype} (round or cast it first)")
    if arr.dtype.itemsize > 4 or (arr.dtype.kind == "u" and arr.dtype.itemsize == 4):
        if arr.size:
            bad = np.flatnonzero((arr < _INT32_MIN) | (arr > _INT32_MAX))
            if bad.size:
                flat = int(bad[0])
                value = int(arr.reshape(-1)[flat])
                where = "".join(f"[{int(k)}]" for k in np.unravel_index(flat, (<object>arr).shape)) if arr.ndim else ""
                if name == "indexes":
                    raise IndexOutOfRangeError(f"{name}{where} = {value} names no table")
                if name == "symbols":
                    raise SymbolOutOfRangeError(
                        f"{name}{where} = {value} does not fit int32, the coder's symbol type")
                raise InvalidTableError(f"{name}{where} = {value} does not fit int32")
    return np.ascontiguousarray(arr, dtype=np.int32)


cdef inline const int32_t* _ptr(cnp.ndarray arr):
    return <const int32_t*>cnp.PyArray_DATA(arr)


cdef object _as_bytes(object data):
    """A bytes object holding the stream (no copy when it already is bytes)."""
    if type(data) is bytes:
        return data
    try:
        return bytes(memoryview(data).cast("B"))
    except TypeError:
        raise InvalidArgumentError(
            f"data must be bytes-like (bytes, bytearray, memoryview, uint8 array), got {type(data).__name__}"
        ) from None


cdef class TableSet:
    """A validated set of CDF tables, bound once and reusable by every call.

    Args:
        cdfs: int array [n_tables, max_len]; row t holds table t's cdf in its first
            cdf_lengths[t] entries (the rest is ignored padding).
        cdf_lengths: int array [n_tables] (default: max_len for every table).
        offsets: int array [n_tables]; value v of table t is symbol offsets[t] + v
            (default 0).
        precision: bits of the cdf total, 1..MAX_PRECISION (cdf[L-1] = 2**precision).

    Raises InvalidTableError naming the table and position of the first problem.
    """
    cdef shared_ptr[const CTableSet] ptr
    cdef readonly object cdfs
    cdef readonly object cdf_lengths
    cdef readonly object offsets

    def __init__(self, cdfs, cdf_lengths=None, offsets=None, *, precision=PRECISION):
        cdef ErrorInfo err
        if isinstance(precision, bool) or not isinstance(precision, (int, np.integer)):
            raise InvalidArgumentError(
                f"precision must be an int in 1..{LIC_MAX_PRECISION}, got {precision!r}")
        prec = int(precision)
        if not 1 <= prec <= LIC_MAX_PRECISION:
            raise InvalidArgumentError(f"precision {prec} is outside 1..{LIC_MAX_PRECISION}")
        cdef object c = _as_int32(cdfs, "cdfs")
        if c.ndim != 2:
            raise InvalidArgumentError(
                f"cdfs must be 2-D [n_tables, max_len], got shape {tuple(c.shape)}")
        n_tables, max_len = c.shape[0], c.shape[1]
        lengths = None
        offs = None
        if cdf_lengths is not None:
            lengths = _as_int32(cdf_lengths, "cdf_lengths").reshape(-1)
            if lengths.shape[0] != n_tables:
                raise InvalidArgumentError(
                    f"cdf_lengths has {lengths.shape[0]} entries but cdfs has {n_tables} rows")
        if offsets is not None:
            offs = _as_int32(offsets, "offsets").reshape(-1)
            if offs.shape[0] != n_tables:
                raise InvalidArgumentError(
                    f"offsets has {offs.shape[0]} entries but cdfs has {n_tables} rows")
        cdef const int32_t* lp = _ptr(lengths) if lengths is not None else NULL
        cdef const int32_t* op = _ptr(offs) if offs is not None else NULL
        cdef lic_status st = table_set_create(_ptr(c), n_tables, max_len, lp, op, prec, &self.ptr, &err)
        _check(st, &err)
        # Keep read-only copies so the set can be inspected and pickled.
        self.cdfs = np.array(c, dtype=np.int32, copy=True)
        self.cdf_lengths = (np.array(lengths, dtype=np.int32, copy=True) if lengths is not None
                            else np.full(n_tables, max_len, dtype=np.int32))
        self.offsets = (np.array(offs, dtype=np.int32, copy=True) if offs is not None
                        else np.zeros(n_tables, dtype=np.int32))
        for a in (self.cdfs, self.cdf_lengths, self.offsets):
            a.setflags(write=False)

    @property
    def n_tables(self):
        """Number of tables."""
        return self.ptr.get().n_tables()

    @property
    def precision(self):
        """Bits of the cdf total (every stream records it)."""
        return self.ptr.get().precision()

    def __reduce__(self):
        return (_rebuild_table_set, (self.cdfs, self.cdf_lengths, self.offsets, self.precision))

    def __repr__(self):
        return f"TableSet(n_tables={self.n_tables}, max_len={self.cdfs.shape[1]}, precision={self.precision})"


def _rebuild_table_set(cdfs, cdf_lengths, offsets, precision):
    return TableSet(cdfs, cdf_lengths, offsets, precision=precision)


cdef TableSet _table_set(object cdfs, object cdf_lengths, object offsets, object precision):
    if isinstance(cdfs, TableSet):
        if cdf_lengths is not None or offsets is not None:
            raise InvalidArgumentError(
                "cdf_lengths and offsets come from the TableSet; pass them only with raw cdfs")
        # The default means "the TableSet's own"; only a different explicit value is an error.
        if precision != LIC_DEFAULT_PRECISION and precision != (<TableSet>cdfs).precision:
            raise InvalidArgumentError(
                f"precision={precision} differs from the TableSet's precision "
                f"{(<TableSet>cdfs).precision}")
        return <TableSet>cdfs
    return TableSet(cdfs, cdf_lengths, offsets, precision=precision)


cdef tuple _symbols_and_indexes(object symbols, object indexes):
    cdef object s = _as_int32(symbols, "symbols")
    cdef object i = _as_int32(indexes, "indexes")
    if s.shape != i.shape:
        raise InvalidArgumentError(
            f"symbols has shape {tuple(s.shape)} but indexes has shape {tuple(i.shape)}; "
            "they must match (both are read in C order)")
    return s, i


cdef bytes _take_stream(EncodedStream* es):
    cdef size_t size = es.size()
    out = PyBytes_FromStringAndSize(NULL, size)
    cdef uint8_t* dst = <uint8_t*>PyBytes_AS_STRING(out)
    if size > GIL_RELEASE_MIN:
        with nogil:
            es.write(dst)
    else:
        es.write(dst)
    return out


def encode(symbols, indexes, cdfs, cdf_lengths=None, offsets=None, *, precision=PRECISION):
    cdef TableSet ts = _table_set(cdfs, cdf_lengths, offsets, precision)
    s, i = _symbols_and_indexes(symbols, indexes)
    cdef const int32_t* sp = _ptr(s)
    cdef const int32_t* ip = _ptr(i)
    cdef size_t n = cnp.PyArray_SIZE(s)
    cdef EncodedStream es
    cdef ErrorInfo err
    cdef lic_status st
    if n >= GIL_RELEASE_MIN:
        with nogil:
            st = encode_into(ts.ptr.get()[0], sp, ip, n, &es, &err)
    else:
        st = encode_into(ts.ptr.get()[0], sp, ip, n, &es, &err)
    _check(st, &err)
    return _take_stream(&es)


def decode(data, indexes, cdfs, cdf_lengths=None, offsets=None, *, precision=PRECISION):
    cdef TableSet ts = _table_set(cdfs, cdf_lengths, offsets, precision)
    buf = _as_bytes(data)
    cdef object idx = _as_int32(indexes, "indexes")
    out = np.empty(idx.shape, dtype=np.int32)
    cdef const uint8_t* dp = <const uint8_t*>PyBytes_AS_STRING(buf)
    cdef size_t size = PyBytes_GET_SIZE(buf)
    cdef const int32_t* ip = _ptr(idx)
    cdef int32_t* op = <int32_t*>cnp.PyArray_DATA(out)
    cdef size_t n = cnp.PyArray_SIZE(idx)
    cdef ErrorInfo err
    cdef lic_status st
    if n >= GIL_RELEASE_MIN:
        with nogil:
            st = decode_all(ts.ptr, dp, size, ip, n, op, &err)
    else:
        st = decode_all(ts.ptr, dp, size, ip, n, op, &err)
    _check(st, &err)
    return out


def stream_info(data):
    """Header facts of a native stream: dict(version, lanes, precision, n_symbols, header_bytes, n_words)."""
    buf = _as_bytes(data)
    cdef StreamInfo info
    cdef ErrorInfo err
    _check(read_stream_info(<const uint8_t*>PyBytes_AS_STRING(buf), PyBytes_GET_SIZE(buf), &info, &err), &err)
    return dict(version=info.version, lanes=info.lanes, precision=info.precision,
                n_symbols=info.n_symbols, header_bytes=info.header_bytes, n_words=info.n_words)


cdef class StreamEncoder:
    """Accepts many (symbols, indexes) chunks; flush() returns one stream.

    Equivalent to one encode() call on the concatenated chunks (same bytes).
    """
    cdef CEncoder* enc
    cdef readonly TableSet tables
    cdef bint busy

    def __cinit__(self):
        self.enc = NULL

    def __init__(self, cdfs, cdf_lengths=None, offsets=None, *, precision=PRECISION):
        self.tables = _table_set(cdfs, cdf_lengths, offsets, precision)
        if self.enc != NULL:
            del self.enc
        self.enc = new CEncoder(self.tables.ptr)

    def __dealloc__(self):
        if self.enc != NULL:
            del self.enc

    cdef inline CEncoder* _acquire(self) except NULL:
        if self.enc == NULL:
            raise InvalidArgumentError("StreamEncoder was not initialised")
        if self.busy:
            raise InvalidArgumentError("StreamEncoder is in use by another thread")
        self.busy = True
        return self.enc

    def encode(self, symbols, indexes):
        """Stage one chunk; indexes are checked now (nothing is staged on error)."""
        s, i = _symbols_and_indexes(symbols, indexes)
        cdef const int32_t* sp = _ptr(s)
        cdef const int32_t* ip = _ptr(i)
        cdef size_t n = cnp.PyArray_SIZE(s)
        cdef ErrorInfo err
        cdef lic_status st
        cdef CEncoder* enc = self._acquire()
        try:
            if n >= GIL_RELEASE_MIN:
                with nogil:
                    st = enc.push(sp, ip, n, &err)
            else:
                st = enc.push(sp, ip, n, &err)
        finally:
            self.busy = False
        _check(st, &err)

    def flush(self):
        """Encode everything staged into one stream; the encoder is then empty and reusable."""
        cdef EncodedStream es
        cdef ErrorInfo err
        cdef lic_status st
        cdef CEncoder* enc = self._acquire()
        try:
            if enc.staged() >= GIL_RELEASE_MIN:
                with nogil:
                    st = enc.flush(&es, &err)
            else:
                st = enc.flush(&es, &err)
        finally:
            self.busy = False
        _check(st, &err)
        return _take_stream(&es)

    @property
    def n_staged(self):
        """Symbols staged since the last flush."""
        return self.enc.staged() if self.enc != NULL else 0


cdef class StreamDecoder:
    """Decodes a stream chunk after chunk: decode(indexes) -> int32 array of indexes' shape.

    Any chunking gives the same symbols as one decode() call. The call that
    decodes the last symbol verifies the end of the stream; finish() checks
    that every symbol was decoded, every word consumed and every lane state is
    back to its initial value, raising CorruptStreamError otherwise.
    """
    cdef CDecoder* dec
    cdef readonly TableSet tables
    cdef object data
    cdef bint busy

    def __cinit__(self):
        self.dec = NULL

    def __init__(self, data, cdfs, cdf_lengths=None, offsets=None, *, precision=PRECISION):
        self.tables = _table_set(cdfs, cdf_lengths, offsets, precision)
        self.data = _as_bytes(data)  # immutable, so the engine's pointer stays valid
        if self.dec == NULL:
            self.dec = new CDecoder()
        cdef ErrorInfo err
        _check(self.dec.open(self.tables.ptr, <const uint8_t*>PyBytes_AS_STRING(self.data),
                             PyBytes_GET_SIZE(self.data), &err), &err)

    def __dealloc__(self):
        if self.dec != NULL:
            del self.dec

    cdef inline CDecoder* _acquire(self) except NULL:
        if self.dec == NULL:
            raise InvalidArgumentError("StreamDecoder was not initialised")
        if self.busy:
            raise InvalidArgumentError("StreamDecoder is in use by another thread")
        self.busy = True
        return self.dec

    def decode(self, indexes):
        """Decode the next len(indexes) symbols (indexes read in C order)."""
        cdef cnp.ndarray idx = _as_int32(indexes, "indexes")
        cdef cnp.ndarray out = cnp.PyArray_EMPTY(idx.ndim, idx.shape, cnp.NPY_INT32, 0)
        cdef const int32_t* ip = _ptr(idx)
        cdef int32_t* op = <int32_t*>cnp.PyArray_DATA(out)
        cdef size_t n = cnp.PyArray_SIZE(idx)
        cdef ErrorInfo err
        cdef lic_status st
        cdef CDecoder* dec = self._acquire()
        try:
            if n >= GIL_RELEASE_MIN:
                with nogil:
                    st = dec.decode(ip, n, op, &err)
            else:
                st = dec.decode(ip, n, op, &err)
        finally:
            self.busy = False
        _check(st, &err)
        return out

    def finish(self):
        """Raise CorruptStreamError unless the stream was consumed exactly and verified."""
        cdef ErrorInfo err
        cdef CDecoder* dec = self._acquire()
        try:
            st = dec.finish(&err)
        finally:
            self.busy = False
        _check(st, &err)

    @property
    def n_symbols(self):
        """Symbols the stream holds (from its header)."""
        return self.dec.n_symbols() if self.dec != NULL else 0

    @property
    def n_decoded(self):
        """Symbols decoded so far."""
        return self.dec.n_decoded() if self.dec != NULL else 0
