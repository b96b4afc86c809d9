// intnet.h - integer networks: the exact probability path of docs/integer.md.
//
// The C++ engine behind lic.h's lic_intnet_* functions and lic_core.coding._intnet.
// In the hyperprior families everything the entropy coder depends on (table
// indexes, means) comes from these networks, whose result is one exact integer
// for every input, on every CPU and whichever code path runs. A layer, for
// output channel o at one output position (docs/integer.md, "A layer"):
//
//   acc = wrap32(b[o] + sum w * x)       x, w int16; summed in uint32 lanes (defined wrap)
//   r   = floor((acc + h) / 2^s[o])      h = 2^(s-1) if s > 0 else 0; int64, no overflow
//   a   = r | max(r, 0) | (r >= 0 ? r : floor(41 r / 4096))     act none | relu | leaky
//   out = sat16(a) or sat32(a)           out_bits 16 | 32
//
// Tensors are position-major: element (r, c, ch) of an H x W x C tensor sits at
// (r * W + c) * C + ch. A batch of vectors (dense layers) is B x 1 x C.
//
// How it is fast: add_layer repacks the weights once, as rows [c_out][taps * c_in]
// (a deconvolution as four ordinary convolutions, one per output phase, each over
// the taps that reach it); run gathers a block of output positions into int16 rows
// (im2col, zeros for taps outside the input) and takes int16 dot products with
// int32 accumulation, which the compiler turns into pmaddwd / vpdpwssd (intnet.cpp,
// dot_rows). A run may split each large layer's output positions across a few
// threads (run's `threads`); every output position is computed by one thread from
// the layer's input alone, so the integers are the same however it is split.
//
// Error handling as coder.h: every fallible call is noexcept, returns a lic_status
// and fills `err` (when non-null) with a message naming the problem. Sizes are
// untrusted: every product is checked against the limits below before allocating.
#ifndef LIC_INTNET_H
#define LIC_INTNET_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "lic/coder.h"
#include "lic/status.h"

namespace lic {
namespace intnet {

// Layer kinds and activations; the numbers are lic.h's LIC_INTNET_* values.
// kIgdn is the inverse GDN of the synthesis (docs/integer.md, "Inverse GDN").
enum Kind : int { kConv = 0, kDeconv = 1, kDense = 2, kIgdn = 3 };
enum Act : int { kActNone = 0, kActRelu = 1, kActLeaky = 2 };

// ---- limits -------------------------------------------------------------------
// Far above any model of the field (h_s of a 4K image: 384 channels, 2^23 values),
// far below what would overflow a size_t product or exhaust memory by accident.
constexpr size_t kMaxKernel = 15;                // k odd, 1..15
constexpr size_t kMaxChannels = size_t{1} << 16; // c_in, c_out
constexpr uint64_t kMaxDot = uint64_t{1} << 22;  // k * k * c_in: the taps of one output
constexpr uint64_t kMaxWeights = uint64_t{1} << 28;  // c_out * k * k * c_in of one layer
constexpr uint64_t kMaxElements = uint64_t{1} << 28; // any tensor of a run (input, output, between)
constexpr size_t kMaxLayers = 64;
constexpr unsigned kMaxThreads = 64;             // threads of one run (more are taken as this many)
constexpr unsigned kMaxMeanFrac = 31;            // symbol * 2^Fm + mu stays within int64
constexpr unsigned kMaxSquareShift = 30;         // an inverse GDN's square shift: x^2 < 2^31
constexpr unsigned kMaxOutShift = 62;            // an inverse GDN's output shift: |x * m| < 2^39

// One layer as the caller gives it (docs/integer.md, "A layer" and "Inverse GDN").
struct LayerSpec {
  int kind = kConv;
  size_t c_in = 0, c_out = 0, k = 1;  // k: kernel size (1 for dense and igdn)
  const int16_t* weight = nullptr;    // conv [c_out][c_in][k][k]; deconv [c_in][c_out][k][k];
                                      // dense [c_out][c_in]; igdn gamma [c][c]
  const int32_t* bias = nullptr;      // [c_out] (igdn: beta)
  const uint8_t* shift = nullptr;     // [c_out], each 0..31 (igdn: the norm's shift)
  int act = kActNone;                 // igdn: none
  unsigned out_bits = 16;             // 16 or 32, or 8 (pixels: 0..255, uint8); igdn: 16
  unsigned square_shift = 0;          // igdn only: 0..kMaxSquareShift
  const uint8_t* out_shift = nullptr; // igdn only: [c_out], each 0..kMaxOutShift
};

// 64-byte aligned storage: a packed weight row or gathered row starts on a cache
// line (rows are padded to whole lines), so the widest loads never straddle two.
// resize() leaves the new values uninitialised (construct without arguments
// default-initialises): scratch is written before it is read, and zeroing it cost a
// run up to a fifth of a millisecond, on the calling thread, before any helper
// thread started. assign(n, v) and the like still write their values.
template <class T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t) { ::operator delete(p, kAlign); }
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... A>
  void construct(U* p, A&&... a) {
    ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
  }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const AlignedAllocator<U>&) const { return false; }
};
template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

