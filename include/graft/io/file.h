#pragma once
// Reading and crash-safe writing of files and folders. A write goes to a temporary name first and is
// renamed into place once it is complete and flushed to disk, so an interrupted run (Ctrl-C, a full
// disk, a power cut) leaves either the old file or the new one, never half of one.
#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace graft {

// The whole file; throws "[file] PATH: cannot open: <reason>" when it is missing or unreadable.
std::string read_file(const std::string& path);

// Throws "[json] PATH: malformed JSON: <parser message>" for a file that does not parse.
nlohmann::json read_json_file(const std::string& path);

// Streams bytes into PATH.tmp-<pid>; commit() flushes them to disk and renames the file to PATH.
// Destroying a writer that was not committed removes the temporary file.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  void commit();

 private:
  void fail(const std::string& what);

  std::string path_;
  std::string temporary_path_;
  int descriptor_ = -1;
};

void write_file_atomically(const std::string& path, std::string_view bytes);
// Pretty-printed (indent 2) with a trailing newline, as transformers writes config.json.
void write_json_file_atomically(const std::string& path, const nlohmann::json& value);

// Moves a completely written staging folder to final_dir. An existing final_dir is swapped out in
// one step (renameat2 RENAME_EXCHANGE) and deleted only afterwards; where the file system cannot
// swap, it is renamed aside first, so final_dir is at every moment either the old or the new folder.
void replace_directory_atomically(const std::string& staging_dir, const std::string& final_dir);

// Creates a run's output folder (and its parents) before any work is spent on the run. graft::Error
// "[LAYER] OPTION FOLDER: ..." when it names a file or cannot be made.
void prepare_output_folder(const std::string& folder, const char* layer, const char* option);

// Writes a folder's files all at once: `write` fills a staging folder beside it (FOLDER.partial), which then
// replaces the folder as above, so a process killed while writing leaves the folder as it was or complete.
// Subfolders of the old folder that `write` did not produce again (a run's checkpoint folders) are kept:
// they move into the staging folder just before the swap, and back if the swap fails or, after a kill, at
// the next write. Symlinks are followed. A mount point cannot be swapped: there the files move in one by one.
void write_folder_atomically(const std::string& folder, const std::function<void(const std::string& staging)>& write);

}  // namespace graft
