// decoder.h - the whole-file decoder: .lic bytes in, RGB pixels out, exact everywhere.
//
// A file of container format 4 with integer synthesis (docs/format.md) decodes to
// one image on every machine: everything between its bytes and its pixels is integer
// arithmetic specified in docs/integer.md and docs/format.md, and this is that
// specification's implementation in the engine (the C ABI's lic_file_decoder_*; the
// Python face lic_core.coding.decoder). It needs no Python and no torch.
//
// What it reads: a decoder weights file (docs/format.md, "Decoder weights"), a
// safetensors file of integer tensors holding, for one model family and one or more
// qualities, the coding tables, the integer probability networks and the integer
// synthesis. Weights parses and checks the whole file once; Model is one quality's
// decoder, built on first use and cached (thread-safe); Model::decode decodes a file.
//
// Memory: the synthesis runs in bands of rows (Network::run_rows), so beyond the
// latents (a few bytes per pixel) a decode holds one band's activations, whatever the
// image's shape.
#ifndef LIC_DECODER_H
#define LIC_DECODER_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lic/coder.h"
#include "lic/container.h"
#include "lic/intnet.h"
#include "lic/safetensors.h"
#include "lic/status.h"

namespace lic {
namespace decoder {

// The format metadata of a decoder weights file.
constexpr const char* kDecoderFormat = "lic-core-decoder/1";
// The coding precision every zoo table uses (lic.h's LIC_DEFAULT_PRECISION).
constexpr unsigned kTablePrecision = 16;
// Largest decoder weights file read (the joint model's is about 16 MB).
constexpr uint64_t kMaxWeightsBytes = uint64_t{1} << 30;

class Model;

// A parsed decoder weights file. Immutable after load; model() may be called from
// many threads at once.
class Weights {
 public:
  // Takes the file's bytes (moved in), parses the safetensors container and checks the
  // metadata: format, architecture (a known family), qualities, release.
  static lic_status load(std::vector<uint8_t> bytes, std::unique_ptr<Weights>* out, ErrorInfo* err) noexcept;
  // The same from a file (fileio.h's read_file: a regular file, at most kMaxWeightsBytes)
  // or from a copy of bytes in memory.
  static lic_status open(const char* path, std::unique_ptr<Weights>* out, ErrorInfo* err) noexcept;
  static lic_status copy(const uint8_t* data, size_t size, std::unique_ptr<Weights>* out, ErrorInfo* err) noexcept;

  unsigned model_id() const { return model_id_; }              // docs/format.md's ids
  const char* family() const;                                  // "hyperprior", ...
  const std::vector<unsigned>& qualities() const { return qualities_; }
  const std::string& release() const { return release_; }      // the label it was released under
  bool has_quality(unsigned q) const;

  // The decoder of quality q, built (every tensor checked) on first use; LIC_ERR_WEIGHTS
  // naming the tensor when the file cannot make one, or when q is not in the file.
  lic_status model(unsigned quality, const Model** out, ErrorInfo* err) const noexcept;

  // Decodes a whole .lic file: the header (CRCs, the pixel limit max_pixels, 0 for the
  // default) names the model, quality, release and fingerprint, which must be this
  // file's (LIC_ERR_WEIGHTS otherwise, saying what the file needs); then rgb receives
  // height x width x 3 bytes (rgb_size must be exactly that). threads: as intnet.
  lic_status decode(const uint8_t* data, size_t size, uint64_t max_pixels, unsigned threads, uint8_t* rgb,
                    size_t rgb_size, ErrorInfo* err) const noexcept;

  ~Weights();

 private:
  Weights() = default;
  std::vector<uint8_t> bytes_;
  st::File file_;
  unsigned model_id_ = 0;
  std::vector<unsigned> qualities_;
  std::string release_;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<Model>> models_;  // built ones, any order
};

// One quality's decoder (docs/format.md, "Decoding a file").
class Model {
 public:
  unsigned quality() const { return quality_; }
  uint64_t fingerprint() const { return fingerprint_; }  // docs/format.md, "Weights fingerprint (2)"

  // The synthesis input's grid (docs/integer.md, "Synthesis input"): Fy, and for the
  // factorized model round(median 2^Fy) per channel (empty otherwise); Fm of the means.
  int32_t input_frac() const { return y_frac_; }
  const std::vector<int32_t>& input_offset() const { return y_offset_; }
  int32_t mean_frac() const { return mean_frac_; }
  size_t channels() const { return m_; }

