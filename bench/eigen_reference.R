# Sourced by bench/pca_methods.R and bench/chefsi_bounds.R: how far an
# eigensolver's answer is from a reference's, by SPEC.md's fidelity bar.

# Which of the reference's eigenvalues (decreasing) are separated from their
# neighbours by more than 1%: only their eigenvectors are compared.
separated_pairs <- function(values) {
    k <- length(values)
    which(vapply(seq_len(k), function(i) {
        lo <- if (i < k) values[i] - values[i + 1] else Inf
        hi <- if (i > 1) values[i - 1] - values[i] else Inf
        min(lo, hi) > 0.01 * values[i]
    }, logical(1)))
}

# The largest relative eigenvalue difference, and the smallest |cosine|
# between the answer's and the reference's separated eigenvectors (NA when
# none is separated).
eigen_distance <- function(e, ref, separated) {
    cosine <- abs(colSums(e$vectors * ref$vectors))
    c(value = max(abs(e$values - ref$values) / abs(ref$values)),
      cosine = if (length(separated)) min(cosine[separated]) else NA_real_)
}
