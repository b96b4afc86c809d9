// tables.cpp - CDF table construction (see tables.h for the contract).
//
// Read top to bottom: error reporting, the two pmf quantisers (greedy,
// CompressAI), the parametric families, the scale table and the scale -> index
// rule, then the C entry points that validate input and call them.
//
// Determinism: every floating-point value that decides an integer here is
// computed with IEEE +, -, *, / and the functions of special.h (no libm
// transcendental), in a fixed order (sums are sequential; -ffp-contract=off).
// So the same input gives the same tables on every machine and thread count.
// docs/tables.md states the argument in full.
#include "lic/tables.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <limits>
#include <new>
#include <vector>

#include "lic/special.h"

namespace lic {
namespace tables {
namespace {

// ---- errors --------------------------------------------------------------------

int fail(char* err, int status, const char* fmt, ...) {
  if (err != nullptr) {
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(err, LIC_TABLES_ERR_CAP, fmt, args);
    va_end(args);
  }
  return status;
}

int invalid(char* err, const char* fmt, ...) {
  if (err != nullptr) {
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(err, LIC_TABLES_ERR_CAP, fmt, args);
    va_end(args);
  }
  return LIC_ERR_INVALID_ARGUMENT;
}

int check_precision(int precision, char* err) {
  if (precision < 1 || precision > LIC_TABLES_MAX_PRECISION) {
    return invalid(err, "precision must be in 1..%d, got %d", LIC_TABLES_MAX_PRECISION,
                   precision);
  }
  return LIC_OK;
}

int check_quantizer(int quantizer, char* err) {
  if (quantizer != LIC_QUANTIZER_GREEDY && quantizer != LIC_QUANTIZER_COMPRESSAI) {
    return invalid(err, "unknown quantizer %d (0 = greedy, 1 = compressai)", quantizer);
  }
  return LIC_OK;
}

// ---- greedy quantiser ----------------------------------------------------------
//
// Problem: given masses m_i >= 0 (sum 1) choose integers f_i >= 1 with
// sum f_i = P = 2^p that minimise the expected code length
//     -sum_i m_i log2(f_i / P),   i.e. maximise  Phi(f) = sum_i m_i ln f_i.
// Phi is separable and concave in each f_i, so (the classic exchange argument)
// f is optimal iff no single unit move helps:
//     max_i gain_i <= min_j loss_j,  gain_i = m_i ln((f_i+1)/f_i),
//                                     loss_j = m_j ln(f_j/(f_j-1)), f_j >= 2.
// Algorithm:
//   1. start at f_i = max(1, round(mu m_i P)), mu the water level below;
//   2. if sum f < P, add the missing units one at a time where the gain is
//      largest; if sum f > P, remove units where the loss is smallest (never
//      below 1);
//   3. while the largest gain exceeds the smallest loss, move one unit from the
//      smallest-loss symbol to the largest-gain symbol.
// Step 3 makes the result the exact optimum (of Phi with the computed keys)
// whatever the start; it rarely has more than a few moves to make. Ties go to
// the lowest index, and step 3 moves only on a strict improvement, so the result
// is a function of the input bits. Keys are m_i * L[f] with L[f] = ln(1 + 1/f)
// from special::log1p_unit (deterministic, strictly decreasing in f), and the
// loss of f is the gain of f - 1, computed by the same product.
//
// Cost: O(n) passes plus O(K log K) for the K units of step 2 and the moves of
// step 3, because only a few symbols can take part (see the two helpers).

constexpr int kMaxTotal = 1 << LIC_TABLES_MAX_PRECISION;

// L[f] = ln(1 + 1/f) for 1 <= f <= 2^16; L[0] = +inf (never used).
const double* log_step_table() {
  static const std::vector<double> table = [] {
    std::vector<double> t(kMaxTotal + 1);
    t[0] = std::numeric_limits<double>::infinity();
    for (int f = 1; f <= kMaxTotal; ++f) t[f] = special::log1p_unit(1.0 / f);
    return t;
  }();
  return table.data();
}

struct HeapItem {
  double key;
  int32_t index;
  int32_t freq;  // f[index] when pushed; a different current value marks it stale
};

// std heap comparators ("a has lower priority than b"). Ties: lowest index first.
struct LargestKeyFirst {
  bool operator()(const HeapItem& a, const HeapItem& b) const {
    return a.key < b.key || (a.key == b.key && a.index > b.index);
  }
};
struct SmallestKeyFirst {
  bool operator()(const HeapItem& a, const HeapItem& b) const {
    return a.key > b.key || (a.key == b.key && a.index > b.index);
  }
};

// Reused buffers, so that building 64 tables allocates once.
struct Workspace {
  std::vector<double> mass;
  std::vector<double> pmf;
  std::vector<float> pmf32;
  std::vector<double> tail;  // T((k + 1/2) / s), k = 0..c
  std::vector<uint32_t> freq;
  std::vector<uint64_t> rounded;  // compressai: round(p_i 2^p)
  std::vector<HeapItem> heap_a;
  std::vector<HeapItem> heap_b;
};

template <class Cmp>
void heap_push(std::vector<HeapItem>& h, HeapItem item) {
  h.push_back(item);
  std::push_heap(h.begin(), h.end(), Cmp());
}
template <class Cmp>
HeapItem heap_pop(std::vector<HeapItem>& h) {
  std::pop_heap(h.begin(), h.end(), Cmp());
  HeapItem top = h.back();
  h.pop_back();
  return top;
}

// Keeps the k best items (by Cmp's priority) seen so far in `best` (a heap
// whose front is the worst of them). O(n log k), and O(n) when k is small.
template <class Cmp>
void keep_best(std::vector<HeapItem>& best, size_t k, HeapItem item) {
  // Reversed comparator: the front is the lowest-priority kept item.
  auto worse_first = [](const HeapItem& a, const HeapItem& b) { return Cmp()(b, a); };
  if (best.size() < k) {
    best.push_back(item);
    std::push_heap(best.begin(), best.end(), worse_first);
  } else if (Cmp()(best.front(), item)) {
    std::pop_heap(best.begin(), best.end(), worse_first);
    best.back() = item;
    std::push_heap(best.begin(), best.end(), worse_first);
  }
}

// Masses below this are treated as 0: their products could be subnormal, and a
// flush-to-zero mode must not be able to change a decision.
constexpr double kTinyMass = 0x1p-1000;

// The water level mu with sum_i max(1, mu m_i P) = P (masses sum to 1, n <= P).
// Fixed-point iteration on the set B = {i : mu m_i P >= 1}: B only shrinks as mu
// falls, and mu is recomputed from B alone, so it stops (bit-exactly) as soon as
// B is stable, usually after 2 to 4 passes.
double water_level(const double* m, int64_t n, uint32_t P) {
  double mu = 1.0;
  for (int it = 0; it < 64; ++it) {
    int64_t small = 0;
    double big_mass = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      if (mu * m[i] * P >= 1.0) big_mass += m[i]; else ++small;
    }
    if (!(big_mass > 0.0) || small >= static_cast<int64_t>(P)) return mu;
    const double next = static_cast<double>(P - small) / (P * big_mass);
    if (next == mu) break;
    mu = next;
  }
  return mu;
}

// Step 2 with `units` units to add (add = true) or remove. The greedy sequence
// takes the `units` best (symbol, next unit) items overall, and a symbol's
// later units rank below its first, so only the `units` symbols whose first
// unit ranks best can take part: select them in one pass, then run the greedy
// on a heap of just those.
void greedy_units(const double* m, uint32_t* f, int64_t n, uint32_t P, uint64_t units,
                  bool add, Workspace& ws) {
  const double* L = log_step_table();
  std::vector<HeapItem>& cand = ws.heap_a;
  cand.clear();
  const size_t k = static_cast<size_t>(units);
  if (add) {
    for (int64_t i = 0; i < n; ++i) {
      if (m[i] > 0.0 && f[i] < P)
        keep_best<LargestKeyFirst>(cand, k, {m[i] * L[f[i]], static_cast<int32_t>(i), 0});
    }
    std::make_heap(cand.begin(), cand.end(), LargestKeyFirst());
    for (uint64_t u = 0; u < units; ++u) {
      const int32_t i = heap_pop<LargestKeyFirst>(cand).index;
      ++f[i];
      if (f[i] < P) heap_push<LargestKeyFirst>(cand, {m[i] * L[f[i]], i, 0});
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      if (f[i] > 1)
        keep_best<SmallestKeyFirst>(cand, k, {m[i] * L[f[i] - 1], static_cast<int32_t>(i), 0});
    }
    std::make_heap(cand.begin(), cand.end(), SmallestKeyFirst());
    for (uint64_t u = 0; u < units; ++u) {
      const int32_t i = heap_pop<SmallestKeyFirst>(cand).index;
      --f[i];
      if (f[i] > 1) heap_push<SmallestKeyFirst>(cand, {m[i] * L[f[i] - 1], i, 0});
    }
  }
}

// Step 3. With g* the largest gain and l* the smallest loss at the start: the
// largest gain never rises and the smallest loss never falls during the moves
// (a receiver's new loss is its old gain, a donor's new gain its old loss), so
// a receiver never donates, a donor never receives, every receiver starts with
// gain > l* and every donor with loss < g*. Heaps over just those symbols.
void improving_moves(const double* m, uint32_t* f, int64_t n, uint32_t P, double best_gain,
                     double least_loss, Workspace& ws) {
  const double* L = log_step_table();
  std::vector<HeapItem>& gains = ws.heap_a;
  std::vector<HeapItem>& losses = ws.heap_b;
  gains.clear();
  losses.clear();
  for (int64_t i = 0; i < n; ++i) {
    const int32_t ii = static_cast<int32_t>(i), fi = static_cast<int32_t>(f[i]);
    if (m[i] > 0.0 && f[i] < P && m[i] * L[f[i]] > least_loss)
      gains.push_back({m[i] * L[f[i]], ii, fi});
    if (f[i] > 1 && m[i] * L[f[i] - 1] < best_gain) losses.push_back({m[i] * L[f[i] - 1], ii, fi});
  }
  std::make_heap(gains.begin(), gains.end(), LargestKeyFirst());
  std::make_heap(losses.begin(), losses.end(), SmallestKeyFirst());
  // A symbol can sit in both heaps; once it moved, its entry in the other heap is
  // stale (its freq changed). By the argument above the symbol never takes the
  // other role, so a stale entry is dropped.
  auto stale = [f](const HeapItem& h) { return h.freq != static_cast<int32_t>(f[h.index]); };
  // Each move strictly raises Phi (a computed key order implies the exact one),
  // so the loop ends; the candidate sets bound it anyway.
  for (;;) {
    while (!gains.empty() && stale(gains.front())) heap_pop<LargestKeyFirst>(gains);
    while (!losses.empty() && stale(losses.front())) heap_pop<SmallestKeyFirst>(losses);
    if (gains.empty() || losses.empty() || !(gains.front().key > losses.front().key)) break;
    const int32_t i = heap_pop<LargestKeyFirst>(gains).index;
    const int32_t j = heap_pop<SmallestKeyFirst>(losses).index;
    ++f[i];
    --f[j];
    const int32_t fi = static_cast<int32_t>(f[i]), fj = static_cast<int32_t>(f[j]);
    if (f[i] < P) heap_push<LargestKeyFirst>(gains, {m[i] * L[f[i]], i, fi});
    if (f[j] > 1) heap_push<SmallestKeyFirst>(losses, {m[j] * L[f[j] - 1], j, fj});
  }
}

// pmf: n finite entries >= 0 with a positive, finite sum (checked by callers);
// n <= P. Writes ws.freq[0..n).
void greedy_freqs(const double* pmf, int64_t n, int precision, Workspace& ws) {
  const uint32_t P = 1u << precision;
  const double* L = log_step_table();
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += pmf[i];
  ws.mass.resize(n);
  ws.freq.resize(n);
  double* m = ws.mass.data();
  uint32_t* f = ws.freq.data();

  // 1. start near the optimum: the continuous optimum is f_i = max(1, mu m_i P)
  //    (water filling), and the integer optimum is within about a unit of
  //    rounding it (m ln(1 + 1/f) ~ m / (f + 1/2)).
  for (int64_t i = 0; i < n; ++i) {
    const double mi = pmf[i] / sum;
    m[i] = mi < kTinyMass ? 0.0 : mi;
  }
  const double mu = water_level(m, n, P);
  uint64_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = mu * m[i] * P + 0.5;  // >= 0.5; truncation = floor here
    const uint32_t fi = x < 1.0 ? 1u : (x >= P ? P : static_cast<uint32_t>(x));
    f[i] = fi;
    total += fi;
  }

