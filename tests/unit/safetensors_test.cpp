#include "graft/io/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>

#include "graft/core/error.h"
#include "graft/io/checkpoint.h"
#include "graft/io/file.h"
#include "test_support.h"

namespace graft {
namespace {

namespace fs = std::filesystem;

class IoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = (fs::temp_directory_path() /
            ("graft_io_" + std::to_string(::getpid()) + "_" + test->test_suite_name() + "_" + test->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // A safetensors file with the given header text (padded as the format wants) and data bytes.
  std::string write_raw(const std::string& name, const std::string& header, const std::string& data) const {
    std::string bytes(8, '\0');
    for (size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    write_file_atomically(path(name), bytes + header + data);
    return path(name);
  }

  std::string dir_;
};

Tensor floats(const std::vector<float>& values, Shape shape) {
  return Tensor::from_vector(values, std::move(shape));
}

std::vector<std::pair<std::string, Tensor>> mixed_tensors() {
  return {
      {"weight", floats({1.5F, -2.25F, 3.0F, 0.1F, 1e-3F, -7.0F}, {2, 3})},
      {"half", floats({0.5F, -1.0F, 65504.0F}, {3}).to(DType::F16)},
      {"brain", floats({1.0F / 3.0F, -4.0F}, {1, 2}).to(DType::BF16)},
      {"ids", Tensor::from_vector(std::vector<int64_t>{7, -1, 1LL << 40}, {3})},
      {"empty", Tensor::zeros({0, 4})},
  };
}

void expect_same(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.dtype(), expected.dtype());
  ASSERT_EQ(actual.shape(), expected.shape());
  if (expected.dtype() == DType::I64) {
    EXPECT_EQ(actual.to_int_vector(), expected.to_int_vector());
  } else {
    EXPECT_EQ(actual.to_float_vector(), expected.to_float_vector());
  }
}

TEST_F(IoTest, WritesTheExactSafetensorsLayout) {
  save_safetensors(path("a.safetensors"),
                   {{"b", floats({1.0F, 2.0F}, {2})}, {"a", Tensor::from_vector(std::vector<int64_t>{3}, {1})}});
  const std::string bytes = read_file(path("a.safetensors"));
  const std::string header = R"({"__metadata__":{"format":"pt"},"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  const std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  ASSERT_EQ(bytes.size(), 8 + padded.size() + 16);
  EXPECT_EQ(static_cast<unsigned char>(bytes[0]), padded.size());
  EXPECT_EQ(bytes.substr(1, 7), std::string(7, '\0'));
  EXPECT_EQ(bytes.substr(8, padded.size()), padded);
  EXPECT_EQ(bytes.substr(8 + padded.size(), 8), std::string("\3\0\0\0\0\0\0\0", 8));
  EXPECT_FALSE(fs::exists(path("a.safetensors.tmp-" + std::to_string(::getpid()))));
}

TEST_F(IoTest, RoundTripsEveryStorageType) {
  const auto tensors = mixed_tensors();
  save_safetensors(path("m.safetensors"), tensors, {{"format", "pt"}, {"note", "graft"}});
  const auto file = SafetensorsFile::open(path("m.safetensors"));
  // Data order: I64, F32, BF16, F16 (largest dtype first), then by name.
  EXPECT_EQ(file.names(), (std::vector<std::string>{"ids", "empty", "weight", "brain", "half"}));
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"note", "graft"}}));
  for (const auto& [name, tensor] : tensors) {
    SCOPED_TRACE(name);
    expect_same(file.view(name), tensor);
    EXPECT_EQ(file.info(name).dtype, tensor.dtype());
    EXPECT_EQ(file.info(name).shape, tensor.shape());
  }
  EXPECT_EQ(file.load("half").to_float_vector(), (std::vector<float>{0.5F, -1.0F, 65504.0F}));
  EXPECT_EQ(file.load("brain").to_float_vector(), (std::vector<float>{0.333984375F, -4.0F}));
  EXPECT_EQ(file.load("ids", DType::I64).to_int_vector(), (std::vector<int64_t>{7, -1, 1LL << 40}));
  EXPECT_EQ(file.load("weight").dtype(), DType::F32);
  EXPECT_EQ(test::error_of([&] { file.load("weight", DType::I64); }),
            "[safetensors] " + path("m.safetensors") + ": tensor 'weight' is F32 and cannot be loaded as I64");
  EXPECT_EQ(test::error_of([&] { file.info("nope"); }),
            "[safetensors] " + path("m.safetensors") + ": tensor 'nope' not found");
}

