# cython: language_level=3
"""Compiled face of the whole-file decoder (csrc/lic/decoder.h).

Thin by design, as the other faces: lic_core.coding.decoder documents the API and
checks arguments; this module holds the engine object, sizes the output from the
header the engine reads, releases the GIL around the decode and turns a status into
the lic_core.errors exception with the engine's message.
"""
from libc.stdint cimport int16_t, uint8_t, uint64_t
from libcpp.memory cimport unique_ptr
from libcpp.string cimport string
from libcpp.vector cimport vector

import numpy as np
cimport numpy as cnp

from ..errors import InvalidArgumentError, raise_for_status
from ._coder cimport ErrorInfo, LIC_OK, _as_bytes, lic_status

cnp.import_array()


cdef extern from "lic/decoder.h" namespace "lic::decoder" nogil:
    cdef cppclass CModel "lic::decoder::Model":
        uint64_t fingerprint()
        int input_frac()
        const vector[int]& input_offset()
        int mean_frac()
        size_t channels()
        lic_status synthesis_shape(size_t hy, size_t wy, size_t* oh, size_t* ow, ErrorInfo* err)
        lic_status synthesize_latent(const int16_t* y, size_t hy, size_t wy, unsigned threads, uint8_t* rgb,
                                     size_t rgb_size, ErrorInfo* err)

    cdef cppclass CWeights "lic::decoder::Weights":
        unsigned model_id()
        const char* family()
        const vector[unsigned]& qualities()
        const string& release()
        lic_status model(unsigned quality, const CModel** out, ErrorInfo* err)
        lic_status decode(const uint8_t* data, size_t size, uint64_t max_pixels, unsigned threads, uint8_t* rgb,
                          size_t rgb_size, ErrorInfo* err)

    lic_status weights_open "lic::decoder::Weights::open"(const char* path, unique_ptr[CWeights]* out,
                                                          ErrorInfo* err)
    lic_status weights_copy "lic::decoder::Weights::copy"(const uint8_t* data, size_t size,
                                                          unique_ptr[CWeights]* out, ErrorInfo* err)


cdef extern from "lic/container.h" namespace "lic::container" nogil:
    cdef cppclass CHeader "lic::container::Header":
        unsigned version, model_id, quality, probability_path, synthesis
        unsigned height, width
        uint64_t fingerprint
        string release

    lic_status parse_header "lic::container::parse"(const uint8_t* data, size_t size, uint64_t max_pixels,
                                                     bint check_crcs, CHeader* out, ErrorInfo* err)


cdef inline int _check(lic_status status, ErrorInfo* err) except -1:
    if status != LIC_OK:
        raise_for_status(<int>status, err.message.decode("utf-8", "replace"))
    return 0


cdef class Weights:
    """An engine decoder weights file (lic::decoder::Weights)."""
    cdef unique_ptr[CWeights] ptr

    @staticmethod
    def open(path):
        cdef Weights w = Weights.__new__(Weights)
        cdef bytes p = str(path).encode()
        cdef ErrorInfo err
        _check(weights_open(p, &w.ptr, &err), &err)
        return w

    @staticmethod
    def from_bytes(data):
        data = _as_bytes(data)
        cdef Weights w = Weights.__new__(Weights)
        cdef const uint8_t* p = <const uint8_t*>(<bytes>data)
        cdef ErrorInfo err
        _check(weights_copy(p, len(data), &w.ptr, &err), &err)
        return w

    @property
    def model_id(self):
        return self.ptr.get().model_id()

    @property
    def family(self):
        return self.ptr.get().family().decode()

    @property
    def qualities(self):
        cdef vector[unsigned] qs = self.ptr.get().qualities()
        return [int(qs[i]) for i in range(qs.size())]

    @property
    def release(self):
        return self.ptr.get().release().decode()

    def fingerprint(self, unsigned quality):
        cdef const CModel* m = NULL
        cdef ErrorInfo err
        _check(self.ptr.get().model(quality, &m, &err), &err)
        return int(m.fingerprint())

    cdef const CModel* _model(self, unsigned quality) except NULL:
        cdef const CModel* m = NULL
        cdef ErrorInfo err
        _check(self.ptr.get().model(quality, &m, &err), &err)
        return m

    def synthesis_input(self, unsigned quality):
        """(Fy, input offsets int32 [M] or None, Fm, M) of quality's synthesis input."""
        cdef const CModel* m = self._model(quality)
        cdef vector[int] off = m.input_offset()
        offsets = np.array([off[i] for i in range(off.size())], dtype=np.int32) if off.size() else None
        return int(m.input_frac()), offsets, int(m.mean_frac()), int(m.channels())

    def synthesize(self, unsigned quality, const int16_t[::1] y, size_t hy, size_t wy, unsigned threads):
        """Flat int16 latent (hy x wy x M) -> the synthesis's pixels (16 hy x 16 wy x 3 uint8 for the zoo)."""
        cdef const CModel* m = self._model(quality)
        if y.shape[0] != <Py_ssize_t>(hy * wy * m.channels()):
            raise InvalidArgumentError(f"y holds {y.shape[0]} values; {hy} x {wy} x {m.channels()} needed")
        cdef size_t oh = 0, ow = 0
        cdef ErrorInfo err
        _check(m.synthesis_shape(hy, wy, &oh, &ow, &err), &err)
        out = np.empty((oh, ow, 3), dtype=np.uint8)
        cdef uint8_t* op = <uint8_t*>cnp.PyArray_DATA(out)
        cdef const int16_t* yp = &y[0] if y.shape[0] > 0 else NULL
        cdef size_t n = out.size
        cdef lic_status st
        with nogil:
            st = m.synthesize_latent(yp, hy, wy, threads, op, n, &err)
        _check(st, &err)
        return out

    def decode(self, data, uint64_t max_pixels, unsigned threads):
        """Whole .lic bytes -> H x W x 3 uint8."""
        data = _as_bytes(data)
        cdef const uint8_t* p = <const uint8_t*>(<bytes>data)
        cdef size_t size = len(data)
        cdef CHeader h
        cdef ErrorInfo err
        _check(parse_header(p, size, max_pixels, True, &h, &err), &err)
        out = np.empty((h.height, h.width, 3), dtype=np.uint8)
        cdef uint8_t* op = <uint8_t*>cnp.PyArray_DATA(out)
        cdef size_t n = <size_t>h.height * h.width * 3
        cdef lic_status st
        with nogil:
            st = self.ptr.get().decode(p, size, max_pixels, threads, op, n, &err)
        _check(st, &err)
        return out
