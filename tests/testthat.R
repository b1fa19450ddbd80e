# For R CMD check. The project's own entry point is tools/run-tests.sh.
library(testthat)
library(cellshard)
test_check("cellshard")