TEST_F(IoTest, ViewsShareTheMappingAndOutliveTheFile) {
  save_safetensors(path("v.safetensors"), mixed_tensors());
  Tensor view;
  {
    const auto file = SafetensorsFile::open(path("v.safetensors"));
    view = file.view("weight");
    EXPECT_NE(view.raw_data(), file.view("weight").clone().raw_data());
    EXPECT_EQ(view.raw_data(), file.view("weight").raw_data());  // the same bytes, not a copy
  }
  EXPECT_EQ(reinterpret_cast<uintptr_t>(view.raw_data()) % 4, 0U);
  EXPECT_EQ(view.to_float_vector(), (std::vector<float>{1.5F, -2.25F, 3.0F, 0.1F, 1e-3F, -7.0F}));
}

TEST_F(IoTest, SaveRejectsDuplicateNames) {
  const Tensor t = Tensor::zeros({1});
  EXPECT_EQ(test::error_of([&] {
              save_safetensors(path("d.safetensors"), {{"x", t}, {"x", t}});
            }),
            "[safetensors] " + path("d.safetensors") + ": duplicate tensor name 'x'");
  EXPECT_FALSE(fs::exists(path("d.safetensors")));
}

struct BadFileCase {
  const char* label;
  std::string header;
  std::string data;
  std::string expected;  // the message after "[safetensors] PATH: "
};

