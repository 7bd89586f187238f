#pragma once
// Each subcommand lives in its own file and registers itself here:
//   static const graft::cli::Registration kTokenize{"tokenize", 10, add_tokenize_command};
// main() adds the registered commands in `order`, so `graft --help` lists them in a stable order.
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace graft::cli {

using AddCommand = std::function<void(CLI::App& app)>;

struct Registration {
  Registration(std::string name, int order, AddCommand add);
};

struct RegisteredCommand {
  std::string name;
  int order;
  AddCommand add;
};
std::vector<RegisteredCommand>& registered_commands();

}  // namespace graft::cli
