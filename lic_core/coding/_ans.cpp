// _ans.cpp - pybind11 face of the CompressAI 1.2.8 stream format (lic::compat).
//
// The glue converts Python inputs once per call into owned, validated arrays
// (TableSet, int32 vectors), releases the GIL, and runs the engine. Errors are
// raised through lic_core.errors.raise_for_status, the one status -> exception
// mapping. Owned copies mean no caller object is touched without the GIL, so a
// caller thread that mutates its lists or arrays mid-call cannot crash us.
//
// Each object guards its own state (buffered items, the streaming decoder) with
// a mutex taken after the GIL is released, so concurrent use of one object is
// serialised instead of racing, and cannot deadlock against the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "lic/compat.h"

#if PY_VERSION_HEX < 0x030B0000
#include <longintrepr.h>  // PyLongObject digits; Python.h includes it from 3.11 on
#endif

namespace py = pybind11;
namespace compat = lic::compat;

namespace {

// ---- errors -------------------------------------------------------------------

[[noreturn]] void raise_status(lic_status status, const std::string& message) {
  py::module_::import("lic_core.errors").attr("raise_for_status")(static_cast<int>(status), message);
  throw std::logic_error("raise_for_status did not raise: " + message);  // not reached
}

[[noreturn]] void raise_invalid(const std::string& message) { raise_status(LIC_ERR_INVALID_ARGUMENT, message); }

std::string type_name(py::handle obj) { return py::str(py::type::handle_of(obj).attr("__name__")); }

// An engine failure: the engine's error record already names the problem (the
// first bad index, table entry or stream position).
[[noreturn]] void raise_coding_error(lic_status status, const lic::ErrorInfo& err) {
  raise_status(status, err.message);
}

// ---- integers in: Python ints, NumPy arrays -------------------------------------

template <typename T>
inline bool fits_int32(T v) {
  if constexpr (std::is_signed<T>::value) {
    const int64_t w = static_cast<int64_t>(v);
    return w >= std::numeric_limits<int32_t>::min() && w <= std::numeric_limits<int32_t>::max();
  } else {
    return static_cast<uint64_t>(v) <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
  }
}

// Copies n strided elements of type T to int32; false (and *bad) on overflow.
template <typename T>
bool copy_strided(const char* base, py::ssize_t stride, size_t n, int32_t* dst, size_t* bad) {
  if (n == 0) return true;  // dst may be null (an empty vector's data()): memcpy must not see it
  if (std::is_same<T, int32_t>::value && stride == sizeof(int32_t)) {
    std::memcpy(dst, base, n * sizeof(int32_t));
    return true;
  }
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, base + static_cast<py::ssize_t>(i) * stride, sizeof(T));
    if (!fits_int32(v)) {
      *bad = i;
      return false;
    }
    dst[i] = static_cast<int32_t>(v);
  }
  return true;
}

// Exact int whose value fits one digit: read it without a call and without
// running any Python code (the common case: list conversion is part of every
// call). False means "use py_to_int32".
inline bool small_int_to_int32(PyObject* o, int32_t* out) {
  if (!PyLong_CheckExact(o)) return false;
#if PY_VERSION_HEX >= 0x030C0000
  if (!PyUnstable_Long_IsCompact(reinterpret_cast<PyLongObject*>(o))) return false;
  const Py_ssize_t c = PyUnstable_Long_CompactValue(reinterpret_cast<PyLongObject*>(o));
  if (c < std::numeric_limits<int32_t>::min() || c > std::numeric_limits<int32_t>::max()) return false;
  *out = static_cast<int32_t>(c);
  return true;
#else
  const Py_ssize_t size = Py_SIZE(o);  // sign and digit count (CPython <= 3.11 layout)
  if (size == 0) {
    *out = 0;
    return true;
  }
  if (size != 1 && size != -1) return false;
  // one digit (at most 30 bits): always within int32
  *out = static_cast<int32_t>(size * static_cast<Py_ssize_t>(reinterpret_cast<PyLongObject*>(o)->ob_digit[0]));
  return true;
#endif
}

