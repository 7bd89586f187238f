// Hub downloads against MockHubServer on 127.0.0.1: cache layout, revisions, offline mode,
// authentication, resuming and verification, and `graft pull` end to end.
#include "graft/io/hub.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "graft/core/error.h"
#include "io/sha256.h"
#include "mock_hub_server.h"
#include "test_support.h"

namespace graft {
namespace {
namespace fs = std::filesystem;
using test::MockCommit;
using test::MockHubOptions;
using test::MockHubServer;
using test::MockRepo;

std::string commit_sha(const std::string& seed) {
  return sha256_hex(seed).substr(0, 40);
}

std::string random_bytes(size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(generator() & 0xff);
  return bytes;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::map<std::string, std::string> single_file_model(const std::string& config = R"({"model_type":"distilbert"})") {
  return {{"config.json", config},
          {"model.safetensors", random_bytes(size_t{200} * 1024, 7)},
          {"tokenizer_config.json", R"({"do_lower_case":true})"},
          {"vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n"},
          {"README.md", "# a model card\n"},
          {".gitattributes", "*.safetensors filter=lfs\n"}};
}

MockRepo public_repo(const std::string& id, std::map<std::string, std::string> files) {
  return {id, {{"main", MockCommit{commit_sha(id), std::move(files)}}}, false};
}

// Restores an environment variable when the test ends, so tests do not leak settings.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class HubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    cache_ = fs::temp_directory_path() / ("graft_hub_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(cache_);
    fs::create_directories(cache_);
  }
  void TearDown() override { fs::remove_all(cache_); }

  HubOptions options_for(const MockHubServer& server) {
    HubOptions options;
    options.endpoint = server.endpoint();
    options.cache_dir = cache_.string();
    options.connect_timeout_s = 2;
    options.low_speed_timeout_s = 5;
    options.log = [this](const std::string& line) { log_.push_back(line); };
    return options;
  }

  fs::path repo_dir(const std::string& folder) const { return cache_ / folder; }

  std::vector<fs::path> files_under(const fs::path& dir) const {
    std::vector<fs::path> found;
    if (!fs::exists(dir)) return found;
    for (const auto& entry : fs::directory_iterator(dir)) found.push_back(entry.path());
    return found;
  }

  std::string error_of(const HubRepo& repo, const HubOptions& options) {
    try {
      hub_download_model(repo, options);
    } catch (const Error& error) {
      return error.what();
    }
    return "(no error)";
  }

  fs::path cache_;
  std::vector<std::string> log_;
};

TEST(Sha256, MatchesFipsTestVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, SplitUpdatesEqualOneUpdate) {
  const std::string data = random_bytes(1000, 3);
  Sha256 hash;
  for (size_t start = 0; start < data.size(); start += 37) hash.update(std::string_view(data).substr(start, 37));
  EXPECT_EQ(hash.hex_digest(), sha256_hex(data));
}

TEST(HubRepoId, ParsesNameAndRevision) {
  EXPECT_EQ(parse_hub_repo("distilbert/distilbert-base-uncased").revision, "main");
  const HubRepo pinned = parse_hub_repo("org/name@v1.0");
  EXPECT_EQ(pinned.id, "org/name");
  EXPECT_EQ(pinned.revision, "v1.0");
  EXPECT_EQ(parse_hub_repo("bert-base-uncased").id, "bert-base-uncased");
  EXPECT_EQ(parse_hub_repo("org/name@refs/pr/1").revision, "refs/pr/1");
  for (const char* invalid : {"", "a/b/c", "org/na--me", "../name", "org/name@", "org/name@../../etc", "org/ name"}) {
    EXPECT_THROW(parse_hub_repo(invalid), Error) << invalid;
  }
}

TEST_F(HubTest, DownloadsSingleFileModelIntoHuggingFaceCacheLayout) {
  const auto files = single_file_model();
  MockHubServer server({public_repo("org/small", files)});
  const std::string sha = commit_sha("org/small");

  const fs::path snapshot = hub_download_model(parse_hub_repo("org/small"), options_for(server));

  const fs::path repo = repo_dir("models--org--small");
  EXPECT_EQ(snapshot, repo / "snapshots" / sha);
  EXPECT_EQ(read_file(repo / "refs" / "main"), sha);
  for (const char* name : {"config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt", "README.md"}) {
    ASSERT_TRUE(fs::is_symlink(snapshot / name)) << name;
    EXPECT_EQ(fs::read_symlink(snapshot / name).string().rfind("../../blobs/", 0), 0u) << name;
    EXPECT_EQ(read_file(snapshot / name), files.at(name)) << name;
  }
  EXPECT_EQ(fs::read_symlink(snapshot / "model.safetensors"),
            fs::path("../../blobs") / sha256_hex(files.at("model.safetensors")));
  EXPECT_EQ(fs::read_symlink(snapshot / "config.json"),
            fs::path("../../blobs") / MockHubServer::git_id(files.at("config.json")));
  EXPECT_FALSE(fs::exists(snapshot / "tokenizer.json"));  // optional and not in the repo
  EXPECT_FALSE(fs::exists(snapshot / ".gitattributes"));  // not something a model needs
  for (const auto& blob : files_under(repo / "blobs")) EXPECT_NE(blob.extension(), ".incomplete") << blob;
  EXPECT_EQ(files_under(repo / "blobs").size(), 5u);
}

TEST_F(HubTest, DownloadsEveryShardListedInTheIndex) {
  const std::string shard1 = random_bytes(50000, 1), shard2 = random_bytes(30000, 2);
  const std::string index = R"({"metadata":{"total_size":80000},"weight_map":{
      "embeddings.weight":"model-00001-of-00002.safetensors","layer.0.weight":"model-00001-of-00002.safetensors",
      "classifier.weight":"model-00002-of-00002.safetensors"}})";
  MockHubServer server({public_repo("org/sharded", {{"config.json", "{}"},
                                                    {"model.safetensors.index.json", index},
                                                    {"model-00001-of-00002.safetensors", shard1},
                                                    {"model-00002-of-00002.safetensors", shard2},
                                                    {"tokenizer.json", "{}"}})});

  const fs::path snapshot = hub_download_model(parse_hub_repo("org/sharded"), options_for(server));

  EXPECT_EQ(read_file(snapshot / "model.safetensors.index.json"), index);
  EXPECT_EQ(read_file(snapshot / "model-00001-of-00002.safetensors"), shard1);
  EXPECT_EQ(read_file(snapshot / "model-00002-of-00002.safetensors"), shard2);
  EXPECT_TRUE(fs::exists(snapshot / "tokenizer.json"));
  EXPECT_EQ(server.count_requests("/cdn/"), 2u);
}

