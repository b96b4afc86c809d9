// rans64.h - the rANS primitives every lic stream format is built from.
//
// Read top to bottom: compiler hints, constants, helpers, words, the encoder
// (init, renormalise, put), the divider (the encoder's division-free put), the
// decoder (get, advance, renormalise). The stream formats (coder.cpp: native,
// interleaved lanes; compat.cpp: CompressAI 1.2.8) only decide *which*
// (start, freq, precision) items to code and where the words go; every
// arithmetic step lives here, once.
//
// Caveats, stated once:
//  * rANS is last-in first-out: the encoder visits items in reverse decode order.
//  * The encoder writes 32-bit words backwards (pointer pre-decremented), so the
//    finished stream reads forwards.
//  * These functions trust their arguments (hot loops). Untrusted input is
//    checked at the API edge of each stream format; LIC_DCHECK guards the
//    invariants in debug and sanitizer builds only.
//  * Raw (bypass) bits are the item (bits, 1) at precision nbits; they have
//    named entry points (enc_put_bits, dec_get_bits) but no arithmetic of their own.
#ifndef LIC_RANS64_H
#define LIC_RANS64_H

#include <cstddef>
#include <cstdint>

#include "lic/lic.h"  // LIC_MAX_PRECISION: the engine's one definition of the precision bound

// ---- compiler hints --------------------------------------------------------

#ifdef LIC_DEBUG_INVARIANTS
#include <cassert>
#define LIC_DCHECK(cond) assert(cond)
#else
#define LIC_DCHECK(cond) ((void)0)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LIC_LIKELY(x) __builtin_expect(!!(x), 1)
#define LIC_UNLIKELY(x) __builtin_expect(!!(x), 0)
// The primitives are a handful of instructions each; a call would cost more than
// the step and, worse, would force the callers' lane states out of registers.
#define LIC_INLINE inline __attribute__((always_inline))
#else
#define LIC_LIKELY(x) (x)
#define LIC_UNLIKELY(x) (x)
#define LIC_INLINE inline
#endif

namespace lic {
namespace rans {

// ---- constants -------------------------------------------------------------

// State x lives in the normalised interval I = [kLow, kHigh) = [2^31, 2^63).
// 2^31 rather than 2^32 keeps x < 2^63, so x * 2^32 products never overflow and
// the CompressAI format (which uses this bound) is the same arithmetic.
constexpr unsigned kLowBits = 31;
constexpr uint64_t kLow = uint64_t{1} << kLowBits;
constexpr unsigned kWordBits = 32;  // renormalisation moves one 32-bit word
constexpr uint64_t kHigh = kLow << kWordBits;

// Any item's precision, raw-bit chunks included: the encoder's bound
// x_max = freq * (kLow / 2^prec) * 2^32 is exact only while 2^prec divides kLow.
constexpr unsigned kMaxItemBits = kLowBits;

// Table items: cdf totals up to 2^kMaxPrecision. The number is LIC_MAX_PRECISION
// (lic.h, where the C ABI can see it); every other precision bound derives from it.
constexpr unsigned kMaxPrecision = LIC_MAX_PRECISION;
static_assert(kMaxPrecision >= 1 && kMaxPrecision <= kMaxItemBits, "x_max must stay exact (see kMaxItemBits)");
static_assert((uint64_t{1} << kMaxPrecision) - 1 <= UINT16_MAX, "EncSlot keeps 2^p - freq in 16 bits");

using State = uint64_t;

// ---- helpers ---------------------------------------------------------------

// High half of the 128-bit product a * b: floor(a * b / 2^64).
LIC_INLINE uint64_t mulhi64(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(a) * b) >> 64);
}

// Smallest l with 2^l >= v (v >= 1); table construction only, never per symbol.
inline unsigned ceil_log2(uint64_t v) {
  unsigned l = 0;
  while ((uint64_t{1} << l) < v) ++l;
  return l;
}

// ---- words: little-endian on every host, in both formats -------------------

