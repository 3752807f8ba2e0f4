// alibi preprocess: placeholder until data/ lands (being written).
#include "launch/commands.h"
#include "runtime/error.h"
namespace alibi {
int cmd_preprocess(int, char**) { throw ConfigError("preprocess is not built yet"); }
}  // namespace alibi
