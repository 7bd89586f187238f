#include "serve/inference_queue.h"

#include <exception>

namespace graft::serve {

int64_t Job::tokens() const {
  int64_t count = 0;
  for (const Encoding& encoding : encodings) count += static_cast<int64_t>(encoding.size());
  return count;
}

InferenceQueue::InferenceQueue(BatchLimits limits, BatchRunner runner, BatchObserver observer)
    : limits_(limits), runner_(std::move(runner)), observer_(std::move(observer)), worker_([this] { work(); }) {}

InferenceQueue::~InferenceQueue() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_worker_.notify_all();
  worker_.join();
}

std::optional<AdmissionSlot> InferenceQueue::admit() {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (draining_ || admitted_ >= limits_.max_concurrent_requests) return std::nullopt;
  ++admitted_;
  return AdmissionSlot([this] {
    {
      const std::lock_guard<std::mutex> released(mutex_);
      --admitted_;
    }
    slot_returned_.notify_all();
  });
}

std::future<JobResult> InferenceQueue::submit(Job job) {
  std::future<JobResult> result;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back({std::move(job), Clock::now(), {}});
    result = queue_.back().done.get_future();
  }
  wake_worker_.notify_one();
  return result;
}

void InferenceQueue::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  draining_ = true;
  slot_returned_.wait(lock, [this] { return admitted_ == 0; });
}

bool InferenceQueue::draining() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return draining_;
}

int64_t InferenceQueue::queued() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(queue_.size());
}

// The queued jobs in order while the batch stays within the budget; the first one always, however large.
std::vector<InferenceQueue::Entry> InferenceQueue::next_batch(std::unique_lock<std::mutex>& lock) {
  wake_worker_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  std::vector<Entry> batch;
  int64_t tokens = 0;
  while (!queue_.empty()) {
    const int64_t next = queue_.front().job.tokens();
    const bool full_of_requests =
        limits_.max_batch_requests > 0 && static_cast<int64_t>(batch.size()) >= limits_.max_batch_requests;
    if (!batch.empty() && (tokens + next > limits_.max_batch_tokens || full_of_requests)) break;
    tokens += next;
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

void InferenceQueue::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    std::vector<Entry> batch = next_batch(lock);
    if (batch.empty()) return;  // stopping, with nothing left to run
    lock.unlock();
    const Clock::time_point started = Clock::now();
    std::vector<Job*> jobs;
    int64_t tokens = 0;
    for (Entry& entry : batch) {
      jobs.push_back(&entry.job);
      tokens += entry.job.tokens();
    }
    if (observer_) observer_(static_cast<int64_t>(jobs.size()), tokens);
    std::vector<JobResult> results;
    std::string failure;
    try {
      results = runner_(jobs);
    } catch (const std::exception& error) {
      failure = error.what();
    }
    const double inference = std::chrono::duration<double>(Clock::now() - started).count();
    for (size_t i = 0; i < batch.size(); ++i) {
      JobResult result = failure.empty() ? std::move(results[i]) : JobResult{};
      if (!failure.empty()) result.error = failure;
      result.queue_seconds = std::chrono::duration<double>(started - batch[i].queued_at).count();
      result.inference_seconds = inference;
      batch[i].done.set_value(std::move(result));
    }
    lock.lock();
  }
}

}  // namespace graft::serve