LIC_INLINE uint32_t load_le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
LIC_INLINE uint64_t load_le64(const uint8_t* p) {
  return static_cast<uint64_t>(load_le32(p)) | (static_cast<uint64_t>(load_le32(p + 4)) << 32);
}
LIC_INLINE void store_le32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}
LIC_INLINE void store_le64(uint8_t* p, uint64_t v) {
  store_le32(p, static_cast<uint32_t>(v));
  store_le32(p + 4, static_cast<uint32_t>(v >> 32));
}

// ---- state -----------------------------------------------------------------

// Every state between items lies in I; a stored state outside it is corrupt.
LIC_INLINE bool in_interval(State x) { return x >= kLow && x < kHigh; }

// ---- encoder ---------------------------------------------------------------

// Start state: the bottom of I. Decoding everything returns the state to here,
// which the checked decoders use as an end-of-stream integrity check.
inline void enc_init(State* x) { *x = kLow; }
inline bool is_initial(State x) { return x == kLow; }

// The largest state an item (freq, prec) may be applied to without leaving I:
//   x_max = freq * (kLow / 2^prec) * 2^32 = freq * 2^(63 - prec)
LIC_INLINE uint64_t enc_x_max(uint64_t freq, unsigned prec) {
  return freq << (kLowBits + kWordBits - prec);
}

// Renormalise before an item: if x >= x_max, emit the low word, x = floor(x / 2^32).
// One step is enough: x < 2^63 gives x / 2^32 < 2^31 <= x_max for any freq >= 1.
LIC_INLINE void enc_renorm(State* x, uint32_t** pptr, uint64_t x_max) {
  if (*x >= x_max) {
    *--(*pptr) = static_cast<uint32_t>(*x);
    *x >>= kWordBits;
  }
}

// Encode an item of probability freq / 2^prec starting at cumulative `start`:
//   renormalise: enc_renorm with x_max = freq * 2^(63 - prec)
//   update:      x' = floor(x / freq) * 2^prec + (x mod freq) + start
// This form divides; tables coded many times use the divider below instead.
LIC_INLINE void enc_put(State* x, uint32_t** pptr, uint32_t start, uint32_t freq, unsigned prec) {
  LIC_DCHECK(prec >= 1 && prec <= kMaxItemBits && freq > 0 && uint64_t{start} + freq <= (uint64_t{1} << prec));
  enc_renorm(x, pptr, enc_x_max(freq, prec));
  const uint64_t s = *x;
  *x = ((s / freq) << prec) + (s % freq) + start;
  LIC_DCHECK(in_interval(*x));
}

// Raw bits: the item (bits, 1) at precision nbits, i.e. x' = x * 2^nbits + bits
// (freq = 1 turns the division into nothing once inlined).
LIC_INLINE void enc_put_bits(State* x, uint32_t** pptr, uint32_t bits, unsigned nbits) {
  enc_put(x, pptr, bits, 1, nbits);
}

// ---- divider: the encoder's division-free put -------------------------------

// Precomputed record of an item (start, freq) at precision p, so that one
// multiply replaces the division:
//   q = floor(x / freq) = mulhi(x, rcp) >> rcp_shift
//   x' = x + bias + q * cmpl_freq      (= q * 2^p + (x - q * freq) + start)
struct EncSlot {
  uint64_t rcp;
  uint32_t bias;
  uint16_t cmpl_freq;  // 2^p - freq (freq >= 1, so < 2^p <= 2^16)
  uint16_t rcp_shift;
};