  // 2. exactly P units.
  if (total < P) greedy_units(m, f, n, P, P - total, true, ws);
  if (total > P) greedy_units(m, f, n, P, total - P, false, ws);

  // 3. optimal iff the largest gain <= the smallest loss.
  double best_gain = -1.0, least_loss = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    const double gain = (m[i] > 0.0 && f[i] < P) ? m[i] * L[f[i]] : -1.0;
    const double loss = f[i] > 1 ? m[i] * L[f[i] - 1] : std::numeric_limits<double>::infinity();
    best_gain = gain > best_gain ? gain : best_gain;
    least_loss = loss < least_loss ? loss : least_loss;
  }
  if (best_gain > least_loss) improving_moves(m, f, n, P, best_gain, least_loss, ws);
}

// ---- CompressAI 1.2.8 quantiser (SPEC section 2) -------------------------------
//
// On float32 probabilities p: q_i = round_half_away(p_i 2^p), T = sum q,
// w_i = floor(q_i 2^p / T) (the last width takes the remainder so the total is
// 2^p), then, for i = 0..n-1 in order, a zero width takes one unit from the
// currently smallest width above 1 (lowest index on ties). The donor search is
// a min-heap instead of CompressAI's rescan; donors only shrink, so the heap is
// never stale and the choices are the same.
//
// Returns an error where CompressAI's behaviour is undefined (q or T >= 2^32)
// or where it raises (T = 0).
int compressai_freqs(const float* p32, int64_t n, int precision, Workspace& ws, char* err) {
  const uint32_t P = 1u << precision;
  const float Pf = static_cast<float>(P);
  ws.freq.resize(n);
  uint32_t* w = ws.freq.data();
  ws.rounded.resize(n);
  uint64_t* q = ws.rounded.data();
  uint64_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float scaled = p32[i] * Pf;  // float32 product, exact (P is a power of 2)
    if (!(scaled < 4294967296.0f)) {
      return invalid(err,
                     "pmf[%lld] = %g times 2^%d does not fit 32 bits; the compressai method "
                     "expects probabilities (use method='greedy' for unnormalised pmfs)",
                     static_cast<long long>(i), static_cast<double>(p32[i]), precision);
    }
    // Round half away from zero (scaled >= 0): truncation is floor here, and the
    // difference d - floor(d) is exact.
    const double d = scaled;
    uint64_t r = static_cast<uint64_t>(d);
    if (d - static_cast<double>(r) >= 0.5) ++r;
    q[i] = r;
    total += q[i];
  }
  if (total == 0) {
    return invalid(err,
                   "every pmf entry rounds to 0 at precision %d (the compressai method needs "
                   "some entry >= 2^-%d)", precision, precision + 1);
  }
  if (total >= (1ull << 32)) {
    return invalid(err, "pmf sums to %llu / 2^%d, beyond the compressai method's 32-bit total",
                   static_cast<unsigned long long>(total), precision);
  }
  uint64_t partial = 0;
  for (int64_t i = 0; i + 1 < n; ++i) {
    w[i] = static_cast<uint32_t>(q[i] * P / total);
    partial += w[i];
  }
  w[n - 1] = static_cast<uint32_t>(P - partial);  // partial <= P

  std::vector<HeapItem>& donors = ws.heap_a;
  donors.clear();
  for (int64_t i = 0; i < n; ++i) {
    if (w[i] > 1) donors.push_back({static_cast<double>(w[i]), static_cast<int32_t>(i), 0});
  }
  std::make_heap(donors.begin(), donors.end(), SmallestKeyFirst());
  for (int64_t i = 0; i < n; ++i) {
    if (w[i] != 0) continue;
    // n <= P and the widths sum to P, so a zero width implies a donor exists.
    const int32_t j = heap_pop<SmallestKeyFirst>(donors).index;
    --w[j];
    w[i] = 1;
    if (w[j] > 1) heap_push<SmallestKeyFirst>(donors, {static_cast<double>(w[j]), j, 0});
  }
  return LIC_OK;
}

