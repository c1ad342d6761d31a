#include "optim/device_train_step.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "engine/autograd.h"
#include "engine/device_ops.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "optim/device_sgd.h"
#include "optim/grad_buckets.h"
#include "optim/step_body.h"

namespace elr {

namespace {

// Page-locked host memory from the CUDA backend.
struct Pinned {
  void* ptr = nullptr;
  explicit Pinned(size_t bytes) : ptr(cuda_ops().alloc_pinned(bytes)) {}
  ~Pinned() { cuda_ops().free_pinned(ptr); }
  Pinned(const Pinned&) = delete;
  Pinned& operator=(const Pinned&) = delete;
};

struct Event {
  void* event = cuda_ops().event_create();
  bool recorded = false;
  ~Event() { cuda_ops().event_destroy(event); }
  void record() {
    cuda_ops().event_record(event);
    recorded = true;
  }
  void wait() {
    if (recorded) cuda_ops().event_synchronize(event);
    recorded = false;
  }
};

// One pinned copy of a batch on its way to the device, reused every other step.
struct Staging {
  Pinned images, labels;
  Event copied;
  Staging(size_t image_bytes, size_t label_bytes) : images(image_bytes), labels(label_bytes) {}
};

struct PendingStep {
  int64_t step, epoch, batch_size;
};

}  // namespace

struct CudaTrainStep::State {
  Module& model;
  Sgd& sgd;
  CudaStepOptions options;
  DeviceSgdStep optimizer;
  Tensor images, labels;  // the step's inputs at fixed device addresses
  Staging staging[2];
  int64_t enqueued = 0;     // steps enqueued by this object
  int64_t next_step = 0;    // the index of the next step
  void* graph = nullptr;
  bool capture_tried = false;
  std::string graph_note;
  // Records: the device ring mirrored in pinned memory; steps [copied_from, copy_to) are being
  // copied (copy_done fires when they are there), steps before copied_from are decoded.
  Pinned ring_mirror;
  Event copy_done;
  int64_t copied_from, copy_to;
  std::deque<PendingStep> pending;
  std::vector<StepRecord> ready;
  // Several ranks: the gradient buckets, all-reduced as the backward finishes them, and each
  // parameter's index by its device storage (how a tape node's input is known as a parameter).
  std::unique_ptr<GradBuckets> buckets;
  std::unordered_map<const void*, int> param_index;

  State(Module& m, Sgd& s, const ScheduleConfig& schedule, const LrControlConfig& control, double reference_elr,
        int64_t first_step, const Shape& image_shape, CudaStepOptions o)
      : model(m),
        sgd(s),
        options(o),
        optimizer(s, schedule, control, reference_elr, first_step, 2 * o.drain_every),
        images(Tensor::empty(image_shape, DType::F32, s.params()[0]->value.device())),
        labels(Tensor::empty({image_shape[0]}, DType::I32, s.params()[0]->value.device())),
        staging{{images.bytes(), labels.bytes()}, {images.bytes(), labels.bytes()}},
        next_step(first_step),
        ring_mirror(static_cast<size_t>(optimizer.ring_slots()) * optimizer.record_doubles() * sizeof(double)),
        copied_from(first_step),
        copy_to(first_step) {
    if (!options.collectives) return;
    std::vector<int64_t> numels;
    for (const Parameter* p : s.params()) {
      param_index[p->value.raw()] = static_cast<int>(numels.size());
      numels.push_back(p->value.numel());
    }
    buckets = std::make_unique<GradBuckets>(numels);
  }

  ~State() {
    if (graph) cuda_ops().destroy_graph(graph);
  }

  // The shared body (forward, loss, backward) and the optimizer, all enqueued on the engine stream;
  // with several ranks, the all-reduces of the gradient buckets start during the backward, and the
  // optimizer waits for them.
  void run_body() {
    optimizer.prepare_gradients();
    autograd::Tape::Observer observer;
    if (buckets) {
      buckets->start();
      observer = [this](const autograd::Node& node) {
        for (const Tensor& input : node.inputs) {
          const auto it = param_index.find(input.raw());
          if (it != param_index.end()) average_buckets(buckets->ready(it->second));
        }
      };
    }
    const ops::LossResult loss = forward_backward(model, images, labels, observer);
    if (buckets) {
      average_buckets(buckets->rest());
      options.collectives->finish(loss.loss.data(), loss.correct_count.i64());
    }
    optimizer.enqueue(loss.loss.data(), loss.correct_count.i64());
  }

  void average_buckets(const std::vector<int>& ids) {
    for (const int b : ids) {
      std::vector<DeviceCollectives::Buffer> gradients;
      for (const int i : buckets->buckets()[static_cast<size_t>(b)]) {
        const Parameter& p = *sgd.params()[static_cast<size_t>(i)];
        gradients.push_back({p.value.grad().data(), p.value.numel()});
      }
      options.collectives->average(gradients);
    }
  }

  // Captures the step (which then runs by launching the graph); on failure runs it eagerly and
  // keeps the reason.
  void capture_and_launch() {
    capture_tried = true;
    const int64_t sgd_steps = sgd.steps_taken();
    try {
      cuda_ops().begin_capture();
      run_body();
      graph = cuda_ops().end_capture();
    } catch (const std::exception& e) {
      cuda_ops().abort_capture();
      autograd::tape().clear();
      sgd.set_steps_taken(sgd_steps);
      graph_note = e.what();
      run_body();
      return;
    }
    cuda_ops().launch_graph(graph);
  }

