#include "serve/metrics.h"

#include <algorithm>
#include <cstdio>

namespace graft::serve {
namespace {

std::vector<double> durations() {  // seconds, from 0.5 ms to 30 s
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0};
}

std::vector<double> powers_of_two(double largest) {
  std::vector<double> bounds;
  for (double bound = 1.0; bound <= largest; bound *= 2.0) bounds.push_back(bound);
  return bounds;
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", value);
  return text;
}

void write_counter(std::string& out, const std::string& name, const std::string& help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " counter\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}

void Histogram::observe(double value) {
  const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  if (static_cast<size_t>(bucket) < counts_.size()) ++counts_[static_cast<size_t>(bucket)];
  sum_ += value;
  ++count_;
}

void Histogram::write(std::string& out, const std::string& name) const {
  out += "# TYPE " + name + " histogram\n";
  int64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum " + number(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : batch_size_(powers_of_two(1024)),
      batch_tokens_(powers_of_two(1 << 20)),
      tokenization_(durations()),
      queue_(durations()),
      inference_(durations()),
      total_(durations()) {}

void Metrics::request(const std::string& route, int status, const std::string& error_type, const RequestTimes& times) {
  const std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[route];
  if (status < 400) {
    ++successes_[route];
    tokenization_.observe(times.tokenization);
    queue_.observe(times.queue);
    inference_.observe(times.inference);
    total_.observe(times.total);
  } else {
    ++failures_[{route, error_type}];
  }
}

void Metrics::batch(int64_t requests, int64_t tokens) {
  const std::lock_guard<std::mutex> lock(mutex_);
  batch_size_.observe(static_cast<double>(requests));
  batch_tokens_.observe(static_cast<double>(tokens));
}

std::string Metrics::prometheus(int64_t queue_size, int64_t admitted) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  write_counter(out, "te_request_count", "Requests received, by route");
  for (const auto& [route, count] : requests_) {
    out += "te_request_count{method=\"" + route + "\"} " + std::to_string(count) + "\n";
  }
  write_counter(out, "te_request_success", "Requests answered with a result, by route");
  for (const auto& [route, count] : successes_) {
    out += "te_request_success{method=\"" + route + "\"} " + std::to_string(count) + "\n";
  }
  write_counter(out, "te_request_failure", "Requests answered with an error, by route and error type");
  for (const auto& [key, count] : failures_) {
    out +=
        "te_request_failure{method=\"" + key.first + "\",err=\"" + key.second + "\"} " + std::to_string(count) + "\n";
  }
  out += "# TYPE te_queue_size gauge\nte_queue_size " + std::to_string(queue_size) + "\n";
  // Not one of TEI's: how many requests hold an admission slot (--max-concurrent-requests bounds it).
  out +=
      "# HELP graft_requests_admitted Requests admitted and not yet answered\n"
      "# TYPE graft_requests_admitted gauge\ngraft_requests_admitted " +
      std::to_string(admitted) + "\n";
  batch_size_.write(out, "te_batch_next_size");
  batch_tokens_.write(out, "te_batch_next_tokens");
  tokenization_.write(out, "te_request_tokenization_duration");
  queue_.write(out, "te_request_queue_duration");
  inference_.write(out, "te_request_inference_duration");
  total_.write(out, "te_request_duration");
  return out;
}

}  // namespace graft::serve