void freqs_to_cdf(const uint32_t* f, int64_t n, int32_t* cdf) {
  int64_t acc = 0;
  cdf[0] = 0;
  for (int64_t i = 0; i < n; ++i) {
    acc += f[i];
    cdf[i + 1] = static_cast<int32_t>(acc);
  }
}

// Checks a double pmf: n in 1..2^p, finite entries >= 0, a positive finite sum.
int check_pmf(const double* pmf, int64_t n, int precision, char* err) {
  if (n < 1) return invalid(err, "pmf is empty");
  if (n > (int64_t{1} << precision)) {
    return invalid(err,
                   "pmf has %lld entries but precision %d allows at most 2^%d = %lld "
                   "(every symbol needs a frequency >= 1)",
                   static_cast<long long>(n), precision, precision,
                   static_cast<long long>(int64_t{1} << precision));
  }
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double p = pmf[i];
    if (!std::isfinite(p)) {
      return invalid(err, "pmf[%lld] is %s; probabilities must be finite",
                     static_cast<long long>(i), p != p ? "NaN" : "infinite");
    }
    if (p < 0.0) {
      return invalid(err, "pmf[%lld] = %g is negative", static_cast<long long>(i), p);
    }
    sum += p;
  }
  if (!(sum > 0.0)) return invalid(err, "pmf is all zeros");
  if (!std::isfinite(sum)) return invalid(err, "pmf sum overflows a double; rescale it");
  return LIC_OK;
}