  void start_copy(int64_t to) {
    const int slots = optimizer.ring_slots();
    const size_t record_bytes = static_cast<size_t>(optimizer.record_doubles()) * sizeof(double);
    // Steps [copy_to, to) in one or two contiguous runs of ring slots.
    for (int64_t s = copy_to; s < to;) {
      const int64_t slot = s % slots;
      const int64_t run = std::min<int64_t>(to - s, slots - slot);
      const size_t offset = static_cast<size_t>(slot) * record_bytes;
      cuda_ops().copy_to_host_async(static_cast<char*>(ring_mirror.ptr) + offset,
                                    reinterpret_cast<const char*>(optimizer.ring()) + offset, run * record_bytes);
      s += run;
    }
    copy_to = to;
    copy_done.record();
  }

  // Waits for the copy in flight and decodes its records.
  void finish_copy() {
    copy_done.wait();
    const int slots = optimizer.ring_slots();
    for (; copied_from < copy_to; ++copied_from) {
      const double* slot = static_cast<const double*>(ring_mirror.ptr) +
                           (copied_from % slots) * static_cast<int64_t>(optimizer.record_doubles());
      ELR_CHECK(!pending.empty() && pending.front().step == copied_from,
                "CudaTrainStep: record of step {} has no pending step", copied_from);
      StepRecord r = optimizer.decode(slot, pending.front().batch_size);
      ELR_CHECK(r.step == copied_from, "CudaTrainStep: ring slot holds step {}, expected {}", r.step, copied_from);
      r.epoch = pending.front().epoch;
      pending.pop_front();
      ready.push_back(std::move(r));
    }
  }

  // The previous copy is long done (the host runs at most two steps ahead): decode it, then start
  // copying the steps since.
  void drain() {
    finish_copy();
    if (copy_to < next_step) start_copy(next_step);
  }
};

CudaTrainStep::CudaTrainStep(Module& model, Sgd& sgd, const ScheduleConfig& schedule, const LrControlConfig& control,
                             double reference_elr, int64_t first_step, const Shape& image_shape,
                             CudaStepOptions options) {
  ELR_CHECK(image_shape.size() == 4 && image_shape[0] > 0, "CudaTrainStep: image shape {} is not [B, C, H, W]",
            shape_str(image_shape));
  ELR_CHECK(options.drain_every > 0, "CudaTrainStep: drain_every {} must be positive", options.drain_every);
  ELR_CHECK(!sgd.params().empty() && sgd.params()[0]->value.device().is_cuda(),
            "CudaTrainStep: the parameters are not on a CUDA device");
  state_ = std::make_unique<State>(model, sgd, schedule, control, reference_elr, first_step, image_shape, options);
  if (!options.cuda_graph) state_->graph_note = "turned off (--no-cuda-graph)";
}

CudaTrainStep::~CudaTrainStep() = default;

void CudaTrainStep::enqueue(const Batch& batch) {
  State& s = *state_;
  ELR_CHECK(batch.images.shape() == s.images.shape() && batch.labels.numel() == s.labels.numel() &&
                batch.images.device().is_cpu() && batch.labels.device().is_cpu(),
            "CudaTrainStep: batch {} / {} does not match the step's inputs {} (host tensors)", batch.images.str(),
            batch.labels.str(), s.images.str());
  Staging& stage = s.staging[s.enqueued % 2];
  stage.copied.wait();  // its last copy (two steps ago) has left the buffer
  std::memcpy(stage.images.ptr, batch.images.raw(), s.images.bytes());
  std::memcpy(stage.labels.ptr, batch.labels.raw(), s.labels.bytes());
  const CudaOps& ops = cuda_ops();
  ops.copy_to_device_async(s.images.raw(), stage.images.ptr, s.images.bytes());
  ops.copy_to_device_async(s.labels.raw(), stage.labels.ptr, s.labels.bytes());
  stage.copied.record();

  if (s.graph) {
    ops.launch_graph(s.graph);
    s.sgd.set_steps_taken(s.sgd.steps_taken() + 1);
  } else if (s.options.cuda_graph && !s.capture_tried && s.enqueued > 0) {
    s.capture_and_launch();  // after one eager step has filled the allocator's cache
  } else {
    s.run_body();
  }
  // The record's batch is the global one: every rank's share.
  const int64_t ranks = s.options.collectives ? s.options.collectives->ranks() : 1;
  s.pending.push_back({s.next_step, batch.epoch, batch.labels.numel() * ranks});
  ++s.next_step;
  ++s.enqueued;
  if (s.next_step - s.copy_to >= s.options.drain_every) s.drain();
}

std::vector<StepRecord> CudaTrainStep::take_records(bool wait) {
  State& s = *state_;
  if (wait) {
    s.drain();
    s.finish_copy();
  }
  std::vector<StepRecord> out;
  out.swap(s.ready);
  return out;
}

double CudaTrainStep::reference_elr() { return state_->optimizer.reference_elr(); }

std::string CudaTrainStep::mode() const { return state_->graph ? "cuda graph" : "cuda eager"; }

std::string CudaTrainStep::graph_note() const { return state_->graph_note; }

}  // namespace elr
