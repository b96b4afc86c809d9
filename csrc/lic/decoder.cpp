// decoder.cpp - the whole-file decoder (decoder.h), written against docs/format.md
// ("Decoder weights", "Decoding a file") and docs/integer.md.
//
// Read top to bottom: helpers (tensor lookup by quality, checked reads), building one
// quality's model from the weights file (tables, probability networks, synthesis,
// fingerprint), decoding the latent of each family, the banded synthesis, then the
// file-level checks and the release lookup.
#include "lic/decoder.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <utility>

#include "lic/fileio.h"
#include "lic/json.h"
#include "lic/sha256.h"

namespace lic {
namespace decoder {

namespace {

// Model ids (docs/format.md, "Model ids").
constexpr unsigned kFactorized = 1, kHyperprior = 2, kMeanScale = 3, kJoint = 4, kSpaceChannel = 5;
// Fractional bits of any grid a file may declare (lic_core.zoo.integer's _MAX_FRAC).
constexpr int32_t kMaxFrac = 24;
// The image is padded to this multiple before analysis: g_a divides by 16, h_a by 4 more.
unsigned stride_of(unsigned id) { return id == kFactorized ? 16 : 64; }

template <class T>
T sat(int64_t v) {
  return static_cast<T>(std::min<int64_t>(std::max<int64_t>(v, std::numeric_limits<T>::min()),
                                          std::numeric_limits<T>::max()));
}

// Re-raises the error in *err as `status` with `prefix` before its message (formatting
// err->message into itself would read what it is writing).
lic_status prefixed(ErrorInfo* err, lic_status status, const char* prefix) {
  char msg[sizeof(ErrorInfo{}.message)];
  std::snprintf(msg, sizeof(msg), "%s", err ? err->message : "");
  return set_error(err, status, "%s%s", prefix, msg);
}

lic_status oom(ErrorInfo* err, const char* what) {
  return set_error(err, LIC_ERR_OUT_OF_MEMORY, "out of memory allocating %s", what);
}

template <class V>
bool grow(V& v, size_t n) {
  try {
    v.resize(n);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// The tensor a quality reads under `name`: "q<Q>.<name>" when the file has it, else
// "<name>" (docs/format.md, "Decoder weights"); nullptr when neither exists.
const st::TensorInfo* resolve(const st::File& f, unsigned quality, const std::string& name) {
  const st::TensorInfo* t = f.find("q" + std::to_string(quality) + "." + name);
  return t ? t : f.find(name);
}

bool present(const st::File& f, unsigned quality, const std::string& name) {
  return resolve(f, quality, name) != nullptr;
}

// Reads a quality's tensor `name` of dtype `want` into *out; its shape into *shape.
// ndim (when >= 0) must match.
template <class T>
lic_status get(const st::File& f, unsigned quality, const std::string& name, st::DType want, int ndim,
               std::vector<T>* out, std::vector<uint64_t>* shape, ErrorInfo* err) {
  const st::TensorInfo* t = resolve(f, quality, name);
  if (!t) return set_error(err, LIC_ERR_WEIGHTS, "weights: tensor '%s' is missing", name.c_str());
  if (ndim >= 0 && t->shape.size() != static_cast<size_t>(ndim))
    return set_error(err, LIC_ERR_WEIGHTS, "weights: tensor '%s' has %zu dimensions, expected %d", t->name.c_str(),
                     t->shape.size(), ndim);
  if (shape) *shape = t->shape;
  return f.read<T>(t->name, want, nullptr, out, err);
}

// A scalar int32 in lo..hi.
lic_status get_scalar(const st::File& f, unsigned quality, const std::string& name, int32_t lo, int32_t hi,
                      int32_t* out, ErrorInfo* err) {
  std::vector<int32_t> v;
  std::vector<uint64_t> shape;
  lic_status st = get(f, quality, name, st::kI32, 1, &v, &shape, err);
  if (st != LIC_OK) return st;
  if (v.size() != 1) return set_error(err, LIC_ERR_WEIGHTS, "weights: tensor '%s' must hold one value", name.c_str());
  if (v[0] < lo || v[0] > hi)
    return set_error(err, LIC_ERR_WEIGHTS, "weights: tensor '%s' is %d, outside %d..%d", name.c_str(), v[0], lo, hi);
  *out = v[0];
  return LIC_OK;
}

// Coding tables (cdf [T][L], cdf_length [T], offset [T]) bound to the coder.
lic_status get_tables(const st::File& f, unsigned quality, const std::string& prefix, size_t* n_tables,
                      std::shared_ptr<const TableSet>* out, ErrorInfo* err) {
  std::vector<int32_t> cdf, length, offset;
  std::vector<uint64_t> shape, s1, s2;
  lic_status st = get(f, quality, prefix + ".cdf", st::kI32, 2, &cdf, &shape, err);
  if (st == LIC_OK) st = get(f, quality, prefix + ".cdf_length", st::kI32, 1, &length, &s1, err);
  if (st == LIC_OK) st = get(f, quality, prefix + ".offset", st::kI32, 1, &offset, &s2, err);
  if (st != LIC_OK) return st;
  if (s1[0] != shape[0] || s2[0] != shape[0] || shape[0] == 0 || shape[1] == 0)
    return set_error(err, LIC_ERR_WEIGHTS, "weights: %s: %llu tables, %llu lengths and %llu offsets do not agree",
                     prefix.c_str(), static_cast<unsigned long long>(shape[0]),
                     static_cast<unsigned long long>(s1[0]), static_cast<unsigned long long>(s2[0]));
  st = TableSet::create(cdf.data(), shape[0], shape[1], length.data(), offset.data(), kTablePrecision, out, err);
  if (st != LIC_OK && st != LIC_ERR_OUT_OF_MEMORY) return prefixed(err, LIC_ERR_WEIGHTS, ("weights: " + prefix + ": ").c_str());
  *n_tables = shape[0];
  return st;
}

// One integer layer of the file: <name>.weight (I16), .bias (I32), .shift (U8); an
// inverse GDN also .square_shift (I32 [1]) and .out_shift (U8 [c]).
lic_status add_layer(const st::File& f, unsigned quality, const std::string& name, int kind, int act,
                     unsigned out_bits, intnet::Network* net, ErrorInfo* err) {
  std::vector<int16_t> w;
  std::vector<int32_t> b;
  std::vector<uint8_t> s, out_shift;
  std::vector<uint64_t> ws, bs, ss;
  const int ndim = kind == intnet::kConv || kind == intnet::kDeconv ? 4 : 2;
  lic_status st = get(f, quality, name + ".weight", st::kI16, ndim, &w, &ws, err);
  if (st == LIC_OK) st = get(f, quality, name + ".bias", st::kI32, 1, &b, &bs, err);
  if (st == LIC_OK) st = get(f, quality, name + ".shift", st::kU8, 1, &s, &ss, err);
  if (st != LIC_OK) return st;
  intnet::LayerSpec spec;
  spec.kind = kind, spec.act = act, spec.out_bits = out_bits;
  if (kind == intnet::kConv) {
    spec.c_out = ws[0], spec.c_in = ws[1], spec.k = ws[2];
  } else if (kind == intnet::kDeconv) {
    spec.c_in = ws[0], spec.c_out = ws[1], spec.k = ws[2];
  } else {
    spec.c_out = ws[0], spec.c_in = ws[1], spec.k = 1;
  }
  if (ndim == 4 && ws[2] != ws[3])
    return set_error(err, LIC_ERR_WEIGHTS, "weights: '%s.weight' has a %llux%llu kernel, not a square one", name.c_str(),
                     static_cast<unsigned long long>(ws[2]), static_cast<unsigned long long>(ws[3]));
  if (bs[0] != spec.c_out || ss[0] != spec.c_out)
    return set_error(err, LIC_ERR_WEIGHTS, "weights: '%s' has %zu output channels but %llu biases and %llu shifts",
                     name.c_str(), spec.c_out, static_cast<unsigned long long>(bs[0]),
                     static_cast<unsigned long long>(ss[0]));
  if (kind == intnet::kIgdn) {
    int32_t a = 0;
    std::vector<uint64_t> os;
    st = get_scalar(f, quality, name + ".square_shift", 0, intnet::kMaxSquareShift, &a, err);
    if (st == LIC_OK) st = get(f, quality, name + ".out_shift", st::kU8, 1, &out_shift, &os, err);
    if (st != LIC_OK) return st;
    if (os[0] != spec.c_out)
      return set_error(err, LIC_ERR_WEIGHTS, "weights: '%s.out_shift' holds %llu values for %zu channels",
                       name.c_str(), static_cast<unsigned long long>(os[0]), spec.c_out);
    spec.square_shift = static_cast<unsigned>(a);
    spec.out_shift = out_shift.data();
  }
  spec.weight = w.data(), spec.bias = b.data(), spec.shift = s.data();
  st = net->add_layer(spec, err);
  if (st != LIC_OK && st != LIC_ERR_OUT_OF_MEMORY)  // the file's fault: say which tensor
    return prefixed(err, LIC_ERR_WEIGHTS, ("weights: '" + name + "': ").c_str());
  return st;
}

// The fingerprint of one quality's tensors (docs/format.md, "Weights fingerprint (2)").
uint64_t fingerprint_of(const st::File& f, const char* family, unsigned quality) {
  // the names the quality reads: every unprefixed name, with its q<Q>. version when the
  // file has one; other qualities' tensors are not read
  std::vector<std::pair<std::string, const st::TensorInfo*>> names;
  const std::string mine = "q" + std::to_string(quality) + ".";
  for (const st::TensorInfo& t : f.tensors()) {
    const std::string& n = t.name;
    if (n.size() > 1 && n[0] == 'q' && n[1] >= '0' && n[1] <= '9') {
      if (n.compare(0, mine.size(), mine) == 0) names.emplace_back(n.substr(mine.size()), &t);
      continue;
    }
    if (!f.find(mine + n)) names.emplace_back(n, &t);
  }
  std::sort(names.begin(), names.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });  // std::string: byte order
  Sha256 h;
  static const char kDomain[] = "lic-core decoder weights/2";
  h.update(kDomain, sizeof(kDomain));  // with its NUL
  h.update(family, std::strlen(family) + 1);
  const std::string q = std::to_string(quality);
  h.update(q.c_str(), q.size() + 1);
  for (const auto& [name, t] : names) {
    std::string shape;
    for (size_t i = 0; i < t->shape.size(); ++i) shape += (i ? "x" : "") + std::to_string(t->shape[i]);
    if (t->shape.empty()) shape = "scalar";
    h.update(name.c_str(), name.size() + 1);
    h.update(st::dtype_name(t->dtype), std::strlen(st::dtype_name(t->dtype)) + 1);
    h.update(shape.c_str(), shape.size() + 1);
    h.update(f.raw(*t), static_cast<size_t>(t->end - t->begin));
  }
  uint8_t d[Sha256::kDigestBytes];
  h.final(d);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | d[i];
  return v ? v : 1;
}

const char* family_name(unsigned id) { return container::model_name(id); }

}  // namespace

// ---- one quality's model ------------------------------------------------------------

lic_status Model::build(const Weights& w, const st::File& f, unsigned quality, ErrorInfo* err) {
  model_id_ = w.model_id(), quality_ = quality;
  lic_status st = LIC_OK;
  size_t n_tables = 0;
  const bool hyper = model_id_ != kFactorized;
  st = get_tables(f, quality, "bottleneck", &n_tables, &bottleneck_, err);
  if (st != LIC_OK) return st;
  if (hyper) {
    n_ = n_tables;
    size_t levels = 0;
    std::vector<uint64_t> shape;
    st = get_tables(f, quality, "conditional", &levels, &conditional_, err);
    if (st == LIC_OK) st = get_scalar(f, quality, "prior.z_frac", 0, kMaxFrac, &z_frac_, err);
    if (st == LIC_OK) st = get_scalar(f, quality, "prior.mean_frac", 0, kMaxFrac, &mean_frac_, err);
    if (st == LIC_OK) st = get(f, quality, "prior.z_offset", st::kI32, 1, &z_offset_, &shape, err);
    if (st == LIC_OK && z_offset_.size() != n_)
      st = set_error(err, LIC_ERR_WEIGHTS, "weights: 'prior.z_offset' holds %zu values for %zu channels",
                     z_offset_.size(), n_);
    if (st == LIC_OK) st = get(f, quality, "prior.scale_thresholds", st::kI32, 1, &thresholds_, &shape, err);
    if (st != LIC_OK) return st;
    if (thresholds_.size() + 1 != levels)
      return set_error(err, LIC_ERR_WEIGHTS, "weights: %zu scale thresholds for %zu conditional tables (one fewer)",
                       thresholds_.size(), levels);
    for (size_t i = 1; i < thresholds_.size(); ++i)
      if (thresholds_[i] <= thresholds_[i - 1])
        return set_error(err, LIC_ERR_WEIGHTS, "weights: 'prior.scale_thresholds' must increase strictly (entry %zu)",
                         i);
    const bool joint = model_id_ == kJoint;
    // h_s's last layer gives the context models' 16-bit params (joint, space-channel)
    // or 32-bit scales and means
    const bool params16 = joint || model_id_ == kSpaceChannel;
    const int act = model_id_ == kHyperprior ? intnet::kActRelu : intnet::kActLeaky;
    st = add_layer(f, quality, "prior.h_s.0", intnet::kDeconv, act, 16, &h_s_, err);
    if (st == LIC_OK) st = add_layer(f, quality, "prior.h_s.2", intnet::kDeconv, act, 16, &h_s_, err);
    if (st == LIC_OK)
      st = add_layer(f, quality, "prior.h_s.4", intnet::kConv, model_id_ == kHyperprior ? act : intnet::kActNone,
                     params16 ? 16 : 32, &h_s_, err);
    if (st != LIC_OK) return st;
    if (h_s_.in_channels() != n_)
      return set_error(err, LIC_ERR_WEIGHTS, "weights: h_s takes %zu channels, the hyper-latent has %zu",
                       h_s_.in_channels(), n_);
    m_ = model_id_ == kHyperprior ? h_s_.out_channels() : h_s_.out_channels() / 2;
    if (m_ == 0 || (model_id_ != kHyperprior && h_s_.out_channels() % 2))
      return set_error(err, LIC_ERR_WEIGHTS, "weights: h_s gives %zu channels", h_s_.out_channels());
    if (joint) {
      intnet::Network context, ep;
      st = add_layer(f, quality, "prior.context", intnet::kDense, intnet::kActNone, 16, &context, err);
      if (st == LIC_OK)
        st = add_layer(f, quality, "prior.entropy_parameters.0", intnet::kDense, intnet::kActLeaky, 16, &ep, err);
      if (st == LIC_OK)
        st = add_layer(f, quality, "prior.entropy_parameters.2", intnet::kDense, intnet::kActLeaky, 16, &ep, err);
      if (st == LIC_OK)
        st = add_layer(f, quality, "prior.entropy_parameters.4", intnet::kDense, intnet::kActNone, 32, &ep, err);
      if (st == LIC_OK)
        st = intnet::JointModel::create(context, ep, thresholds_.data(), thresholds_.size(),
                                        static_cast<unsigned>(mean_frac_), &joint_, err);
      if (st != LIC_OK) return st == LIC_ERR_OUT_OF_MEMORY ? st : prefixed(err, LIC_ERR_WEIGHTS, "weights: ");
      if (joint_->channels() != m_)
        return set_error(err, LIC_ERR_WEIGHTS, "weights: the context model has %zu channels, h_s %zu",
                         joint_->channels(), m_);
    }
    if (model_id_ == kSpaceChannel) {
      st = build_space_channel(f, quality, err);
      if (st != LIC_OK) return st;
    }
  } else {
    m_ = n_tables;
  }

  // the synthesis: deconv (igdn deconv)*, the last giving pixels
  st = get_scalar(f, quality, "synthesis.input_frac", 0, kMaxFrac, &y_frac_, err);
  if (st != LIC_OK) return st;
  if (model_id_ != kFactorized && model_id_ != kHyperprior && y_frac_ > mean_frac_)
    return set_error(err, LIC_ERR_WEIGHTS, "weights: the synthesis input grid (%d bits) is finer than the means' (%d)",
                     y_frac_, mean_frac_);
  if (model_id_ == kFactorized) {
    std::vector<uint64_t> shape;
    st = get(f, quality, "synthesis.input_offset", st::kI32, 1, &y_offset_, &shape, err);
    if (st != LIC_OK) return st;
    if (y_offset_.size() != m_)
      return set_error(err, LIC_ERR_WEIGHTS, "weights: 'synthesis.input_offset' holds %zu values for %zu channels",
                       y_offset_.size(), m_);
  }
  size_t n_layers = 0;
  while (n_layers < intnet::kMaxLayers && present(f, quality, "synthesis." + std::to_string(n_layers) + ".weight"))
    ++n_layers;
  if (n_layers % 2 == 0)
    return set_error(err, LIC_ERR_WEIGHTS, "weights: the synthesis has %zu layers; it is deconv (igdn deconv)*",
                     n_layers);
  for (size_t i = 0; i < n_layers; ++i) {
    const bool last = i + 1 == n_layers;
    st = add_layer(f, quality, "synthesis." + std::to_string(i), i % 2 ? intnet::kIgdn : intnet::kDeconv,
                   intnet::kActNone, last ? 8 : 16, &g_s_, err);
    if (st != LIC_OK) return st;
  }
  if (g_s_.in_channels() != m_ || g_s_.out_channels() != 3)
    return set_error(err, LIC_ERR_WEIGHTS, "weights: the synthesis maps %zu channels to %zu; the latent has %zu, an "
                     "image 3", g_s_.in_channels(), g_s_.out_channels(), m_);
  fingerprint_ = fingerprint_of(f, family_name(model_id_), quality);
  return LIC_OK;
}

// The space-channel model's context networks (docs/format.md, "Decoder weights"; h_s is
// built): M's five channel groups, and every network's channels checked against them.
lic_status Model::build_space_channel(const st::File& f, unsigned quality, ErrorInfo* err) {
  const size_t M = m_;
  if (M < 12)
    return set_error(err, LIC_ERR_WEIGHTS,
                     "weights: h_s gives %zu latent channels; the space-channel model needs at least 12", M);
  const size_t u = std::min<size_t>(16, M / 12);
  group_size_ = {u, u, 2 * u, 4 * u, M - 8 * u};
  group_steps_ = {4, 4, 2, 2, 2};  // lic_core/zoo/checkerboard.py, FOUR_STEP_GROUPS = 2
  group_start_.assign(1, 0);
  for (size_t c : group_size_) group_start_.push_back(group_start_.back() + c);
  const size_t G = group_size_.size();
  channel_context_.resize(G - 1), spatial_context_.resize(G), entropy_parameters_.resize(G);
  char groups[96];
  std::snprintf(groups, sizeof(groups), "M = %zu: groups of %zu, %zu, %zu, %zu and %zu channels", M, group_size_[0],
                group_size_[1], group_size_[2], group_size_[3], group_size_[4]);
  // a network `name` (its first layer `first`, its last `last`) must map cin to cout channels
  auto check = [&](const intnet::Network& net, const std::string& first, const std::string& last, size_t cin,
                   size_t cout) -> lic_status {
    if (net.in_channels() != cin)
      return set_error(err, LIC_ERR_WEIGHTS, "weights: '%s.weight' takes %zu channels; with %s it must take %zu",
                       first.c_str(), net.in_channels(), groups, cin);
    if (net.out_channels() != cout)
      return set_error(err, LIC_ERR_WEIGHTS, "weights: '%s.weight' gives %zu channels; with %s it must give %zu",
                       last.c_str(), net.out_channels(), groups, cout);
    return LIC_OK;
  };
  lic_status st = LIC_OK;
  for (size_t g = 0; g < G && st == LIC_OK; ++g) {
    const size_t c = group_size_[g];
    spatial_context_[g].resize(group_steps_[g] - 1);
    for (size_t k = 0; k + 1 < group_steps_[g] && st == LIC_OK; ++k) {
      const std::string sc = "prior.spatial_context." + std::to_string(g) + "." + std::to_string(k);
      st = add_layer(f, quality, sc, intnet::kConv, intnet::kActNone, 16, &spatial_context_[g][k], err);
      if (st == LIC_OK) st = check(spatial_context_[g][k], sc, sc, c, 2 * c);
    }
    if (st == LIC_OK && g > 0) {
      const std::string cc = "prior.channel_context." + std::to_string(g - 1) + ".0";
      st = add_layer(f, quality, cc, intnet::kConv, intnet::kActNone, 16, &channel_context_[g - 1], err);
      if (st == LIC_OK) st = check(channel_context_[g - 1], cc, cc, group_start_[g], 2 * c);
    }
    const std::string ep = "prior.entropy_parameters." + std::to_string(g) + ".";
    intnet::Network& net = entropy_parameters_[g];
    if (st == LIC_OK) st = add_layer(f, quality, ep + "0", intnet::kDense, intnet::kActLeaky, 16, &net, err);
    if (st == LIC_OK) st = add_layer(f, quality, ep + "2", intnet::kDense, intnet::kActLeaky, 16, &net, err);
    if (st == LIC_OK) st = add_layer(f, quality, ep + "4", intnet::kDense, intnet::kActNone, 32, &net, err);
    if (st == LIC_OK) st = check(net, ep + "0", ep + "4", 2 * M + (g > 0 ? 4 : 2) * c, 2 * c);
  }
  return st;
}

// ---- decoding the latent --------------------------------------------------------------

namespace {
// Decodes `count` symbols per channel, channel-major (channel c's symbols at c * count),
// each channel with the table index its function gives, from one stream.
template <class IndexOf>
lic_status decode_channels(std::shared_ptr<const TableSet> tables, const uint8_t* data, size_t size, size_t channels,
                           size_t count, IndexOf index_of, std::vector<int32_t>* symbols, ErrorInfo* err) {
  Decoder dec;
  lic_status st = dec.open(std::move(tables), data, size, err);
  if (st == LIC_OK) st = dec.check_total(uint64_t{channels} * count, err);  // before allocating
  if (st != LIC_OK) return st;
  std::vector<int32_t> idx;
  if (!grow(*symbols, channels * count) || !grow(idx, count)) return oom(err, "the latent's symbols");
  for (size_t c = 0; c < channels; ++c) {
    index_of(c, idx.data());
    st = dec.decode(idx.data(), count, symbols->data() + c * count, err);
    if (st != LIC_OK) return st;
  }
  return dec.finish(err);
}
}  // namespace

lic_status Model::decode_latent(const container::Header& h, const uint8_t* data, unsigned threads,
                                std::vector<int16_t>* y, size_t* hy_out, size_t* wy_out, ErrorInfo* err) const {
  const size_t hy = h.latent_shapes[0].first, wy = h.latent_shapes[0].second, n_y = hy * wy;
  const uint8_t* y_data = data + container::stream_offset(h, 0);
  const size_t y_size = h.stream_lengths[0];
  std::vector<int32_t> symbols;
  lic_status st = LIC_OK;
  if (!grow(*y, n_y * m_)) return oom(err, "the latent");
  *hy_out = hy, *wy_out = wy;

  if (model_id_ == kFactorized) {  // one table per channel
    st = decode_channels(bottleneck_, y_data, y_size, m_, n_y,
                         [&](size_t c, int32_t* idx) { std::fill(idx, idx + n_y, static_cast<int32_t>(c)); },
                         &symbols, err);
    if (st != LIC_OK) return st;
    for (size_t p = 0; p < n_y; ++p)
      for (size_t c = 0; c < m_; ++c)
        (*y)[p * m_ + c] = sat<int16_t>(int64_t{symbols[c * n_y + p]} * (int64_t{1} << y_frac_) + y_offset_[c]);
    return LIC_OK;
  }

  // ẑ: one table per channel, then h_s on sat16(s 2^Fz + z_offset), position-major
  const size_t hz = h.latent_shapes[1].first, wz = h.latent_shapes[1].second, n_z = hz * wz;
  std::vector<int32_t> z;
  st = decode_channels(bottleneck_, data + container::stream_offset(h, 1), h.stream_lengths[1], n_, n_z,
                       [&](size_t c, int32_t* idx) { std::fill(idx, idx + n_z, static_cast<int32_t>(c)); }, &z,
                       err);
  if (st != LIC_OK) return st;
  std::vector<int16_t> z16;
  if (!grow(z16, n_z * n_)) return oom(err, "the hyper-latent");
  for (size_t p = 0; p < n_z; ++p)
    for (size_t c = 0; c < n_; ++c)
      z16[p * n_ + c] = sat<int16_t>(int64_t{z[c * n_z + p]} * (int64_t{1} << z_frac_) + z_offset_[c]);
  size_t ph = 0, pw = 0;
  st = h_s_.output_shape(hz, wz, &ph, &pw, err);
  if (st != LIC_OK) return st;
  if (ph != hy || pw != wy)
    return set_error(err, LIC_ERR_CONTAINER, "latent shapes: h_s gives %zu x %zu for the %zu x %zu latent", ph, pw, hy,
                     wy);
  // the mean families' rounding from the means' grid to the input's (Fy <= Fm, checked
  // at build); the hyperprior has no means and uses neither
  const unsigned shift = model_id_ == kHyperprior ? 0 : static_cast<unsigned>(mean_frac_ - y_frac_);
  const int64_t half = shift > 0 ? int64_t{1} << (shift - 1) : 0;
  if (model_id_ == kSpaceChannel) return decode_space_channel(z16.data(), hz, wz, hy, wy, y_data, y_size, threads,
                                                              y->data(), err);
  if (model_id_ == kJoint) {
    std::vector<int16_t> params;
    std::vector<int32_t> means;
    std::vector<int64_t> positions, starts;
    if (!grow(params, n_y * 2 * m_) || !grow(means, n_y * m_)) return oom(err, "the entropy parameters");
    st = h_s_.run(z16.data(), hz, wz, params.data(), err, threads);
    if (st != LIC_OK) return st;
    try {
      wavefront(hy, wy, &positions, &starts);
    } catch (const std::exception&) {
      return oom(err, "the schedule");
    }
    if (!grow(symbols, n_y * m_)) return oom(err, "the latent's symbols");
    st = joint_->decode(params.data(), hy, wy, conditional_, y_data, y_size, positions.data(), starts.data(),
                        starts.size() - 1, symbols.data(), means.data(), err);
    if (st != LIC_OK) return st;
    for (size_t j = 0; j < n_y; ++j) {  // symbols in coding order, means position-major
      const size_t p = static_cast<size_t>(positions[j]);
      for (size_t c = 0; c < m_; ++c) {
        const int64_t v = int64_t{symbols[j * m_ + c]} * (int64_t{1} << mean_frac_) + means[p * m_ + c];
        (*y)[p * m_ + c] = sat<int16_t>((v + half) >> shift);
      }
    }
    return LIC_OK;
  }

  // hyperprior (σ) and mean-scale (σ then μ): 32-bit outputs, position-major
  std::vector<int32_t> out;
  if (!grow(out, n_y * h_s_.out_channels())) return oom(err, "h_s's output");
  st = h_s_.run(z16.data(), hz, wz, out.data(), err, threads);
  if (st != LIC_OK) return st;
  const size_t stride = h_s_.out_channels();
  const int32_t* t = thresholds_.data();
  const size_t nt = thresholds_.size();
  st = decode_channels(conditional_, y_data, y_size, m_, n_y,
                       [&](size_t c, int32_t* idx) {
                         for (size_t p = 0; p < n_y; ++p)
                           idx[p] = static_cast<int32_t>(std::lower_bound(t, t + nt, out[p * stride + c]) - t);
                       },
                       &symbols, err);
  if (st != LIC_OK) return st;
  for (size_t p = 0; p < n_y; ++p)
    for (size_t c = 0; c < m_; ++c) {
      const int64_t s = symbols[c * n_y + p];
      if (model_id_ == kHyperprior) {
        (*y)[p * m_ + c] = sat<int16_t>(s * (int64_t{1} << y_frac_));
      } else {
        const int64_t v = s * (int64_t{1} << mean_frac_) + out[p * stride + m_ + c];
        (*y)[p * m_ + c] = sat<int16_t>((v + half) >> shift);
      }
    }
  return LIC_OK;
}

// The space-channel walk (docs/integer.md, "Space-channel"): for each channel group, its
// steps (2: the checkerboard's anchors ((r + c) even), then the others; 4: the 2x2
// pattern's (even, even), (odd, odd), (even, odd), (odd, even) positions), each step one
// decode whose table indexes are all known before its symbols are read. The
// convolutions run over the whole latent grid; the entropy parameters, dense layers, on
// the gathered positions of a step, kSpaceChunk at a time (their rows are independent,
// so the chunking changes no value; it bounds the gathered input).
lic_status Model::decode_space_channel(const int16_t* z16, size_t hz, size_t wz, size_t hy, size_t wy,
                                       const uint8_t* data, size_t size, unsigned threads, int16_t* y,
                                       ErrorInfo* err) const {
  constexpr size_t kSpaceChunk = 4096;
  const size_t n_y = hy * wy, M = m_, G = group_size_.size();
  Decoder dec;
  lic_status st = dec.open(conditional_, data, size, err);
  if (st == LIC_OK) st = dec.check_total(uint64_t{n_y} * M, err);  // before allocating for the walk
  if (st != LIC_OK) return st;
  size_t widest = 0, widest_in = 0;
  for (size_t g = 0; g < G; ++g)
    widest = std::max(widest, group_size_[g]), widest_in = std::max(widest_in, entropy_parameters_[g].in_channels());
  const size_t chunk = std::min(kSpaceChunk, n_y);
  // each schedule's positions, step after step, each step in raster order; starts[s][k]
  // is step k's first entry in order[s] (s = 0: two steps, s = 1: four)
  std::vector<int64_t> order[2];
  size_t starts[2][5] = {};
  std::vector<int16_t> params, grid;   // h_s's output; the ŷ grids sat16(s 2^Fm + mu_q) of every group
  std::vector<int16_t> gathered, cc, sc, in;
  std::vector<int32_t> e, idx, sym;
  if (!grow(order[0], n_y) || !grow(order[1], n_y) || !grow(params, n_y * 2 * M) || !grow(grid, n_y * M) ||
      !grow(gathered, n_y * M) || !grow(cc, n_y * 2 * widest) || !grow(sc, n_y * 2 * widest) ||
      !grow(in, chunk * widest_in) || !grow(e, chunk * 2 * widest) || !grow(idx, chunk * widest) ||
      !grow(sym, chunk * widest))
    return oom(err, "the space-channel walk");
  std::fill(grid.begin(), grid.end(), int16_t{0});
  // step_of(s, r, c): the step of position (r, c) under schedule s
  auto step_of = [](int s, size_t r, size_t c) -> size_t {
    if (s == 0) return (r + c) % 2;
    static constexpr size_t kFour[2][2] = {{0, 2}, {3, 1}};  // [r % 2][c % 2]
    return kFour[r % 2][c % 2];
  };
  for (int s = 0; s < 2; ++s) {
    const size_t steps = s ? 4 : 2;
    size_t n = 0;
    for (size_t k = 0; k < steps; ++k) {
      starts[s][k] = n;
      for (size_t r = 0; r < hy; ++r)
        for (size_t c = 0; c < wy; ++c)
          if (step_of(s, r, c) == k) order[s][n++] = static_cast<int64_t>(r * wy + c);
    }
    starts[s][steps] = n;
  }
  intnet::Workspace ws;
  st = h_s_.run(z16, hz, wz, params.data(), &ws, err, threads);
  if (st != LIC_OK) return st;
  // the synthesis input's rounding from the means' grid (Fy <= Fm, checked at build)
  const unsigned shift = static_cast<unsigned>(mean_frac_ - y_frac_);
  const int64_t half_up = shift > 0 ? int64_t{1} << (shift - 1) : 0;
  const int32_t* t = thresholds_.data();
  const size_t nt = thresholds_.size();
  // grid channels [c0, c0 + n) of every position into gathered, position-major
  auto gather = [&](size_t c0, size_t n) {
    for (size_t p = 0; p < n_y; ++p) std::memcpy(&gathered[p * n], &grid[p * M + c0], n * sizeof(int16_t));
  };
  for (size_t g = 0; g < G; ++g) {
    const size_t C = group_size_[g], S = group_start_[g], cin = entropy_parameters_[g].in_channels();
    const int s = group_steps_[g] == 4 ? 1 : 0;
    if (g > 0) {  // the channel context of every earlier group, on the whole grid
      gather(0, S);
      st = channel_context_[g - 1].run(gathered.data(), hy, wy, cc.data(), &ws, err, threads);
      if (st != LIC_OK) return st;
    }
    for (size_t k = 0; k < group_steps_[g]; ++k) {
      const int64_t* pos = order[s].data() + starts[s][k];
      const size_t count = starts[s][k + 1] - starts[s][k];
      if (count == 0) continue;
      if (k > 0) {  // the step's spatial context of the group's grid, which holds the steps before it
        gather(S, C);
        st = spatial_context_[g][k - 1].run(gathered.data(), hy, wy, sc.data(), &ws, err, threads);
        if (st != LIC_OK) return st;
      }
      for (size_t j0 = 0; j0 < count; j0 += chunk) {
        const size_t n = std::min(chunk, count - j0);
        for (size_t j = 0; j < n; ++j) {  // [params, channel context (g > 0), spatial context or 0]
          const size_t p = static_cast<size_t>(pos[j0 + j]);
          int16_t* row = &in[j * cin];
          std::memcpy(row, &params[p * 2 * M], 2 * M * sizeof(int16_t));
          row += 2 * M;
          if (g > 0) std::memcpy(row, &cc[p * 2 * C], 2 * C * sizeof(int16_t)), row += 2 * C;
          if (k > 0)
            std::memcpy(row, &sc[p * 2 * C], 2 * C * sizeof(int16_t));
          else
            std::fill(row, row + 2 * C, int16_t{0});
        }
        st = entropy_parameters_[g].run(in.data(), n, 1, e.data(), &ws, err, threads);
        if (st != LIC_OK) return st;
        for (size_t j = 0; j < n; ++j)  // sigma_q: channels 0 .. C-1 of each row
          for (size_t c = 0; c < C; ++c)
            idx[j * C + c] = static_cast<int32_t>(std::lower_bound(t, t + nt, e[j * 2 * C + c]) - t);
        st = dec.decode(idx.data(), n * C, sym.data(), err);
        if (st != LIC_OK) return st;
        for (size_t j = 0; j < n; ++j) {  // mu_q: channels C .. 2C-1
          const size_t p = static_cast<size_t>(pos[j0 + j]);
          for (size_t c = 0; c < C; ++c) {
            const int64_t v = int64_t{sym[j * C + c]} * (int64_t{1} << mean_frac_) + e[j * 2 * C + C + c];
            grid[p * M + S + c] = sat<int16_t>(v);
            y[p * M + S + c] = sat<int16_t>((v + half_up) >> shift);
          }
        }
      }
    }
  }
  return dec.finish(err);
}

// ---- the synthesis, in bands of rows ----------------------------------------------------

lic_status Model::synthesize(const int16_t* y, size_t hy, size_t wy, uint32_t height, uint32_t width,
                             unsigned threads, uint8_t* rgb, ErrorInfo* err) const {
  size_t oh = 0, ow = 0;
  lic_status st = g_s_.output_shape(hy, wy, &oh, &ow, err);
  if (st != LIC_OK) return st;
  if (oh < height || ow < width)
    return set_error(err, LIC_ERR_CONTAINER, "latent shapes: the synthesis gives %zu x %zu pixels, the image is %u x %u",
                     ow, oh, width, height);
  // Bands of B rows: the widest activations of a band hold about 32 B ow bytes (half the
  // rows at half the width, 64 int16 channels), so B ow <= 2^19 keeps them near 16 MB;
  // at least 16 rows, so the halo each layer adds stays a small share.
  size_t band = std::min<size_t>(256, std::max<size_t>(16, (size_t{1} << 19) / std::max<size_t>(ow, 1)));
  band = std::min<size_t>(band, height);
  std::vector<uint8_t> out;
  if (!grow(out, band * ow * 3)) return oom(err, "a band of the image");
  intnet::Workspace ws;
  for (size_t r0 = 0; r0 < height; r0 += band) {
    const size_t r1 = std::min<size_t>(height, r0 + band);
    size_t a = 0, b = 0;
    g_s_.input_rows(hy, r0, r1, &a, &b);
    st = g_s_.run_rows(y + a * wy * m_, hy, wy, a, b - a, r0, r1, out.data(), &ws, err, threads);
    if (st != LIC_OK) return st;
    for (size_t r = r0; r < r1; ++r)
      std::memcpy(rgb + r * size_t{width} * 3, out.data() + (r - r0) * ow * 3, size_t{width} * 3);
  }
  return LIC_OK;
}

lic_status Model::decode(const container::Header& h, const uint8_t* data, unsigned threads, uint8_t* rgb,
                         ErrorInfo* err) const noexcept {
  try {
    std::vector<int16_t> y;
    size_t hy = 0, wy = 0;
    lic_status st = decode_latent(h, data, threads, &y, &hy, &wy, err);
    if (st != LIC_OK) return st;
    return synthesize(y.data(), hy, wy, h.height, h.width, threads, rgb, err);
  } catch (const std::exception&) {  // std::bad_alloc from a small vector
    return oom(err, "the decode");
  }
}

lic_status Model::synthesize_latent(const int16_t* y, size_t hy, size_t wy, unsigned threads, uint8_t* rgb,
                                    size_t rgb_size, ErrorInfo* err) const noexcept {
  size_t oh = 0, ow = 0;
  lic_status st = g_s_.output_shape(hy, wy, &oh, &ow, err);
  if (st != LIC_OK) return st;
  if (!rgb || rgb_size != oh * ow * 3 || (!y && hy * wy != 0))
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "rgb holds %zu bytes; %zu x %zu pixels need %zu (or y is NULL)",
                     rgb_size, ow, oh, oh * ow * 3);
  if (oh > std::numeric_limits<uint32_t>::max() || ow > std::numeric_limits<uint32_t>::max())
    return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "a %zu x %zu image is too large", ow, oh);
  try {
    return synthesize(y, hy, wy, static_cast<uint32_t>(oh), static_cast<uint32_t>(ow), threads, rgb, err);
  } catch (const std::exception&) {
    return oom(err, "the synthesis");
  }
}

void wavefront(size_t h, size_t w, std::vector<int64_t>* positions, std::vector<int64_t>* step_starts) {
  positions->clear();
  step_starts->assign(1, 0);
  if (h == 0 || w == 0) return;
  positions->reserve(h * w);
  for (size_t t = 0; t <= 3 * (h - 1) + (w - 1); ++t) {
    // rows r with 0 <= t - 3r <= w - 1
    const size_t r_lo = t > w - 1 ? (t - (w - 1) + 2) / 3 : 0, r_hi = std::min(h - 1, t / 3);
    for (size_t r = r_lo; r <= r_hi; ++r) positions->push_back(static_cast<int64_t>(r * w + (t - 3 * r)));
    step_starts->push_back(static_cast<int64_t>(positions->size()));
  }
}

// ---- the weights file -------------------------------------------------------------------

Weights::~Weights() = default;

const char* Weights::family() const { return family_name(model_id_); }

bool Weights::has_quality(unsigned q) const {
  return std::find(qualities_.begin(), qualities_.end(), q) != qualities_.end();
}

lic_status Weights::load(std::vector<uint8_t> bytes, std::unique_ptr<Weights>* out, ErrorInfo* err) noexcept {
  if (!out) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "out is NULL");
  out->reset();
  try {
    std::unique_ptr<Weights> w(new Weights());
    w->bytes_ = std::move(bytes);
    lic_status st = st::File::parse(w->bytes_.data(), w->bytes_.size(), &w->file_, err);
    if (st != LIC_OK) return st;
    const std::string* format = w->file_.meta("format");
    if (!format || *format != kDecoderFormat)
      return set_error(err, LIC_ERR_WEIGHTS, "weights: not a decoder weights file (format %s, expected %s)",
                       format ? format->c_str() : "missing", kDecoderFormat);
    // the integer arithmetic the file's tensors are for (docs/integer.md's version):
    // a file of a later version may need rules this engine does not have
    const std::string* spec = w->file_.meta("integer_spec");
    if (!spec || *spec != "2")
      return set_error(err, LIC_ERR_WEIGHTS, "weights: integer_spec %s is not one this engine implements (2); a "
                       "newer lic-core wrote this file", spec ? spec->c_str() : "missing");
    const std::string* arch = w->file_.meta("architecture");
    for (unsigned id = 1; arch && family_name(id); ++id)
      if (*arch == family_name(id)) w->model_id_ = id;
    if (!w->model_id_)
      return set_error(err, LIC_ERR_WEIGHTS, "weights: unknown architecture %s", arch ? arch->c_str() : "(missing)");
    const std::string* q = w->file_.meta("qualities");
    const std::string* release = w->file_.meta("release");
    if (!q || !release) return set_error(err, LIC_ERR_WEIGHTS, "weights: the qualities or release metadata is missing");
    w->release_ = *release;
    unsigned v = 0;
    bool digit = false;
    for (size_t i = 0; i <= q->size(); ++i) {
      const char c = i < q->size() ? (*q)[i] : ',';
      if (c >= '0' && c <= '9' && v < 1000) {
        v = v * 10 + static_cast<unsigned>(c - '0'), digit = true;
      } else if (c == ',' && digit && v >= 1 && v <= 255 && !w->has_quality(v)) {
        w->qualities_.push_back(v), v = 0, digit = false;
      } else {
        return set_error(err, LIC_ERR_WEIGHTS, "weights: qualities metadata '%s' is not a list of 1..255",
                         q->c_str());
      }
    }
    *out = std::move(w);
    return LIC_OK;
  } catch (const std::exception&) {
    return oom(err, "the weights");
  }
}

