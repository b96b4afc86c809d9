# cython: language_level=3
"""C declarations of the native coder face that other compiled faces share.

lic_core.coding._intnet cimports TableSet from here, to decode with the engine
object a TableSet already holds (no copy, no second validation), and _as_bytes, the one
conversion of a bytes-like stream argument.
"""
from libcpp.memory cimport shared_ptr


cdef extern from "lic/status.h":
    ctypedef enum lic_status:
        LIC_OK


cdef extern from "lic/coder.h" namespace "lic" nogil:
    cdef cppclass ErrorInfo:
        lic_status status
        char message[256]

    cdef cppclass CTableSet "lic::TableSet":
        size_t n_tables()
        unsigned precision()
        size_t max_len()


cdef class TableSet:
    cdef shared_ptr[const CTableSet] ptr  # empty until __init__ succeeds; never emptied after
    cdef object _cdfs
    cdef object _cdf_lengths
    cdef object _offsets
    cdef const CTableSet* _get(self) except NULL


cdef object _as_bytes(object data)
