#include "serve/inference_queue.h"

#include <exception>

#include "graft/core/error.h"

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

int64_t InferenceQueue::admitted() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return admitted_;
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

namespace {

std::string failure_of(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& error) {
    return error.what();
  } catch (...) {
    return "inference failed with an exception of unknown type";
  }
}

}  // namespace

// The batch's results, one per job. When the batch fails and holds several jobs, each runs again alone, so
// that an input the model cannot take fails its own request only.
std::vector<JobResult> InferenceQueue::run(const std::vector<Job*>& jobs) {
  std::exception_ptr failure;
  try {
    std::vector<JobResult> results = runner_(jobs);
    if (results.size() == jobs.size()) return results;
    throw Error("[serve] the batch runner gave " + std::to_string(results.size()) + " results for " +
                std::to_string(jobs.size()) + " jobs");
  } catch (...) {
    failure = std::current_exception();
  }
  if (jobs.size() == 1) {
    JobResult failed;
    failed.error = failure_of(failure);
    return {failed};
  }
  std::vector<JobResult> results;
  for (Job* job : jobs) results.push_back(std::move(run({job}).front()));
  return results;
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
    if (observer_) observer_(static_cast<int64_t>(jobs.size()), tokens);  // Metrics::batch: does not throw
    std::vector<JobResult> results = run(jobs);
    const double inference = std::chrono::duration<double>(Clock::now() - started).count();
    for (size_t i = 0; i < batch.size(); ++i) {
      results[i].queue_seconds = std::chrono::duration<double>(started - batch[i].queued_at).count();
      results[i].inference_seconds = inference;
      batch[i].done.set_value(std::move(results[i]));
    }
    lock.lock();
  }
}

}  // namespace graft::serve