  // The synthesis's output size for an hy x wy latent (16x for the zoo's g_s).
  lic_status synthesis_shape(size_t hy, size_t wy, size_t* oh, size_t* ow, ErrorInfo* err) const noexcept {
    return g_s_.output_shape(hy, wy, oh, ow, err);
  }

  // The synthesis alone, on a whole int16 latent y (hy x wy x M, position-major):
  // rgb receives the (16 hy) x (16 wy) x 3 pixels, run in bands as a decode runs it.
  // An encoder uses it for the image its file decodes to.
  lic_status synthesize_latent(const int16_t* y, size_t hy, size_t wy, unsigned threads, uint8_t* rgb,
                               size_t rgb_size, ErrorInfo* err) const noexcept;

  // The decode after the header: h must be a parsed, CRC-checked header of data whose
  // model, quality and fingerprint are this model's (Weights::decode checks them).
  lic_status decode(const container::Header& h, const uint8_t* data, unsigned threads, uint8_t* rgb,
                    ErrorInfo* err) const noexcept;

 private:
  friend class Weights;
  Model() = default;
  lic_status build(const Weights& w, const st::File& file, unsigned quality, ErrorInfo* err);
  lic_status decode_latent(const container::Header& h, const uint8_t* data, unsigned threads,
                           std::vector<int16_t>* y, size_t* hy, size_t* wy, ErrorInfo* err) const;
  lic_status build_space_channel(const st::File& f, unsigned quality, ErrorInfo* err);
  lic_status decode_space_channel(const int16_t* z16, size_t hz, size_t wz, size_t hy, size_t wy,
                                  const uint8_t* data, size_t size, unsigned threads, int16_t* y,
                                  ErrorInfo* err) const;
  lic_status synthesize(const int16_t* y, size_t hy, size_t wy, uint32_t height, uint32_t width, unsigned threads,
                        uint8_t* rgb, ErrorInfo* err) const;

  unsigned model_id_ = 0, quality_ = 0;
  size_t n_ = 0, m_ = 0;  // N (the hyper-latent's channels), M (the latent's)
  uint64_t fingerprint_ = 0;
  std::shared_ptr<const TableSet> bottleneck_, conditional_;
  // the probability path (hyperprior families)
  int32_t z_frac_ = 0, mean_frac_ = 0;
  std::vector<int32_t> z_offset_, thresholds_;
  intnet::Network h_s_;
  std::unique_ptr<intnet::JointModel> joint_;
  // the space-channel model (docs/integer.md, "Space-channel"): group g's channel count
  // and first channel (one more entry: M), its number of steps (2 or 4), its channel
  // context (g >= 1, at g - 1), the spatial contexts of its steps 1.. (spatial_context_[g]
  // [k - 1] for step k) and its entropy parameters
  std::vector<size_t> group_size_, group_start_, group_steps_;
  std::vector<intnet::Network> channel_context_, entropy_parameters_;
  std::vector<std::vector<intnet::Network>> spatial_context_;
  // the synthesis
  int32_t y_frac_ = 0;
  std::vector<int32_t> y_offset_;  // factorized: round(median 2^Fy) per channel
  intnet::Network g_s_;
};

// The joint model's wavefront schedule (docs/format.md, "Symbol order"): positions
// r * w + c by t = 3 r + c, rows ascending within a step; step_starts has one more
// entry than steps.
void wavefront(size_t h, size_t w, std::vector<int64_t>* positions, std::vector<int64_t>* step_starts);

// A release folder's decoder file for (model id, quality): reads <dir>/RELEASE.json,
// (the file must be stored in dir itself: a retired release whose files another
// release folder stores once is found by lic_core's Python lookup, not here)
// checks that its label is `label`, finds the listed "<family>-q<Q>.decoder.safetensors"
// or "<family>-q<A>-<B>.decoder.safetensors" with A <= Q <= B, reads it, checks its
// SHA-256 against the manifest and loads it. LIC_ERR_WEIGHTS naming what is missing.
lic_status open_release_decoder(const std::string& dir, const std::string& label, unsigned model_id,
                                unsigned quality, std::unique_ptr<Weights>* out, ErrorInfo* err) noexcept;

}  // namespace decoder
}  // namespace lic

#endif  // LIC_DECODER_H