TEST_F(IoTest, RejectsCorruptFilesWithOneLineErrors) {
  const std::string tensor_a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::vector<BadFileCase> cases = {
      {"not json", "{\"a\": ", std::string(8, '\0'), "header is not valid JSON: "},
      {"not an object", "[1, 2]", "", "header is not a JSON object"},
      {"unknown dtype", R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0'),
       "tensor 'a' has unsupported dtype \"F64\" (graft reads F32, F16, BF16, I64, I32, U8, I8)"},
      {"offsets past the data", "{" + tensor_a + "}", std::string(4, '\0'),
       "tensor 'a': data_offsets [0, 8) lie outside the data area of 4 bytes"},
      {"offsets not matching the shape", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
       std::string(8, '\0'), "tensor 'a': data_offsets [0, 8) hold 8 bytes but shape [3] of F32 needs 12"},
      {"overlap", "{" + tensor_a + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", std::string(12, '\0'),
       "tensors 'a' [0, 8) and 'b' [4, 12) overlap"},
      {"negative extent", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", "",
       "tensor 'a': \"shape\" must hold non-negative integers, got -1"},
      {"reversed offsets", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", std::string(8, '\0'),
       "tensor 'a': \"data_offsets\" must be [begin, end] with begin <= end, got [8,0]"},
      {"missing field", R"({"a":{"dtype":"F32","shape":[0]}})", "",
       "tensor 'a' must be an object with \"dtype\", \"shape\" and \"data_offsets\""},
      {"metadata not strings", R"({"__metadata__":{"format":1}})", "",
       "\"__metadata__\" value of \"format\" is not a string"},
      // Accepted before, each read every tensor from the wrong bytes or resolved a clash silently.
      {"a gap between tensors", "{" + tensor_a + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
       std::string(16, '\0'),
       "tensor 'b' [12, 16) starts 4 bytes after 'a' ends (tensors must cover the data area "
       "without gaps)"},
      {"a gap before the first tensor", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       std::string(8, '\0'),
       "tensor 'a' [4, 8) starts 4 bytes after the data area begins (tensors must cover the "
       "data area without gaps)"},
      {"bytes left after the last tensor", "{" + tensor_a + "}", std::string(9, '\0'),
       "the tensors cover 8 bytes of a data area of 9 (is the header length right?)"},
      {"a key twice", "{" + tensor_a + "," + tensor_a + "}", std::string(8, '\0'),
       "header is not valid JSON: key \"a\" appears twice in one object"},
      {"a number beyond double range",
       R"({"__metadata__":{},"a":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}})", std::string(4, '\0'),
       "header is not valid JSON: [json.exception.out_of_range.406] number overflow parsing '1e400'"},
  };
  for (const auto& bad : cases) {
    SCOPED_TRACE(bad.label);
    const std::string file = write_raw("bad.safetensors", bad.header, bad.data);
    const std::string message = test::error_of([&] { SafetensorsFile::open(file); });
    const std::string expected = "[safetensors] " + file + ": " + bad.expected;
    // The JSON parser's own words follow "header is not valid JSON: ".
    if (bad.expected.ends_with(": ")) {
      EXPECT_EQ(message.substr(0, expected.size()), expected);
    } else {
      EXPECT_EQ(message, expected);
    }
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
}

// Writers pad the header with spaces, so a length one short still parses, and every tensor would be read one
// byte early.
TEST_F(IoTest, RejectsAHeaderLengthThatShiftsTheData) {
  save_safetensors(path("good.safetensors"), {{"w", Tensor::from_vector(std::vector<float>{1.0F, 2.0F}, Shape{2})}});
  std::string bytes = read_file(path("good.safetensors"));
  ASSERT_EQ(bytes[8 + static_cast<unsigned char>(bytes[0]) - 1], ' ');
  bytes[0] = static_cast<char>(bytes[0] - 1);
  write_file_atomically(path("shifted.safetensors"), bytes);
  EXPECT_EQ(test::error_of([&] { SafetensorsFile::open(path("shifted.safetensors")); }),
            "[safetensors] " + path("shifted.safetensors") +
                ": the tensors cover 8 bytes of a data area of 9 (is the header length right?)");
}

TEST_F(IoTest, RejectsTruncatedFiles) {
  write_file_atomically(path("short.safetensors"), "abc");
  EXPECT_EQ(test::error_of([&] { SafetensorsFile::open(path("short.safetensors")); }),
            "[safetensors] " + path("short.safetensors") + ": file is 3 bytes, too short for the 8-byte header length");
  write_file_atomically(path("long.safetensors"), std::string("\x10\x27\0\0\0\0\0\0{}", 10));
  EXPECT_EQ(test::error_of([&] { SafetensorsFile::open(path("long.safetensors")); }),
            "[safetensors] " + path("long.safetensors") + ": header length 10000 exceeds file size 10");
  EXPECT_EQ(test::error_of([&] { SafetensorsFile::open(path("missing.safetensors")); }),
            "[safetensors] " + path("missing.safetensors") + ": cannot open: No such file or directory");
}

TEST_F(IoTest, CopiesTensorsWhoseDataIsNotAligned) {
  // A 2-byte F16 tensor first puts the F32 one at offset 2, which cannot be read in place.
  const std::string header =
      R"({"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"f":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})";
  const float value = -1.25F;
  std::string data(6, '\0');
  const uint16_t half = float_to_half(0.5F);
  std::memcpy(data.data(), &half, 2);
  std::memcpy(data.data() + 2, &value, 4);
  const auto file =
      SafetensorsFile::open(write_raw("odd.safetensors", header + std::string(8 - header.size() % 8, ' '), data));
  EXPECT_EQ(file.names(), (std::vector<std::string>{"h", "f"}));
  const Tensor f = file.view("f");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.raw_data()) % 4, 0U);
  EXPECT_EQ(f.to_float_vector(), std::vector<float>{-1.25F});
  EXPECT_EQ(file.load("h").to_float_vector(), std::vector<float>{0.5F});
}

TEST_F(IoTest, DamagedFilesNeverCrash) {
  save_safetensors(path("good.safetensors"), mixed_tensors());
  const std::string good = read_file(path("good.safetensors"));
  const auto try_open = [&](const std::string& bytes) {
    write_file_atomically(path("damaged.safetensors"), bytes);
    try {
      const auto file = SafetensorsFile::open(path("damaged.safetensors"));
      for (const auto& name : file.names()) file.load(name, file.info(name).dtype);
    } catch (const Error&) {
      // a clean refusal is the other acceptable outcome
    }
  };
  for (size_t length = 0; length < good.size(); length += 7) try_open(good.substr(0, length));
  const size_t header_end = 8 + static_cast<unsigned char>(good[0]) + 256U * static_cast<unsigned char>(good[1]);
  for (size_t position = 0; position < header_end; position += 3) {
    for (const char replacement : {'0', '9', '-', '"', '}', '\xff'}) {
      std::string damaged = good;
      damaged[position] = replacement;
      try_open(damaged);
    }
  }
}

TEST_F(IoTest, AcceptsAnEmptyHeaderObject) {
  const auto file = SafetensorsFile::open(write_raw("empty.safetensors", "{}      ", ""));
  EXPECT_TRUE(file.names().empty());
  EXPECT_TRUE(file.metadata().empty());
}

