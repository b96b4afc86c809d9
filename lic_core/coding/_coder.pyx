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


# lic_status, ErrorInfo and CTableSet are declared in _coder.pxd (shared with _intnet).

cdef extern from "lic/lic.h":
    # The engine's one definition of the precision (lic.h); exported below.
    int LIC_MAX_PRECISION
    int LIC_DEFAULT_PRECISION


cdef extern from "lic/coder.h" namespace "lic" nogil:
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
        CEncoder(shared_ptr[const CTableSet] tables) except +
        lic_status push(const int32_t* symbols, const int32_t* indexes, size_t n, ErrorInfo* err)
        lic_status flush(EncodedStream* out, ErrorInfo* err)
        size_t staged()

    cdef cppclass CDecoder "lic::Decoder":
        CDecoder() except +
        lic_status open(shared_ptr[const CTableSet] tables, const uint8_t* data, size_t size,
                        ErrorInfo* err)
        lic_status decode(const int32_t* indexes, size_t n, int32_t* out, ErrorInfo* err)
        lic_status finish(ErrorInfo* err)
        lic_status check_request(uint64_t n, ErrorInfo* err)
        lic_status check_total(uint64_t n, ErrorInfo* err)
        uint64_t n_symbols()
        uint64_t n_decoded()



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


cdef cnp.ndarray _int_array(object obj, str name):
    """Any integer array-like -> an integer ndarray, not yet converted.

    An ndarray comes back as it is (no copy), so that callers can run their
    cheap size checks (a stream's symbol count, matching lengths) before
    _to_int32 copies anything: a zero-stride view of 2**28 indexes costs nothing
    until it is converted.
    """
    cdef cnp.ndarray arr
    if isinstance(obj, cnp.ndarray):
        arr = <cnp.ndarray>obj
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
    return arr


cdef cnp.ndarray _to_int32(cnp.ndarray arr, str name):
    """An integer ndarray -> C-contiguous, aligned, native-byte-order int32 (same shape).

    Zero-copy only when the engine can read the buffer as it is. The type number
    says nothing about byte order (a '>i4' array is NPY_INT32 too) or alignment,
    so both are checked: a big-endian or misaligned buffer is converted by value,
    never handed to the engine to be reinterpreted. Values outside int32 raise
    (IndexOutOfRangeError for indexes, SymbolOutOfRangeError for symbols,
    InvalidTableError otherwise).
    """
    if (cnp.PyArray_TYPE(arr) == cnp.NPY_INT32 and cnp.PyArray_IS_C_CONTIGUOUS(arr)
            and cnp.PyArray_ISALIGNED(arr) and cnp.PyArray_ISNOTSWAPPED(arr)):
        return arr
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
    # np.int32 is the native-order dtype, so this converts values, byte order included.
    cdef cnp.ndarray out = np.ascontiguousarray(arr, dtype=np.int32)
    if not cnp.PyArray_ISALIGNED(out):  # ascontiguousarray keeps a misaligned int32 buffer
        out = out.copy()
    return out


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


