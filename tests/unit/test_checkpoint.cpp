// Checkpoint files: round trip, atomic replacement, discovery and pruning, clear errors.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "parallel/checkpoint.h"
#include "parallel/comm.h"

namespace alibi {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("alibi-ckpt-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    w_ = Tensor::empty({6, 4}, DType::f32);
    m_ = Tensor::empty({6, 4}, DType::f32);
    v_ = Tensor::empty({6, 4}, DType::f32);
    for (int i = 0; i < 24; ++i) {
      w_.data<float>()[i] = 0.1f * static_cast<float>(i) - 1.0f;
      m_.data<float>()[i] = 1e-3f * static_cast<float>(i);
      v_.data<float>()[i] = 1e-6f * static_cast<float>(i * i);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& path, int64_t step, const std::function<void(h5::File&)>& extra = {}) {
    CheckpointState s{step, 1234567890123ull, 42};
    // The (6, 4) weight stored as (2, 3, 4), as the fused QKV is stored head-major.
    write_checkpoint(path, SelfCommunicator(), {{"layers", "2"}, {"position", "alibi"}}, s, {whole("w", &w_)},
                     {whole("w", &m_)}, {whole("w", &v_)}, extra);
  }

  static CheckpointTensor whole(const std::string& name, Tensor* t) {
    return {name, t, {2, 3, 4}, {0, 0, 0}, {2, 3, 4}, true};
  }

  fs::path dir_;
  Tensor w_, m_, v_;
};

TEST_F(CheckpointTest, RoundTripIsExact) {
  const std::string path = checkpoint_path(dir_.string(), 7);
  EXPECT_EQ(fs::path(path).filename(), "step_00000007.h5");
  write(path, 7);
  Tensor w = Tensor::zeros({6, 4}, DType::f32), m = Tensor::zeros({6, 4}, DType::f32),
         v = Tensor::zeros({6, 4}, DType::f32);
  read_checkpoint_tensors(path, {whole("w", &w)}, {whole("w", &m)}, {whole("w", &v)});
  for (int i = 0; i < 24; ++i) {
    EXPECT_EQ(w.data<float>()[i], w_.data<float>()[i]);
    EXPECT_EQ(m.data<float>()[i], m_.data<float>()[i]);
    EXPECT_EQ(v.data<float>()[i], v_.data<float>()[i]);
  }
  const CheckpointState s = read_checkpoint_state(path);
  EXPECT_EQ(s.step, 7);
  EXPECT_EQ(s.data_position, 1234567890123ull);
  EXPECT_EQ(s.seed, 42u);
  const OptionMap options = read_checkpoint_options(path);
  EXPECT_EQ(options.at("layers"), "2");
  EXPECT_EQ(options.at("position"), "alibi");
}

TEST_F(CheckpointTest, FailedWriteLeavesThePreviousCheckpointIntact) {
  const std::string path = checkpoint_path(dir_.string(), 3);
  write(path, 3);
  const auto size = fs::file_size(path);
  const float first = w_.data<float>()[0];
  w_.data<float>()[0] = 99.0f;
  EXPECT_THROW(write(path, 3, [](h5::File&) { throw IoError("simulated: disk full"); }), IoError);
  EXPECT_EQ(fs::file_size(path), size);
  EXPECT_FALSE(fs::exists(temporary_path(path)));
  Tensor w = Tensor::zeros({6, 4}, DType::f32), m = w.clone(), v = w.clone();
  read_checkpoint_tensors(path, {whole("w", &w)}, {whole("w", &m)}, {whole("w", &v)});
  EXPECT_EQ(w.data<float>()[0], first);
}

TEST_F(CheckpointTest, DirectoryVanishingDuringTheWriteIsOneIoError) {
  const fs::path sub = dir_ / "run";
  fs::create_directories(sub);
  const std::string path = checkpoint_path(sub.string(), 3);
  try {
    write(path, 3, [&](h5::File&) { fs::remove_all(sub); });
    ADD_FAILURE() << "the write succeeded into a directory that was gone";
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cannot rename " + temporary_path(path)), std::string::npos) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(sub));
  EXPECT_FALSE(h5::shutdown_is_unsafe());  // the file was closed: MPI_Finalize stays safe
}

TEST_F(CheckpointTest, LatestAndPrune) {
  EXPECT_FALSE(latest_checkpoint(dir_.string()).has_value());
  EXPECT_FALSE(latest_checkpoint((dir_ / "missing").string()).has_value());
  for (int64_t step : {5, 100, 20}) write(checkpoint_path(dir_.string(), step), step);
  { std::ofstream junk(dir_ / "step_00000500.h5.tmp"); }  // an interrupted write is not complete
  EXPECT_EQ(latest_checkpoint(dir_.string()).value(), checkpoint_path(dir_.string(), 100));
  prune_checkpoints(dir_.string(), 2);
  EXPECT_FALSE(fs::exists(checkpoint_path(dir_.string(), 5)));
  EXPECT_TRUE(fs::exists(checkpoint_path(dir_.string(), 20)));
  EXPECT_TRUE(fs::exists(checkpoint_path(dir_.string(), 100)));
}

TEST_F(CheckpointTest, ShapeMismatchNamesTensorAndShapes) {
  const std::string path = checkpoint_path(dir_.string(), 1);
  write(path, 1);
  Tensor w = Tensor::zeros({8, 4}, DType::f32);
  try {
    read_checkpoint_tensors(path, {{"w", &w, {8, 4}, {0, 0}, {8, 4}, true}}, {}, {});
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("/model/w"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(2, 3, 4)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(8, 4)"), std::string::npos) << msg;
  }
  Tensor x = Tensor::zeros({1}, DType::f32);
  EXPECT_THROW(read_checkpoint_tensors(path, {{"absent", &x, {1}, {0}, {1}, true}}, {}, {}), DataError);
}

TEST_F(CheckpointTest, BlocksReadBackFromTheirHyperslab) {
  const std::string path = checkpoint_path(dir_.string(), 2);
  write(path, 2);
  // Rows [1, 2) of the first stored dimension: elements 12..23 of the whole tensor.
  Tensor half = Tensor::zeros({3, 4}, DType::f32);
  read_checkpoint_tensors(path, {{"w", &half, {2, 3, 4}, {1, 0, 0}, {1, 3, 4}, true}}, {}, {});
  for (int i = 0; i < 12; ++i) EXPECT_EQ(half.data<float>()[i], w_.data<float>()[12 + i]);
}

// The stored bytes of the chunk holding element 0 of `dataset`: (file offset, size).
std::pair<uint64_t, uint64_t> first_chunk(const std::string& path, const std::string& dataset) {
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t d = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
  hsize_t coord[8] = {0}, size = 0;
  haddr_t addr = 0;
  unsigned mask = 0;
  const herr_t status = H5Dget_chunk_info_by_coord(d, coord, &mask, &addr, &size);
  H5Dclose(d);
  H5Fclose(f);
  EXPECT_GE(status, 0) << dataset << " is not chunked";
  return {addr, size};
}

void flip_byte(const std::string& path, uint64_t at) {
  std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
  io.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  io.read(&c, 1);
  io.seekp(static_cast<std::streamoff>(at));
  c = static_cast<char>(c ^ 0x5a);
  io.write(&c, 1);
}

TEST_F(CheckpointTest, ADamagedByteAnywhereInATensorNamesFileAndTensor) {
  const std::string good = (dir_ / "good.h5").string(), bad = (dir_ / "bad.h5").string();
  write(good, 4);
  for (const std::string dataset : {"/model/w", "/optimizer/w/m", "/optimizer/w/v"}) {
    const auto [addr, size] = first_chunk(good, dataset);
    ASSERT_EQ(size, 24 * 4 + 4u) << "one chunk of 24 floats and its 4-byte Fletcher32";
    // First, middle and last data byte, and a byte of the stored checksum itself.
    for (uint64_t at : {uint64_t{0}, size / 2, size - 5, size - 1}) {
      fs::copy_file(good, bad, fs::copy_options::overwrite_existing);
      flip_byte(bad, addr + at);
      Tensor w = Tensor::zeros({6, 4}, DType::f32), m = w.clone(), v = w.clone();
      try {
        read_checkpoint_tensors(bad, {whole("w", &w)}, {whole("w", &m)}, {whole("w", &v)});
        ADD_FAILURE() << "a damaged byte " << at << " into " << dataset << " was read silently";
      } catch (const DataError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(bad), std::string::npos) << msg;
        EXPECT_NE(msg.find(dataset + ":"), std::string::npos) << msg;
        EXPECT_NE(msg.find("checksum mismatch"), std::string::npos) << msg;
      }
    }
  }
}

TEST_F(CheckpointTest, NonFiniteWeightsAreAnErrorNamingTheTensor) {
  for (float bad : {std::nanf(""), INFINITY}) {
    const std::string path = checkpoint_path(dir_.string(), 5);
    m_.data<float>()[7] = bad;
    write(path, 5);
    Tensor w = Tensor::zeros({6, 4}, DType::f32), m = w.clone(), v = w.clone();
    try {
      read_checkpoint_tensors(path, {whole("w", &w)}, {whole("w", &m)}, {whole("w", &v)});
      ADD_FAILURE() << "a non-finite moment loaded";
    } catch (const DataError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("/optimizer/w/m holds a non-finite value (element 7"), std::string::npos) << msg;
    }
  }
}

TEST_F(CheckpointTest, FilesWithoutChecksumsLoadWithOneNote) {
  const std::string path = (dir_ / "old.h5").string();
  {
    h5::File f(path, h5::Access::create);
    f.create_dataset("/model/w", DType::f32, {2, 3, 4}, {.chunk = {}, .extendible = false, .checksum = false}).write_all(w_.data<float>());
    f.close();
  }
  Tensor w = Tensor::zeros({6, 4}, DType::f32);
  ::testing::internal::CaptureStderr();
  read_checkpoint_tensors(path, {whole("w", &w)}, {}, {});
  read_checkpoint_tensors(path, {whole("w", &w)}, {}, {});
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "alibi: note: " + path + " has no checksums (written before they were added); its tensors are "
                 "loaded unverified\n");
  for (int i = 0; i < 24; ++i) EXPECT_EQ(w.data<float>()[i], w_.data<float>()[i]);
  // A new file is checksummed: no note.
  write(checkpoint_path(dir_.string(), 6), 6);
  ::testing::internal::CaptureStderr();
  read_checkpoint_tensors(checkpoint_path(dir_.string(), 6), {whole("w", &w)}, {}, {});
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace alibi