TEST_F(HubTest, RevisionPinsTheCommitAndWritesItsRef) {
  MockRepo repo{"org/pinned",
                {{"main", MockCommit{commit_sha("new"), single_file_model(R"({"version":2})")}},
                 {"v1", MockCommit{commit_sha("old"), single_file_model(R"({"version":1})")}}},
                false};
  MockHubServer server({repo});

  const fs::path v1 = hub_download_model(parse_hub_repo("org/pinned@v1"), options_for(server));
  EXPECT_EQ(v1.filename(), commit_sha("old"));
  EXPECT_EQ(read_file(v1 / "config.json"), R"({"version":1})");
  EXPECT_EQ(read_file(repo_dir("models--org--pinned") / "refs" / "v1"), commit_sha("old"));
  EXPECT_FALSE(fs::exists(repo_dir("models--org--pinned") / "refs" / "main"));

  const fs::path by_sha = hub_download_model(parse_hub_repo("org/pinned@" + commit_sha("new")), options_for(server));
  EXPECT_EQ(by_sha.filename(), commit_sha("new"));
  EXPECT_EQ(read_file(by_sha / "config.json"), R"({"version":2})");
  EXPECT_FALSE(fs::exists(repo_dir("models--org--pinned") / "refs" / commit_sha("new")));
  // The weights are the same bytes in both commits, so the blob is shared and fetched once.
  EXPECT_EQ(server.count_requests("/cdn/"), 1u);
}

TEST_F(HubTest, SecondDownloadIsServedFromTheCache) {
  MockHubServer server({public_repo("org/small", single_file_model())});
  const std::string first = hub_download_model(parse_hub_repo("org/small"), options_for(server));
  const size_t file_requests = server.count_requests("/resolve/") + server.count_requests("/cdn/");
  ASSERT_GT(file_requests, 0u);

  const std::string second = hub_download_model(parse_hub_repo("org/small"), options_for(server));

  EXPECT_EQ(second, first);
  EXPECT_EQ(server.count_requests("/resolve/") + server.count_requests("/cdn/"), file_requests);
}