// Scratch memory of a run, reusable across runs (it only grows), one per thread.
struct Workspace {
  AlignedVector<int16_t> between[2];  // ping-pong activations between layers
  AlignedVector<int16_t> rows;        // gathered input rows of one block of positions
  AlignedVector<uint32_t> acc;        // their accumulators, [positions][c_out]
};

// A stack of layers (docs/integer.md, "A stack"). Built with add_layer, then
// immutable: run is const and may be called from many threads at once, each with
// its own Workspace.
class Network {
 public:
  // Appends a layer after checking it: kind, act, out_bits, k odd in 1..kMaxKernel
  // (1 for dense and igdn), channels in 1..kMaxChannels, c_in equal to the previous
  // layer's c_out, every shift in 0..31, no layer after a 32-bit or 8-bit one, the
  // limits above; an igdn layer has c_in == c_out, act none, out_bits 16, its square
  // shift and output shifts in range.
  lic_status add_layer(const LayerSpec& spec, ErrorInfo* err) noexcept;

  size_t n_layers() const { return layers_.size(); }
  size_t in_channels() const;   // 0 while empty
  size_t out_channels() const;  // 0 while empty
  unsigned out_bits() const;    // 16 while empty; 8, 16 or 32: the output's int width
  bool spatial() const;         // has a conv or deconv layer (else vectors: B x C)

  // Output size for an h x w input (each deconv doubles both). LIC_ERR_LIMIT_EXCEEDED
  // when a tensor of the run would exceed kMaxElements; LIC_ERR_INVALID_ARGUMENT when
  // the network is empty.
  lic_status output_shape(size_t h, size_t w, size_t* out_h, size_t* out_w, ErrorInfo* err) const noexcept;

  // Multiply-adds of a run on h x w (saturating); a face uses it to decide whether a
  // call is long enough to release a lock around.
  uint64_t macs(size_t h, size_t w) const noexcept;

  // Runs the stack on x (h x w x in_channels, int16) into out (out_h x out_w x
  // out_channels, int16_t if out_bits() is 16, int32_t if 32, uint8_t if 8). The input
  // is read, the output written, nothing else: they must not overlap.
  //
  // threads: at most this many threads work on one layer, the calling thread
  // included (0 and 1: the calling thread alone; above kMaxThreads: kMaxThreads).
  // A layer is split only where each thread gets at least 2^23 multiply-adds and a
  // share of whole 4-row tiles (threads_used); the helpers start for the layer and
  // are joined before the next, each with scratch of its own (allocated by the run;
  // ws serves the calling thread). The result does not depend on `threads`.
  lic_status run(const int16_t* x, size_t h, size_t w, void* out, Workspace* ws, ErrorInfo* err,
                 unsigned threads = 1) const noexcept;
  lic_status run(const int16_t* x, size_t h, size_t w, void* out, ErrorInfo* err, unsigned threads = 1) const
      noexcept;

