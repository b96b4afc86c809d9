# cython: language_level=3
"""Compiled face of the integer networks (csrc/lic/intnet.h).

Thin by design: lic_core.coding.intnet checks and converts the arguments (dtypes,
shapes, ranges) and documents the API; this module takes flat C-contiguous buffers
of the exact dtypes (typed memoryviews refuse anything else), checks that every
buffer is as long as the sizes say (so the engine never reads or writes outside
one), releases the GIL around long engine calls and turns a status into the
lic_core.errors exception with the engine's message. Use lic_core.coding.intnet.
"""
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint64_t
from libcpp.memory cimport shared_ptr, unique_ptr
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

import numpy as np
cimport numpy as cnp

from ..errors import InvalidArgumentError, raise_for_status
from ._coder cimport CTableSet, ErrorInfo, LIC_OK, TableSet, _as_bytes, lic_status

cnp.import_array()


cdef extern from "lic/intnet.h" namespace "lic::intnet" nogil:
    cdef cppclass LayerSpec:
        int kind
        size_t c_in
        size_t c_out
        size_t k
        const int16_t* weight
        const int32_t* bias
        const uint8_t* shift
        int act
        unsigned out_bits
        unsigned square_shift
        const uint8_t* out_shift

    cdef cppclass CNetwork "lic::intnet::Network":
        CNetwork() except +
        lic_status add_layer(const LayerSpec& spec, ErrorInfo* err)
        size_t n_layers()
        size_t in_channels()
        size_t out_channels()
        unsigned out_bits()
        bint spatial()
        lic_status output_shape(size_t h, size_t w, size_t* out_h, size_t* out_w, ErrorInfo* err)
        uint64_t macs(size_t h, size_t w)
        lic_status run(const int16_t* x, size_t h, size_t w, void* out, ErrorInfo* err, unsigned threads)
        unsigned threads_used(size_t h, size_t w, unsigned threads)
        void input_rows(size_t h, size_t r0, size_t r1, size_t* a, size_t* b)
        lic_status run_rows(const int16_t* x, size_t h, size_t w, size_t x_row0, size_t x_rows, size_t r0,
                            size_t r1, void* out, ErrorInfo* err, unsigned threads)

    cdef cppclass CJoint "lic::intnet::JointModel":
        size_t channels()
        lic_status step(const int16_t* grid, const int16_t* params, size_t h, size_t w,
                        const int64_t* positions, size_t count, int32_t* indexes, int32_t* means,
                        ErrorInfo* err)
        lic_status commit(int16_t* grid, size_t h, size_t w, const int64_t* positions, size_t count,
                          const int32_t* symbols, const int32_t* means, ErrorInfo* err)
        lic_status decode(const int16_t* params, size_t h, size_t w, shared_ptr[const CTableSet] tables,
                          const uint8_t* data, size_t size, const int64_t* positions,
                          const int64_t* step_starts, size_t n_steps, int32_t* symbols, int32_t* means,
                          ErrorInfo* err)
        lic_status encode(const int16_t* params, const float* y, size_t h, size_t w,
                          const int64_t* positions, const int64_t* step_starts, size_t n_steps,
                          int32_t* symbols, int32_t* indexes, int32_t* means, ErrorInfo* err)

    lic_status joint_create "lic::intnet::JointModel::create"(
        const CNetwork& context, const CNetwork& entropy_parameters, const int32_t* thresholds,
        size_t n_thresholds, unsigned mean_frac, unique_ptr[CJoint]* out, ErrorInfo* err)
    lic_status engine_scale_indexes "lic::intnet::scale_indexes"(
        const int32_t* sigma_q, size_t n, const int32_t* thresholds, size_t n_thresholds, int32_t* out,
        ErrorInfo* err)
    const char* engine_kernel_name "lic::intnet::kernel_name"()
    uint64_t kMaxElements
    uint64_t kMaxWeights
    unsigned kMaxThreads


#: Largest tensor (values) and layer (weights) the engine takes (csrc/lic/intnet.h).
MAX_ELEMENTS = kMaxElements
MAX_WEIGHTS = kMaxWeights
#: Most threads one run uses (Net.run's threads above it count as this many).
MAX_THREADS = kMaxThreads

# Calls shorter than about a millisecond keep the GIL: re-acquiring it can wait a
# whole switch interval (5 ms) when another thread runs Python (see _coder.pyx).
cdef enum:
    GIL_RELEASE_MIN_MACS = 1 << 22


cdef inline int _check(lic_status status, ErrorInfo* err) except -1:
    if status != LIC_OK:
        raise_for_status(<int>status, err.message.decode("utf-8", "replace"))
    return 0


