# Sourced by bench/chefsi_bounds.R and bench/pca_spectrum.R (after
# bench/eigen_reference.R): the seed pipeline's PCA matrix (the scaled HVG
# matrix of simulateAtlas(n_cells, seed = 1)) on `device`, as `matrix`, and
# `eigen_of(k, method)`: its k leading eigenpairs (covariance, zero.center =
# TRUE) by the GPU method that CELLSHARD_EIGEN_METHOD names (syevdx, chefsi,
# lanczos); also, by syevdx, its whole spectrum (`whole`, decreasing), its k
# leading pairs (`ref`) and which of them are separated (`separated`,
# SPEC.md's bar): chefsi_with's reference.
pca_matrix_eigen <- function(n_cells, device, k = 100L) {
    ns <- asNamespace("cellshard")
    out <- runSeedPipeline(simulateAtlas(n_cells, seed = 1, devices = device), verbose = FALSE)
    m <- ns$.deviceAssay(out, "scaled", "computePCA")
    b <- m@seed@background
    if (!length(b)) b <- numeric(nrow(m))
    mom <- ns$.seedCall(m@seed, ns$cs_column_moments, FALSE, NULL)
    eigen_of <- function(k, method) {
        Sys.setenv(CELLSHARD_EIGEN_METHOD = method)
        on.exit(Sys.unsetenv("CELLSHARD_EIGEN_METHOD"))
        ns$.seedCall(m@seed, ns$cs_covariance_eigen, b, mom$sum, TRUE, k)
    }
    whole <- eigen_of(nrow(m), "syevdx")$values
    ref <- eigen_of(k, "syevdx")
    list(matrix = m, eigen_of = eigen_of, whole = whole, ref = ref,
         separated = separated_pairs(ref$values))
}

# chefsi's k pairs on `pca` (pca_matrix_eigen's) with the environment
# variables `vars` (named) set: the median eigen seconds of 3 runs after a
# warm-up, one profiled run's report (cs_gpu_phase_report()$chefsi: sweeps,
# products, phases) and its distance from pca$ref over the separated pairs
# (eigen_reference.R's eigen_distance).
chefsi_with <- function(pca, vars) {
    k <- length(pca$ref$values)
    if (length(vars)) do.call(Sys.setenv, as.list(vars))
    on.exit(Sys.unsetenv(c("CELLSHARD_CHEFSI_PROFILE", names(vars))))
    seconds <- vapply(1:4, function(r) pca$eigen_of(k, "chefsi")$seconds[["eigen"]], 0)[-1]
    Sys.setenv(CELLSHARD_CHEFSI_PROFILE = "1")
    e <- pca$eigen_of(k, "chefsi")
    list(seconds = stats::median(seconds),
         chefsi = asNamespace("cellshard")$cs_gpu_phase_report()$chefsi,
         distance = eigen_distance(e, pca$ref, pca$separated))
}