# Objects made by Cls.__new__(Cls), or by a subclass whose __init__ skips
# super().__init__(), exist without an engine object behind them; every method
# and property checks for that and raises this instead of dereferencing NULL.
cdef str _NOT_INITIALISED = (
    "{0} was not initialised: call {0}({1}) (a subclass's __init__ must call "
    "super().__init__(...))")


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
    # Attributes (ptr, _cdfs, _cdf_lengths, _offsets) are declared in _coder.pxd.

    def __init__(self, cdfs, cdf_lengths=None, offsets=None, *, precision=PRECISION):
        cdef ErrorInfo err
        if isinstance(precision, bool) or not isinstance(precision, (int, np.integer)):
            raise InvalidArgumentError(
                f"precision must be an int in 1..{LIC_MAX_PRECISION}, got {precision!r}")
        prec = int(precision)
        if not 1 <= prec <= LIC_MAX_PRECISION:
            raise InvalidArgumentError(f"precision {prec} is outside 1..{LIC_MAX_PRECISION}")
        # Shapes first, conversions after: a mismatched call copies nothing.
        cdef cnp.ndarray c = _int_array(cdfs, "cdfs")
        if c.ndim != 2:
            raise InvalidArgumentError(
                f"cdfs must be 2-D [n_tables, max_len], got shape {(<object>c).shape}")
        n_tables, max_len = c.shape[0], c.shape[1]
        lengths = None
        offs = None
        if cdf_lengths is not None:
            lengths = _int_array(cdf_lengths, "cdf_lengths")
            if lengths.size != n_tables:
                raise InvalidArgumentError(
                    f"cdf_lengths has {lengths.size} entries but cdfs has {n_tables} rows")
        if offsets is not None:
            offs = _int_array(offsets, "offsets")
            if offs.size != n_tables:
                raise InvalidArgumentError(
                    f"offsets has {offs.size} entries but cdfs has {n_tables} rows")
        c = _to_int32(c, "cdfs")
        if lengths is not None:
            lengths = _to_int32(lengths, "cdf_lengths").reshape(-1)
        if offs is not None:
            offs = _to_int32(offs, "offsets").reshape(-1)
        cdef const int32_t* lp = _ptr(lengths) if lengths is not None else NULL
        cdef const int32_t* op = _ptr(offs) if offs is not None else NULL
        cdef shared_ptr[const CTableSet] created
        cdef lic_status st = table_set_create(_ptr(c), n_tables, max_len, lp, op, prec, &created, &err)
        _check(st, &err)
        # Keep read-only copies so the set can be inspected and pickled.
        cdfs_copy = np.array(c, dtype=np.int32, copy=True)
        lengths_copy = (np.array(lengths, dtype=np.int32, copy=True) if lengths is not None
                        else np.full(n_tables, max_len, dtype=np.int32))
        offsets_copy = (np.array(offs, dtype=np.int32, copy=True) if offs is not None
                        else np.zeros(n_tables, dtype=np.int32))
        for a in (cdfs_copy, lengths_copy, offsets_copy):
            a.setflags(write=False)
        # Only a fully built set replaces the engine object (a failed re-init changes nothing).
        self.ptr = created
        self._cdfs, self._cdf_lengths, self._offsets = cdfs_copy, lengths_copy, offsets_copy

    cdef const CTableSet* _get(self) except NULL:
        cdef const CTableSet* p = self.ptr.get()
        if p == NULL:
            raise InvalidArgumentError(_NOT_INITIALISED.format(
                type(self).__name__, "cdfs, cdf_lengths, offsets, precision=..."))
        return p

    @property
    def n_tables(self):
        """Number of tables."""
        return self._get().n_tables()

    @property
    def precision(self):
        """Bits of the cdf total (every stream records it)."""
        return self._get().precision()

    @property
    def cdfs(self):
        """int32 [n_tables, max_len], read-only: the cdfs as bound."""
        self._get()
        return self._cdfs

    @property
    def cdf_lengths(self):
        """int32 [n_tables], read-only."""
        self._get()
        return self._cdf_lengths

    @property
    def offsets(self):
        """int32 [n_tables], read-only."""
        self._get()
        return self._offsets

    def __reduce__(self):
        return (_rebuild_table_set, (self.cdfs, self.cdf_lengths, self.offsets, self.precision))

    def __repr__(self):
        return f"TableSet(n_tables={self.n_tables}, max_len={self.cdfs.shape[1]}, precision={self.precision})"


def _rebuild_table_set(cdfs, cdf_lengths, offsets, precision):
    return TableSet(cdfs, cdf_lengths, offsets, precision=precision)


