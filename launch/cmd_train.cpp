// alibi train: placeholder until the training loop lands (being written).
#include "launch/commands.h"
#include "runtime/error.h"
namespace alibi {
int cmd_train(int, char**) { throw ConfigError("train is not built yet"); }
}  // namespace alibi