// Any Python integer to int32. 0 = ok, 1 = not an integer, 2 = outside int32.
// May run Python code (__index__).
inline int py_to_int32(PyObject* o, int32_t* out) {
  if (small_int_to_int32(o, out)) return 0;
  long v;
  int overflow = 0;
  if (PyLong_Check(o)) {
    v = PyLong_AsLongAndOverflow(o, &overflow);
  } else {
    if (PyFloat_Check(o)) return 1;  // refuse 2.0 as CompressAI does
    PyObject* idx = PyNumber_Index(o);  // NumPy integer scalars and friends
    if (idx == nullptr) {
      PyErr_Clear();
      return 1;
    }
    v = PyLong_AsLongAndOverflow(idx, &overflow);
    Py_DECREF(idx);
  }
  if (overflow != 0 || v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
    if (v == -1 && PyErr_Occurred()) PyErr_Clear();
    return 2;
  }
  *out = static_cast<int32_t>(v);
  return 0;
}

// A native-byte-order integer ndarray, or nothing if `obj` is not one.
py::object as_integer_array(py::handle obj, const char* name) {
  if (!py::isinstance<py::array>(obj)) return py::object();
  py::array arr = py::reinterpret_borrow<py::array>(obj);
  const char kind = arr.dtype().kind();
  if (kind == 'O') return py::object();  // ragged rows etc.: read as a sequence
  if (kind != 'i' && kind != 'u')
    raise_invalid(std::string(name) + " must hold integers, got an array of dtype " +
                  std::string(py::str(arr.dtype())));
  if (!arr.dtype().attr("isnative").cast<bool>())
    arr = arr.attr("astype")(arr.dtype().attr("newbyteorder")("="));
  return std::move(arr);
}

