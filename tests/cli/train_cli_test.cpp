// graft train end to end: the golden trajectories reproduced from the command line, and the two-stage
// transfer-learning workflow (head with the base frozen, then everything) on real data.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "graft/core/cuda_runtime.h"
#include "graft/io/checkpoint.h"
#include "graft/io/file.h"
#include "graft/io/safetensors.h"
#include "graft/models/model.h"
#include "graft/pipelines/text_classification.h"
#include "test_support.h"

namespace graft {
namespace {
namespace fs = std::filesystem;

std::string temp_dir(const std::string& name) {
  const std::string dir = (fs::temp_directory_path() / ("graft-train-" + name)).string();
  fs::remove_all(dir);
  return dir;
}

test::CommandResult train(const std::string& arguments) {
  return test::run_command(test::cli_path() + " train --no-progress " + arguments);
}

bool head_tensor(const std::string& name) {
  return name.rfind("pre_classifier.", 0) == 0 || name.rfind("classifier.", 0) == 0;
}

// The golden 6-step AdamW runs, through the CLI, must land on PyTorch's parameters (1e-4).
TEST(TrainCli, ReproducesGoldenTrajectoriesFromTheCommandLine) {
  GRAFT_REQUIRE_GOLDEN();
  const std::string folder = test::golden_dir() + "/distilbert_seqcls";
  const std::string common = " --model " + folder + "/checkpoint --train-batches " + folder +
                             "/train_batches.safetensors --max-steps 6 --scheduler linear --warmup-steps 2"
                             " --weight-decay 0.01 --max-grad-norm 1 --lr 1e-3 --dropout 0 --eval-strategy no" +
                             test::device_option();
  for (const auto& [freeze, expected_file] :
       {std::pair<std::string, std::string>{"none", "after_full_finetune.safetensors"},
        {"distilbert", "after_frozen_base_head.safetensors"}}) {
    const std::string out = temp_dir("golden-" + freeze);
    const auto result = train(common + " --freeze " + freeze + " --output " + out);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const Checkpoint trained = Checkpoint::open(out);
    const Checkpoint original = Checkpoint::open(folder + "/checkpoint");
    const SafetensorsFile expected = SafetensorsFile::open(folder + "/" + expected_file);
    for (const auto& name : trained.names()) {
      if (expected.contains(name)) {
        EXPECT_LE(test::max_abs_diff(trained.load(name), expected.load(name)), 1e-4) << freeze << " " << name;
      } else if (expected.contains(name + ".rows")) {
        const Tensor rows = test::gather_rows(trained.load(name), expected.load("used_token_ids", DType::I64));
        EXPECT_LE(test::max_abs_diff(rows, expected.load(name + ".rows")), 1e-4) << freeze << " " << name;
      } else {
        EXPECT_EQ(test::max_abs_diff(trained.load(name), original.load(name)), 0.0) << "frozen " << name << " moved";
      }
    }
  }
}

std::string four_rows(const std::string& path);

// The golden recipe's command for `graft train` with the given dropout, less its output folder.
std::string golden_recipe_command(const std::string& folder, const std::string& dropout) {
  return " train --no-progress --model " + folder + "/checkpoint --train-batches " + folder +
         "/train_batches.safetensors --max-steps 6 --scheduler linear --warmup-steps 2"
         " --weight-decay 0.01 --max-grad-norm 1 --lr 1e-3 --dropout " +
         dropout + " --eval-strategy no";
}

// Each parameter of the folder `parallel` within 4e-6 of the largest value of its twin in `single`.
void expect_one_processs_parameters(const std::string& parallel, const std::string& single) {
  const Checkpoint expected = Checkpoint::open(single);
  const Checkpoint actual = Checkpoint::open(parallel);
  for (const auto& name : expected.names()) {
    const Tensor reference = expected.load(name);
    double largest = 0.0;
    for (const float value : reference.to_float_vector()) largest = std::max(largest, std::fabs(double{value}));
    EXPECT_LE(test::max_abs_diff(actual.load(name), reference), 4e-6 * std::max(largest, 1e-30)) << name;
  }
}

// `mpirun -np 2 graft train` (and `graft train --nproc 2`) on the golden recipe: the model one process trains (within
// fp32 rounding amplified by AdamW: 1.7e-6 of a tensor's largest value measured), hence PyTorch's within the golden
// 1e-4; one output folder, written by rank 0.
TEST(TrainCli, MpirunAndNprocTwoRanksTrainOneProcesssModel) {
  GRAFT_REQUIRE_GOLDEN();
  const std::string mpirun = test::mpirun_two_ranks();
  if (mpirun.empty()) GTEST_SKIP() << "no mpirun (Open MPI: scripts/install-deps.sh), or a sanitized build";
  const std::string folder = test::golden_dir() + "/distilbert_seqcls";
  const std::string common = golden_recipe_command(folder, "0");
  const std::string alone = temp_dir("mpi-alone");
  const std::string ranks = temp_dir("mpi-ranks");
  test::run_alone_and_on_two_ranks(mpirun, common, alone, ranks);
  ASSERT_FALSE(HasFailure());
  std::ifstream log(ranks + "/stage-1/log.jsonl");
  const auto logged = nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(log), {}));
  ASSERT_TRUE(logged.contains("communication_share")) << logged;
  EXPECT_GT(logged["communication_share"].get<double>(), 0.0);
  EXPECT_LT(logged["communication_share"].get<double>(), 1.0);
  // --nproc 2 starts mpirun itself, with one thread per rank on this machine's cores.
  const std::string launched = temp_dir("mpi-nproc");
  const auto nproc = test::run_command(test::cli_path() + common + " --nproc 2 --output " + launched);
  ASSERT_EQ(nproc.exit_code, 0) << nproc.output;
  EXPECT_NE(nproc.output.find("--nproc 2: 2 ranks of"), std::string::npos) << nproc.output;
  EXPECT_NE(nproc.output.find("Data-parallel: 2 ranks"), std::string::npos) << nproc.output;
  expect_one_processs_parameters(ranks, alone);
  const Checkpoint parallel = Checkpoint::open(ranks);
  const Checkpoint started = Checkpoint::open(launched);
  const SafetensorsFile expected = SafetensorsFile::open(folder + "/after_full_finetune.safetensors");
  for (const auto& name : parallel.names()) {
    EXPECT_EQ(test::max_abs_diff(started.load(name), parallel.load(name)), 0.0) << "--nproc vs mpirun: " << name;
    if (expected.contains(name)) {
      EXPECT_LE(test::max_abs_diff(parallel.load(name), expected.load(name)), 1e-4) << name;
    }
  }
}

