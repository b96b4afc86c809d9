// rans64.h - the rANS primitives every lic stream format is built from.
//
// Read top to bottom: constants, state, encoder step, decoder step. The stream
// formats (coder.cpp: native, interleaved lanes; compat.cpp: CompressAI 1.2.8)
// only decide *which* (start, freq, precision) items to code and how the words
// are laid out; the arithmetic lives here, once.
//
// Caveats, stated once:
//  * rANS is last-in first-out: the encoder visits items in reverse decode order.
//  * The encoder writes 32-bit words backwards (pointer pre-decremented), so the
//    finished stream reads forwards.
//  * These functions trust their arguments (hot loops). Untrusted input is
//    checked at the API edge of each stream format; LIC_DCHECK guards the
//    invariants in debug and sanitizer builds only.
#ifndef LIC_RANS64_H
#define LIC_RANS64_H

#include <cstdint>

#ifdef LIC_DEBUG_INVARIANTS
#include <cassert>
#define LIC_DCHECK(cond) assert(cond)
#else
#define LIC_DCHECK(cond) ((void)0)
#endif

namespace lic {
namespace rans {

// State x lives in the normalised interval I = [kLow, kLow * 2^32) = [2^31, 2^63).
// 2^31 rather than 2^32 keeps x < 2^63, so x * 2^32 products never overflow and
// the CompressAI format (which uses this bound) is the same arithmetic.
constexpr uint64_t kLow = 1ull << 31;
constexpr unsigned kWordBits = 32;  // renormalisation moves one 32-bit word
constexpr unsigned kMaxPrecision = 16;  // cdf totals up to 2^16 (16-bit freqs fit)

using State = uint64_t;

// ---- encoder ---------------------------------------------------------------

// Start state: the bottom of I. Decoding everything returns the state to here,
// which the checked decoders use as an end-of-stream integrity check.
inline void enc_init(State* x) { *x = kLow; }

// Encode an item of probability freq / 2^prec starting at cumulative `start`.
//   renormalise: while x >= x_max, emit low word  (x_max = freq * 2^(63 - prec))
//   update:      x' = floor(x / freq) * 2^prec + (x mod freq) + start
// One renormalisation step is enough because x < 2^63 and freq >= 1.
// Bypass (raw) bits are the special case freq = 1, start = value, prec = bits.
inline void enc_put(State* x, uint32_t** pptr, uint32_t start, uint32_t freq, unsigned prec) {
  LIC_DCHECK(freq > 0 && start + freq <= (1u << prec));
  const uint64_t x_max = ((kLow >> prec) << kWordBits) * freq;
  uint64_t s = *x;
  if (s >= x_max) {
    *--(*pptr) = static_cast<uint32_t>(s);
    s >>= kWordBits;
  }
  *x = ((s / freq) << prec) + (s % freq) + start;
  LIC_DCHECK(*x >= kLow);
}

// Encode with a precomputed reciprocal (fast path): q = floor(x / freq) via
// q = mulhi(x, rcp) >> rcp_shift, exact for all x < 2^63 (see coder.cpp for
// how rcp/rcp_shift are derived). The update equation is the same as enc_put.
inline void enc_put_rcp(State* x, uint32_t** pptr, uint32_t start, uint32_t freq, unsigned prec,
                        uint64_t rcp, unsigned rcp_shift) {
  const uint64_t x_max = ((kLow >> prec) << kWordBits) * freq;
  uint64_t s = *x;
  if (s >= x_max) {
    *--(*pptr) = static_cast<uint32_t>(s);
    s >>= kWordBits;
  }
  const uint64_t q = static_cast<uint64_t>((static_cast<unsigned __int128>(s) * rcp) >> 64) >> rcp_shift;
  LIC_DCHECK(q == s / freq);
  *x = (q << prec) + (s - q * freq) + start;
}

// ---- decoder ---------------------------------------------------------------

// The cumulative value the next symbol covers: c = x mod 2^prec.
inline uint32_t dec_get(State x, unsigned prec) {
  return static_cast<uint32_t>(x & ((1ull << prec) - 1));
}

// Undo one encoder step: x = freq * floor(x / 2^prec) + c - start.
// The caller then renormalises with dec_needs_word / dec_take_word.
inline void dec_advance(State* x, uint32_t start, uint32_t freq, unsigned prec) {
  const uint64_t mask = (1ull << prec) - 1;
  *x = freq * (*x >> prec) + (*x & mask) - start;
}

// After dec_advance the state may have dropped below I: it then needs one word.
inline bool dec_needs_word(State x) { return x < kLow; }
inline void dec_take_word(State* x, uint32_t word) { *x = (*x << kWordBits) | word; }

}  // namespace rans
}  // namespace lic

#endif  // LIC_RANS64_H