// A 1-D run of integers: a slice of an ndarray or a list/tuple (fast sequence).
// Holds references; reading needs the GIL.
class IntRun {
 public:
  // From a whole object: ndarray (1-D), list, tuple, or any sequence/iterable.
  IntRun(py::handle obj, std::string name) : name_(std::move(name)) {
    if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr()))
      raise_invalid(name_ + " must be a sequence of integers, got " + type_name(obj));
    py::object arr = as_integer_array(obj, name_.c_str());
    if (!arr && !PyList_Check(obj.ptr()) && !PyTuple_Check(obj.ptr()) &&
        (PyObject_CheckBuffer(obj.ptr()) || py::hasattr(obj, "__array__"))) {
      // array.array, memoryview, torch tensors: through NumPy's own conversion.
      py::object converted;
      try {
        converted = py::module_::import("numpy").attr("asarray")(obj);
      } catch (py::error_already_set& e) {
        raise_invalid(name_ + " could not be converted to an integer array: " + std::string(e.what()));
      }
      arr = as_integer_array(converted, name_.c_str());
    }
    if (arr) {
      py::array a = py::reinterpret_borrow<py::array>(arr);
      if (a.ndim() != 1)
        raise_invalid(name_ + " must be 1-D, got an array with " + std::to_string(a.ndim()) + " dimensions");
      init_array(a, static_cast<const char*>(a.data()), a.strides(0), static_cast<size_t>(a.shape(0)));
      return;
    }
    PyObject* seq = PySequence_Fast(obj.ptr(), "");
    if (seq == nullptr) {
      PyErr_Clear();
      raise_invalid(name_ + " must be a sequence of integers, got " + type_name(obj));
    }
    holder_ = py::reinterpret_steal<py::object>(seq);
    seq_ = seq;
    size_ = static_cast<size_t>(PySequence_Fast_GET_SIZE(seq));
  }

  // From one row of a 2-D integer ndarray.
  IntRun(const py::array& a, const char* base, py::ssize_t stride, size_t n, std::string name)
      : name_(std::move(name)) {
    init_array(a, base, stride, n);
  }

  size_t size() const { return size_; }

  // Copies the first `count` (<= size()) entries; `range_status` is raised for
  // a value outside int32.
  void copy_to(int32_t* dst, size_t count, lic_status range_status) const {
    if (seq_ == nullptr) {
      size_t bad = 0;
      if (!copy_array(dst, count, &bad))
        raise_status(range_status, name_ + "[" + std::to_string(bad) + "] does not fit in int32");
      return;
    }
    PyObject** items = PySequence_Fast_ITEMS(seq_);
    size_t available = static_cast<size_t>(PySequence_Fast_GET_SIZE(seq_));
    for (size_t i = 0; i < count; ++i) {
      if (i >= available) raise_invalid(name_ + " changed size while it was being read");
      if (small_int_to_int32(items[i], &dst[i])) continue;
      // Slow path: an item's __index__ is Python code and may change the
      // list, so hold the item and re-read the list afterwards.
      py::object item = py::reinterpret_borrow<py::object>(items[i]);
      const int r = py_to_int32(item.ptr(), &dst[i]);
      items = PySequence_Fast_ITEMS(seq_);
      available = static_cast<size_t>(PySequence_Fast_GET_SIZE(seq_));
      if (r == 0) continue;
      const std::string where = name_ + "[" + std::to_string(i) + "]";
      if (r == 1) raise_invalid(where + " must be an integer, got " + type_name(item));
      raise_status(range_status, where + " = " + std::string(py::repr(item)) + " does not fit in int32");
    }
  }

  std::vector<int32_t> to_vector(lic_status range_status) const {
    std::vector<int32_t> v(size_);
    copy_to(v.data(), size_, range_status);
    return v;
  }

 private:
  void init_array(const py::array& a, const char* base, py::ssize_t stride, size_t n) {
    holder_ = a;
    base_ = base;
    stride_ = stride;
    size_ = n;
    kind_ = a.dtype().kind();
    itemsize_ = static_cast<int>(a.itemsize());
  }

  bool copy_array(int32_t* dst, size_t n, size_t* bad) const {
    const bool s = kind_ == 'i';
    switch (itemsize_) {
      case 1: return s ? copy_strided<int8_t>(base_, stride_, n, dst, bad) : copy_strided<uint8_t>(base_, stride_, n, dst, bad);
      case 2: return s ? copy_strided<int16_t>(base_, stride_, n, dst, bad) : copy_strided<uint16_t>(base_, stride_, n, dst, bad);
      case 4: return s ? copy_strided<int32_t>(base_, stride_, n, dst, bad) : copy_strided<uint32_t>(base_, stride_, n, dst, bad);
      case 8: return s ? copy_strided<int64_t>(base_, stride_, n, dst, bad) : copy_strided<uint64_t>(base_, stride_, n, dst, bad);
      default: raise_invalid(name_ + " has an unsupported integer size " + std::to_string(itemsize_));
    }
  }

  std::string name_;
  py::object holder_;
  PyObject* seq_ = nullptr;     // sequence form (owned by holder_)
  const char* base_ = nullptr;  // array form
  py::ssize_t stride_ = 0;
  char kind_ = 'i';
  int itemsize_ = 4;
  size_t size_ = 0;
};

// ---- tables in --------------------------------------------------------------------