// With dropout on, two ranks draw one process's masks: the same model as one process.
TEST(TrainCli, MpirunTwoRanksWithDropoutTrainOneProcesssModel) {
  GRAFT_REQUIRE_GOLDEN();
  const std::string mpirun = test::mpirun_two_ranks();
  if (mpirun.empty()) GTEST_SKIP() << "no mpirun (Open MPI: scripts/install-deps.sh), or a sanitized build";
  const std::string common = golden_recipe_command(test::golden_dir() + "/distilbert_seqcls", "0.1");
  const std::string alone = temp_dir("mpi-dropout-alone");
  const std::string ranks = temp_dir("mpi-dropout-ranks");
  test::run_alone_and_on_two_ranks(mpirun, common, alone, ranks);
  ASSERT_FALSE(HasFailure());
  expect_one_processs_parameters(ranks, alone);
}

// Under torchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) each process would train alone and write the same folder:
// refused at once, saying what to run instead, and nothing is written. A world of one trains as usual.
TEST(TrainCli, TorchrunsEnvironmentOfSeveralProcessesIsRefusedWithWhatToRunInstead) {
  const std::string out = temp_dir("torchrun");
  const std::string data = four_rows(out + "-data.csv");
  const std::string train = test::cli_path() + " train --no-progress --model " + test::fixtures_dir() +
                            "/tiny-distilbert --train " + data + " --batch-size 2 --epochs 1 --output " + out;
  const auto refused =
      test::run_command("WORLD_SIZE=2 RANK=1 LOCAL_RANK=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 " + train);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("[distributed] WORLD_SIZE=2 (RANK=1): this process was started by torchrun or a "
                                "launcher like it, but graft's ranks talk MPI, which starts them itself: run `mpirun "
                                "-np N graft ...` or `graft train --nproc N` instead"),
            std::string::npos)
      << refused.output;
  EXPECT_FALSE(std::filesystem::exists(out)) << "nothing is written";
  const auto alone = test::run_command("WORLD_SIZE=1 RANK=0 " + train);
  EXPECT_EQ(alone.exit_code, 0) << alone.output;
}

