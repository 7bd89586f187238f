#pragma once
// The server's Prometheus metrics, named as text-embeddings-inference names them (te_*): request counts by
// route and outcome, the queue's size, and histograms of batch sizes, batch tokens and each stage's duration.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace graft::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Prometheus text: NAME_bucket{le=...} lines, NAME_sum and NAME_count.
  void write(std::string& out, const std::string& name) const;

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;  // per bound, cumulative when written
  double sum_ = 0.0;
  int64_t count_ = 0;
};

struct RequestTimes {
  double tokenization = 0.0, queue = 0.0, inference = 0.0, total = 0.0;  // seconds
};

class Metrics {
 public:
  Metrics();
  // A finished request: its route ("predict"), its status and, for an error, TEI's error_type.
  void request(const std::string& route, int status, const std::string& error_type, const RequestTimes& times);
  void batch(int64_t requests, int64_t tokens);
  // queue_size: jobs waiting for a batch; admitted: requests in flight, from admission to their answer.
  std::string prometheus(int64_t queue_size, int64_t admitted) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int64_t> requests_;                          // by route
  std::map<std::string, int64_t> successes_;                         // by route
  std::map<std::pair<std::string, std::string>, int64_t> failures_;  // by route and error type
  Histogram batch_size_, batch_tokens_, tokenization_, queue_, inference_, total_;
};

}  // namespace graft::serve
