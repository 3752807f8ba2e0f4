// Checkpoint save and load time for the bench model's tensors (C=512 L=8 NH=8 V=8192
// FFN=2048: 29.4M parameters, plus two AdamW moments, ~350 MB), serial, median of N runs.
// Usage: bench_checkpoint DIR [N]. Prints one line: save s, load s, file MB.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <mpi.h>

#include "parallel/checkpoint.h"

using namespace alibi;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_checkpoint DIR [N]\n");
    return 2;
  }
  MPI_Init(&argc, &argv);  // the communicator gathers dataset names, even at size 1
  const std::string dir = argv[1];
  const int runs = argc > 2 ? std::stoi(argv[2]) : 3;
  const int64_t C = 512, L = 8, NH = 8, V = 8192, F = 2048;
  std::vector<std::pair<std::string, Shape>> shapes{{"embedding.weight", {V, C}}, {"ln_f.weight", {C}}, {"ln_f.bias", {C}}};
  for (int l = 0; l < L; ++l) {
    const std::string b = "blocks." + std::to_string(l) + ".";
    for (const char* n : {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias", "attn.proj.bias", "mlp.fc2.bias"})
      shapes.push_back({b + n, {C}});
    shapes.push_back({b + "attn.qkv.weight", {NH, 3, C / NH, C}});
    shapes.push_back({b + "attn.qkv.bias", {NH, 3, C / NH}});
    shapes.push_back({b + "attn.proj.weight", {C, C}});
    shapes.push_back({b + "mlp.fc.weight", {F, C}});
    shapes.push_back({b + "mlp.fc.bias", {F}});
    shapes.push_back({b + "mlp.fc2.weight", {C, F}});
  }
  std::mt19937 gen(1);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<Tensor> values[3];
  std::vector<CheckpointTensor> lists[3];
  for (int k = 0; k < 3; ++k) {
    values[k].reserve(shapes.size());
    for (const auto& [name, shape] : shapes) {
      Tensor t = Tensor::empty(shape, DType::f32);
      for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = normal(gen);
      values[k].push_back(std::move(t));
    }
    for (size_t i = 0; i < shapes.size(); ++i)
      lists[k].push_back({shapes[i].first, &values[k][i], shapes[i].second,
                          std::vector<int64_t>(shapes[i].second.size(), 0), shapes[i].second, true});
  }
  const std::string path = checkpoint_path(dir, 1);
  std::vector<double> save, load;
  for (int r = 0; r < runs; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    write_checkpoint(path, SelfCommunicator(), {{"layers", "8"}}, {1, 0, 0}, lists[0], lists[1], lists[2]);
    save.push_back(seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    read_checkpoint_tensors(path, lists[0], lists[1], lists[2]);
    load.push_back(seconds_since(t0));
  }
  std::printf("save %.3f s  load %.3f s  file %.1f MB  (median of %d)\n", median(save), median(load),
              static_cast<double>(std::filesystem::file_size(path)) / 1e6, runs);
  std::filesystem::remove(path);
  MPI_Finalize();
  return 0;
}
