#include "graft/train/progress.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace graft {

ProgressBar::ProgressBar(int64_t total, bool enabled)
    : total_(total),
      enabled_(enabled),
      terminal_(isatty(STDERR_FILENO) != 0),
      started_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(int64_t done, double loss, double samples_per_second, int64_t epoch) {
  if (!enabled_ || total_ <= 0) return;
  const int64_t decile = done * 10 / total_;
  if (!terminal_ && decile == last_decile_ && done != total_) return;
  last_decile_ = decile;
  constexpr int kWidth = 20;
  const auto filled = static_cast<int>(kWidth * done / total_);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const auto eta =
      static_cast<int64_t>(done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - done) : 0.0);
  std::fprintf(stderr, "%sepoch %lld [%s%s] %lld/%lld loss %.4f | %.1f samples/s | ETA %lld:%02lld%s",
               terminal_ ? "\r" : "", static_cast<long long>(epoch),
               std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(kWidth - filled), '-').c_str(), static_cast<long long>(done),
               static_cast<long long>(total_), loss, samples_per_second, static_cast<long long>(eta / 60),
               static_cast<long long>(eta % 60), terminal_ ? "" : "\n");
  line_open_ = terminal_;
}

void ProgressBar::pause() {
  if (line_open_) std::fputc('\n', stderr);
  line_open_ = false;
}

void ProgressBar::finish() {
  pause();
}

}  // namespace graft
