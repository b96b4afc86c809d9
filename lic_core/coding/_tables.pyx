# cython: language_level=3
"""Compiled face of the table builder (csrc/lic/tables.h).

Thin by design: every function takes C-contiguous NumPy buffers of the exact
dtype (lic_core.tables converts and validates shapes), releases the GIL for the
engine call and turns a non-zero status into the lic_core.errors exception with
the engine's message. Use lic_core.tables, not this module.
"""
from libc.stdint cimport int32_t, int64_t

import numpy as np

from ..errors import raise_for_status


cdef extern from "lic/tables.h" nogil:
    int LIC_TABLES_ERR_CAP
    int LIC_TABLES_MAX_PRECISION  # = LIC_MAX_PRECISION (lic.h), the one definition
    int LIC_DEFAULT_PRECISION
    int lic_pmf_to_quantized_cdf(const double* pmf, int64_t n, int precision, int quantizer,
                                 int32_t* cdf, char* err)
    int lic_pmfs_to_cdfs(const double* pmfs, int64_t rows, int64_t pmf_stride,
                         const int32_t* lengths, int precision, int quantizer, int32_t* cdfs,
                         int64_t cdf_stride, int32_t* cdf_lengths, char* err)
    int lic_parametric_layout(int family, const float* scales, int64_t n, int precision,
                              double tail_mass, int32_t* cdf_lengths, int32_t* offsets,
                              char* err)
    int lic_parametric_tables(int family, const float* scales, int64_t n, int precision,
                              double tail_mass, int quantizer, int32_t* cdfs,
                              int64_t cdf_stride, int32_t* cdf_lengths, int32_t* offsets,
                              char* err)
    int lic_scale_table(double min, double max, int levels, float* out, char* err)
    int lic_scale_indexes(const float* scales, int64_t n, const float* table, int64_t levels,
                          int32_t* out, char* err)
    int lic_tail_multiplier(int family, double tail_mass, double* out, char* err)
    int lic_special_eval(int function, const double* x, int64_t n, double* out, char* err)


cdef extern from "lic/lic.h":
    # lic_core.tables' defaults, defined once in the C header (lic.h); exported below.
    double LIC_DEFAULT_TAIL_MASS
    double LIC_SCALE_TABLE_MIN
    double LIC_SCALE_TABLE_MAX
    int LIC_SCALE_TABLE_LEVELS


cdef enum:
    ERR_CAP = 256  # == LIC_TABLES_ERR_CAP

#: Largest precision the table builder accepts (the coders' bound).
MAX_PRECISION = LIC_TABLES_MAX_PRECISION
#: The precision lic_core.tables builds at unless told otherwise.
PRECISION = LIC_DEFAULT_PRECISION
#: The tail mass of the parametric tables unless told otherwise.
DEFAULT_TAIL_MASS = LIC_DEFAULT_TAIL_MASS
#: The default scale table: SCALE_TABLE_LEVELS scales from SCALE_TABLE_MIN to
#: SCALE_TABLE_MAX (CompressAI's get_scale_table()).
SCALE_TABLE_MIN = LIC_SCALE_TABLE_MIN
SCALE_TABLE_MAX = LIC_SCALE_TABLE_MAX
SCALE_TABLE_LEVELS = LIC_SCALE_TABLE_LEVELS


cdef inline void _check(int status, char* err) except *:
    if status != 0:
        raise_for_status(status, err.decode("utf-8", "replace"))


def pmf_to_quantized_cdf(const double[::1] pmf, int precision, int quantizer):
    """pmf float64 [n] -> cdf int32 [n + 1]."""
    cdef char err[ERR_CAP]
    err[0] = 0
    cdef int64_t n = pmf.shape[0]
    out = np.empty(n + 1, dtype=np.int32)
    cdef int32_t[::1] cdf = out
    cdef int status
    cdef const double* pmf_ptr = &pmf[0] if n > 0 else NULL
    with nogil:
        status = lic_pmf_to_quantized_cdf(pmf_ptr, n, precision, quantizer, &cdf[0], err)
    _check(status, err)
    return out


