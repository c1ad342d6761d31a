#include "elr_paths.h"
#include "bench/cpu/step_bench.h"

#include <omp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>

#include <nlohmann/json.hpp>

#include "bench/cpu/kernel_bench.h"
#include "engine/error.h"
#include "optim/data_parallel.h"
#include "optim/host_train_step.h"

namespace elr::bench {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

StepNet step_net(const std::string& name, int depth, int width, int channels, int image) {
  StepNet n;
  n.model.name = name;
  n.model.depth = depth;
  n.model.width = width;
  n.model.in_channels = channels;
  n.model.image_size = image;
  n.model.classes = 10;
  n.label = fmt::format("{}-{}", name, depth);
  return n;
}

}  // namespace

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
double minimum_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

std::string describe_step_net(const StepNet& n) {
  return fmt::format("{}, batch {}, {}x{}x{}", describe_model(n.model), n.batch, n.model.in_channels,
                     n.model.image_size, n.model.image_size);
}

std::vector<Batch> synthetic_batches(const StepNet& net, uint64_t seed) {
  std::mt19937 gen(static_cast<uint32_t>(seed + 17));
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int32_t> label(0, net.model.classes - 1);
  const Shape shape = {net.batch, net.model.in_channels, net.model.image_size, net.model.image_size};
  std::vector<Batch> out;
  for (int b = 0; b < 4; ++b) {
    std::vector<float> x(static_cast<size_t>(shape_numel(shape)));
    for (float& v : x) v = normal(gen);
    std::vector<int32_t> y(net.batch);
    for (int32_t& v : y) v = label(gen);
    Batch batch;
    batch.images = Tensor::from_vector(shape, x);
    batch.labels = Tensor::from_labels(y);
    batch.index_in_epoch = b;
    out.push_back(std::move(batch));
  }
  return out;
}

std::vector<StepNet> default_step_nets() {
  StepNet fmnist = step_net("plain", 10, 32, 1, 28);
  fmnist.label = "plain-10 (fashion-mnist shape)";
  return {step_net("plain", 20, 32, 3, 32), step_net("resnet", 20, 16, 3, 32), step_net("resnet", 56, 16, 3, 32),
          fmnist};
}

std::string default_pytorch_script() { return std::string(ELR_SOURCE_DIR) + "/bench/pytorch_train_step.py"; }

// ---- the engine's step ---------------------------------------------------------------------------
struct EngineStep::State {
  std::shared_ptr<Module> model;
  std::unique_ptr<Sgd> sgd;
  std::unique_ptr<HostTrainStep> step;
  std::vector<Batch> batches;  // a few fixed batches, used in turn
  size_t next = 0;
};

EngineStep::EngineStep(const StepNet& net, uint64_t seed, Communicator* ranks) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.model = build_model(net.model);
  s.model->reset_parameters(seed);
  // The default run's optimizer: SGD lr 0.1, momentum 0.9, constant schedule, no LR control.
  s.sgd = std::make_unique<Sgd>(s.model->parameters(), SgdConfig{0.9, 0.0, false});
  ScheduleConfig sched;
  sched.lr = 0.1;
  sched.total_steps = 1000000;
  s.step = std::make_unique<HostTrainStep>(*s.model, *s.sgd, sched, LrControlConfig{}, 0, ranks);
  s.batches = synthetic_batches(net, seed);
  if (ranks && ranks->size() > 1)
    for (Batch& b : s.batches) b = rank_share(b, ranks->rank(), ranks->size());
}

EngineStep::~EngineStep() = default;

EngineStepTimes EngineStep::run() {
  State& s = *state_;
  // The step as train.cpp runs it (the same HostTrainStep), then the spread summary its log line
  // needs; without data loading and logging.
  s.step->enqueue(s.batches[s.next++ % s.batches.size()]);
  const std::vector<StepRecord> records = s.step->take_records(true);
  ELR_CHECK(records.size() == 1, "EngineStep: {} records from one host step", records.size());
  const auto t0 = Clock::now();
  const SpreadStats spread = summarize_spread(records[0].layers);
  const double spread_s = since(t0);
  (void)spread;
  const StepTimes& st = s.step->last_times();
  EngineStepTimes t;
  t.forward_s = st.forward_s;
  t.backward_s = st.backward_s;
  t.update_s = st.update_s + spread_s;
  t.stats_s = st.stats_s + spread_s;
  t.all_reduce_s = st.all_reduce_s;
  t.step_s = t.forward_s + t.backward_s + t.all_reduce_s + t.update_s;
  return t;
}

