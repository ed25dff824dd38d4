"""Closed forms of q_beta ∝ p e^{beta f} (REFERENCE section 7), used by the tests, the
built-in case of the CLI and the docs as exact references.

* Gaussian p = N(mu, Sigma) with a quadratic f(x) = -x^T A x / 2 + b^T x (linear: A = 0);
* a 1-D Gaussian mixture with a linear f = a x;
* the latent tilt through a linear Gaussian decoder x = W z + c + s eps with f = a^T x.
All in numpy float64.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gaussian_tilt", "mixture_tilt_1d", "gaussian_kl", "linear_decoder_tilt"]


def gaussian_tilt(mu, Sigma, A, b, beta: float) -> dict:
    """q_beta for p = N(mu, Sigma), f = -x^T A x / 2 + b^T x. Returns mean ``m``, covariance
    ``S``, ``log_z``, E_q f ``mean``, ``var``, ``m3`` (third central moment), ``kl``.
    Raises ValueError when Sigma^-1 + beta A is not positive definite (q does not exist)."""
    mu, Sigma, A, b = (np.atleast_1d(np.asarray(v, np.float64)) for v in (mu, Sigma, A, b))
    Sigma, A = np.atleast_2d(Sigma), np.atleast_2d(A)
    P = np.linalg.inv(Sigma)
    L = P + beta * A
    if np.min(np.linalg.eigvalsh((L + L.T) / 2)) <= 0:
        raise ValueError(f"beta={beta}: Sigma^-1 + beta A is not positive definite")
    S = np.linalg.inv(L)
    h = P @ mu + beta * b
    m = S @ h
    ef = -(np.trace(A @ S) + m @ A @ m) / 2 + b @ m
    log_z = (-np.linalg.slogdet(Sigma)[1] / 2 - np.linalg.slogdet(L)[1] / 2
             + h @ S @ h / 2 - mu @ P @ mu / 2)
    c = b - A @ m
    AS = A @ S
    var = c @ S @ c + np.trace(AS @ AS) / 2
    # third central moment: -3 c'SASc - tr((AS)^3). (REFERENCE section 7 prints +3 c'SASc:
    # a sign slip, caught by the test that differentiates Var_q f in beta, eq. 6.)
    m3 = -3 * c @ S @ A @ S @ c - np.trace(AS @ AS @ AS)
    return {"m": m, "S": S, "log_z": float(log_z), "mean": float(ef), "var": float(var),
            "m3": float(m3), "kl": float(beta * ef - log_z)}


def mixture_tilt_1d(weights, means, stds, a: float, beta: float) -> dict:
    """q_beta for p = sum_k pi_k N(mu_k, s_k^2) on R, f = a x: component k moves to
    mu_k + beta a s_k^2 with weight ∝ pi_k exp(beta a mu_k + beta^2 a^2 s_k^2 / 2)."""
    pi, mu, s = (np.asarray(v, np.float64) for v in (weights, means, stds))
    pi = pi / pi.sum()
    lw = np.log(pi) + beta * a * mu + beta ** 2 * a ** 2 * s ** 2 / 2
    log_z = np.logaddexp.reduce(lw)
    w = np.exp(lw - log_z)
    mk = mu + beta * a * s ** 2
    ex = np.sum(w * mk)
    ex2 = np.sum(w * (s ** 2 + mk ** 2))
    ex3 = np.sum(w * (mk ** 3 + 3 * mk * s ** 2))
    var_x = ex2 - ex ** 2
    m3_x = ex3 - 3 * ex * ex2 + 2 * ex ** 3
    mean = a * ex
    return {"weights": w, "means": mk, "stds": s, "log_z": float(log_z), "mean": float(mean),
            "var": float(a ** 2 * var_x), "m3": float(a ** 3 * m3_x),
            "kl": float(beta * mean - log_z)}


def gaussian_kl(m1, S1, m0, S0) -> float:
    """KL(N(m1, S1) || N(m0, S0))."""
    m1, m0 = np.atleast_1d(m1), np.atleast_1d(m0)
    S1, S0 = np.atleast_2d(S1), np.atleast_2d(S0)
    k = m1.shape[0]
    iS0 = np.linalg.inv(S0)
    dm = m0 - m1
    return float(0.5 * (np.trace(iS0 @ S1) + dm @ iS0 @ dm - k
                        + np.linalg.slogdet(S0)[1] - np.linalg.slogdet(S1)[1]))


def linear_decoder_tilt(W, c, s: float, a, beta: float) -> dict:
    """Latent tilt for p(z) = N(0, I), decoder x = W z + c + s eps, f = a^T x (mean decoder:
    f~(z) = a^T (W z + c)). q(z) = N(beta W^T a, I); q(x) = N(W m + c, W W^T + s^2 I).
    Returns both KLs (``kl_z`` >= ``kl_x``, app. B) and the moments of q(x)."""
    W, c, a = np.atleast_2d(W), np.asarray(c, np.float64), np.asarray(a, np.float64)
    k = W.shape[1]
    m = beta * W.T @ a
    Sx = W @ W.T + s ** 2 * np.eye(W.shape[0])
    kl_z = gaussian_kl(m, np.eye(k), np.zeros(k), np.eye(k))
    kl_x = gaussian_kl(W @ m + c, Sx, c, Sx)
    return {"m_z": m, "mean_x": W @ m + c, "cov_x": Sx, "kl_z": kl_z, "kl_x": kl_x,
            "mean_f": float(a @ (W @ m + c))}