def pmfs_to_cdfs(const double[:, ::1] pmfs, const int32_t[::1] lengths, int precision,
                 int quantizer):
    """pmfs float64 [rows, width], lengths int32 [rows] -> (cdfs [rows, max(lengths)+1],
    cdf_lengths [rows])."""
    cdef char err[ERR_CAP]
    err[0] = 0
    cdef int64_t rows = pmfs.shape[0]
    cdef int64_t width = pmfs.shape[1]
    # Sized from the row width, never from a (possibly hostile) length: the engine
    # rejects any length above the width before writing.
    cdef int64_t stride = (min(max(int(np.max(lengths)), 1), width) + 1) if rows > 0 else 1
    cdfs = np.zeros((rows, stride), dtype=np.int32)
    lens = np.zeros(rows, dtype=np.int32)
    if rows == 0:
        return cdfs, lens
    cdef int32_t[:, ::1] cdf_view = cdfs
    cdef int32_t[::1] len_view = lens
    cdef int status
    with nogil:
        status = lic_pmfs_to_cdfs(&pmfs[0, 0], rows, width, &lengths[0], precision, quantizer,
                                  &cdf_view[0, 0], stride, &len_view[0], err)
    _check(status, err)
    return cdfs, lens


def parametric_tables(int family, const float[::1] scales, int precision, double tail_mass,
                      int quantizer):
    """scales float32 [n] -> (cdfs int32 [n, max_len], cdf_lengths int32 [n], offsets int32 [n])."""
    cdef char err[ERR_CAP]
    err[0] = 0
    cdef int64_t n = scales.shape[0]
    lens = np.zeros(n, dtype=np.int32)
    offs = np.zeros(n, dtype=np.int32)
    cdef int32_t[::1] len_view = lens
    cdef int32_t[::1] off_view = offs
    cdef const float* sp = &scales[0] if n > 0 else NULL
    cdef int32_t* lp = &len_view[0] if n > 0 else NULL
    cdef int32_t* op = &off_view[0] if n > 0 else NULL
    cdef int status
    with nogil:
        status = lic_parametric_layout(family, sp, n, precision, tail_mass, lp, op, err)
    _check(status, err)
    cdef int64_t stride = int(lens.max()) if n > 0 else 0
    cdfs = np.zeros((n, stride), dtype=np.int32)
    if n == 0:
        return cdfs, lens, offs
    cdef int32_t[:, ::1] cdf_view = cdfs
    with nogil:
        status = lic_parametric_tables(family, sp, n, precision, tail_mass, quantizer,
                                       &cdf_view[0, 0], stride, lp, op, err)
    _check(status, err)
    return cdfs, lens, offs


def scale_table(double lo, double hi, int levels):
    """float32 [levels], log-spaced from lo to hi."""
    cdef char err[ERR_CAP]
    err[0] = 0
    out = np.empty(levels if 2 <= levels <= 65536 else 1, dtype=np.float32)  # engine rejects the rest
    cdef float[::1] view = out
    cdef int status
    with nogil:
        status = lic_scale_table(lo, hi, levels, &view[0], err)
    _check(status, err)
    return out


def scale_indexes(const float[::1] scales, const float[::1] table):
    """scales float32 [n], table float32 [levels] -> int32 [n]."""
    cdef char err[ERR_CAP]
    err[0] = 0
    cdef int64_t n = scales.shape[0]
    cdef int64_t levels = table.shape[0]
    out = np.empty(n, dtype=np.int32)
    cdef int32_t[::1] view = out
    cdef const float* sp = &scales[0] if n > 0 else NULL
    cdef int32_t* op = &view[0] if n > 0 else NULL
    cdef const float* tp = &table[0] if levels > 0 else NULL
    cdef int status
    with nogil:
        status = lic_scale_indexes(sp, n, tp, levels, op, err)
    _check(status, err)
    return out


def tail_multiplier(int family, double tail_mass):
    """m = T^-1(tail_mass) for the family (Gaussian: -Phi^-1(tail_mass / 2))."""
    cdef char err[ERR_CAP]
    err[0] = 0
    cdef double out = 0.0
    cdef int status = lic_tail_multiplier(family, tail_mass, &out, err)
    _check(status, err)
    return out


def _special(int function, const double[::1] x):
    """Test hook: the engine's deterministic exp (0), log (1), erfc (2), log1p on
    [0, 1] (3), erfc over sorted x >= 0 (4), erfc^-1 (5), applied to float64 [n]."""
    cdef char err[ERR_CAP]
    err[0] = 0
    cdef int64_t n = x.shape[0]
    out = np.empty(n, dtype=np.float64)
    if n == 0:
        return out
    cdef double[::1] view = out
    cdef int status
    with nogil:
        status = lic_special_eval(function, &x[0], n, &view[0], err)
    _check(status, err)
    return out
