# Called by tools/run-tests.sh with the freshly installed package first on the
# library path. Prints testthat's own report, then one summary line.
library(testthat)
suppressPackageStartupMessages(library(cellshard))
# CELLSHARD_TEST_FILTER (a regular expression on file names) runs a subset,
# e.g. the GPU-heavy files under compute-sanitizer.
filter <- Sys.getenv("CELLSHARD_TEST_FILTER", "")
res <- testthat::test_dir("tests/testthat", package = "cellshard", load_package = "installed",
                          filter = if (nzchar(filter)) filter else NULL,
                          reporter = ProgressReporter$new(show_praise = FALSE),
                          stop_on_failure = FALSE, stop_on_warning = FALSE)
df <- as.data.frame(res)
failed <- sum(df$failed) + sum(df$error)
skipped <- sum(df$skipped)
passed <- sum(df$nb) - sum(df$failed) - sum(df$skipped)
cat(sprintf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped))
quit(status = if (failed > 0) 1 else 0)
