# Run by test-mpi.R under mpirun: rank 1 fails in the way named by the first
# argument while the other ranks go on with collectives; every rank must end
# within the test's time limit. "kill": rank 1 is killed (SIGKILL); "stuck":
# rank 1 stays alive but never joins (the others' timeout of 5 s fires);
# "error": rank 1 stops with an R error.
how <- commandArgs(trailingOnly = TRUE)[1]
suppressPackageStartupMessages(library(cellshard))
cl <- cellshardInit(mpi = TRUE, devices = "cpu", timeout = if (how == "stuck") 5 else 120)
sce <- simulateAtlas(300 * cl$size, n.genes = 500, seed = 3, verbose = FALSE)
sce <- qcMetrics(sce)  # collectives work before the failure
if (cl$rank == 1) {
    if (how == "kill") tools::pskill(Sys.getpid(), tools::SIGKILL)
    if (how == "stuck") Sys.sleep(600)
    if (how == "error") stop("rank 1 gives up on purpose")
}
for (i in 1:1000) sce <- qcMetrics(sce)
cat("not stopped\n")