TEST_F(HubTest, OfflineWithoutCacheFailsWithoutNetwork) {
  MockHubServer server({public_repo("org/small", single_file_model())});
  HubOptions options = options_for(server);
  options.offline = true;

  const std::string message = error_of(parse_hub_repo("org/small"), options);

  EXPECT_NE(message.find("[hub] org/small: HF_HUB_OFFLINE is set and revision main is not in the cache"),
            std::string::npos)
      << message;
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(HubTest, OfflineResolvesFromCache) {
  MockHubServer server({public_repo("org/small", single_file_model())});
  const std::string online = hub_download_model(parse_hub_repo("org/small"), options_for(server));
  const size_t requests = server.requests().size();
  HubOptions options = options_for(server);
  options.offline = true;

  EXPECT_EQ(hub_download_model(parse_hub_repo("org/small"), options), online);
  EXPECT_EQ(server.requests().size(), requests);

  fs::remove(fs::path(online) / "model.safetensors");
  EXPECT_NE(error_of(parse_hub_repo("org/small"), options).find("lacks model.safetensors"), std::string::npos);
}

TEST_F(HubTest, ResolveModelPathReadsTheEnvironment) {
  MockHubServer server({public_repo("org/small", single_file_model())});
  const std::string online = hub_download_model(parse_hub_repo("org/small"), options_for(server));
  ScopedEnv cache("HF_HUB_CACHE", cache_.string());
  ScopedEnv offline("HF_HUB_OFFLINE", "1");

  EXPECT_EQ(resolve_model_path(cache_.string()), cache_.string());  // a folder is taken as is
  EXPECT_EQ(resolve_model_path("org/small"), online);
  EXPECT_THROW(resolve_model_path("org/other"), Error);
  EXPECT_THROW(resolve_model_path("./no/such/folder"), Error);
}

TEST_F(HubTest, OptionsComeFromTheEnvironment) {
  ScopedEnv endpoint("HF_ENDPOINT", "http://127.0.0.1:9/");
  ScopedEnv token("HF_TOKEN", "hf_secret");
  ScopedEnv cache("HF_HUB_CACHE", "/tmp/some-cache");
  ScopedEnv offline("HF_HUB_OFFLINE", "yes");
  const HubOptions options = HubOptions::from_environment();
  EXPECT_EQ(options.endpoint, "http://127.0.0.1:9");
  EXPECT_EQ(options.token, "hf_secret");
  EXPECT_EQ(options.cache_dir, "/tmp/some-cache");
  EXPECT_TRUE(options.offline);

  ::unsetenv("HF_HUB_CACHE");
  ScopedEnv home("HF_HOME", cache_.string());
  ::unsetenv("HF_TOKEN");
  std::ofstream(cache_ / "token") << "hf_from_login\n";
  const HubOptions from_home = HubOptions::from_environment();
  EXPECT_EQ(from_home.cache_dir, cache_.string() + "/hub");
  EXPECT_EQ(from_home.token, "hf_from_login");
}

TEST_F(HubTest, MissingFilesAndReposAreNamed) {
  auto files = single_file_model();
  files.erase("config.json");
  const std::string index =
      R"({"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})";
  MockHubServer server({public_repo("org/noconfig", files),
                        public_repo("org/lostshard", {{"config.json", "{}"},
                                                      {"model.safetensors.index.json", index},
                                                      {"model-00001-of-00002.safetensors", "x"}}),
                        public_repo("org/noweights", {{"config.json", "{}"}})});
  const HubOptions options = options_for(server);

  EXPECT_EQ(error_of(parse_hub_repo("org/noconfig"), options),
            "[hub] org/noconfig: file config.json not found at revision main");
  EXPECT_EQ(error_of(parse_hub_repo("org/lostshard"), options),
            "[hub] org/lostshard: file model-00002-of-00002.safetensors not found at revision main");
  EXPECT_NE(error_of(parse_hub_repo("org/noweights"), options).find("no safetensors weights"), std::string::npos);
  EXPECT_NE(error_of(parse_hub_repo("org/absent"), options)
                .find("[hub] org/absent: repository not found at " + server.endpoint()),
            std::string::npos);
  EXPECT_EQ(error_of(parse_hub_repo("org/noconfig@v9"), options), "[hub] org/noconfig: revision v9 not found");
}

TEST_F(HubTest, PrivateRepoNeedsTheToken) {
  MockRepo repo = public_repo("org/private", single_file_model());
  repo.is_private = true;
  MockHubOptions mock;
  mock.token = "hf_right";
  MockHubServer server({repo}, mock);
  HubOptions options = options_for(server);

  const std::string anonymous = error_of(parse_hub_repo("org/private"), options);
  EXPECT_NE(anonymous.find("[hub] org/private: 401 Unauthorized for revision main"), std::string::npos) << anonymous;
  EXPECT_NE(anonymous.find("set HF_TOKEN"), std::string::npos) << anonymous;

  options.token = "hf_wrong";
  EXPECT_NE(error_of(parse_hub_repo("org/private"), options).find("token in HF_TOKEN was refused"), std::string::npos);

  options.token = "hf_right";
  const fs::path snapshot = hub_download_model(parse_hub_repo("org/private"), options);
  EXPECT_EQ(read_file(snapshot / "vocab.txt"), repo.refs["main"].files["vocab.txt"]);
  EXPECT_EQ(server.count_requests("/cdn/"), 1u);
}

