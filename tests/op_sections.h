// Table-driven tests run each op case in Catch2 sections: the outer one named by the case (the op
// family and shape, "conv2d(n=2,c=3,h=5,w=5,k=4,r=3,s=3,stride=1,pad=1)"), the inner one by the
// kernel ("conv2d backward-data"), so `-c '<case name>'` (and `-c '<kernel>'`) reruns one case.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/optable/op_case.h"

namespace elr::testing {

template <class F>
void for_each_case(const std::vector<kernels::OpCasePtr>& cases, F check) {
  std::vector<std::string> names;  // first-use order; sibling sections need distinct names
  for (const kernels::OpCasePtr& c : cases)
    if (std::find(names.begin(), names.end(), c->name()) == names.end()) names.push_back(c->name());
  for (const std::string& name : names) {
    DYNAMIC_SECTION(name) {
      for (const kernels::OpCasePtr& c : cases)
        if (c->name() == name) {
          DYNAMIC_SECTION(c->kernel()) { check(*c); }
        }
    }
  }
}

}  // namespace elr::testing
