// alibi export: a checkpoint as a file another program runs. Today one format: GGUF for
// llama.cpp, as its mpt architecture (train/export_gguf.h says how our model maps).
//
//   alibi export --format gguf --checkpoint runs/x/step_00001000.h5 --out x.gguf [--dtype f16]
//   llama-completion -m x.gguf -p "Once upon a time" -n 64 --temp 0     (llama-cli in older llama.cpp)
#include <mpi.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "launch/commands.h"
#include "runtime/config.h"
#include "runtime/error.h"
#include "train/export_gguf.h"

namespace alibi {

int cmd_export(int argc, char** argv) {
  std::string format = "gguf", checkpoint, out;
  gguf::TensorType dtype = gguf::TensorType::f32;
  po::options_description desc("export");
  desc.add_options()
      ("format", po::value<std::string>(&format)->default_value(format), "gguf (llama.cpp, as its mpt architecture)")
      ("checkpoint", po::value<std::string>(&checkpoint)->required(), "the checkpoint to export (any layout's)")
      ("out", po::value<std::string>(&out)->required(), "the file to write, e.g. model.gguf (written as FILE.tmp, then renamed)")
      ("dtype", po::value<gguf::TensorType>(&dtype)->default_value(dtype),
       "f32 | f16 | bf16: the weight matrices (LayerNorm and biases stay f32)");
  po::variables_map vm;
  if (!parse_command_line("export", argc, argv, desc, vm)) return 0;
  ALIBI_CHECK_AS(ConfigError, format == "gguf", "--format " << format << " is not an export format; use gguf");
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  ALIBI_CHECK_AS(ConfigError, world == 1, "alibi export runs as one process (not under mpirun with " << world << " ranks)");
  ALIBI_CHECK_AS(IoError, std::filesystem::is_regular_file(checkpoint),
                 "--checkpoint " << checkpoint << ": no such file; give a step_*.h5 checkpoint");

  const GgufExportSummary s = export_gguf(checkpoint, out, dtype);
  std::printf("wrote %s: llama.cpp mpt, %s, %lld tensors (matrices %s, vectors f32), %s, %.1f MB\n", out.c_str(),
              s.shape.c_str(), static_cast<long long>(s.tensors), enum_name(dtype),
              s.max_alibi_bias > 0 ? "ALiBi (max_alibi_bias 8)" : "no position bias", s.bytes / 1e6);
  std::printf("  tokenizer: %s as llama.cpp's gpt2 (byte-level BPE)\n", s.tokenizer.c_str());
  std::printf("  run it: llama-completion -m %s -p \"...\" -n 64 --temp 0   (llama-cli in older llama.cpp; -c sets the "
              "context, which ALiBi may take past the training length)\n",
              out.c_str());
  return 0;
}

}  // namespace alibi