// A rank killed mid-run: mpirun ends the other one and exits non-zero within seconds, saying which rank died; then
// `--resume` continues from the last checkpoint on both ranks and finishes.
TEST(TrainCli, AKilledRankEndsTheRunWithinSecondsAndResumeContinues) {
  const std::string mpirun = test::mpirun_two_ranks();
  if (mpirun.empty()) GTEST_SKIP() << "no mpirun (Open MPI: scripts/install-deps.sh), or a sanitized build";
  const std::string out = temp_dir("mpi-killed");
  // An epoch of two steps, each ending with a checkpoint, for far longer than the test waits.
  const std::string command = mpirun + test::cli_path() + " train --no-progress --model " + test::fixtures_dir() +
                              "/tiny-distilbert --train " + four_rows(out + "-data.csv") + " --eval " + out +
                              "-data.csv --batch-size 2 --epochs 100000 --output " + out;
  // The newest graft process of the run is a rank (mpirun starts both before either trains).
  const auto killed =
      test::run_command("(" + command + ") > " + out + ".log 2>&1 & launcher=$!; " + "for i in $(seq 600); do ls " +
                        out + "/stage-1 2>/dev/null | grep -q checkpoint- && break; sleep 0.1; done; " +
                        "pkill -KILL -n -f -- '--output " + out + "$'; start=$(date +%s); wait $launcher; status=$?; " +
                        "echo \"status $status after $(( $(date +%s) - start )) s\"; cat " + out + ".log");
  EXPECT_EQ(killed.output.find("status 0"), std::string::npos) << killed.output;
  const auto after = killed.output.find(" after ");
  ASSERT_NE(after, std::string::npos) << killed.output;
  EXPECT_LE(std::stoi(killed.output.substr(after + 7)), 10) << killed.output;
  EXPECT_NE(killed.output.find("signal 9"), std::string::npos) << killed.output;

  int64_t last = 0;
  for (const auto& entry : fs::directory_iterator(out + "/stage-1")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint-", 0) == 0) last = std::max<int64_t>(last, std::stoll(name.substr(11)));
  }
  ASSERT_GT(last, 0) << "no checkpoint before the kill";
  const auto resumed = test::run_command(command + " --resume --max-steps " + std::to_string(last + 4));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("Resuming from step " + std::to_string(last)), std::string::npos) << resumed.output;
  EXPECT_NO_THROW(Model::from_pretrained(out));
  fs::remove_all(out);
}

// Two stages with evaluation and checkpoints, once with the model on the CPU and once on the checked device
// (which refuses host access above the ops): the same weights, bit for bit. A device this build lacks, or an
// unknown one, is refused at once.
TEST(TrainCli, TheCheckedDeviceTrainsTheCpusModelAndCudaIsRefusedAtOnce) {
  const std::string data = temp_dir("device-data.csv");
  {
    std::ofstream out(data);
    out << "label,sentence\n";
    const char* labels[] = {"negative", "neutral", "positive"};
    for (int i = 0; i < 24; ++i) out << labels[i % 3] << ",the quick brown fox " << i << " jumps over the lazy dog\n";
  }
  const std::string common = " --model " + test::fixtures_dir() + "/tiny-distilbert --train " + data +
                             " --validation-split 0.25 --batch-size 4 --eval-strategy epoch --seed 3"
                             " --stage freeze=distilbert,epochs=1,lr=1e-2 --stage freeze=none,epochs=1,lr=1e-3";
  const std::string on_cpu = temp_dir("device-cpu");
  const std::string on_checked = temp_dir("device-checked");
  const auto cpu_run = train(common + " --output " + on_cpu);
  ASSERT_EQ(cpu_run.exit_code, 0) << cpu_run.output;
  const auto checked_run = train(common + " --device checked --output " + on_checked);
  ASSERT_EQ(checked_run.exit_code, 0) << checked_run.output;
  const Checkpoint a = Checkpoint::open(on_cpu);
  const Checkpoint b = Checkpoint::open(on_checked);
  for (const auto& name : a.names()) EXPECT_EQ(test::max_abs_diff(a.load(name), b.load(name)), 0.0) << name;

  const std::string no_cuda = cuda::unavailable_reason({DeviceType::Cuda, 0});
  if (!no_cuda.empty()) {  // a build without CUDA, or a machine without a GPU
    const auto cuda = train(common + " --device cuda --output " + temp_dir("device-cuda"));
    EXPECT_EQ(cuda.exit_code, 1);
    EXPECT_EQ(cuda.output, "graft: [op] " + no_cuda + " (device cuda:0)\n");
    EXPECT_FALSE(fs::exists(temp_dir("device-cuda") + "/config.json"));
  }
  const auto unknown = test::run_command(test::cli_path() + " predict --device gpu --model " + test::fixtures_dir() +
                                         "/tiny-distilbert fox");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_EQ(unknown.output, "graft: [device] unknown device 'gpu' (expected cpu, cuda, cuda:N or checked)\n");
}

