test_that("cellshardInfo reports the build and the devices", {
    out <- capture.output(info <- cellshardInfo())
    # configure's summary: one line per component, each saying what was found
    # or what to install
    for (component in c("HDF5", "CUDA", "NCCL", "MPI"))
        expect_match(out, paste0("^  ", component, " +(yes|no) +[[:alnum:]]"), all = FALSE)
    expect_identical(names(info$notes), c("HDF5", "CUDA", "NCCL", "MPI"))
    if (!info$cuda)
        expect_match(info$notes[["CUDA"]], "CELLSHARD_NO_CUDA=1|cuda-toolkit|probe")
    if (!info$mpi_found)
        expect_match(info$notes[["MPI"]], "libopenmpi-dev|CELLSHARD_NO_MPI")
    expect_true(is.logical(info$cuda))
    expect_match(info$hdf5_version, "^[0-9]+\\.[0-9]+\\.[0-9]+$")
    expect_identical(length(info$gpus), gpu_count())
    expect_identical(info$backend, if (gpu_count() > 0) "cuda" else "cpu")
    mem <- deviceMemory("cpu")
    expect_true(mem$total > 0 && mem$free <= mem$total)
})