cdef inline int _need(Py_ssize_t have, object need, str name) except -1:
    if have != need:
        raise InvalidArgumentError(f"{name} holds {have} values but the sizes given need {need}")
    return 0


# Address of a buffer's first value, or NULL for an empty one (x[0] would be out of bounds).
cdef inline const int16_t* _i16(const int16_t[::1] a):
    return &a[0] if a.shape[0] > 0 else NULL

cdef inline const int32_t* _i32(const int32_t[::1] a):
    return &a[0] if a.shape[0] > 0 else NULL

cdef inline const int64_t* _i64(const int64_t[::1] a):
    return &a[0] if a.shape[0] > 0 else NULL


def kernel_name():
    """The dot-product kernel in use: "avx512vnni", "avx512", "avx2" or "portable"."""
    return engine_kernel_name().decode("ascii")


# Net() and Net.__new__(Net) (and a subclass's object) both start as an engine network
# of no layers, and Joint.__new__(Joint) has no engine object at all. The engine answers
# some queries on an empty network with placeholders (macs: UINT64_MAX, in_channels: 0),
# which Python would pass on as real numbers; so every method and property checks first
# and raises this, as _coder.pyx does for its objects.
cdef str _NOT_INITIALISED = "{0} was not initialised: {1}"


cdef class Net:
    """An engine network (lic::intnet::Network); built by add_layer, then run.

    Until add_layer has given it a layer, every other method and property raises
    InvalidArgumentError (lic_core.coding.intnet.Network builds one from its layers)."""
    cdef CNetwork* ptr

    def __cinit__(self):
        self.ptr = new CNetwork()

    def __dealloc__(self):
        del self.ptr

    cdef CNetwork* _built(self) except NULL:
        if self.ptr == NULL or self.ptr.n_layers() == 0:
            raise InvalidArgumentError(_NOT_INITIALISED.format(
                type(self).__name__, "it has no layers; add_layer(...) builds it "
                "(lic_core.coding.intnet.Network(layers) does)"))
        return self.ptr

    def add_layer(self, int kind, size_t c_in, size_t c_out, size_t k, const int16_t[::1] weight,
                  const int32_t[::1] bias, const uint8_t[::1] shift, int act, unsigned out_bits,
                  unsigned square_shift=0, const uint8_t[::1] out_shift=None):
        _need(weight.shape[0], int(c_in) * int(c_out) * int(k) * int(k), "weight")
        _need(bias.shape[0], c_out, "bias")
        _need(shift.shape[0], c_out, "shift")
        if out_shift is not None:
            _need(out_shift.shape[0], c_out, "out_shift")
        cdef LayerSpec spec
        spec.kind, spec.c_in, spec.c_out, spec.k = kind, c_in, c_out, k
        spec.weight, spec.bias = _i16(weight), _i32(bias)
        spec.shift = &shift[0] if shift.shape[0] > 0 else NULL
        spec.act, spec.out_bits = act, out_bits
        spec.square_shift = square_shift
        spec.out_shift = &out_shift[0] if out_shift is not None and out_shift.shape[0] > 0 else NULL
        cdef ErrorInfo err
        _check(self.ptr.add_layer(spec, &err), &err)

    @property
    def in_channels(self):
        return self._built().in_channels()

    @property
    def out_channels(self):
        return self._built().out_channels()

    @property
    def out_bits(self):
        return self._built().out_bits()

    @property
    def spatial(self):
        return self._built().spatial()

    def macs(self, size_t h, size_t w):
        """Multiply-accumulates of a run on h x w; LimitExceededError past the engine's
        limits (where the engine's own answer is the placeholder UINT64_MAX)."""
        self.output_shape(h, w)
        return self.ptr.macs(h, w)

    def output_shape(self, size_t h, size_t w):
        """(out_h, out_w) for an h x w input; LimitExceededError past the engine's limits."""
        cdef CNetwork* net = self._built()
        cdef size_t oh = 0, ow = 0
        cdef ErrorInfo err
        _check(net.output_shape(h, w, &oh, &ow, &err), &err)
        return oh, ow

    def threads_used(self, size_t h, size_t w, unsigned threads):
        """The most threads a run on h x w with `threads` would give one layer (1: no layer
        splits, and past the engine's limits, where no run happens)."""
        return self._built().threads_used(h, w, threads)

    def run(self, const int16_t[::1] x, size_t h, size_t w, unsigned threads=1):
        """x: h * w * in_channels int16 -> flat int16 or int32 output (out_h * out_w * out_channels),
        with up to `threads` threads (0 or 1: this one)."""
        oh, ow = self.output_shape(h, w)  # refuses an empty network and sizes past the limits
        _need(x.shape[0], int(h) * int(w) * int(self.ptr.in_channels()), "x")
        out = np.empty(oh * ow * self.ptr.out_channels(), dtype=_OUT_DTYPE[self.ptr.out_bits()])
        cdef void* op = cnp.PyArray_DATA(out)
        cdef const int16_t* xp = _i16(x)
        cdef ErrorInfo err
        cdef lic_status st
        if self.ptr.macs(h, w) >= GIL_RELEASE_MIN_MACS:
            with nogil:
                st = self.ptr.run(xp, h, w, op, &err, threads)
        else:
            st = self.ptr.run(xp, h, w, op, &err, threads)
        _check(st, &err)
        return out

    def input_rows(self, size_t h, size_t r0, size_t r1):
        """(a, b): the input rows [a, b) that output rows [r0, r1) of a run on h rows read."""
        cdef size_t a = 0, b = 0
        self._built().input_rows(h, r0, r1, &a, &b)
        return a, b

    def run_rows(self, const int16_t[::1] x, size_t h, size_t w, size_t x_row0, size_t x_rows, size_t r0,
                 size_t r1, unsigned threads=1):
        """Output rows [r0, r1) of a run on an h x w input, from its rows [x_row0, x_row0 + x_rows)
        held in x (x_rows * w * in_channels int16) -> flat (r1 - r0) * out_w * out_channels."""
        oh, ow = self.output_shape(h, w)
        _need(x.shape[0], int(x_rows) * int(w) * int(self.ptr.in_channels()), "x")
        n = (int(r1) - int(r0)) * ow * self.ptr.out_channels() if r1 >= r0 else 0
        out = np.empty(n, dtype=_OUT_DTYPE[self.ptr.out_bits()])
        cdef void* op = cnp.PyArray_DATA(out)
        cdef const int16_t* xp = _i16(x)
        cdef ErrorInfo err
        cdef lic_status st
        with nogil:
            st = self.ptr.run_rows(xp, h, w, x_row0, x_rows, r0, r1, op, &err, threads)
        _check(st, &err)
        return out