lic_status Weights::open(const char* path, std::unique_ptr<Weights>* out, ErrorInfo* err) noexcept {
  if (!out) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "out is NULL");
  out->reset();
  if (!path) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "path is NULL");
  try {
    std::vector<uint8_t> bytes;
    lic_status st = read_file(path, kMaxWeightsBytes, &bytes, err);
    return st == LIC_OK ? load(std::move(bytes), out, err) : st;
  } catch (const std::exception&) {
    return oom(err, "the weights");
  }
}

lic_status Weights::copy(const uint8_t* data, size_t size, std::unique_ptr<Weights>* out, ErrorInfo* err) noexcept {
  if (!out) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "out is NULL");
  out->reset();
  if (!data && size) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "data is NULL");
  if (size > kMaxWeightsBytes) return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "weights of %zu bytes exceed 1 GiB", size);
  try {
    return load(std::vector<uint8_t>(data, data + size), out, err);
  } catch (const std::exception&) {
    return oom(err, "the weights");
  }
}

lic_status Weights::model(unsigned quality, const Model** out, ErrorInfo* err) const noexcept {
  if (!out) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  if (!has_quality(quality))
    return set_error(err, LIC_ERR_WEIGHTS, "weights: this %s decoder file holds no quality %u", family(), quality);
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& m : models_)
      if (m->quality() == quality) return *out = m.get(), LIC_OK;
    std::unique_ptr<Model> m(new Model());
    lic_status st = m->build(*this, file_, quality, err);
    if (st != LIC_OK) return st;
    models_.push_back(std::move(m));
    *out = models_.back().get();
    return LIC_OK;
  } catch (const std::exception&) {
    return oom(err, "the model");
  }
}

