#include "graft/io/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "graft/core/error.h"
#include "graft/core/json.h"

namespace graft {
namespace {

namespace fs = std::filesystem;

std::string errno_text() {
  return std::strerror(errno);
}

// A rename is durable only once the folder that holds the name is flushed too.
void fsync_parent_directory(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  const int descriptor = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (descriptor < 0) return;  // best effort: the data itself is already on disk
  ::fsync(descriptor);
  ::close(descriptor);
}

std::string sibling_name(const std::string& path, const char* tag) {
  return path + "." + tag + "-" + std::to_string(::getpid());
}

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good() || fs::is_directory(path)) {
    const std::string reason = errno_text();
    std::error_code ignored;
    const std::string problem = !fs::exists(path, ignored)        ? "no such file"
                                : fs::is_directory(path, ignored) ? "is a directory"
                                                                  : reason;
    throw Error("[file] " + path + ": cannot open: " + problem);
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  check(!in.bad(), "file", path + ": read failed: " + errno_text());
  return contents.str();
}

nlohmann::json read_json_file(const std::string& path) {
  return parse_json(read_file(path), "json", path);
}

AtomicFileWriter::AtomicFileWriter(std::string path)
    : path_(std::move(path)), temporary_path_(sibling_name(path_, "tmp")) {
  descriptor_ = ::open(temporary_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  check(descriptor_ >= 0, "file", path_ + ": cannot create " + temporary_path_ + ": " + errno_text());
}

AtomicFileWriter::~AtomicFileWriter() {
  if (descriptor_ >= 0) {
    ::close(descriptor_);
    ::unlink(temporary_path_.c_str());
  }
}

void AtomicFileWriter::fail(const std::string& what) {
  const std::string reason = errno_text();
  ::close(descriptor_);
  descriptor_ = -1;
  ::unlink(temporary_path_.c_str());
  throw Error("[file] " + path_ + ": " + what + ": " + reason);
}

void AtomicFileWriter::write(const void* data, size_t size) {
  check(descriptor_ >= 0, "file", path_ + ": write after commit");
  const char* cursor = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(descriptor_, cursor, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) fail("write failed");
    cursor += written;
    size -= static_cast<size_t>(written);
  }
}

void AtomicFileWriter::commit() {
  check(descriptor_ >= 0, "file", path_ + ": committed twice");
  if (::fsync(descriptor_) != 0) fail("fsync failed");
  if (::close(descriptor_) != 0) {
    descriptor_ = -1;
    ::unlink(temporary_path_.c_str());
    throw Error("[file] " + path_ + ": close failed: " + errno_text());
  }
  descriptor_ = -1;
  if (std::rename(temporary_path_.c_str(), path_.c_str()) != 0) {
    const std::string reason = errno_text();
    ::unlink(temporary_path_.c_str());
    throw Error("[file] " + path_ + ": cannot rename " + temporary_path_ + " into place: " + reason);
  }
  fsync_parent_directory(path_);
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  AtomicFileWriter writer(path);
  writer.write(bytes);
  writer.commit();
}

void write_json_file_atomically(const std::string& path, const nlohmann::json& value) {
  write_file_atomically(path, value.dump(2) + "\n");
}

void prepare_output_folder(const std::string& folder, const char* layer, const char* option) {
  const std::string where = std::string(option) + " " + folder;
  check(!fs::exists(folder) || fs::is_directory(folder), layer, where + ": exists and is a file, not a folder");
  std::error_code error;
  fs::create_directories(folder, error);
  check(!error, layer, where + ": cannot create the folder: " + error.message());
}

namespace {

// Moves the subfolders of `from` that `to` lacks (a run's checkpoint folders) and returns their names.
std::vector<fs::path> move_missing_subfolders(const fs::path& from, const fs::path& to) {
  std::vector<fs::path> moved;
  for (const auto& entry : fs::directory_iterator(from)) {
    const fs::path target = to / entry.path().filename();
    if (!entry.is_directory() || fs::exists(target)) continue;
    fs::rename(entry.path(), target);
    moved.push_back(entry.path().filename());
  }
  return moved;
}

bool is_mount_point(const fs::path& folder) {
  struct stat own {};
  struct stat parent {};
  return ::stat(folder.c_str(), &own) == 0 && ::stat(folder.parent_path().c_str(), &parent) == 0 &&
         own.st_dev != parent.st_dev;
}

// A mount point cannot be swapped or renamed: the files move in from a staging folder inside it, each whole.
void write_into_mount_point(const fs::path& folder, const std::function<void(const std::string&)>& write) {
  const fs::path staging = folder / ".partial";
  fs::remove_all(staging);
  fs::create_directories(staging);
  write(staging.string());
  for (const auto& entry : fs::directory_iterator(staging)) {
    const fs::path target = folder / entry.path().filename();
    if (entry.is_directory()) fs::remove_all(target);
    fs::rename(entry.path(), target);
  }
  fs::remove_all(staging);
  fsync_parent_directory((folder / "entry").string());  // the folder's own entries
}

}  // namespace

void write_folder_atomically(const std::string& requested, const std::function<void(const std::string&)>& write) {
  check(!fs::exists(requested) || fs::is_directory(requested), "file", requested + ": exists and is not a folder");
  // The real folder (through symlinks, without a trailing slash): its staging folder is a sibling on its
  // file system, and `out/` or `.` name a folder, not a place inside it.
  const fs::path folder = fs::weakly_canonical(fs::absolute(requested));
  if (fs::is_directory(folder) && is_mount_point(folder)) return write_into_mount_point(folder, write);
  const fs::path staging = folder.string() + ".partial";
  if (fs::is_directory(staging)) {
    // Left by a save that was killed: the subfolders it had taken over go back before it is cleared.
    if (fs::is_directory(folder)) move_missing_subfolders(staging, folder);
    fs::remove_all(staging);
  }
  fs::create_directories(staging);
  std::vector<fs::path> taken;
  try {
    write(staging.string());
    if (fs::is_directory(folder)) taken = move_missing_subfolders(folder, staging);
    replace_directory_atomically(staging.string(), folder.string());
  } catch (...) {
    std::error_code ignored;
    for (const fs::path& name : taken) fs::rename(staging / name, folder / name, ignored);
    fs::remove_all(staging, ignored);
    throw;
  }
}

void replace_directory_atomically(const std::string& staging_dir, const std::string& final_dir) {
  check(fs::is_directory(staging_dir), "file", staging_dir + ": staging folder does not exist");
  std::error_code ignored;
  if (!fs::exists(final_dir)) {
    check(std::rename(staging_dir.c_str(), final_dir.c_str()) == 0, "file",
          final_dir + ": cannot move " + staging_dir + " into place: " + errno_text());
    fsync_parent_directory(final_dir);
    return;
  }
  check(fs::is_directory(final_dir), "file", final_dir + ": exists and is not a folder");
  if (::renameat2(AT_FDCWD, staging_dir.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) == 0) {
    fsync_parent_directory(final_dir);
    fs::remove_all(staging_dir, ignored);  // now holds the old contents
    return;
  }
  const std::string aside = sibling_name(final_dir, "old");
  check(std::rename(final_dir.c_str(), aside.c_str()) == 0, "file",
        final_dir + ": cannot move the old folder aside: " + errno_text());
  if (std::rename(staging_dir.c_str(), final_dir.c_str()) != 0) {
    const std::string reason = errno_text();
    std::rename(aside.c_str(), final_dir.c_str());
    throw Error("[file] " + final_dir + ": cannot move " + staging_dir + " into place: " + reason);
  }
  fsync_parent_directory(final_dir);
  fs::remove_all(aside, ignored);
}

}  // namespace graft