// Converts (cdfs, cdf_lengths, offsets) into a validated TableSet. cdfs is a
// 2-D integer ndarray or a sequence of rows (lists, tuples or 1-D arrays).
// Only the first cdf_lengths[t] entries of row t are read.
void read_tables(py::handle cdfs, py::handle cdf_lengths, py::handle offsets, compat::TableSet* ts) {
  const std::vector<int32_t> lengths = IntRun(cdf_lengths, "cdf_lengths").to_vector(LIC_ERR_INVALID_TABLE);
  const std::vector<int32_t> offs = IntRun(offsets, "offsets").to_vector(LIC_ERR_INVALID_TABLE);

  std::vector<IntRun> rows;
  py::object arr = as_integer_array(cdfs, "cdfs");
  if (!arr && !PyList_Check(cdfs.ptr()) && !PyTuple_Check(cdfs.ptr()) &&
      (PyObject_CheckBuffer(cdfs.ptr()) || py::hasattr(cdfs, "__array__"))) {
    // A tensor or other array-like: one conversion instead of one per row.
    py::object converted;
    try {
      converted = py::module_::import("numpy").attr("asarray")(cdfs);
    } catch (py::error_already_set& e) {
      raise_invalid("cdfs could not be converted to an integer array: " + std::string(e.what()));
    }
    arr = as_integer_array(converted, "cdfs");
  }
  if (arr) {
    py::array a = py::reinterpret_borrow<py::array>(arr);
    if (a.ndim() != 2)
      raise_invalid("cdfs must be 2-D (one row per table), got an array with " + std::to_string(a.ndim()) +
                    " dimensions");
    const size_t n = static_cast<size_t>(a.shape(0));
    rows.reserve(n);
    for (size_t t = 0; t < n; ++t)
      rows.emplace_back(a, static_cast<const char*>(a.data()) + static_cast<py::ssize_t>(t) * a.strides(0),
                        a.strides(1), static_cast<size_t>(a.shape(1)), "cdfs[" + std::to_string(t) + "]");
  } else {
    if (PyUnicode_Check(cdfs.ptr()) || PyBytes_Check(cdfs.ptr()))
      raise_invalid("cdfs must be a sequence of cdf rows, got " + type_name(cdfs));
    PyObject* seq = PySequence_Fast(cdfs.ptr(), "");
    if (seq == nullptr) {
      PyErr_Clear();
      raise_invalid("cdfs must be a 2-D integer array or a sequence of cdf rows, got " + type_name(cdfs));
    }
    py::object holder = py::reinterpret_steal<py::object>(seq);
    const size_t n = static_cast<size_t>(PySequence_Fast_GET_SIZE(seq));
    rows.reserve(n);
    for (size_t t = 0; t < n; ++t) {
      // Reading a row may run Python code (array-likes); re-check the list.
      if (t >= static_cast<size_t>(PySequence_Fast_GET_SIZE(seq)))
        raise_invalid("cdfs changed size while it was being read");
      py::object row = py::reinterpret_borrow<py::object>(PySequence_Fast_GET_ITEM(seq, static_cast<py::ssize_t>(t)));
      rows.emplace_back(row, "cdfs[" + std::to_string(t) + "]");
    }
  }

  const size_t n = rows.size();
  if (lengths.size() != n || offs.size() != n)
    raise_invalid("cdfs, cdf_lengths and offsets must describe the same tables: got " + std::to_string(n) +
                  " cdf rows, " + std::to_string(lengths.size()) + " cdf_lengths and " +
                  std::to_string(offs.size()) + " offsets");
  ts->reset(n);
  for (size_t t = 0; t < n; ++t) ts->set_table(t, lengths[t], offs[t], rows[t].size());
  lic::ErrorInfo err;
  lic_status st = ts->alloc(&err);
  if (st != LIC_OK) raise_coding_error(st, err);
  for (size_t t = 0; t < n; ++t) rows[t].copy_to(ts->row(t), static_cast<size_t>(ts->cdf_length(t)), LIC_ERR_INVALID_TABLE);
  st = ts->validate(&err);
  if (st != LIC_OK) raise_coding_error(st, err);
}

// Everything one coding call needs, owned.
struct CodingInputs {
  std::vector<int32_t> symbols;
  std::vector<int32_t> indexes;
  compat::TableSet tables;
};

void read_indexes(py::handle indexes, CodingInputs* in) {
  in->indexes = IntRun(indexes, "indexes").to_vector(LIC_ERR_INDEX_OUT_OF_RANGE);
}

CodingInputs read_encode_inputs(py::handle symbols, py::handle indexes, py::handle cdfs, py::handle cdf_lengths,
                                py::handle offsets) {
  CodingInputs in;
  in.symbols = IntRun(symbols, "symbols").to_vector(LIC_ERR_SYMBOL_OUT_OF_RANGE);
  read_indexes(indexes, &in);
  if (in.symbols.size() != in.indexes.size())
    raise_invalid("symbols and indexes must have the same length, got " + std::to_string(in.symbols.size()) +
                  " and " + std::to_string(in.indexes.size()));
  read_tables(cdfs, cdf_lengths, offsets, &in.tables);
  return in;
}