  // A band of rows (docs/integer.md, "Bands"): output rows [r0, r1) of the run on an
  // h x w input, computed from input rows [x_row0, x_row0 + x_rows) held in x. Each
  // output value is computed exactly as run() computes it (positions outside the
  // input read 0, as there), so the bands of a partition of the output rows put
  // together are run()'s output. out receives (r1 - r0) x out_w x out_channels.
  // LIC_ERR_INVALID_ARGUMENT when x lacks a row the band needs (input_rows says which).
  lic_status run_rows(const int16_t* x, size_t h, size_t w, size_t x_row0, size_t x_rows, size_t r0, size_t r1,
                      void* out, Workspace* ws, ErrorInfo* err, unsigned threads = 1) const noexcept;
  lic_status run_rows(const int16_t* x, size_t h, size_t w, size_t x_row0, size_t x_rows, size_t r0, size_t r1,
                      void* out, ErrorInfo* err, unsigned threads = 1) const noexcept;

  // The input rows [*a, *b) that output rows [r0, r1) of a run on h x w read (clipped
  // to the input; empty when r0 >= r1). r1 <= the output height.
  void input_rows(size_t h, size_t r0, size_t r1, size_t* a, size_t* b) const noexcept;

  // The most threads a run on h x w with `threads` would use for one layer (1 when
  // no layer splits, or when output_shape refuses h x w).
  unsigned threads_used(size_t h, size_t w, unsigned threads) const noexcept;

  struct Tap {  // offset of an input position from an output phase's base position
    int dy, dx;
  };
  struct Phase {  // the output positions (stride * R + pr, stride * C + pc)
    int pr = 0, pc = 0;
    std::vector<Tap> taps;
    size_t row_len = 0;           // taps * c_in, rounded up to whole 64-byte lines
    AlignedVector<int16_t> w;     // [c_out][row_len]; row o, tap t, channel i at t * c_in + i
  };
  // A layer's per-channel constants in the form the finishing loops read
  // (intnet.cpp, "the finishing loops"): derived from bias, shift and out_shift.
  struct FinishConstants {
    std::vector<uint32_t> bias;
    std::vector<int32_t> s, s1, m;
    std::vector<double> half, scale;
    void set(const std::vector<int32_t>& b, const std::vector<uint8_t>& shift, const std::vector<uint8_t>& out_shift);
    struct View {
      const uint32_t* bias;
      const int32_t *s, *s1, *m;
      const double *half, *scale;
      size_t c;
    };
    View view(size_t c) const { return {bias.data(), s.data(), s1.data(), m.data(), half.data(), scale.data(), c}; }
  };
  struct Layer {
    int kind = kConv, act = kActNone;
    unsigned out_bits = 16;
    size_t c_in = 0, c_out = 0, k = 1;
    std::vector<int32_t> bias;
    std::vector<uint8_t> shift;
    unsigned square_shift = 0;    // igdn
    std::vector<uint8_t> out_shift;  // igdn
    FinishConstants finish;
    std::vector<Phase> phases;    // one (conv, dense, igdn) or four (deconv: pr, pc in {0, 1})
  };

 private:
  lic_status run_windows(const int16_t* x, size_t h, size_t w, size_t x_row0, size_t x_rows, size_t r0, size_t r1,
                         void* out, Workspace* ws, ErrorInfo* err, unsigned threads) const noexcept;
  std::vector<Layer> layers_;
};

// The dot-product kernel this process runs: "avx512vnni", "avx512", "avx2" or
// "portable" (the best the CPU has, or the one LIC_INTNET_KERNEL names when the
// CPU runs it; every one gives the same integers).
const char* kernel_name();

// table index = #{t : thresholds[t] < sigma_q} (docs/integer.md, "Scale index") for
// n values; thresholds must increase strictly (checked: LIC_ERR_INVALID_ARGUMENT).
lic_status scale_indexes(const int32_t* sigma_q, size_t n, const int32_t* thresholds, size_t n_thresholds,
                         int32_t* out, ErrorInfo* err) noexcept;