// The seed workflow on Financial PhraseBank with the golden (random-weight) checkpoint: only the
// mechanics are judged. Stage 1 may change only the head; stage 2 changes every tensor.
TEST(TrainCli, TwoStageTransferLearningOnFinancialPhraseBank) {
  GRAFT_REQUIRE_GOLDEN();
  const std::string data = test::shared_dir() + "/data/financial_phrasebank/train.csv";
  if (!fs::exists(data)) GTEST_SKIP() << data << " not found";
  const std::string base = test::golden_dir() + "/distilbert_seqcls/checkpoint";
  const std::string out = temp_dir("fpb");
  const auto result =
      train("--model " + base + " --train " + data +
            " --text-column sentence --label-column label --validation-split 0.1 --max-length 48"
            " --batch-size 32 --output " +
            out + " --stage \"freeze=distilbert,epochs=1,lr=1e-3\" --stage \"freeze=none,epochs=1,lr=1e-4\"");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::printf("%s\n", result.output.substr(result.output.size() > 1500 ? result.output.size() - 1500 : 0).c_str());

  const Checkpoint original = Checkpoint::open(base);
  const auto stage_checkpoint = [&](int stage) {
    for (const auto& entry : fs::directory_iterator(out + "/stage-" + std::to_string(stage))) {
      if (entry.path().filename().string().rfind("checkpoint-", 0) == 0) return Checkpoint::open(entry.path().string());
    }
    throw std::runtime_error("no checkpoint for stage " + std::to_string(stage));
  };
  const Checkpoint after_head = stage_checkpoint(1);
  for (const auto& name : original.names()) {
    const double moved = test::max_abs_diff(after_head.load(name), original.load(name));
    if (head_tensor(name)) {
      EXPECT_GT(moved, 0.0) << "stage 1 did not train " << name;
    } else {
      EXPECT_EQ(moved, 0.0) << "stage 1 changed frozen " << name;
    }
  }
  const Checkpoint final_weights = Checkpoint::open(out);
  for (const auto& name : original.names()) {
    EXPECT_GT(test::max_abs_diff(final_weights.load(name), after_head.load(name)), 0.0) << "stage 2 left " << name;
  }
  for (const char* file : {"config.json", "vocab.txt", "tokenizer_config.json", "training_args.json",
                           "trainer_state.json", "README.md", "stage-1/log.jsonl"}) {
    EXPECT_TRUE(fs::exists(out + "/" + file)) << file;
  }
  const std::string card = read_file(out + "/README.md");
  EXPECT_NE(card.find("freeze"), std::string::npos);
  EXPECT_NE(card.find("accuracy"), std::string::npos);

  // The folder reloads, and predictions from it equal the trained model's.
  auto reloaded = Model::from_pretrained(out);
  EXPECT_EQ(reloaded->config().id2label.at(0), "negative");
  auto pipeline = TextClassificationPipeline::from_pretrained(out);
  const auto first = pipeline({"Operating profit rose to EUR 13.1 mn from EUR 8.7 mn."});
  const auto again =
      TextClassificationPipeline::from_pretrained(out)({"Operating profit rose to EUR 13.1 mn from EUR 8.7 mn."});
  EXPECT_EQ(first[0][0].label, again[0][0].label);
  EXPECT_FLOAT_EQ(first[0][0].score, again[0][0].score);
}