lic_status Weights::decode(const uint8_t* data, size_t size, uint64_t max_pixels, unsigned threads, uint8_t* rgb,
                           size_t rgb_size, ErrorInfo* err) const noexcept {
  container::Header h;
  lic_status st = container::parse(data, size, max_pixels, true, &h, err);
  if (st != LIC_OK) return st;
  if (h.version < 4 || h.synthesis != container::kIntegerSynthesisV1)
    return set_error(err, LIC_ERR_UNSUPPORTED_FORMAT,
                     "synthesis path: this file (format %u) was written with float synthesis; the engine decodes "
                     "files with integer synthesis (format 4, zoo-v5 on); decode it with lic_core.decompress (torch)",
                     h.version);
  if (h.probability_path != container::kExactPath)
    return set_error(err, LIC_ERR_UNSUPPORTED_FORMAT,
                     "probability path: this file's coding tables come from float networks; the engine derives "
                     "them only with integer networks (probability path 1)");
  if (h.model_id != model_id_)
    return set_error(err, LIC_ERR_WEIGHTS, "weights: this file was written by the %s model; these are %s weights",
                     family_name(h.model_id), family());
  if (h.release != release_)
    return set_error(err, LIC_ERR_WEIGHTS, "weights: this file needs the weights release '%s' (%s quality %u); these "
                     "weights are release '%s'", h.release.c_str(), family_name(h.model_id), h.quality,
                     release_.c_str());
  const Model* m = nullptr;
  st = model(h.quality, &m, err);
  if (st != LIC_OK) return st;
  if (h.fingerprint != m->fingerprint())
    return set_error(err, LIC_ERR_WEIGHTS, "weights: this file was written by other %s weights (fingerprint %016llx, "
                     "these are %016llx): decoding would give a wrong image", family(),
                     static_cast<unsigned long long>(h.fingerprint), static_cast<unsigned long long>(m->fingerprint()));
  // the latent shapes and stream count the family writes for this image size
  const unsigned stride = stride_of(model_id_);
  const uint64_t ph = (uint64_t{h.height} + stride - 1) / stride * stride;
  const uint64_t pw = (uint64_t{h.width} + stride - 1) / stride * stride;
  const size_t groups = model_id_ == kFactorized ? 1 : 2;
  if (h.latent_shapes.size() != groups || h.stream_lengths.size() != groups)
    return set_error(err, LIC_ERR_CONTAINER, "streams: %s files hold %zu latents and streams, this one %zu and %zu",
                     family(), groups, h.latent_shapes.size(), h.stream_lengths.size());
  if (h.latent_shapes[0].first != ph / 16 || h.latent_shapes[0].second != pw / 16 ||
      (groups == 2 && (h.latent_shapes[1].first != ph / 64 || h.latent_shapes[1].second != pw / 64)))
    return set_error(err, LIC_ERR_CONTAINER, "latent shapes: they do not match a %ux%u image", h.width, h.height);
  if (!rgb || rgb_size != uint64_t{h.height} * h.width * 3)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "rgb holds %zu bytes; the %ux%u image needs %llu", rgb_size,
                     h.width, h.height, static_cast<unsigned long long>(uint64_t{h.height} * h.width * 3));
  return m->decode(h, data, threads, rgb, err);
}