// ---- the joint model's autoregressive step (docs/integer.md, "Joint") ----------
//
// The context grid is (h + 4) x (w + 4) x M int16: cell (r + 2, c + 2) holds
// position (r, c), the border stays 0. A schedule lists every position (flat
// r * w + c) once, in coding order, cut into steps by step_starts[0 .. n_steps]
// (0 = step_starts[0] <= ... <= step_starts[n_steps] = h * w): the positions of one
// step are computed from the grid as it was before the step, then committed.
class JointModel {
 public:
  // context: dense, 12 M -> 2 M, out_bits 16; entropy_parameters: dense layers,
  // 4 M -> ... -> 2 M, the last with out_bits 32; thresholds strictly increasing;
  // mean_frac 0..kMaxMeanFrac. Copies everything it is given.
  static lic_status create(const Network& context, const Network& entropy_parameters, const int32_t* thresholds,
                           size_t n_thresholds, unsigned mean_frac, std::unique_ptr<JointModel>* out,
                           ErrorInfo* err) noexcept;

  size_t channels() const { return m_; }  // M
  unsigned mean_frac() const { return mean_frac_; }
  size_t n_thresholds() const { return thresholds_.size(); }

  // For positions[0 .. count): indexes and means [count][M] from the 12 taps of the
  // grid (cell (r + dy, c + dx) for the mask's (dy, dx)) and params (h x w x 2M).
  lic_status step(const int16_t* grid, const int16_t* params, size_t h, size_t w, const int64_t* positions,
                  size_t count, int32_t* indexes, int32_t* means, ErrorInfo* err) const noexcept;

  // grid cell of positions[j] = sat16(symbols[j][m] * 2^mean_frac + means[j][m]).
  lic_status commit(int16_t* grid, size_t h, size_t w, const int64_t* positions, size_t count,
                    const int32_t* symbols, const int32_t* means, ErrorInfo* err) const noexcept;

  // The whole walk of a native stream: decodes its h * w * M symbols step by step
  // (each step's count * M symbols with its indexes) and checks that the stream
  // ends exactly there (Decoder::finish). symbols [h * w][M] in coding order, means
  // [h * w][M] position-major.
  lic_status decode(const int16_t* params, size_t h, size_t w, std::shared_ptr<const TableSet> tables,
                    const uint8_t* data, size_t size, const int64_t* positions, const int64_t* step_starts,
                    size_t n_steps, int32_t* symbols, int32_t* means, ErrorInfo* err) const noexcept;

  // The same walk for the encoder: y float32 [h * w][M] position-major; symbol =
  // round_half_even(y - mu_q / 2^mean_frac) in float32, saturated to int32. symbols
  // and indexes [h * w][M] in coding order, means [h * w][M] position-major.
  lic_status encode(const int16_t* params, const float* y, size_t h, size_t w, const int64_t* positions,
                    const int64_t* step_starts, size_t n_steps, int32_t* symbols, int32_t* indexes,
                    int32_t* means, ErrorInfo* err) const noexcept;

 private:
  struct Scratch;
  JointModel() = default;
  lic_status check_grid(size_t h, size_t w, ErrorInfo* err) const noexcept;
  lic_status check_schedule(size_t h, size_t w, const int64_t* positions, const int64_t* step_starts,
                            size_t n_steps, ErrorInfo* err) const noexcept;
  lic_status step_unchecked(const int16_t* grid, const int16_t* params, size_t w, const int64_t* positions,
                            size_t count, int32_t* indexes, int32_t* means, Scratch& s, ErrorInfo* err) const;
  void commit_unchecked(int16_t* grid, size_t w, const int64_t* positions, size_t count,
                        const int32_t* symbols, const int32_t* means) const;

  Network context_, entropy_parameters_;
  std::vector<int32_t> thresholds_;
  unsigned mean_frac_ = 0;
  size_t m_ = 0;
};

}  // namespace intnet
}  // namespace lic

#endif  // LIC_INTNET_H
