#pragma once
// Admission and batching for the server: a bounded count of requests in flight, and one worker that takes
// queued jobs in order into a batch while its tokens stay within a budget (text-embeddings-inference's
// queue). There is no timer: an idle server runs a job at once, a busy one fills batches.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "graft/pipelines/fill_mask.h"
#include "graft/pipelines/text_classification.h"
#include "graft/pipelines/token_classification.h"
#include "graft/tokenizer/tokenizer.h"

namespace graft::serve {

using Clock = std::chrono::steady_clock;

enum class JobKind { Classify, Embed, FillMask, Tag };

struct JobResult {
  std::vector<std::vector<LabelScore>> labels;            // Classify: per input
  std::vector<std::vector<float>> embeddings;             // Embed: per input
  std::vector<std::vector<std::vector<MaskFill>>> fills;  // FillMask: per input, per mask
  std::vector<TokenClassificationResult> entities;        // Tag: per input
  std::string error;                                      // set when inference failed
  double queue_seconds = 0.0;
  double inference_seconds = 0.0;
};

struct Job {
  JobKind kind = JobKind::Classify;
  std::vector<Encoding> encodings;   // tokenized and truncated by the HTTP thread
  bool raw_scores = false;           // Classify
  int64_t top_k = 0;                 // FillMask
  std::vector<std::string> texts{};  // Tag: the inputs, whose spans name the entities
  int64_t tokens() const;
};

// What the worker runs: the jobs of one batch, each answered by its own result.
using BatchRunner = std::function<std::vector<JobResult>(const std::vector<Job*>& jobs)>;

// A slot of the bounded admission, given back when dropped.
class AdmissionSlot {
 public:
  AdmissionSlot() = default;
  explicit AdmissionSlot(std::function<void()> release) : release_(std::move(release)) {}
  AdmissionSlot(AdmissionSlot&& other) noexcept : release_(std::exchange(other.release_, nullptr)) {}
  AdmissionSlot& operator=(AdmissionSlot&&) = delete;
  AdmissionSlot(const AdmissionSlot&) = delete;
  ~AdmissionSlot() {
    if (release_) release_();
  }

 private:
  std::function<void()> release_;
};

struct BatchLimits {
  int64_t max_batch_tokens = 16384;
  int64_t max_batch_requests = 0;  // 0: no limit
  int64_t max_concurrent_requests = 512;
};

// Observes each batch the worker forms (metrics): its requests and tokens.
using BatchObserver = std::function<void(int64_t requests, int64_t tokens)>;

class InferenceQueue {
 public:
  InferenceQueue(BatchLimits limits, BatchRunner runner, BatchObserver observer);
  ~InferenceQueue();  // finishes what is queued, then joins the worker
  InferenceQueue(const InferenceQueue&) = delete;
  InferenceQueue& operator=(const InferenceQueue&) = delete;

  // A slot while fewer than max_concurrent_requests are admitted and the queue is not draining; none otherwise.
  std::optional<AdmissionSlot> admit();
  // Queues the job of an admitted request; its result comes when its batch has run.
  std::future<JobResult> submit(Job job);
  // Stops admitting and waits until every admitted request has given its slot back.
  void drain();
  bool draining() const;
  int64_t queued() const;
  int64_t admitted() const;  // admitted requests that have not given their slot back

 private:
  struct Entry {
    Job job;
    Clock::time_point queued_at;
    std::promise<JobResult> done;
  };
  void work();
  std::vector<Entry> next_batch(std::unique_lock<std::mutex>& lock);
  std::vector<JobResult> run(const std::vector<Job*>& jobs);

  BatchLimits limits_;
  BatchRunner runner_;
  BatchObserver observer_;
  mutable std::mutex mutex_;
  std::condition_variable wake_worker_;
  std::condition_variable slot_returned_;
  std::deque<Entry> queue_;
  int64_t admitted_ = 0;
  bool draining_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace graft::serve