CodingInputs read_decode_inputs(py::handle indexes, py::handle cdfs, py::handle cdf_lengths, py::handle offsets) {
  CodingInputs in;
  read_indexes(indexes, &in);
  read_tables(cdfs, cdf_lengths, offsets, &in.tables);
  return in;
}

// A contiguous read-only view of a bytes-like object, released on scope exit.
// While it is held the exporter cannot resize the memory (bytearray refuses).
class ByteView {
 public:
  explicit ByteView(py::handle obj) {
    if (PyUnicode_Check(obj.ptr()))
      raise_invalid("encoded must be bytes-like (bytes, bytearray, memoryview, uint8 array), got str");
    if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_SIMPLE) != 0) {
      PyErr_Clear();
      raise_invalid("encoded must be a contiguous bytes-like object, got " + type_name(obj));
    }
  }
  ~ByteView() { PyBuffer_Release(&view_); }
  ByteView(const ByteView&) = delete;
  ByteView& operator=(const ByteView&) = delete;
  const uint8_t* data() const { return static_cast<const uint8_t*>(view_.buf); }
  size_t size() const { return static_cast<size_t>(view_.len); }

 private:
  Py_buffer view_{};
};

// ---- values out --------------------------------------------------------------------

py::bytes to_bytes(const std::vector<uint8_t>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
}

// A list of Python ints. Equal values share one int object (ints are
// immutable, CPython shares small ones the same way): values in
// [-kShared, kShared) are created once per call, which halves the cost of a
// list of typical latents compared with one allocation per entry.
py::list to_list(const std::vector<int32_t>& v) {
  constexpr int32_t kShared = 2048;
  std::vector<PyObject*> shared(2 * kShared, nullptr);  // borrowed from the list
  PyObject* list = PyList_New(static_cast<py::ssize_t>(v.size()));
  if (list == nullptr) throw py::error_already_set();
  for (size_t i = 0; i < v.size(); ++i) {
    const int32_t value = v[i];
    PyObject* item;
    const bool shareable = value >= -kShared && value < kShared;
    if (shareable && shared[value + kShared] != nullptr) {
      item = shared[value + kShared];
      Py_INCREF(item);
    } else {
      item = PyLong_FromLong(value);
      if (item == nullptr) {
        Py_DECREF(list);
        throw py::error_already_set();
      }
      if (shareable) shared[value + kShared] = item;
    }
    PyList_SET_ITEM(list, static_cast<py::ssize_t>(i), item);
  }
  return py::reinterpret_steal<py::list>(list);
}

// Builds the decode index when enough symbols share the tables to repay it
// (about kBuckets + L steps a table against ~20 ns saved per symbol).
lic_status maybe_index(CodingInputs& in, lic::ErrorInfo* d) {
  if (in.indexes.size() < 32 * in.tables.size()) return LIC_OK;
  return in.tables.build_decode_index(d);
}

// Decodes into `out` (size n) from a fresh stream, optionally checking its end.
lic_status decode_whole(const uint8_t* data, size_t size, CodingInputs& in, bool check_end, int32_t* out,
                        lic::ErrorInfo* d) {
  compat::Cursor cur;
  lic_status st = compat::open(data, size, &cur, d);
  if (st != LIC_OK) return st;
  st = maybe_index(in, d);
  if (st != LIC_OK) return st;
  st = compat::decode(&cur, in.indexes.data(), in.indexes.size(), in.tables, out, d);
  if (st != LIC_OK) return st;
  if (check_end && !compat::at_clean_end(cur)) {
    return lic::set_error(d, LIC_ERR_CORRUPT_STREAM,
                          "stream does not end after its last symbol (corrupt, other tables or indexes, or a "
                          "prefix: pass check_end=False to decode a prefix); unread 32-bit words = %zu",
                          cur.n_words - cur.next);
  }
  return LIC_OK;
}

