// The op-case table's CPU modes over every case of small_cases(): the CPU kernels in float against
// the double references, and every backward kernel (in double) against finite differences of its
// forward. A failing case names itself: rerun it with -c '<case name>'.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "kernels/optable/case_lists.h"
#include "kernels/optable/ops.h"
#include "tests/gradcheck.h"
#include "tests/op_sections.h"

using namespace elr::kernels;
using elr::testing::for_each_case;

TEST_CASE("op table: every case is well formed", "[optable]") {
  std::set<std::string> ids;
  std::set<Op> ops;
  for (const OpCasePtr& c : small_cases()) {
    INFO(c->id());
    CHECK(ids.insert(c->id()).second);  // unique: the test sections are named by it
    ops.insert(c->op());
    const std::vector<TensorSpec> specs = c->tensors();
    const std::vector<Values> inputs = c->make_inputs();
    REQUIRE(inputs.size() == specs.size());
    int written = 0;
    for (size_t i = 0; i < specs.size(); ++i) {
      INFO("tensor " << specs[i].name);
      CHECK(int64_t(inputs[i].size()) == (specs[i].role == Role::Output ? 0 : specs[i].count()));
      written += specs[i].written();
    }
    CHECK(written > 0);
    CHECK(c->bytes() > 0);
    CHECK(c->make_inputs() == inputs);  // seeded
    if (const auto forward = c->forward()) CHECK(forward->name() == c->name());
  }
  CHECK(ops.size() == 22);  // every kernel of kernels/kernels.h but the LR control
}

TEST_CASE("op table: the CPU kernels match the double references", "[optable]") {
  for_each_case(small_cases(), [](const OpCase& c) {
    const std::vector<Values> inputs = c.validation_inputs(c.make_inputs());
    const CaseCheck check = check_case(c, run_on_host(c, run_cpu, inputs), c.reference(inputs));
    INFO(check.message);
    CHECK(check.ok);
  });
}

TEST_CASE("op table: every backward kernel matches finite differences of its forward (double)", "[optable]") {
  for_each_case(small_cases(), [](const OpCase& c) {
    if (c.forward()) elr::testing::check_case_gradients(c);
  });
}
