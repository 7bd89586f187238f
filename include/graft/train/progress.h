#pragma once
// A one-line progress bar on stderr, redrawn in place on a terminal and printed every 10% otherwise
// (so CI logs stay short): "epoch 2 [########------------] 120/300 loss 0.4312 | 85.3 samples/s | ETA 0:42".
#include <chrono>
#include <cstdint>

namespace graft {

class ProgressBar {
 public:
  ProgressBar(int64_t total, bool enabled);
  void update(int64_t done, double loss, double samples_per_second, int64_t epoch);
  // Ends the line so that other output can follow (evaluation); the next update starts a new one.
  void pause();
  void finish();

 private:
  int64_t total_;
  bool enabled_;
  bool terminal_;
  bool line_open_ = false;
  int64_t last_decile_ = -1;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace graft
