// The CPU backend's primitives besides the layers' kernels (kernels.h): what training and the models once
// ran as host loops above the kernels, moved here unchanged so that their numbers are too.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "graft/core/parallel.h"
#include "graft/kernels/kernels.h"

namespace graft::kernels {
namespace {

// Each chunk's partial sum is formed separately, so the norm does not depend on the thread count.
constexpr int64_t kNormChunk = 1 << 15;
constexpr int64_t kScaleGrain = 1 << 15;

double sum_of_squares(const float* values, int64_t begin, int64_t end) {
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = begin; i < end; ++i) sum += static_cast<double>(values[i]) * values[i];
  return sum;
}

// 1 / (tokens the mask keeps in a row), or 0 for a row with none, so that it pools to zeros.
float inverse_count(const int64_t* mask_row, int64_t tokens) {
  const int64_t kept = std::count_if(mask_row, mask_row + tokens, [](int64_t m) { return m != 0; });
  return kept > 0 ? 1.0F / static_cast<float>(kept) : 0.0F;
}

}  // namespace

void draw_dropout_keep(uint8_t* keep, int64_t first, int64_t count, float p, Generator& generator) {
  // Whole Philox blocks at a time: drawn one word at a time, the masks were 3.5% of a training step.
  parallel_fill(
      keep, count, generator,
      [p](Generator& stream, uint8_t* chunk, int64_t size) {
        constexpr int64_t kWords = 1024;  // on an OpenMP thread's stack
        uint32_t words[kWords];
        for (int64_t begin = 0; begin < size; begin += kWords) {
          const int64_t n = std::min(kWords, size - begin);
          stream.fill_u32(words, n);
          for (int64_t i = 0; i < n; ++i) chunk[begin + i] = Generator::uniform_from(words[i]) < p ? 0 : 1;
        }
      },
      first);
}

void copy_rows(float* out, int64_t out_stride, const float* in, int64_t in_stride, int64_t rows, int64_t width) {
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(out + r * out_stride, in + r * in_stride, static_cast<size_t>(width) * sizeof(float));
  }
}

void mean_pool_forward(float* pooled, const float* hidden, const int64_t* mask, int64_t batch, int64_t tokens,
                       int64_t width) {
  std::fill_n(pooled, batch * width, 0.0F);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* mask_row = mask + b * tokens;
    const float scale = inverse_count(mask_row, tokens);
    float* out = pooled + b * width;
    for (int64_t t = 0; t < tokens; ++t) {
      if (mask_row[t] == 0) continue;
      const float* row = hidden + (b * tokens + t) * width;
      for (int64_t d = 0; d < width; ++d) out[d] += row[d];
    }
    for (int64_t d = 0; d < width; ++d) out[d] *= scale;
  }
}

void mean_pool_backward(float* dhidden, const float* dpooled, const int64_t* mask, int64_t batch, int64_t tokens,
                        int64_t width) {
  std::fill_n(dhidden, batch * tokens * width, 0.0F);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* mask_row = mask + b * tokens;
    const float scale = inverse_count(mask_row, tokens);
    const float* grad = dpooled + b * width;
    for (int64_t t = 0; t < tokens; ++t) {
      if (mask_row[t] == 0) continue;
      float* row = dhidden + (b * tokens + t) * width;
      for (int64_t d = 0; d < width; ++d) row[d] = grad[d] * scale;
    }
  }
}

bool indices_in_range(const int64_t* ids, int64_t count, int64_t limit, const int64_t* skip, int64_t* bad) {
  for (int64_t i = 0; i < count; ++i) {
    const bool skipped = skip != nullptr && ids[i] == *skip;
    if (!skipped && (ids[i] < 0 || ids[i] >= limit)) {
      *bad = ids[i];
      return false;
    }
  }
  return true;
}

int64_t labelled_positions(int64_t* positions, const int64_t* labels, int64_t count, int64_t ignore_index) {
  int64_t found = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (labels[i] != ignore_index) positions[found++] = i;
  }
  return found;
}

void gather_indices(int64_t* out, const int64_t* values, const int64_t* positions, int64_t count) {
  for (int64_t i = 0; i < count; ++i) out[i] = values[positions[i]];
}

float l2_norm(const float* values, int64_t count) {
  const int64_t chunks = (count + kNormChunk - 1) / kNormChunk;
  std::vector<double> partial_sums(static_cast<size_t>(chunks));
  parallel_for(0, chunks, 1, [&](int64_t first_chunk, int64_t end_chunk) {
    for (int64_t chunk = first_chunk; chunk < end_chunk; ++chunk) {
      partial_sums[static_cast<size_t>(chunk)] =
          sum_of_squares(values, chunk * kNormChunk, std::min(count, (chunk + 1) * kNormChunk));
    }
  });
  double sum = 0.0;
  for (const double partial : partial_sums) sum += partial;
  return static_cast<float>(std::sqrt(sum));
}

void scale_inplace(float* values, float factor, int64_t count) {
  parallel_for(0, count, kScaleGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) values[i] *= factor;
  });
}

}  // namespace graft::kernels