// Builds the record (table construction, not per symbol).
//  * freq >= 2: with l = ceil(log2 freq), rcp = ceil(2^(63+l) / freq) < 2^64 and
//    q = mulhi(x, rcp) >> (l-1) is exact for all x < 2^63: the rounding error of
//    rcp adds at most x * 1 / 2^(63+l) < 2^-l <= 1/freq to x/freq, which cannot
//    carry past the next integer. bias = start.
//  * freq == 1: no 64-bit rcp works; use rcp = 2^64-1, which yields q = x - 1
//    (x >= 1), and fold the missing x into bias = start + 2^p - 1.
inline EncSlot make_enc_slot(uint32_t start, uint32_t freq, unsigned prec) {
  LIC_DCHECK(prec >= 1 && prec <= kMaxPrecision && freq > 0 && uint64_t{start} + freq <= (uint64_t{1} << prec));
  const uint32_t M = uint32_t{1} << prec;
  EncSlot e;
  e.cmpl_freq = static_cast<uint16_t>(M - freq);
  if (freq == 1) {
    e.rcp = ~uint64_t{0};
    e.rcp_shift = 0;
    e.bias = start + M - 1;
  } else {
    const unsigned l = ceil_log2(freq);
    const unsigned __int128 num = static_cast<unsigned __int128>(1) << (63 + l);
    e.rcp = static_cast<uint64_t>((num + freq - 1) / freq);
    e.rcp_shift = static_cast<uint16_t>(l - 1);
    e.bias = start;
  }
  return e;
}

// Encode the item of record e at precision prec; the same x' as enc_put.
//   renormalise: enc_renorm with x_max = freq * 2^(63 - prec), freq = 2^prec - cmpl_freq
//   quotient:    q = mulhi(x, rcp) >> rcp_shift        (= floor(x / freq), or x - 1 if freq = 1)
//   update:      x' = x + bias + q * cmpl_freq
LIC_INLINE void enc_put_slot(State* x, uint32_t** pptr, const EncSlot& e, unsigned prec) {
  const uint64_t freq = (uint64_t{1} << prec) - e.cmpl_freq;
  enc_renorm(x, pptr, enc_x_max(freq, prec));
  const uint64_t q = mulhi64(*x, e.rcp) >> e.rcp_shift;
  LIC_DCHECK(q == (freq == 1 ? *x - 1 : *x / freq));
  *x += e.bias + q * e.cmpl_freq;
  LIC_DCHECK(in_interval(*x));
}

// ---- decoder ---------------------------------------------------------------

// The cumulative value the next item covers: c = x mod 2^prec.
LIC_INLINE uint32_t dec_get(State x, unsigned prec) {
  return static_cast<uint32_t>(x & ((uint64_t{1} << prec) - 1));
}

// Undo one encoder step: x' = freq * floor(x / 2^prec) + c - start, c = x mod 2^prec.
// c is dec_get's own expression, so the caller's dec_get and this one compile to
// a single AND (a 64-bit mask here would be a second live value in the hot loop).
// The caller then renormalises (dec_renorm, or dec_needs_word / dec_take_word).
LIC_INLINE void dec_advance(State* x, uint32_t start, uint32_t freq, unsigned prec) {
  const uint64_t c = dec_get(*x, prec);
  *x = uint64_t{freq} * (*x >> prec) + c - start;
}

// After dec_advance the state may have dropped below I: it then needs one word,
//   x' = x * 2^32 + word
// One is enough: x >= 2^31 >= 2^prec before the advance, so afterwards x >= 1
// and x' lies in [2^32, 2^63), inside I.
LIC_INLINE bool dec_needs_word(State x) { return x < kLow; }
LIC_INLINE void dec_take_word(State* x, uint32_t word) { *x = (*x << kWordBits) | word; }

// Renormalise from the stream's words (little-endian, words[0 .. n_words)):
// take words[*next] if the state needs it. False if it needs one and none is
// left: the stream is truncated (or corrupt), and the caller reports it.
LIC_INLINE bool dec_renorm(State* x, const uint8_t* words, size_t n_words, size_t* next) {
  if (!dec_needs_word(*x)) return true;
  if (LIC_UNLIKELY(*next >= n_words)) return false;
  dec_take_word(x, load_le32(words + 4 * *next));
  ++*next;
  return true;
}

// Raw bits, the inverse of enc_put_bits: bits = x mod 2^nbits, x' = floor(x / 2^nbits)
// (dec_get and dec_advance of the item (bits, 1)). Renormalise afterwards.
LIC_INLINE uint32_t dec_get_bits(State* x, unsigned nbits) {
  const uint32_t bits = dec_get(*x, nbits);
  dec_advance(x, bits, 1, nbits);
  return bits;
}

}  // namespace rans
}  // namespace lic

#endif  // LIC_RANS64_H