// ---- the three classes -----------------------------------------------------------------

class RansEncoder {
 public:
  py::bytes encode_with_indexes(py::handle symbols, py::handle indexes, py::handle cdfs, py::handle cdf_lengths,
                                py::handle offsets) {
    const CodingInputs in = read_encode_inputs(symbols, indexes, cdfs, cdf_lengths, offsets);
    std::vector<uint8_t> out;
    lic::ErrorInfo d;
    lic_status st;
    {
      py::gil_scoped_release nogil;
      st = compat::encode(in.symbols.data(), in.indexes.data(), in.symbols.size(), in.tables, &out, &d);
    }
    if (st != LIC_OK) raise_coding_error(st, d);
    return to_bytes(out);
  }
};

class BufferedRansEncoder {
 public:
  void encode_with_indexes(py::handle symbols, py::handle indexes, py::handle cdfs, py::handle cdf_lengths,
                           py::handle offsets) {
    const CodingInputs in = read_encode_inputs(symbols, indexes, cdfs, cdf_lengths, offsets);
    lic::ErrorInfo d;
    lic_status st;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      st = compat::append_items(in.symbols.data(), in.indexes.data(), in.symbols.size(), in.tables, &items_, &d);
    }
    if (st != LIC_OK) raise_coding_error(st, d);
  }

  py::bytes flush() {
    std::vector<uint8_t> out;
    lic::ErrorInfo d;
    lic_status st;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      st = compat::encode_items(items_.data(), items_.size(), &out, &d);
      if (st == LIC_OK) std::vector<compat::Item>().swap(items_);  // clear and free: reusable
    }
    if (st != LIC_OK) raise_coding_error(st, d);
    return to_bytes(out);
  }

  size_t pending_items() {
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(mu_);
    return items_.size();
  }

 private:
  std::mutex mu_;
  std::vector<compat::Item> items_;
};

class RansDecoder {
 public:
  py::list decode_with_indexes(py::handle encoded, py::handle indexes, py::handle cdfs, py::handle cdf_lengths,
                               py::handle offsets, bool check_end) {
    const ByteView bytes(encoded);
    CodingInputs in = read_decode_inputs(indexes, cdfs, cdf_lengths, offsets);
    std::vector<int32_t> out(in.indexes.size());
    lic::ErrorInfo d;
    lic_status st;
    {
      py::gil_scoped_release nogil;
      st = decode_whole(bytes.data(), bytes.size(), in, check_end, out.data(), &d);
    }
    if (st != LIC_OK) raise_coding_error(st, d);
    return to_list(out);
  }

  py::array_t<int32_t> decode_with_indexes_np(py::handle encoded, py::handle indexes, py::handle cdfs,
                                              py::handle cdf_lengths, py::handle offsets, bool check_end) {
    const ByteView bytes(encoded);
    CodingInputs in = read_decode_inputs(indexes, cdfs, cdf_lengths, offsets);
    py::array_t<int32_t> out(static_cast<py::ssize_t>(in.indexes.size()));
    int32_t* dst = out.mutable_data();
    lic::ErrorInfo d;
    lic_status st;
    {
      py::gil_scoped_release nogil;
      st = decode_whole(bytes.data(), bytes.size(), in, check_end, dst, &d);
    }
    if (st != LIC_OK) raise_coding_error(st, d);
    return out;
  }