_OUT_DTYPE = {8: np.uint8, 16: np.int16, 32: np.int32}


def scale_indexes(const int32_t[::1] sigma_q, const int32_t[::1] thresholds):
    """Flat int32 sigma_q -> int32 table indexes (the number of thresholds below each)."""
    out = np.empty(sigma_q.shape[0], dtype=np.int32)
    cdef ErrorInfo err
    _check(engine_scale_indexes(_i32(sigma_q), sigma_q.shape[0], _i32(thresholds), thresholds.shape[0],
                                <int32_t*>cnp.PyArray_DATA(out), &err), &err)
    return out


cdef class Joint:
    """An engine joint model (lic::intnet::JointModel)."""
    cdef unique_ptr[CJoint] ptr
    cdef uint64_t macs_per_position
    cdef size_t m

    def __init__(self, Net context not None, Net entropy_parameters not None, const int32_t[::1] thresholds,
                 unsigned mean_frac):
        if self.ptr.get() != NULL:
            raise InvalidArgumentError("Joint is already initialised")
        # an empty Net says so by name, not as "0 layers" in the engine's shape check
        context._built()
        entropy_parameters._built()
        cdef ErrorInfo err
        _check(joint_create(context.ptr[0], entropy_parameters.ptr[0], _i32(thresholds), thresholds.shape[0],
                            mean_frac, &self.ptr, &err), &err)
        self.m = self.ptr.get().channels()
        self.macs_per_position = context.ptr.macs(1, 1) + entropy_parameters.ptr.macs(1, 1)

    cdef CJoint* _get(self) except NULL:
        if self.ptr.get() == NULL:
            raise InvalidArgumentError(_NOT_INITIALISED.format(
                type(self).__name__, "call Joint(context, entropy_parameters, thresholds, "
                "mean_frac) (a subclass's __init__ must call super().__init__(...))"))
        return self.ptr.get()

    @property
    def channels(self):
        return self._get().channels()

    def step(self, const int16_t[::1] grid, const int16_t[::1] params, size_t h, size_t w,
             const int64_t[::1] positions):
        """-> (indexes, means): flat int32, count * M each."""
        cdef CJoint* j = self._get()
        _need(grid.shape[0], (int(h) + 4) * (int(w) + 4) * int(self.m), "grid")
        _need(params.shape[0], int(h) * int(w) * 2 * int(self.m), "params")
        cdef size_t count = positions.shape[0]
        indexes = np.empty(count * self.m, dtype=np.int32)
        means = np.empty(count * self.m, dtype=np.int32)
        cdef int32_t* ip = <int32_t*>cnp.PyArray_DATA(indexes)
        cdef int32_t* mp = <int32_t*>cnp.PyArray_DATA(means)
        cdef const int16_t* gp = _i16(grid)
        cdef const int16_t* pp = _i16(params)
        cdef const int64_t* pos = _i64(positions)
        cdef ErrorInfo err
        cdef lic_status st
        if int(count) * int(self.macs_per_position) >= GIL_RELEASE_MIN_MACS:
            with nogil:
                st = j.step(gp, pp, h, w, pos, count, ip, mp, &err)
        else:
            st = j.step(gp, pp, h, w, pos, count, ip, mp, &err)
        _check(st, &err)
        return indexes, means

    def commit(self, int16_t[::1] grid, size_t h, size_t w, const int64_t[::1] positions,
               const int32_t[::1] symbols, const int32_t[::1] means):
        cdef CJoint* j = self._get()
        _need(grid.shape[0], (int(h) + 4) * (int(w) + 4) * int(self.m), "grid")
        _need(symbols.shape[0], int(positions.shape[0]) * int(self.m), "symbols")
        _need(means.shape[0], int(positions.shape[0]) * int(self.m), "means")
        cdef ErrorInfo err
        _check(j.commit(&grid[0] if grid.shape[0] > 0 else NULL, h, w, _i64(positions), positions.shape[0],
                        _i32(symbols), _i32(means), &err), &err)

    def decode(self, const int16_t[::1] params, size_t h, size_t w, object stream, TableSet tables not None,
               const int64_t[::1] positions, const int64_t[::1] step_starts):
        """-> (symbols flat int32 in coding order, means flat int32 position-major), h * w * M each.
        ``stream``: any bytes-like object."""
        cdef bytes data = _as_bytes(stream)
        cdef CJoint* j = self._get()
        tables._get()
        _need(params.shape[0], int(h) * int(w) * 2 * int(self.m), "params")
        _need(positions.shape[0], int(h) * int(w), "positions")
        if step_starts.shape[0] < 1:
            raise InvalidArgumentError("step_starts needs at least one entry (0)")
        symbols = np.empty(h * w * self.m, dtype=np.int32)
        means = np.empty(h * w * self.m, dtype=np.int32)
        cdef int32_t* sp = <int32_t*>cnp.PyArray_DATA(symbols)
        cdef int32_t* mp = <int32_t*>cnp.PyArray_DATA(means)
        cdef const int16_t* pp = _i16(params)
        cdef const int64_t* pos = _i64(positions)
        cdef const int64_t* starts = _i64(step_starts)
        cdef size_t n_steps = step_starts.shape[0] - 1
        # Our own references: the bytes and the engine's table set stay alive without the GIL.
        cdef shared_ptr[const CTableSet] tp = tables.ptr
        cdef const uint8_t* src = <const uint8_t*>PyBytes_AS_STRING(data)
        cdef size_t size = PyBytes_GET_SIZE(data)
        cdef ErrorInfo err
        cdef lic_status st
        with nogil:
            st = j.decode(pp, h, w, tp, src, size, pos, starts, n_steps, sp, mp, &err)
        _check(st, &err)
        return symbols, means

    def encode(self, const int16_t[::1] params, const float[::1] y, size_t h, size_t w,
               const int64_t[::1] positions, const int64_t[::1] step_starts):
        """-> (symbols, indexes: flat int32 in coding order; means: flat int32 position-major)."""
        cdef CJoint* j = self._get()
        _need(params.shape[0], int(h) * int(w) * 2 * int(self.m), "params")
        _need(y.shape[0], int(h) * int(w) * int(self.m), "y")
        _need(positions.shape[0], int(h) * int(w), "positions")
        if step_starts.shape[0] < 1:
            raise InvalidArgumentError("step_starts needs at least one entry (0)")
        symbols = np.empty(h * w * self.m, dtype=np.int32)
        indexes = np.empty(h * w * self.m, dtype=np.int32)
        means = np.empty(h * w * self.m, dtype=np.int32)
        cdef int32_t* sp = <int32_t*>cnp.PyArray_DATA(symbols)
        cdef int32_t* ip = <int32_t*>cnp.PyArray_DATA(indexes)
        cdef int32_t* mp = <int32_t*>cnp.PyArray_DATA(means)
        cdef const int16_t* pp = _i16(params)
        cdef const float* yp = &y[0] if y.shape[0] > 0 else NULL
        cdef const int64_t* pos = _i64(positions)
        cdef const int64_t* starts = _i64(step_starts)
        cdef size_t n_steps = step_starts.shape[0] - 1
        cdef ErrorInfo err
        cdef lic_status st
        with nogil:
            st = j.encode(pp, yp, h, w, pos, starts, n_steps, sp, ip, mp, &err)
        _check(st, &err)
        return symbols, indexes, means