// One pmf -> cdf with either quantiser. pmf already checked.
int quantize_checked(const double* pmf, int64_t n, int precision, int quantizer, int32_t* cdf,
                     Workspace& ws, char* err) {
  if (quantizer == LIC_QUANTIZER_GREEDY) {
    greedy_freqs(pmf, n, precision, ws);
  } else {
    ws.pmf32.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      const float p = static_cast<float>(pmf[i]);  // CompressAI casts to float32
      if (!std::isfinite(p)) {
        return invalid(err, "pmf[%lld] = %g overflows float32 (compressai method)",
                       static_cast<long long>(i), pmf[i]);
      }
      ws.pmf32[i] = p;
    }
    const int st = compressai_freqs(ws.pmf32.data(), n, precision, ws, err);
    if (st != LIC_OK) return st;
  }
  freqs_to_cdf(ws.freq.data(), n, cdf);
  return LIC_OK;
}

// ---- parametric families -------------------------------------------------------
//
// T(x) = P(|X| > x) for the family at scale 1 (two-sided tail):
//   Gaussian  erfc(x / sqrt 2)     Laplace  exp(-x)     logistic  2 exp(-x) / (1 + exp(-x)).
// For a scale s and c: E_k = T((k + 1/2) / s), k = 0..c, then by symmetry
//   p_0 = 1 - E_0,  p_d = (E_{d-1} - E_d) / 2 (1 <= d <= c),  tail = E_c,
// which costs c + 1 evaluations per table instead of 2(2c + 1).