  void set_stream(py::handle encoded) {
    const ByteView bytes(encoded);
    std::vector<uint8_t> copy(bytes.data(), bytes.data() + bytes.size());
    lic::ErrorInfo d;
    lic_status st;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      stream_ = std::move(copy);
      st = compat::open(stream_.data(), stream_.size(), &cur_, &d);
      has_stream_ = st == LIC_OK;  // a bad stream leaves no stream loaded
    }
    if (st != LIC_OK) raise_coding_error(st, d);
  }

  py::list decode_stream(py::handle indexes, py::handle cdfs, py::handle cdf_lengths, py::handle offsets) {
    CodingInputs in = read_decode_inputs(indexes, cdfs, cdf_lengths, offsets);
    std::vector<int32_t> out(in.indexes.size());
    continue_stream(in, out.data());
    return to_list(out);
  }

  py::array_t<int32_t> decode_stream_np(py::handle indexes, py::handle cdfs, py::handle cdf_lengths,
                                        py::handle offsets) {
    CodingInputs in = read_decode_inputs(indexes, cdfs, cdf_lengths, offsets);
    py::array_t<int32_t> out(static_cast<py::ssize_t>(in.indexes.size()));
    continue_stream(in, out.mutable_data());
    return out;
  }

  void check_end() {
    bool loaded, clean = false;
    size_t left = 0;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      loaded = has_stream_;
      if (loaded) {
        clean = compat::at_clean_end(cur_);
        left = cur_.n_words - cur_.next;
      }
    }
    if (!loaded) raise_invalid("no stream loaded: call set_stream(encoded) first");
    if (!clean)
      raise_status(LIC_ERR_CORRUPT_STREAM,
                   "stream does not end here: " + std::to_string(left) +
                       " unread 32-bit words, or the state is not the initial 2^31 (corrupt stream, or not "
                       "everything was decoded)");
  }

 private:
  void continue_stream(CodingInputs& in, int32_t* out) {
    lic::ErrorInfo d;
    lic_status st = LIC_OK;
    bool loaded;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      loaded = has_stream_;
      if (loaded) st = maybe_index(in, &d);
      if (loaded && st == LIC_OK)
        st = compat::decode(&cur_, in.indexes.data(), in.indexes.size(), in.tables, out, &d);
    }
    if (!loaded) raise_invalid("no stream loaded: call set_stream(encoded) before decode_stream");
    if (st != LIC_OK) raise_coding_error(st, d);
  }

  std::mutex mu_;
  std::vector<uint8_t> stream_;
  compat::Cursor cur_;
  bool has_stream_ = false;
};

// ---- `self`: only a constructed object ------------------------------------------------

// pybind11 (3.1 and earlier) lets `Cls.__new__(Cls)` make an instance whose C++ object
// was never constructed, and a method bound the usual way is then handed raw, lazily
// allocated storage (pybind11 issue #6153): BufferedRansEncoder's mutex and vector, or
// RansDecoder's stream, were whatever bytes were there, and a call could crash. (A Python
// subclass that skips __init__ is refused by pybind11's metaclass; __new__ bypasses it.)
// Every method is therefore bound through `checked`, which takes `self` as a plain Python
// object and asks pybind11 whether __init__ built the C++ object before touching it.
template <typename T>
T& constructed(py::handle self, const char* cls) {
  const py::detail::type_info* ti = py::detail::get_type_info(typeid(T));
  if (ti == nullptr || !PyObject_TypeCheck(self.ptr(), ti->type))  // an unbound call with a foreign self
    raise_invalid(std::string(cls) + " method called on a " + type_name(self) + " object");
  py::detail::value_and_holder v_h =
      reinterpret_cast<py::detail::instance*>(self.ptr())->get_value_and_holder(ti, /*throw_if_missing=*/false);
  if (!v_h.inst || !v_h.holder_constructed() || v_h.template value_ptr<T>() == nullptr)
    raise_invalid(std::string(cls) + " was not initialised: call " + cls + "() (a subclass's __init__ must call "
                  "super().__init__())");
  return *v_h.template value_ptr<T>();
}

// The method `f` of T as a function of (self, args...) that checks `self` first.
template <typename T, typename R, typename... A>
auto checked(R (T::*f)(A...), const char* cls) {
  return [f, cls](py::handle self, A... args) -> R { return (constructed<T>(self, cls).*f)(args...); };
}

}  // namespace

