// graft pull ORG/NAME[@REVISION]: downloads a checkpoint into the Hugging Face cache and prints
// the snapshot folder, which every --model option also accepts.
#include <iostream>
#include <memory>

#include "command.h"
#include "graft/io/hub.h"

namespace {

void add_pull_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "pull", "Download a model from the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE, HF_HUB_OFFLINE)");
  auto repo = std::make_shared<std::string>();
  command->add_option("repo", *repo, "ORG/NAME[@REVISION], e.g. distilbert/distilbert-base-uncased@main")->required();
  command->callback([repo] {
    graft::HubOptions options = graft::HubOptions::from_environment();
    options.log = [](const std::string& line) { std::cerr << line << '\n'; };
    std::cout << graft::hub_download_model(graft::parse_hub_repo(*repo), options) << '\n';
  });
}

const graft::cli::Registration kPull{"pull", 5, add_pull_command};

}  // namespace
