// The graft command line. Subcommands register themselves (command.h); errors from the library
// arrive as graft::Error and are printed as one line, with exit code 1.
#include <algorithm>
#include <iostream>

#include "command.h"
#include "graft/core/error.h"
#include "graft/kernels/kernels.h"

namespace graft::cli {

std::vector<RegisteredCommand>& registered_commands() {
  static std::vector<RegisteredCommand> commands;
  return commands;
}

Registration::Registration(std::string name, int order, AddCommand add) {
  registered_commands().push_back({std::move(name), order, std::move(add)});
}

}  // namespace graft::cli

int main(int argc, char** argv) {
  CLI::App app{"graft: transfer learning with pretrained transformers (DistilBERT, BERT)"};
  app.require_subcommand(1);
  // What a bug report needs: the build (GRAFT_BUILD comes from CMakeLists.txt) and the CPU it runs on.
  app.set_version_flag("--version", [] {
    return std::string("graft " GRAFT_VERSION " (" GRAFT_BUILD ")\n") + graft::kernels::describe_backend();
  });
  auto commands = graft::cli::registered_commands();
  std::sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
  for (const auto& command : commands) command.add(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const graft::Error& error) {
    std::cerr << "graft: " << error.what() << '\n';
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "graft: unexpected error: " << error.what() << '\n';
    return 2;
  }
  return 0;
}