// A fresh clone: the repo's own fixture model and sample data, with a new head grafted for labels the
// checkpoint does not have, and bad input rejected with file:line.
TEST(TrainCli, GraftsANewHeadAndRejectsUnknownLabels) {
  const std::string model = test::fixtures_dir() + "/tiny-distilbert";
  const std::string out = temp_dir("fixture");
  const std::string data = out + "-data.csv";
  std::ofstream(data) << "sentence,label\nprofit rose,up\nprofit fell,down\nsales rose,up\nsales fell,down\n";
  const auto result = train("--model " + model + " --train " + data + " --output " + out + " --epochs 2 --lr 1e-2");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("Grafting a new classification head"), std::string::npos) << result.output;
  const auto config = read_json_file(out + "/config.json");
  EXPECT_EQ(config["id2label"]["0"], "down");
  EXPECT_EQ(config["id2label"]["1"], "up");
  EXPECT_EQ(read_json_file(out + "/training_args.json")[0]["group_by_length"], true);  // batches of similar length
  EXPECT_EQ(read_json_file(out + "/training_args.json")[0]["bf16"], false);
  const auto shuffled = train("--model " + model + " --train " + data + " --output " + out + "-shuffled --epochs 1" +
                              " --no-group-by-length --bf16");
  ASSERT_EQ(shuffled.exit_code, 0) << shuffled.output;
  EXPECT_EQ(read_json_file(out + "-shuffled/training_args.json")[0]["group_by_length"], false);
  EXPECT_EQ(read_json_file(out + "-shuffled/training_args.json")[0]["bf16"], true);

  const std::string eval = out + "-eval.csv";
  std::ofstream(eval) << "sentence,label\nprofit rose,up\nprofit fell,sideways\n";
  const auto bad = train("--model " + model + " --train " + data + " --eval " + eval + " --output " + out + "-2");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("unknown label 'sideways'"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find(":3"), std::string::npos) << bad.output;
}

std::string four_rows(const std::string& path) {
  std::ofstream(path) << "sentence,label\nprofit rose,up\nprofit fell,down\nsales rose,up\nsales fell,down\n";
  return path;
}

// One label grafted a one-output head, which transformers reads as regression, and trained it without a word.
TEST(TrainCli, ATrainingSetWithOneLabelIsRefused) {
  const std::string out = temp_dir("one-label");
  std::ofstream(out + "-data.csv") << "sentence,label\nprofit rose,up\nsales rose,up\n";
  const auto result =
      train("--model " + test::fixtures_dir() + "/tiny-distilbert --train " + out + "-data.csv --output " + out);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("[train] " + out +
                               "-data.csv: every row has the label 'up': a classifier needs at "
                               "least two labels"),
            std::string::npos)
      << result.output;
}

// A first row of single words whose label does not recur reads as a header; --no-header keeps it as data, and
// the columns are then indices.
TEST(TrainCli, NoHeaderKeepsTheFirstRowAsData) {
  const std::string out = temp_dir("no-header");
  std::ofstream(out + "-data.csv") << "gain,bullish\nloss,down\nrise,up\nfall,down\n";
  const std::string common =
      "--model " + test::fixtures_dir() + "/tiny-distilbert --train " + out + "-data.csv --epochs 1 --output ";
  const auto guessed = train(common + out);
  ASSERT_EQ(guessed.exit_code, 0) << guessed.output;
  EXPECT_NE(guessed.output.find("labels: down, up"), std::string::npos) << guessed.output;
  EXPECT_NE(guessed.output.find("-data.csv: the first row is read as the header (gain, bullish); --no-header if it is "
                                "data"),
            std::string::npos)
      << guessed.output;
  const auto kept = train(common + out + "-kept --no-header --text-column 0 --label-column 1");
  ASSERT_EQ(kept.exit_code, 0) << kept.output;
  EXPECT_NE(kept.output.find("labels: bullish, down, up"), std::string::npos) << kept.output;
  const auto named = train(common + out + "-named --no-header --label-column label");
  EXPECT_EQ(named.exit_code, 1) << named.output;
  EXPECT_NE(named.output.find("label_column 'label' not found; the file has no header"), std::string::npos)
      << named.output;
  fs::remove_all(out);
  fs::remove_all(out + "-kept");
  fs::remove_all(out + "-named");
}

