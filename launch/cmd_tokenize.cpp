// alibi tokenize: the token ids of a text under a checkpoint's (or a corpus's) tokenizer,
// the ids a model sees, e.g. to compare with another tokenizer built from the same
// vocabulary (tests/e2e/export_gguf.sh holds llama.cpp's to ours).
//
//   alibi tokenize --checkpoint runs/x/step_00001000.h5 --input notes.txt    # "464 2068 ..."
//   echo "hello" | alibi tokenize --data corpus.h5
//
// Prints the ids on one line, separated by spaces; no EOS is added.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "data/corpus.h"
#include "launch/commands.h"
#include "runtime/config.h"
#include "runtime/error.h"
#include "train/model_checkpoint.h"

namespace alibi {

int cmd_tokenize(int argc, char** argv) {
  std::string checkpoint, data, input = "-";
  po::options_description desc("tokenize");
  desc.add_options()
      ("checkpoint", po::value<std::string>(&checkpoint), "take the tokenizer of this checkpoint")
      ("data", po::value<std::string>(&data), "or of this corpus")
      ("input", po::value<std::string>(&input)->default_value(input), "the text file (-: standard input)");
  po::variables_map vm;
  if (!parse_command_line("tokenize", argc, argv, desc, vm)) return 0;
  ALIBI_CHECK_AS(ConfigError, checkpoint.empty() != data.empty(),
                 "give the tokenizer's source: --checkpoint CKPT or --data CORPUS (one of them)");

  const Tokenizer tokenizer = !checkpoint.empty() ? read_checkpoint_tokenizer(checkpoint) : Corpus(data).tokenizer();
  std::ostringstream text;
  if (input == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(input, std::ios::binary);
    ALIBI_CHECK_AS(IoError, in.good(), "--input " << input << ": cannot read it; check the path");
    text << in.rdbuf();
  }
  const std::vector<int32_t> ids = tokenizer.encode(text.str());
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ' ';
    line += std::to_string(ids[i]);
  }
  std::printf("%s\n", line.c_str());
  return 0;
}

}  // namespace alibi
