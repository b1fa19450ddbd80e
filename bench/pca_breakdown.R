# Each statement of computePCA timed on its own, on the scaled HVG matrix of
# the seed pipeline: where the time of PCA goes, R included. Sourced by
# bench/seed_share.R with `out` (runSeedPipeline's result) defined.
ns <- asNamespace("cellshard")
clock <- function() proc.time()[["elapsed"]]
timed_step <- function(label, expr) {
    t0 <- clock(); force(expr); dt <- clock() - t0
    cat(sprintf("  %-28s %7.3f s\n", label, dt))
}
cat("\ncomputePCA, statement by statement:\n")
timed_step("gc()", gc())
timed_step(".deviceAssay", m <- ns$.deviceAssay(out, "scaled", "computePCA"))
k <- 100L; n <- ncol(m); b <- numeric(nrow(m))
timed_step("column moments", mom <- ns$.seedCall(m@seed, ns$cs_column_moments, FALSE, NULL))
timed_step("Gram + eigenpairs", eig <- ns$.seedCall(m@seed, ns$cs_covariance_eigen, b, mom$sum, TRUE, k))
rotation <- eig$vectors
shift <- -drop(crossprod(mom$sum / n, rotation))
timed_step("projection", pcs <- ns$cs_scores_matrix(ns$.seedCall(m@seed, ns$cs_multiply, rotation, shift)))
dimnames(rotation) <- list(rownames(m), paste0("PC", seq_len(k)))
timed_step("attributes<-", attributes(pcs) <- list(dim = dim(pcs), dimnames = list(NULL, colnames(rotation)),
                                                   rotation = rotation))
timed_step("reducedDim<-", reducedDim(out, "PCA2", withDimnames = FALSE) <- pcs)
timed_step("computePCA as a whole", invisible(computePCA(out, ncomponents = k)))