TEST_F(IoTest, CheckpointRoundTripsASingleFile) {
  const auto tensors = mixed_tensors();
  save_checkpoint(path("model"), tensors);
  EXPECT_TRUE(fs::exists(path("model/model.safetensors")));
  EXPECT_FALSE(fs::exists(path("model/model.safetensors.index.json")));
  const auto checkpoint = Checkpoint::open(path("model"));
  EXPECT_FALSE(checkpoint.sharded());
  EXPECT_EQ(checkpoint.names(), (std::vector<std::string>{"brain", "empty", "half", "ids", "weight"}));
  for (const auto& [name, tensor] : tensors) {
    SCOPED_TRACE(name);
    expect_same(checkpoint.view(name), tensor);
  }
  EXPECT_EQ(checkpoint.load("half").dtype(), DType::F32);
  EXPECT_EQ(test::error_of([&] { checkpoint.load("x"); }), "[checkpoint] " + path("model") + ": tensor 'x' not found");
}

TEST_F(IoTest, CheckpointRoundTripsShards) {
  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"a", Tensor::full({4}, 1.0F)},   // 16 bytes
      {"b", Tensor::full({4}, 2.0F)},   // 16: a + b fill the 32-byte shard
      {"c", Tensor::full({10}, 3.0F)},  // 40: larger than the limit, a shard of its own
      {"d", Tensor::from_vector(std::vector<int64_t>{4}, {1})},
  };
  save_checkpoint(path("model"), tensors, 32);
  const auto index = read_json_file(path("model/model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], 80);
  EXPECT_EQ(index["weight_map"], (nlohmann::json{{"a", "model-00001-of-00003.safetensors"},
                                                 {"b", "model-00001-of-00003.safetensors"},
                                                 {"c", "model-00002-of-00003.safetensors"},
                                                 {"d", "model-00003-of-00003.safetensors"}}));
  EXPECT_FALSE(fs::exists(path("model/model.safetensors")));
  const auto checkpoint = Checkpoint::open(path("model"));
  EXPECT_TRUE(checkpoint.sharded());
  EXPECT_EQ(checkpoint.names(), (std::vector<std::string>{"a", "b", "c", "d"}));
  for (const auto& [name, tensor] : tensors) {
    SCOPED_TRACE(name);
    expect_same(checkpoint.view(name), tensor);
  }

  // Saving again unsharded removes the shards and the index of the earlier save.
  save_checkpoint(path("model"), tensors);
  std::vector<std::string> files;
  for (const auto& item : fs::directory_iterator(path("model"))) files.push_back(item.path().filename().string());
  EXPECT_EQ(files, (std::vector<std::string>{"model.safetensors"}));
}

TEST_F(IoTest, CheckpointErrorsNameTheFolderAndTheProblem) {
  EXPECT_EQ(test::error_of([&] { Checkpoint::open(path("absent")); }),
            "[checkpoint] " + path("absent") + ": no such folder");
  fs::create_directories(path("empty"));
  EXPECT_EQ(test::error_of([&] { Checkpoint::open(path("empty")); }),
            "[checkpoint] " + path("empty") + ": no model.safetensors or model.safetensors.index.json");
  write_file_atomically(path("empty/pytorch_model.bin"), "pickle");
  EXPECT_NE(test::error_of([&] {
              Checkpoint::open(path("empty"));
            }).find("(pytorch_model.bin is not supported: convert it with python -c"),
            std::string::npos);

  save_checkpoint(path("sharded"), {{"a", Tensor::zeros({8})}, {"b", Tensor::zeros({8})}}, 32);
  fs::remove(path("sharded/model-00002-of-00002.safetensors"));
  EXPECT_EQ(test::error_of([&] { Checkpoint::open(path("sharded")); }),
            "[checkpoint] " + path("sharded/model.safetensors.index.json") +
                ": shard model-00002-of-00002.safetensors (holding 'b') is missing");

  write_file_atomically(path("sharded/model.safetensors.index.json"), R"({"weight_map": {"a": "../x"}})");
  EXPECT_EQ(test::error_of([&] { Checkpoint::open(path("sharded")); }),
            "[checkpoint] " + path("sharded/model.safetensors.index.json") +
                ": weight_map entry of 'a' must be a file name in the same folder");
  write_file_atomically(path("sharded/model.safetensors.index.json"), "{oops");
  EXPECT_EQ(test::error_of([&] {
              Checkpoint::open(path("sharded"));
            }).rfind("[json] " + path("sharded/model.safetensors.index.json") + ": malformed JSON: ", 0),
            0U);
}

// A NaN weight made every score nan; the load names the file, the tensor and where the value is.
TEST_F(IoTest, ANonFiniteWeightIsRefusedWhenLoaded) {
  save_checkpoint(path("nan"), {{"ok", Tensor::from_vector(std::vector<float>{1.0F, 2.0F}, Shape{2})},
                                {"w", Tensor::from_vector(std::vector<float>{0.0F, 1.0F, NAN, 3.0F}, Shape{2, 2})},
                                {"v", Tensor::from_vector(std::vector<float>{-INFINITY}, Shape{1})}});
  const Checkpoint checkpoint = Checkpoint::open(path("nan"));
  EXPECT_EQ(checkpoint.load("ok").to_float_vector(), (std::vector<float>{1.0F, 2.0F}));
  EXPECT_EQ(test::error_of([&] { checkpoint.load("w"); }),
            "[checkpoint] " + path("nan") +
                "/model.safetensors: tensor 'w' holds a non-finite value (nan at element 2 "
                "of [2, 2])");
  EXPECT_EQ(test::error_of([&] { checkpoint.load("v"); }),
            "[checkpoint] " + path("nan") +
                "/model.safetensors: tensor 'v' holds a non-finite value (-inf at element 0 "
                "of [1])");
}

TEST_F(IoTest, ReadsTheHuggingFaceCheckpoint) {
  GRAFT_REQUIRE_GOLDEN();
  const auto checkpoint = Checkpoint::open(test::golden_dir() + "/distilbert_seqcls/checkpoint");
  const auto names = checkpoint.names();
  ASSERT_EQ(names.size(), 40U);
  EXPECT_EQ(names.front(), "classifier.bias");
  EXPECT_EQ(names.back(), "pre_classifier.weight");
  EXPECT_TRUE(checkpoint.contains("distilbert.transformer.layer.1.ffn.lin2.weight"));
  EXPECT_EQ(checkpoint.info("distilbert.embeddings.word_embeddings.weight").shape, (Shape{30522, 32}));
  EXPECT_EQ(checkpoint.info("distilbert.transformer.layer.0.ffn.lin1.weight").shape, (Shape{64, 32}));
  EXPECT_EQ(checkpoint.info("classifier.weight").dtype, DType::F32);
  EXPECT_EQ(checkpoint.load("classifier.bias").to_float_vector(),
            (std::vector<float>{0.005951329600065947F, -0.03179429471492767F, 0.13741736114025116F}));
  const auto file = SafetensorsFile::open(test::golden_dir() + "/distilbert_seqcls/checkpoint/model.safetensors");
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.names().front(), "classifier.bias");  // data order
}