cdef TableSet _table_set(object cdfs, object cdf_lengths, object offsets, object precision):
    """The TableSet a call codes with: the one given (checked to be initialised) or a new one."""
    if isinstance(cdfs, TableSet):
        (<TableSet>cdfs)._get()
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
    cdef cnp.ndarray s = _int_array(symbols, "symbols")
    cdef cnp.ndarray i = _int_array(indexes, "indexes")
    # The sizes are compared before either is copied; the exact shapes after the
    # conversion, which turns a 0-d input into shape (1,).
    if cnp.PyArray_SIZE(s) != cnp.PyArray_SIZE(i):
        raise InvalidArgumentError(
            f"symbols has shape {(<object>s).shape} but indexes has shape {(<object>i).shape}; "
            "they must match (both are read in C order)")
    s = _to_int32(s, "symbols")
    i = _to_int32(i, "indexes")
    if (<object>s).shape != (<object>i).shape:
        raise InvalidArgumentError(
            f"symbols has shape {(<object>s).shape} but indexes has shape {(<object>i).shape}; "
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
    # Our own reference: the engine object stays alive without the GIL even if
    # another thread re-initialises the TableSet meanwhile.
    cdef shared_ptr[const CTableSet] tp = ts.ptr
    s, i = _symbols_and_indexes(symbols, indexes)
    cdef const int32_t* sp = _ptr(s)
    cdef const int32_t* ip = _ptr(i)
    cdef size_t n = cnp.PyArray_SIZE(s)
    cdef EncodedStream es
    cdef ErrorInfo err
    cdef lic_status st
    if n >= GIL_RELEASE_MIN:
        with nogil:
            st = encode_into(tp.get()[0], sp, ip, n, &es, &err)
    else:
        st = encode_into(tp.get()[0], sp, ip, n, &es, &err)
    _check(st, &err)
    return _take_stream(&es)


def decode(data, indexes, cdfs, cdf_lengths=None, offsets=None, *, precision=PRECISION):
    cdef TableSet ts = _table_set(cdfs, cdf_lengths, offsets, precision)
    buf = _as_bytes(data)
    cdef cnp.ndarray idx = _int_array(indexes, "indexes")
    cdef size_t n = cnp.PyArray_SIZE(idx)
    cdef CDecoder dec
    cdef ErrorInfo err
    # Header, the bytes-can-hold bound and the symbol count are all checked before
    # the indexes are converted or the output allocated: they are O(1), and a
    # stream that does not match the call must not cost a copy of its indexes.
    _check(dec.open(ts.ptr, <const uint8_t*>PyBytes_AS_STRING(buf), PyBytes_GET_SIZE(buf), &err), &err)
    _check(dec.check_total(n, &err), &err)
    idx = _to_int32(idx, "indexes")
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(idx.ndim, idx.shape, cnp.NPY_INT32, 0)
    cdef const int32_t* ip = _ptr(idx)
    cdef int32_t* op = <int32_t*>cnp.PyArray_DATA(out)
    cdef lic_status st
    if n >= GIL_RELEASE_MIN:
        with nogil:
            st = dec.decode(ip, n, op, &err)
            if st == LIC_OK:
                st = dec.finish(&err)
    else:
        st = dec.decode(ip, n, op, &err)
        if st == LIC_OK:
            st = dec.finish(&err)
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
    cdef CEncoder* enc  # NULL until __init__ succeeds
    cdef TableSet _tables
    cdef bint busy

    def __cinit__(self):
        self.enc = NULL

    def __init__(self, cdfs, cdf_lengths=None, offsets=None, *, precision=PRECISION):
        # Re-initialising would free the engine object a call on another thread
        # is using without the GIL.
        if self.busy:
            raise InvalidArgumentError("StreamEncoder is in use by another thread")
        tables = _table_set(cdfs, cdf_lengths, offsets, precision)
        if self.enc != NULL:
            del self.enc
            self.enc = NULL
        self.enc = new CEncoder(tables.ptr)
        self._tables = tables

    def __dealloc__(self):
        if self.enc != NULL:
            del self.enc

    cdef inline CEncoder* _get(self) except NULL:
        if self.enc == NULL:
            raise InvalidArgumentError(_NOT_INITIALISED.format(type(self).__name__, "tables"))
        return self.enc

    cdef inline CEncoder* _acquire(self) except NULL:
        cdef CEncoder* enc = self._get()
        if self.busy:
            raise InvalidArgumentError("StreamEncoder is in use by another thread")
        self.busy = True
        return enc

    def encode(self, symbols, indexes):
        """Stage one chunk; indexes are checked now (nothing is staged on error)."""
        self._get()
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
    def tables(self):
        """The TableSet this encoder codes with."""
        self._get()
        return self._tables

    @property
    def n_staged(self):
        """Symbols staged since the last flush."""
        return self._get().staged()


cdef class StreamDecoder:
    """Decodes a stream chunk after chunk: decode(indexes) -> int32 array of indexes' shape.

    Any chunking gives the same symbols as one decode() call. The call that
    decodes the last symbol verifies the end of the stream; finish() checks
    that every symbol was decoded, every word consumed and every lane state is
    back to its initial value, raising CorruptStreamError otherwise.
    """
    cdef CDecoder* dec
    cdef TableSet _tables
    cdef object data
    cdef bint busy
    cdef bint ready  # __init__ completed: the stream is open (a failed __init__ leaves it False)

    def __cinit__(self):
        self.dec = NULL

    def __init__(self, data, cdfs, cdf_lengths=None, offsets=None, *, precision=PRECISION):
        # Re-initialising would replace the bytes a call on another thread is
        # decoding without the GIL.
        if self.busy:
            raise InvalidArgumentError("StreamDecoder is in use by another thread")
        self.ready = False
        tables = _table_set(cdfs, cdf_lengths, offsets, precision)
        buf = _as_bytes(data)  # immutable, so the engine's pointer stays valid
        if self.dec == NULL:
            self.dec = new CDecoder()
        cdef ErrorInfo err
        _check(self.dec.open(tables.ptr, <const uint8_t*>PyBytes_AS_STRING(buf),
                             PyBytes_GET_SIZE(buf), &err), &err)
        self._tables = tables
        self.data = buf
        self.ready = True

    def __dealloc__(self):
        if self.dec != NULL:
            del self.dec

    cdef inline CDecoder* _get(self) except NULL:
        if self.dec == NULL or not self.ready:
            raise InvalidArgumentError(_NOT_INITIALISED.format(type(self).__name__, "data, tables"))
        return self.dec

    cdef inline CDecoder* _acquire(self) except NULL:
        cdef CDecoder* dec = self._get()
        if self.busy:
            raise InvalidArgumentError("StreamDecoder is in use by another thread")
        self.busy = True
        return dec

    def decode(self, indexes):
        """Decode the next len(indexes) symbols (indexes read in C order)."""
        self._get()
        cdef cnp.ndarray idx = _int_array(indexes, "indexes")
        cdef size_t n = cnp.PyArray_SIZE(idx)
        cdef cnp.ndarray out = None
        cdef const int32_t* ip
        cdef int32_t* op
        cdef ErrorInfo err
        cdef lic_status st
        cdef CDecoder* dec = self._acquire()
        try:
            # What is left of the stream (and an earlier error) is checked before
            # the indexes are converted or the output allocated.
            st = dec.check_request(n, &err)
            if st == LIC_OK:
                idx = _to_int32(idx, "indexes")
                out = cnp.PyArray_EMPTY(idx.ndim, idx.shape, cnp.NPY_INT32, 0)
                ip = _ptr(idx)
                op = <int32_t*>cnp.PyArray_DATA(out)
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
    def tables(self):
        """The TableSet this decoder decodes with."""
        self._get()
        return self._tables

    @property
    def n_symbols(self):
        """Symbols the stream holds (from its header)."""
        return self._get().n_symbols()

    @property
    def n_decoded(self):
        """Symbols decoded so far."""
        return self._get().n_decoded()