int check_family(int family, char* err) {
  if (family != LIC_FAMILY_GAUSSIAN && family != LIC_FAMILY_LAPLACE &&
      family != LIC_FAMILY_LOGISTIC) {
    return invalid(err, "unknown family %d (0 = gaussian, 1 = laplace, 2 = logistic)", family);
  }
  return LIC_OK;
}

int check_tail_mass(double tail_mass, char* err) {
  if (!(tail_mass >= 1e-300 && tail_mass < 1.0)) {
    return invalid(err, "tail_mass must be in [1e-300, 1), got %g", tail_mass);
  }
  return LIC_OK;
}

double tail_multiplier(int family, double tail_mass) {
  switch (family) {
    case LIC_FAMILY_LAPLACE: return -special::log(tail_mass);
    case LIC_FAMILY_LOGISTIC: return special::log(2.0 / tail_mass - 1.0);
    default: return special::kSqrt2 * special::erfc_inverse(tail_mass);
  }
}

// E_k = T((k + 1/2) / s) for k = 0..c into e[0..c].
void two_sided_tails(int family, double s, int64_t c, double* e) {
  switch (family) {
    case LIC_FAMILY_LAPLACE:
      for (int64_t k = 0; k <= c; ++k) e[k] = -((k + 0.5) / s);
      special::exp_nonpos_array(e, e, c + 1);  // exp's bits, vectorised
      break;
    case LIC_FAMILY_LOGISTIC:
      // 2 / (1 + e^x) = 2u / (1 + u) with u = e^-x <= 1: no overflow.
      for (int64_t k = 0; k <= c; ++k) e[k] = -((k + 0.5) / s);
      special::exp_nonpos_array(e, e, c + 1);
      for (int64_t k = 0; k <= c; ++k) e[k] = 2.0 * e[k] / (1.0 + e[k]);
      break;
    default: {
      // The arguments increase with k, as erfc_nonneg_sorted needs; it returns
      // erfc_nonneg's bits, vectorised.
      const double s_sqrt2 = s * special::kSqrt2;
      for (int64_t k = 0; k <= c; ++k) e[k] = (k + 0.5) / s_sqrt2;
      special::erfc_nonneg_sorted(e, e, c + 1);
    }
  }
}

// c = ceil(float32(s * float32(m))), CompressAI's float32 rule. Checks that the
// 2c + 2 slots fit the precision.
int table_center(float s, float m32, int precision, int64_t t, int64_t* c_out, char* err) {
  if (!(std::isfinite(s) && s > 0.0f)) {
    return invalid(err, "scales[%lld] = %g; scales must be finite and > 0",
                   static_cast<long long>(t), static_cast<double>(s));
  }
  const float sm = s * m32;
  const double c = std::ceil(static_cast<double>(sm));
  const double max_c = static_cast<double>((int64_t{1} << (precision - 1)) - 1);
  if (!(c <= max_c)) {
    return invalid(err,
                   "scales[%lld] = %g needs %.0f symbols + a tail slot, more than the 2^%d "
                   "a precision-%d table can hold; lower the scale or raise the precision",
                   static_cast<long long>(t), static_cast<double>(s), 2.0 * c + 1.0, precision,
                   precision);
  }
  *c_out = static_cast<int64_t>(c);
  return LIC_OK;
}

// Greedy row: the pmf of 2c + 1 symbols and the tail, in double.
void parametric_row_greedy(int family, float s, int64_t c, int precision, int32_t* cdf,
                           Workspace& ws) {
  ws.tail.resize(c + 1);
  ws.pmf.resize(2 * c + 2);
  double* e = ws.tail.data();
  double* p = ws.pmf.data();
  two_sided_tails(family, static_cast<double>(s), c, e);
  p[c] = 1.0 - e[0];
  for (int64_t d = 1; d <= c; ++d) {
    const double pd = 0.5 * (e[d - 1] - e[d]);
    p[c - d] = pd;
    p[c + d] = pd;
  }
  p[2 * c + 1] = e[c];
  greedy_freqs(p, 2 * c + 2, precision, ws);
  freqs_to_cdf(ws.freq.data(), 2 * c + 2, cdf);
}