// ---- a release folder -----------------------------------------------------------------

lic_status open_release_decoder(const std::string& dir, const std::string& label, unsigned model_id,
                                unsigned quality, std::unique_ptr<Weights>* out, ErrorInfo* err) noexcept {
  try {
    const char* family = family_name(model_id);
    if (!family) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "model id %u is not a known model", model_id);
    std::vector<uint8_t> text;
    const std::string manifest_path = dir + "/RELEASE.json";
    lic_status st = read_file(manifest_path.c_str(), 1 << 20, &text, err);
    if (st != LIC_OK)
      return prefixed(err, LIC_ERR_WEIGHTS,
                      ("weights: the release '" + label + "' is not installed at " + dir + ": ").c_str());
    json::Value manifest;
    st = json::parse(reinterpret_cast<const char*>(text.data()), text.size(), &manifest, err);
    if (st != LIC_OK) return prefixed(err, LIC_ERR_WEIGHTS, ("weights: " + manifest_path + ": ").c_str());
    const json::Value* name = manifest.get("release");
    const json::Value* files = manifest.get("files");
    if (!name || name->type != json::Value::kString || !files || files->type != json::Value::kObject)
      return set_error(err, LIC_ERR_WEIGHTS, "weights: %s needs 'release' (a string) and 'files' (an object)",
                       manifest_path.c_str());
    if (name->s != label)
      return set_error(err, LIC_ERR_WEIGHTS, "weights: this file needs the weights release '%s'; %s holds '%s'",
                       label.c_str(), dir.c_str(), name->s.c_str());
    // <family>-q<A>[-<B>].decoder.safetensors, A <= quality <= B; a one-quality file wins
    const std::string prefix = std::string(family) + "-q", suffix = ".decoder.safetensors";
    const json::Value* pick = nullptr;
    std::string picked;
    bool single = false;
    for (const auto& [file, digest] : files->members) {
      if (file.size() <= prefix.size() + suffix.size() || file.compare(0, prefix.size(), prefix) != 0 ||
          file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;
      const std::string range = file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
      unsigned a = 0, b = 0;
      int used = 0;
      if (std::sscanf(range.c_str(), "%u-%u%n", &a, &b, &used) == 2 && used == static_cast<int>(range.size())) {
      } else if (std::sscanf(range.c_str(), "%u%n", &a, &used) == 1 && used == static_cast<int>(range.size())) {
        b = a;
      } else {
        continue;
      }
      if (a <= quality && quality <= b && (!pick || (a == b && !single)))
        pick = &digest, picked = file, single = a == b;
    }
    if (!pick || pick->type != json::Value::kString)
      return set_error(err, LIC_ERR_WEIGHTS, "weights: the release '%s' has no decoder file for %s quality %u",
                       label.c_str(), family, quality);
    std::vector<uint8_t> bytes;
    const std::string path = dir + "/" + picked;
    st = read_file(path.c_str(), kMaxWeightsBytes, &bytes, err);
    if (st != LIC_OK) return prefixed(err, LIC_ERR_WEIGHTS, "weights: ");
    Sha256 h;
    h.update(bytes.data(), bytes.size());
    uint8_t d[Sha256::kDigestBytes];
    h.final(d);
    char hex[2 * Sha256::kDigestBytes + 1];
    for (size_t i = 0; i < Sha256::kDigestBytes; ++i) std::snprintf(hex + 2 * i, 3, "%02x", d[i]);
    if (pick->s != hex)
      return set_error(err, LIC_ERR_WEIGHTS, "weights: %s is not the file released as '%s' (its SHA-256 differs from "
                       "RELEASE.json's)", path.c_str(), label.c_str());
    return Weights::load(std::move(bytes), out, err);
  } catch (const std::exception&) {
    return oom(err, "the release lookup");
  }
}

}  // namespace decoder
}  // namespace lic
