// R vectors whose values stay in C++ memory, outside R's heap (ALTREP):
// r_host_vector.cpp says why. They take the values over.
#pragma once
#include <Rinternals.h>

#include <vector>

namespace cellshard {

SEXP host_doubles(std::vector<double>&& values);
SEXP host_ints(std::vector<int>&& values);
SEXP host_logicals(std::vector<int>&& values);  // TRUE 1, FALSE 0, NA NA_INTEGER

}  // namespace cellshard