// CompressAI row (Gaussian): the float32 pipeline of GaussianConditional.update():
//   Phi32(u) = 0.5f * erfc32(float32(-(2^-1/2)) * u), erfc32 = float32(erfc(double)),
//   p_d = Phi32((0.5f - d) / s) - Phi32((-0.5f - d) / s),  tail = 2 * Phi32((-0.5f - c) / s).
float phi32(float u) {
  const float neg_rsqrt2 = static_cast<float>(-special::kSqrtHalf);
  const float v = neg_rsqrt2 * u;
  return 0.5f * static_cast<float>(special::erfc(static_cast<double>(v)));
}

int parametric_row_compressai(float s, int64_t c, int precision, int32_t* cdf, Workspace& ws,
                              char* err) {
  const int64_t n = 2 * c + 2;
  ws.pmf32.resize(n);
  float* p = ws.pmf32.data();
  for (int64_t d = 0; d <= c; ++d) {
    const float df = static_cast<float>(d);
    const float upper = phi32((0.5f - df) / s);
    const float lower = phi32((-0.5f - df) / s);
    const float pd = upper - lower;
    p[c - d] = pd;
    p[c + d] = pd;
  }
  p[n - 1] = 2.0f * phi32((-0.5f - static_cast<float>(c)) / s);
  const int st = compressai_freqs(p, n, precision, ws, err);
  if (st != LIC_OK) return st;
  freqs_to_cdf(ws.freq.data(), n, cdf);
  return LIC_OK;
}

// ---- scale -> index ------------------------------------------------------------

int check_scale_table(const float* table, int64_t levels, char* err) {
  if (levels < 1) return invalid(err, "scale table is empty");
  if (levels > (int64_t{1} << 31) - 1) return invalid(err, "scale table is too long");
  for (int64_t t = 0; t < levels; ++t) {
    if (!(std::isfinite(table[t]) && table[t] > 0.0f)) {
      return invalid(err, "scale_table[%lld] = %g; table scales must be finite and > 0",
                     static_cast<long long>(t), static_cast<double>(table[t]));
    }
    if (t > 0 && !(table[t] > table[t - 1])) {
      return invalid(err, "scale table is not strictly increasing at index %lld (%g after %g)",
                     static_cast<long long>(t), static_cast<double>(table[t]),
                     static_cast<double>(table[t - 1]));
    }
  }
  return LIC_OK;
}

}  // namespace
}  // namespace tables
}  // namespace lic

using namespace lic::tables;  // NOLINT: the C entry points below use the helpers

// ---- C entry points ------------------------------------------------------------

extern "C" int lic_pmf_to_quantized_cdf(const double* pmf, int64_t n, int precision,
                                        int quantizer, int32_t* cdf, char* err) {
  int st = check_precision(precision, err);
  if (st == LIC_OK) st = check_quantizer(quantizer, err);
  if (st != LIC_OK) return st;
  if (n < 1) return invalid(err, "pmf is empty");
  if (pmf == nullptr || cdf == nullptr) return invalid(err, "null buffer");
  st = check_pmf(pmf, n, precision, err);
  if (st != LIC_OK) return st;
  try {
    Workspace ws;
    return quantize_checked(pmf, n, precision, quantizer, cdf, ws, err);
  } catch (const std::bad_alloc&) {
    return fail(err, LIC_ERR_OUT_OF_MEMORY, "out of memory quantising a pmf of %lld entries",
                static_cast<long long>(n));
  }
}

