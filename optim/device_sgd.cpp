#include "optim/device_sgd.h"

#include <cmath>

#include "engine/device_ops.h"
#include "engine/error.h"
#include "optim/device_array.h"

namespace elr {

DeviceSgdStep::DeviceSgdStep(Sgd& sgd, const ScheduleConfig& schedule, const LrControlConfig& control,
                             double reference_elr, int64_t first_step, int ring_slots)
    : sgd_(sgd), params_(sgd.params()), ring_slots_(ring_slots) {
  ELR_CHECK(!params_.empty(), "DeviceSgdStep: no parameters");
  ELR_CHECK(ring_slots > 0, "DeviceSgdStep: {} ring slots", ring_slots);
  const Device device = params_[0]->value.device();
  ELR_CHECK(device.is_cuda(), "DeviceSgdStep: parameters are on {}, not a CUDA device", device.str());
  const CudaOps& ops = cuda_ops();
  const SgdConfig& config = sgd.config();
  const size_t n = params_.size();

  // Gradient buffers and momentum buffers at fixed addresses for the whole run.
  std::vector<Tensor>& momentum = sgd.momentum_buffers();
  std::vector<kernels::MultiTensorDesc> descs(n);
  std::vector<uint8_t> flags(n);
  for (size_t i = 0; i < n; ++i) {
    Parameter& p = *params_[i];
    ELR_CHECK(p.value.device() == device, "DeviceSgdStep: parameter '{}' is on {}", p.name, p.value.device().str());
    if (!p.value.has_grad()) p.value.set_grad(Tensor::zeros(p.value.shape(), DType::F32, device));
    if (config.momentum > 0 && !momentum[i].defined()) momentum[i] = Tensor::zeros(p.value.shape(), DType::F32, device);
    descs[i] = {p.value.data(), p.value.grad().data(), config.momentum > 0 ? momentum[i].data() : nullptr,
                p.value.numel()};
    flags[i] = lr_control_flags(p.scale_invariant, p.kind, p.name);
  }
  list_ = ops.make_multi_tensor_list(descs.data(), static_cast<int>(n));

  flags_ = device_array<uint8_t>(n, device);
  upload(flags_, flags.data(), n);
  const int64_t total = std::max<int64_t>(schedule.total_steps, first_step + 1);
  std::vector<double> table(static_cast<size_t>(total));
  for (int64_t s = 0; s < total; ++s) table[static_cast<size_t>(s)] = scheduled_lr(schedule, s);
  schedule_ = device_array<double>(table.size(), device);
  upload(schedule_, table.data(), table.size());
  step_ = device_array<int64_t>(1, device);
  upload(step_, &first_step, 1);
  reference_elr_ = device_array<double>(1, device);
  upload(reference_elr_, &reference_elr, 1);
  stats_ = device_array<kernels::TensorStats>(n, device);
  lrs_ = device_array<double>(n, device);
  dw2_ = device_array<double>(n, device);
  global_lr_ = device_array<double>(1, device);
  ring_ = device_array<double>(static_cast<size_t>(ring_slots) * record_doubles(), device);

  control_args_ = lr_control_args(schedule, control);
  control_args_.schedule = static_cast<const double*>(schedule_.raw());
  control_args_.step = static_cast<const int64_t*>(step_.raw());
  control_args_.schedule_steps = total;
  sgd_params_.momentum = static_cast<float>(config.momentum);
  sgd_params_.weight_decay = static_cast<float>(config.weight_decay);
  sgd_params_.nesterov = config.nesterov;
  sgd_params_.dampened = config.dampened;
  sgd_params_.first_step = false;  // the momentum buffers start at zero: v = m * 0 + d = d (dampened: (1 - m) d)
}

DeviceSgdStep::~DeviceSgdStep() { cuda_ops().free_multi_tensor_list(list_); }

void DeviceSgdStep::prepare_gradients() {
  for (Parameter* p : params_) p->value.mark_grad_stale();
}

void DeviceSgdStep::enqueue(const float* loss, const int64_t* correct) {
  const CudaOps& ops = cuda_ops();
  for (Parameter* p : params_) {
    if (!p->value.grad_stale()) continue;  // no gradient reached it: a zero gradient
    p->value.grad().zero_();
    p->value.clear_grad_stale();
  }
  auto* stats = static_cast<kernels::TensorStats*>(stats_.raw());
  auto* lrs = static_cast<double*>(lrs_.raw());
  auto* dw2 = static_cast<double*>(dw2_.raw());
  auto* global_lr = static_cast<double*>(global_lr_.raw());
  const int n = static_cast<int>(params_.size());
  ops.tensor_stats(list_, stats, ops.stream());
  ops.lr_control(n, stats, static_cast<const uint8_t*>(flags_.raw()), control_args_,
                 static_cast<double*>(reference_elr_.raw()), lrs, global_lr, ops.stream());
  ops.sgd_update(list_, sgd_params_, lrs, dw2, ops.stream());
  kernels::StepRecordArgs record;
  record.layers = n;
  record.loss = loss;
  record.correct = correct;
  record.global_lr = global_lr;
  record.stats = stats;
  record.lrs = lrs;
  record.dw2 = dw2;
  record.step = static_cast<int64_t*>(step_.raw());
  record.ring = static_cast<double*>(ring_.raw());
  record.slots = ring_slots_;
  ops.step_record(record, ops.stream());
  sgd_.set_steps_taken(sgd_.steps_taken() + 1);
}

StepRecord DeviceSgdStep::decode(const double* slot, int64_t batch_size) const {
  StepRecord r;
  r.step = std::llround(slot[0]);
  r.loss = slot[1];
  r.correct = std::llround(slot[2]);
  r.global_lr = slot[3];
  r.batch_size = batch_size;
  r.layers.reserve(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const double* row = slot + kernels::kStepRecordHeader + kernels::kStepRecordPerLayer * i;
    LayerStats l = layer_stats_of(*params_[i], kernels::TensorStats{row[0], row[1], row[2], row[3]});
    l.dw2 = row[4];
    l.lr = row[5];
    r.layers.push_back(std::move(l));
  }
  return r;
}

double DeviceSgdStep::reference_elr() const { return download<double>(reference_elr_, 1)[0]; }

}  // namespace elr
