#include "test_support.h"

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "graft/core/error.h"
#include "graft/core/random.h"

namespace graft::test {

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

namespace {
// The build's paths, or the environment's where the tests run from a copy elsewhere (scripts/device-check.sh).
std::string path_or_override(const char* variable, const std::string& built_in) {
  const char* other = std::getenv(variable);
  return other != nullptr && *other != '\0' ? std::string(other) : built_in;
}
}  // namespace

std::string fixtures_dir() {
  return path_or_override("GRAFT_FIXTURES_DIR", GRAFT_FIXTURES_DIR);
}
std::string shared_dir() {
  return path_or_override("GRAFT_SHARED_DIR", GRAFT_SHARED_DIR);
}
std::string golden_dir() {
  // GRAFT_GOLDEN_DIR runs the parity tests against goldens made elsewhere (tests/golden/make_goldens.py).
  return path_or_override("GRAFT_GOLDEN_DIR", shared_dir() + "/golden");
}
bool have_golden() {
  return std::filesystem::exists(golden_dir() + "/tokenizer_cases.json");
}
std::string cli_path() {
  return path_or_override("GRAFT_CLI_PATH", GRAFT_CLI_PATH);
}
Device device() {
  static const Device chosen = [] {
    const char* name = std::getenv("GRAFT_TEST_DEVICE");
    return name != nullptr && *name != '\0' ? parse_device(name) : kCpu;
  }();
  return chosen;
}
LoadOptions on_test_device() {
  LoadOptions options;
  options.device = device();
  return options;
}
std::string device_option() {
  return device() == kCpu ? "" : " --device " + device_name(device());
}

double max_abs_diff(const Tensor& actual, const Tensor& expected) {
  const auto a = actual.to_float_vector();
  const auto b = expected.to_float_vector();
  double worst = a.size() == b.size() ? 0.0 : INFINITY;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (!(diff <= worst)) worst = diff;  // NaN propagates as the worst
  }
  return worst;
}

Tensor random_tensor(Shape shape, uint64_t seed, float std) {
  Tensor tensor = Tensor::empty(std::move(shape));
  Generator generator(seed);
  init_normal(tensor, std, generator);
  return tensor;
}

double max_abs(const Tensor& tensor) {
  double largest = 0.0;
  for (float v : tensor.to_float_vector()) largest = std::max(largest, std::fabs(static_cast<double>(v)));
  return largest;
}

Tensor gather_rows(const Tensor& device_table, const Tensor& ids) {
  const Tensor table = device_table.to(kCpu);
  const int64_t width = table.dim(1);
  const auto rows = ids.to_int_vector();
  Tensor out = Tensor::empty({static_cast<int64_t>(rows.size()), width});
  for (size_t i = 0; i < rows.size(); ++i) {
    std::copy_n(table.data<float>() + rows[i] * width, width, out.data<float>() + static_cast<int64_t>(i) * width);
  }
  return out;
}

CommandResult run_command(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>&1").c_str(), "r"), pclose);
  CommandResult result{-1, ""};
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  size_t read = 0;
  while ((read = fread(buffer.data(), 1, buffer.size(), pipe.get())) > 0) result.output.append(buffer.data(), read);
  const int status = pclose(pipe.release());
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string run_alone_and_on_two_ranks(const std::string& mpirun, const std::string& arguments,
                                       const std::string& alone, const std::string& ranks) {
  const CommandResult one = run_command("OMP_NUM_THREADS=1 " + cli_path() + arguments + " --output " + alone);
  EXPECT_EQ(one.exit_code, 0) << one.output;
  const CommandResult two = run_command(mpirun + cli_path() + arguments + " --output " + ranks);
  EXPECT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("Data-parallel: 2 ranks"), std::string::npos) << two.output;
  size_t written = 0;
  for (size_t at = two.output.find("written to"); at != std::string::npos; at = two.output.find("written to", at + 1)) {
    ++written;
  }
  EXPECT_EQ(written, 1U) << "only rank 0 reports and writes: " << two.output;
  return two.output;
}

}  // namespace graft::test