extern "C" int lic_pmfs_to_cdfs(const double* pmfs, int64_t rows, int64_t pmf_stride,
                                const int32_t* lengths, int precision, int quantizer,
                                int32_t* cdfs, int64_t cdf_stride, int32_t* cdf_lengths,
                                char* err) {
  int st = check_precision(precision, err);
  if (st == LIC_OK) st = check_quantizer(quantizer, err);
  if (st != LIC_OK) return st;
  if (rows < 0) return invalid(err, "negative row count");
  if (rows > 0 && (pmfs == nullptr || lengths == nullptr || cdfs == nullptr ||
                   cdf_lengths == nullptr)) {
    return invalid(err, "null buffer");
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (lengths[r] < 1 || lengths[r] > pmf_stride) {
      return invalid(err,
                     "lengths[%lld] = %d must be in 1..%lld (the pmf row width; each row "
                     "holds its symbols and the tail slot)",
                     static_cast<long long>(r), lengths[r], static_cast<long long>(pmf_stride));
    }
    if (int64_t{lengths[r]} + 1 > cdf_stride) {
      return invalid(err, "cdf row width %lld is too small for lengths[%lld] = %d",
                     static_cast<long long>(cdf_stride), static_cast<long long>(r), lengths[r]);
    }
  }
  try {
    Workspace ws;
    for (int64_t r = 0; r < rows; ++r) {
      const double* pmf = pmfs + r * pmf_stride;
      int32_t* cdf = cdfs + r * cdf_stride;
      st = check_pmf(pmf, lengths[r], precision, err);
      if (st == LIC_OK) st = quantize_checked(pmf, lengths[r], precision, quantizer, cdf, ws, err);
      if (st != LIC_OK) {
        if (err != nullptr) {  // prefix the row number to the message
          char inner[LIC_TABLES_ERR_CAP];
          std::snprintf(inner, sizeof inner, "%s", err);
          std::snprintf(err, LIC_TABLES_ERR_CAP, "row %lld: %.200s", static_cast<long long>(r),
                        inner);
        }
        return st;
      }
      std::fill(cdf + lengths[r] + 1, cdf + cdf_stride, 0);
      cdf_lengths[r] = lengths[r] + 1;
    }
  } catch (const std::bad_alloc&) {
    return fail(err, LIC_ERR_OUT_OF_MEMORY, "out of memory quantising %lld pmfs",
                static_cast<long long>(rows));
  }
  return LIC_OK;
}

extern "C" int lic_tail_multiplier(int family, double tail_mass, double* out, char* err) {
  int st = check_family(family, err);
  if (st == LIC_OK) st = check_tail_mass(tail_mass, err);
  if (st != LIC_OK) return st;
  if (out == nullptr) return invalid(err, "null buffer");
  *out = tail_multiplier(family, tail_mass);
  return LIC_OK;
}

extern "C" int lic_parametric_layout(int family, const float* scales, int64_t n, int precision,
                                     double tail_mass, int32_t* cdf_lengths, int32_t* offsets,
                                     char* err) {
  int st = check_family(family, err);
  if (st == LIC_OK) st = check_precision(precision, err);
  if (st == LIC_OK) st = check_tail_mass(tail_mass, err);
  if (st != LIC_OK) return st;
  if (n < 0) return invalid(err, "negative scale count");
  if (n > 0 && (scales == nullptr || cdf_lengths == nullptr || offsets == nullptr)) {
    return invalid(err, "null buffer");
  }
  const float m32 = static_cast<float>(tail_multiplier(family, tail_mass));
  for (int64_t t = 0; t < n; ++t) {
    int64_t c = 0;
    st = table_center(scales[t], m32, precision, t, &c, err);
    if (st != LIC_OK) return st;
    cdf_lengths[t] = static_cast<int32_t>(2 * c + 3);
    offsets[t] = static_cast<int32_t>(-c);
  }
  return LIC_OK;
}

extern "C" int lic_parametric_tables(int family, const float* scales, int64_t n, int precision,
                                     double tail_mass, int quantizer, int32_t* cdfs,
                                     int64_t cdf_stride, int32_t* cdf_lengths, int32_t* offsets,
                                     char* err) {
  int st = check_quantizer(quantizer, err);
  if (st != LIC_OK) return st;
  if (quantizer == LIC_QUANTIZER_COMPRESSAI && family != LIC_FAMILY_GAUSSIAN) {
    return invalid(err, "the compressai method exists for the Gaussian family only");
  }
  st = lic_parametric_layout(family, scales, n, precision, tail_mass, cdf_lengths, offsets, err);
  if (st != LIC_OK) return st;
  if (n > 0 && cdfs == nullptr) return invalid(err, "null buffer");
  for (int64_t t = 0; t < n; ++t) {
    if (cdf_lengths[t] > cdf_stride) {
      return invalid(err, "cdf row width %lld is shorter than table %lld's length %d",
                     static_cast<long long>(cdf_stride), static_cast<long long>(t),
                     cdf_lengths[t]);
    }
  }
  try {
    Workspace ws;
    for (int64_t t = 0; t < n; ++t) {
      const int64_t c = -static_cast<int64_t>(offsets[t]);
      int32_t* cdf = cdfs + t * cdf_stride;
      if (quantizer == LIC_QUANTIZER_GREEDY) {
        parametric_row_greedy(family, scales[t], c, precision, cdf, ws);
      } else {
        st = parametric_row_compressai(scales[t], c, precision, cdf, ws, err);
        if (st != LIC_OK) return st;
      }
      std::fill(cdf + cdf_lengths[t], cdf + cdf_stride, 0);
    }
  } catch (const std::bad_alloc&) {
    return fail(err, LIC_ERR_OUT_OF_MEMORY, "out of memory building %lld tables",
                static_cast<long long>(n));
  }
  return LIC_OK;
}