// ---- the PyTorch peer ----------------------------------------------------------------------------
PytorchPeer::PytorchPeer(const std::string& python, const std::string& script, const StepNet& net, int threads,
                         const std::string& device) {
  if (::access(python.c_str(), X_OK) != 0) throw Error(fmt::format("PyTorch peer: '{}' is not executable", python));
  if (::access(script.c_str(), R_OK) != 0) throw Error(fmt::format("PyTorch peer: cannot read '{}'", script));
  ::signal(SIGPIPE, SIG_IGN);  // a dead child must not kill the benchmark through a write
  int to[2], from[2];
  ELR_CHECK(::pipe(to) == 0 && ::pipe(from) == 0, "PyTorch peer: pipe() failed");
  const std::vector<std::string> args = {python, script, "--serve", "--model", net.model.name,
                                         "--depth", std::to_string(net.model.depth),
                                         "--width", std::to_string(net.model.width > 0 ? net.model.width : default_width(net.model.name)),
                                         "--channels", std::to_string(net.model.in_channels),
                                         "--image", std::to_string(net.model.image_size),
                                         "--classes", std::to_string(net.model.classes),
                                         "--batch", std::to_string(net.batch), "--threads", std::to_string(threads),
                                         "--device", device};
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_ = ::fork();
  ELR_CHECK(pid_ >= 0, "PyTorch peer: fork() failed");
  if (pid_ == 0) {
    ::dup2(to[0], 0);
    ::dup2(from[1], 1);
    ::close(to[0]);
    ::close(to[1]);
    ::close(from[0]);
    ::close(from[1]);
    ::execv(python.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(to[0]);
  ::close(from[1]);
  to_child_ = ::fdopen(to[1], "w");
  from_child_ = ::fdopen(from[0], "r");
  const std::string ready = request("");
  try {
    version_ = nlohmann::json::parse(ready).at("version").get<std::string>();
  } catch (const std::exception&) {
    throw Error(fmt::format("PyTorch peer: unexpected start-up line '{}'", ready));
  }
}

PytorchPeer::~PytorchPeer() {
  if (to_child_) {
    std::fputs("quit\n", to_child_);
    std::fclose(to_child_);
  }
  if (from_child_) std::fclose(from_child_);
  if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
}

// Sends `line` (nothing when empty) and returns the child's next output line.
std::string PytorchPeer::request(const std::string& line) {
  if (!line.empty()) {
    std::fputs((line + "\n").c_str(), to_child_);
    std::fflush(to_child_);
  }
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, from_child_)) {
    out += buf;
    if (!out.empty() && out.back() == '\n') break;
  }
  if (out.empty()) throw Error("PyTorch peer: the script exited (see its messages above; is torch installed for that interpreter?)");
  out.pop_back();
  return out;
}

std::vector<double> PytorchPeer::run(int steps) {
  const std::string reply = request(fmt::format("run {}", steps));
  try {
    return nlohmann::json::parse(reply).at("times").get<std::vector<double>>();
  } catch (const std::exception&) {
    throw Error(fmt::format("PyTorch peer: unexpected reply '{}'", reply));
  }
}

// ---- interleaved rounds ----------------------------------------------------------------------------
StepRow bench_step(const StepNet& net, const StepBenchConfig& c) {
  StepRow row;
  row.net = net.label;
  row.description = describe_step_net(net);
  row.batch = net.batch;
  row.threads = c.threads;
  row.ranks = c.ranks ? c.ranks->size() : 1;
  omp_set_num_threads(c.threads);
  row.load_avg_start = load_average_1min();

  EngineStep engine(net, 0, c.ranks);
  std::unique_ptr<PytorchPeer> peer;
  if (row.ranks > 1) {
    row.pytorch_error = "not run (several ranks)";
  } else if (c.pytorch) {
    try {
      peer = std::make_unique<PytorchPeer>(c.python, c.script.empty() ? default_pytorch_script() : c.script, net,
                                           c.threads);
      row.pytorch_version = peer->version();
    } catch (const std::exception& e) {
      row.pytorch_error = e.what();
    }
  } else {
    row.pytorch_error = "not run (--no-pytorch)";
  }
  for (int i = 0; i < c.warmup; ++i) engine.run();
  if (peer && c.warmup > 0) peer->run(c.warmup);

  std::vector<double> forward, backward, update, all_reduce;
  for (int r = 0; r < c.rounds; ++r) {
    engine.run();  // one untimed step per block: the other side's threads may still be spinning
    for (int i = 0; i < c.steps_per_round; ++i) {
      const EngineStepTimes t = engine.run();
      row.engine_s.push_back(t.step_s);
      row.stats_s.push_back(t.stats_s);
      forward.push_back(t.forward_s);
      backward.push_back(t.backward_s);
      update.push_back(t.update_s);
      all_reduce.push_back(t.all_reduce_s);
    }
    if (peer) {
      try {
        const std::vector<double> times = peer->run(c.steps_per_round + 1);
        row.pytorch_s.insert(row.pytorch_s.end(), times.begin() + 1, times.end());
      } catch (const std::exception& e) {
        row.pytorch_error = e.what();
        peer.reset();
      }
    }
  }
  row.load_avg_end = load_average_1min();
  row.engine_median_s = median_of(row.engine_s);
  row.engine_min_s = minimum_of(row.engine_s);
  row.forward_median_s = median_of(forward);
  row.backward_median_s = median_of(backward);
  row.update_median_s = median_of(update);
  row.stats_median_s = median_of(row.stats_s);
  row.stats_min_s = minimum_of(row.stats_s);
  row.stats_share = row.engine_median_s > 0 ? row.stats_median_s / row.engine_median_s : 0;
  row.stats_share_min = row.engine_min_s > 0 ? row.stats_min_s / row.engine_min_s : 0;
  row.all_reduce_median_s = median_of(all_reduce);
  row.all_reduce_share = row.engine_median_s > 0 ? row.all_reduce_median_s / row.engine_median_s : 0;
  if (!row.pytorch_s.empty()) {
    row.pytorch_median_s = median_of(row.pytorch_s);
    row.pytorch_min_s = minimum_of(row.pytorch_s);
    row.ratio = row.engine_median_s / row.pytorch_median_s;
  }
  return row;
}

}  // namespace elr::bench