TEST_F(HubTest, TokenIsNotSentToAnotherHost) {
  MockRepo repo = public_repo("org/private", single_file_model());
  repo.is_private = true;
  MockHubOptions mock;
  mock.token = "hf_right";
  mock.cdn_host = "localhost";
  MockHubServer server({repo}, mock);
  HubOptions options = options_for(server);
  options.token = "hf_right";

  hub_download_model(parse_hub_repo("org/private"), options);

  size_t cdn_requests = 0;
  for (const auto& request : server.requests()) {
    if (request.path.rfind("/cdn/", 0) == 0) {
      ++cdn_requests;
      EXPECT_EQ(request.authorization, "");
    } else {
      EXPECT_EQ(request.authorization, "Bearer hf_right") << request.path;
    }
  }
  EXPECT_EQ(cdn_requests, 1u);
}

TEST_F(HubTest, CutConnectionResumesWithRange) {
  const auto files = single_file_model();
  MockHubOptions mock;
  mock.cut_first_transfer = true;
  MockHubServer server({public_repo("org/small", files)}, mock);

  const fs::path snapshot = hub_download_model(parse_hub_repo("org/small"), options_for(server));

  EXPECT_EQ(sha256_file_hex((snapshot / "model.safetensors").string()), sha256_hex(files.at("model.safetensors")));
  std::vector<std::string> ranges;
  for (const auto& request : server.requests()) {
    if (request.path.rfind("/cdn/", 0) == 0) ranges.push_back(request.range);
  }
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1].rfind("bytes=", 0), 0u);
  EXPECT_GT(std::stoull(ranges[1].substr(6)), 0u);
}

TEST_F(HubTest, PartialBlobLeftByAnEarlierRunIsResumed) {
  const auto files = single_file_model();
  const std::string& weights = files.at("model.safetensors");
  const fs::path blobs = repo_dir("models--org--small") / "blobs";
  fs::create_directories(blobs);
  std::ofstream(blobs / (sha256_hex(weights) + ".incomplete"), std::ios::binary) << weights.substr(0, 1000);
  MockHubServer server({public_repo("org/small", files)});

  const fs::path snapshot = hub_download_model(parse_hub_repo("org/small"), options_for(server));

  EXPECT_EQ(read_file(snapshot / "model.safetensors"), weights);
  bool resumed = false;
  for (const auto& request : server.requests()) resumed |= request.range == "bytes=1000-";
  EXPECT_TRUE(resumed);
}

TEST_F(HubTest, CorruptContentIsRejectedAndNeverLinked) {
  const auto files = single_file_model();
  MockHubOptions mock;
  mock.corrupt_lfs = true;
  MockHubServer server({public_repo("org/small", files)}, mock);

  const std::string message = error_of(parse_hub_repo("org/small"), options_for(server));

  EXPECT_NE(message.find("[hub] org/small: sha256 mismatch for model.safetensors: expected " +
                         sha256_hex(files.at("model.safetensors"))),
            std::string::npos)
      << message;
  const fs::path repo = repo_dir("models--org--small");
  EXPECT_FALSE(fs::exists(repo / "snapshots" / commit_sha("org/small") / "model.safetensors"));
  for (const auto& blob : files_under(repo / "blobs")) {
    EXPECT_EQ(blob.string().find(sha256_hex(files.at("model.safetensors"))), std::string::npos) << blob;
  }
  EXPECT_FALSE(fs::exists(repo / "refs" / "main"));
}

TEST_F(HubTest, UnreachableEndpointIsNamed) {
  // A port that was free a moment ago: nothing listens there, so the connection is refused.
  const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(probe);
  HubOptions options;
  options.endpoint = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  options.cache_dir = cache_.string();
  options.connect_timeout_s = 2;

  const std::string message = error_of(parse_hub_repo("org/small"), options);

  EXPECT_NE(message.find("[hub] org/small: cannot reach " + options.endpoint), std::string::npos) << message;
}

TEST_F(HubTest, PullCommandDownloadsAndPrintsTheSnapshot) {
  MockHubServer server({public_repo("org/small", single_file_model())});
  const std::string environment = "env -u HF_TOKEN -u HF_HUB_OFFLINE HF_HOME=" + cache_.string() +
                                  " HF_ENDPOINT=" + server.endpoint() + " HF_HUB_CACHE=" + cache_.string() + " ";

  const auto pulled = test::run_command(environment + test::cli_path() + " pull org/small");

  const fs::path snapshot = repo_dir("models--org--small") / "snapshots" / commit_sha("org/small");
  EXPECT_EQ(pulled.exit_code, 0) << pulled.output;
  EXPECT_NE(pulled.output.find(snapshot.string() + "\n"), std::string::npos) << pulled.output;
  EXPECT_TRUE(fs::exists(snapshot / "model.safetensors"));

  const auto missing = test::run_command(environment + test::cli_path() + " pull org/absent");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("graft: [hub] org/absent: repository not found"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace graft