// A raw filesystem error ("unexpected error") before; now refused before any training time is spent.
TEST(TrainCli, AnOutputThatIsAFileIsRefusedAtOnce) {
  const std::string out = temp_dir("output-file");
  std::ofstream(out) << "not a folder";
  const auto result = train("--model " + test::fixtures_dir() + "/tiny-distilbert --train " +
                            four_rows(out + "-data.csv") + " --output " + out);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("[train] --output " + out + ": exists and is a file, not a folder"), std::string::npos)
      << result.output;
  fs::remove(out);
}

// Each stage's checkpoint carries the tokenizer, so it is a model folder predict loads. `--output DIR/`
// names the folder (its staging folder once landed inside it, "DIR/.partial").
TEST(TrainCli, ACheckpointIsAModelFolder) {
  const std::string out = temp_dir("checkpoint-folder");
  const auto result = train("--model " + test::fixtures_dir() + "/tiny-distilbert --train " +
                            four_rows(out + "-data.csv") + " --output " + out + "/ --epochs 1 --batch-size 2");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(fs::exists(out + "/config.json"));
  EXPECT_FALSE(fs::exists(out + "/.partial"));
  EXPECT_FALSE(fs::exists(out + ".partial"));
  const auto predicted =
      test::run_command(test::cli_path() + " predict --model " + out + "/stage-1/checkpoint-2 'profit rose'");
  EXPECT_EQ(predicted.exit_code, 0) << predicted.output;
  fs::remove_all(out);
}

// kill -9 at moments spread over a whole run and past it, the final save included: the output folder has either no
// model yet or every file of it (before, the final save wrote file by file, and a kill left folders without
// tokenizer.json, card or trainer_state that still loaded).
TEST(TrainCli, AKilledRunLeavesTheOutputFolderCompleteOrWithoutAModel) {
  const std::string out = temp_dir("killed");
  const std::string command = test::cli_path() + " train --no-progress --model " + test::fixtures_dir() +
                              "/tiny-distilbert --train " + four_rows(out + "-data.csv") + " --epochs 2 --output " +
                              out;
  const auto timed = [](const std::string& run) {
    const auto started = std::chrono::steady_clock::now();
    const auto result = test::run_command(run);
    return std::pair{result, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()};
  };
  const auto [whole, seconds] = timed(command);
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const std::vector<std::string> files = {"config.json",        "model.safetensors",     "tokenizer.json",
                                          "vocab.txt",          "tokenizer_config.json", "special_tokens_map.json",
                                          "training_args.json", "trainer_state.json",    "README.md"};
  int completed = 0;
  for (int i = 1; i <= 32; ++i) {
    fs::remove_all(out);
    fs::remove_all(out + ".partial");
    // Up to twice the first run's length, and a last kill long after it: the later kills come too late, even when
    // the runs under a busy CI are slower than the first (once none of 32 came late enough).
    const double delay = i < 32 ? seconds * i / 16.0 : seconds * 4.0 + 2.0;
    const auto killed = test::run_command("timeout -s KILL " + std::to_string(delay) + " " + command);
    if (!fs::exists(out + "/config.json") && !fs::exists(out + "/model.safetensors")) continue;
    ++completed;
    for (const std::string& file : files)
      EXPECT_TRUE(fs::exists(out + "/" + file)) << file << " after " << delay << " s";
    EXPECT_TRUE(fs::exists(out + "/stage-1/checkpoint-2/model.safetensors")) << "the checkpoint was lost";
    EXPECT_NO_THROW(Model::from_pretrained(out)) << "after " << delay << " s";
  }
  EXPECT_GT(completed, 0);  // some kills came after the save: the check above ran
  fs::remove_all(out);
}

}  // namespace
}  // namespace graft