TEST_F(IoTest, FileHelpers) {
  EXPECT_EQ(test::error_of([&] { read_file(path("none.txt")); }),
            "[file] " + path("none.txt") + ": cannot open: no such file");
  write_file_atomically(path("x.json"), "[1,");
  EXPECT_EQ(test::error_of([&] {
              read_json_file(path("x.json"));
            }).rfind("[json] " + path("x.json") + ": malformed JSON: [json.exception.parse_error", 0),
            0U);
  write_json_file_atomically(path("x.json"), {{"a", 1}});
  EXPECT_EQ(read_file(path("x.json")), "{\n  \"a\": 1\n}\n");

  {
    AtomicFileWriter abandoned(path("y.txt"));
    abandoned.write("partial");
  }
  EXPECT_FALSE(fs::exists(path("y.txt")));
  EXPECT_FALSE(fs::exists(path("y.txt.tmp-" + std::to_string(::getpid()))));

  fs::create_directories(path("final"));
  write_file_atomically(path("final/old.txt"), "old");
  fs::create_directories(path("staging"));
  write_file_atomically(path("staging/new.txt"), "new");
  replace_directory_atomically(path("staging"), path("final"));
  EXPECT_FALSE(fs::exists(path("staging")));
  EXPECT_FALSE(fs::exists(path("final/old.txt")));
  EXPECT_EQ(read_file(path("final/new.txt")), "new");
  fs::create_directories(path("staging2"));
  replace_directory_atomically(path("staging2"), path("fresh"));
  EXPECT_TRUE(fs::is_directory(path("fresh")));
}

}  // namespace
}  // namespace graft