PYBIND11_MODULE(_ans, m) {
  m.doc() = "CompressAI 1.2.8 compatible rANS coder (compiled face; use lic_core.ans).";
  m.attr("PRECISION") = compat::kPrecision;
  m.attr("BYPASS_BITS") = compat::kBypassBits;

  // Methods are bound through `checked` (see above), never as plain member pointers.
  constexpr const char* kEnc = "RansEncoder";
  py::class_<RansEncoder>(m, kEnc, "Encodes symbols into one CompressAI rANS stream per call.")
      .def(py::init<>())
      .def("encode_with_indexes", checked(&RansEncoder::encode_with_indexes, kEnc), py::arg("symbols"),
           py::arg("indexes"), py::arg("cdfs"), py::arg("cdf_lengths"), py::arg("offsets"),
           "Encode symbols[i] with table indexes[i]; returns the stream as bytes.")
      .def("encode_with_indexes_np", checked(&RansEncoder::encode_with_indexes, kEnc), py::arg("symbols"),
           py::arg("indexes"), py::arg("cdfs"), py::arg("cdf_lengths"), py::arg("offsets"),
           "Alias of encode_with_indexes (the name some CompressAI forks use for array inputs).");

  constexpr const char* kBuf = "BufferedRansEncoder";
  py::class_<BufferedRansEncoder>(m, kBuf,
                                  "Collects coding items over several calls; flush() encodes them as one stream.")
      .def(py::init<>())
      .def("encode_with_indexes", checked(&BufferedRansEncoder::encode_with_indexes, kBuf), py::arg("symbols"),
           py::arg("indexes"), py::arg("cdfs"), py::arg("cdf_lengths"), py::arg("offsets"),
           "Append symbols (coded with the tables given now); nothing is written until flush().")
      .def("encode_with_indexes_np", checked(&BufferedRansEncoder::encode_with_indexes, kBuf), py::arg("symbols"),
           py::arg("indexes"), py::arg("cdfs"), py::arg("cdf_lengths"), py::arg("offsets"),
           "Alias of encode_with_indexes (the name some CompressAI forks use for array inputs).")
      .def("flush", checked(&BufferedRansEncoder::flush, kBuf),
           "Encode everything appended, return the bytes, and clear.")
      .def_property_readonly("pending_items", checked(&BufferedRansEncoder::pending_items, kBuf),
                             "Coding items appended since the last flush (table items plus escape nibbles).");

  constexpr const char* kDec = "RansDecoder";
  py::class_<RansDecoder>(m, kDec, "Decodes CompressAI rANS streams, checking every input.")
      .def(py::init<>())
      .def("decode_with_indexes", checked(&RansDecoder::decode_with_indexes, kDec), py::arg("encoded"),
           py::arg("indexes"), py::arg("cdfs"), py::arg("cdf_lengths"), py::arg("offsets"), py::kw_only(),
           py::arg("check_end") = true, "Decode len(indexes) symbols from a whole stream; returns a list of int.")
      .def("decode_with_indexes_np", checked(&RansDecoder::decode_with_indexes_np, kDec), py::arg("encoded"),
           py::arg("indexes"), py::arg("cdfs"), py::arg("cdf_lengths"), py::arg("offsets"), py::kw_only(),
           py::arg("check_end") = true, "As decode_with_indexes, returning a 1-D int32 ndarray.")
      .def("set_stream", checked(&RansDecoder::set_stream, kDec), py::arg("encoded"),
           "Load a stream for decode_stream.")
      .def("decode_stream", checked(&RansDecoder::decode_stream, kDec), py::arg("indexes"), py::arg("cdfs"),
           py::arg("cdf_lengths"), py::arg("offsets"),
           "Decode the next len(indexes) symbols of the loaded stream; returns a list of int.")
      .def("decode_stream_np", checked(&RansDecoder::decode_stream_np, kDec), py::arg("indexes"), py::arg("cdfs"),
           py::arg("cdf_lengths"), py::arg("offsets"), "As decode_stream, returning a 1-D int32 ndarray.")
      .def("check_end", checked(&RansDecoder::check_end, kDec),
           "Raise CorruptStreamError unless the loaded stream has been decoded exactly to its end.");
}