extern "C" int lic_scale_table(double min, double max, int levels, float* out, char* err) {
  const double flt_min = static_cast<double>(std::numeric_limits<float>::min());
  const double flt_max = static_cast<double>(std::numeric_limits<float>::max());
  if (!(min >= flt_min && max <= flt_max && min < max)) {
    return invalid(err, "scale table needs float32-normal 0 < min < max, got min=%g max=%g", min,
                   max);
  }
  if (levels < 2 || levels > (1 << 16)) {
    return invalid(err, "levels must be in 2..65536, got %d", levels);
  }
  if (out == nullptr) return invalid(err, "null buffer");
  // torch.linspace(float32): step = (end - start) / (levels - 1) in float32; the first
  // half counts up from start, the second half down from end, each value rounded
  // once (start + step * i is exact in double here, so one rounding to float32).
  const float start = static_cast<float>(lic::special::log(min));
  const float end = static_cast<float>(lic::special::log(max));
  const float step = (end - start) / static_cast<float>(levels - 1);
  const int halfway = levels / 2;
  for (int i = 0; i < levels; ++i) {
    const double x = i < halfway ? static_cast<double>(start) + static_cast<double>(step) * i
                                 : static_cast<double>(end) -
                                       static_cast<double>(step) * (levels - 1 - i);
    out[i] = static_cast<float>(lic::special::exp(static_cast<double>(static_cast<float>(x))));
  }
  for (int i = 1; i < levels; ++i) {
    if (!(out[i] > out[i - 1])) {
      return invalid(err,
                     "min=%g and max=%g are too close for %d distinct float32 levels", min,
                     max, levels);
    }
  }
  return LIC_OK;
}

extern "C" int lic_scale_indexes(const float* scales, int64_t n, const float* table,
                                 int64_t levels, int32_t* out, char* err) {
  if (n < 0) return invalid(err, "negative scale count");
  if (table == nullptr || (n > 0 && (scales == nullptr || out == nullptr))) {
    return invalid(err, "null buffer");
  }
  const int st = check_scale_table(table, levels, err);
  if (st != LIC_OK) return st;
  const float floor_scale = table[0];
  const int64_t searched = levels - 1;  // table[0..levels-2]; none >= s' gives levels - 1
  for (int64_t i = 0; i < n; ++i) {
    float s = scales[i];
    if (s != s) {
      return invalid(err, "scales[%lld] is NaN; a scale must be a number",
                     static_cast<long long>(i));
    }
    if (s < floor_scale) s = floor_scale;  // lower bound (also maps -inf)
    // Branch-free lower bound: the answer stays in [lo, lo + len]; each step
    // halves len with a conditional move instead of an unpredictable branch.
    int64_t lo = 0, len = searched;
    while (len > 1) {
      const int64_t half = len / 2;
      lo = table[lo + half - 1] < s ? lo + half : lo;
      len -= half;
    }
    out[i] = static_cast<int32_t>(len == 1 && table[lo] < s ? lo + 1 : lo);
  }
  return LIC_OK;
}

extern "C" int lic_special_eval(int function, const double* x, int64_t n, double* out,
                                  char* err) {
  if (n < 0 || (n > 0 && (x == nullptr || out == nullptr))) return invalid(err, "bad buffer");
  namespace sp = lic::special;
  switch (function) {
    case 0: for (int64_t i = 0; i < n; ++i) out[i] = sp::exp(x[i]); break;
    case 1: for (int64_t i = 0; i < n; ++i) out[i] = sp::log(x[i]); break;
    case 2: for (int64_t i = 0; i < n; ++i) out[i] = sp::erfc(x[i]); break;
    case 3:
      for (int64_t i = 0; i < n; ++i) {
        if (!(x[i] >= 0.0 && x[i] <= 1.0)) return invalid(err, "log1p hook needs 0 <= x <= 1");
        out[i] = sp::log1p_unit(x[i]);
      }
      break;
    case 4:
      for (int64_t i = 0; i < n; ++i) {
        if (!(x[i] >= 0.0) || (i > 0 && x[i] < x[i - 1]))
          return invalid(err, "sorted erfc hook needs non-decreasing x >= 0");
      }
      sp::erfc_nonneg_sorted(x, out, n);
      break;
    case 5:
      for (int64_t i = 0; i < n; ++i) {
        if (!(x[i] >= 1e-300 && x[i] <= 1.0)) return invalid(err, "erfc^-1 hook needs 1e-300 <= q <= 1");
        out[i] = sp::erfc_inverse(x[i]);
      }
      break;
    case 6:
      for (int64_t i = 0; i < n; ++i) {
        if (x[i] > 0.0) return invalid(err, "array exp hook needs x <= 0");
      }
      sp::exp_nonpos_array(x, out, n);
      break;
    default: return invalid(err, "unknown special function %d", function);
  }
  return LIC_OK;
}
