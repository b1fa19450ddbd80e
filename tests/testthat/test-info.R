test_that("cellshardInfo reports the build and the devices", {
    expect_output(info <- cellshardInfo(), "CUDA backend")
    expect_true(is.logical(info$cuda))
    expect_match(info$hdf5_version, "^[0-9]+\\.[0-9]+\\.[0-9]+$")
    expect_identical(length(info$gpus), gpu_count())
    expect_identical(info$backend, if (gpu_count() > 0) "cuda" else "cpu")
    mem <- deviceMemory("cpu")
    expect_true(mem$total > 0 && mem$free <= mem$total)
})
