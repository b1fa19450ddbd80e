# Sourced by bench/chefsi_bounds.R and bench/pca_spectrum.R: the seed
# pipeline's PCA matrix (the scaled HVG matrix of simulateAtlas(n_cells,
# seed = 1)) on `device`, as `matrix`, and `eigen_of(k, method)`: its k
# leading eigenpairs (covariance, zero.center = TRUE) by the GPU method that
# CELLSHARD_EIGEN_METHOD names (syevdx, chefsi, lanczos).
pca_matrix_eigen <- function(n_cells, device) {
    ns <- asNamespace("cellshard")
    out <- runSeedPipeline(simulateAtlas(n_cells, seed = 1, devices = device), verbose = FALSE)
    m <- ns$.deviceAssay(out, "scaled", "computePCA")
    b <- m@seed@background
    if (!length(b)) b <- numeric(nrow(m))
    mom <- ns$.seedCall(m@seed, ns$cs_column_moments, FALSE, NULL)
    list(matrix = m, eigen_of = function(k, method) {
        Sys.setenv(CELLSHARD_EIGEN_METHOD = method)
        on.exit(Sys.unsetenv("CELLSHARD_EIGEN_METHOD"))
        ns$.seedCall(m@seed, ns$cs_covariance_eigen, b, mom$sum, TRUE, k)
    })
}
