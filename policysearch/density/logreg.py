"""Bayesian logistic regression posteriors on real data sets.

Model (``hierarchical=False``, the default): features standardised (zero mean, unit variance;
constant columns dropped), a column of ones appended for the intercept,

    w ~ N(0, alpha^{-1} I),   y_i | x_i, w ~ Bernoulli(sigmoid(x_i . w)),   dim = D + 1.

``hierarchical=True`` is the SVGD paper's variant (Liu & Wang 2016): an extra last coordinate
``log_alpha`` with alpha ~ Gamma(a0 = 1, b0 = 0.01) (rate), w | alpha ~ N(0, alpha^{-1} I);
the density is over (w, log alpha) (Jacobian of the log transform included), dim = D + 2.

Data sets: the ones that ship with scikit-learn need no download --
``breast_cancer`` (569 x 30, malignant vs benign), ``wine`` (178 x 13, class 0 vs rest),
``iris`` (100 x 4, versicolor vs virginica). ``credit`` and ``covtype`` (used in the
SV-CMA-ES paper's runtime comparison) are read from a local file that the user passes with
``path=...`` (see :func:`load_dataset_file`): e.g. UCI german.data-numeric (24 features, labels
1/2) or LIBSVM covtype.binary / the UCI covtype.data (54 features, 7 classes; pass
``positive_class=2`` for "lodgepole pine vs rest").
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from .base import Target

__all__ = ["BayesianLogisticRegression", "load_dataset", "load_dataset_file", "DATASETS"]

DATASETS = ("breast_cancer", "wine", "iris", "credit", "covtype")


def _binarise(y: np.ndarray, positive_class=None) -> np.ndarray:
    y = np.asarray(y).ravel()
    classes = np.unique(y)
    if positive_class is not None:
        if positive_class not in classes.tolist():
            # allow "2" vs 2.0
            try:
                pc = type(classes[0])(positive_class)
            except (TypeError, ValueError):
                pc = positive_class
            if pc not in classes.tolist():
                raise ValueError(f"positive_class {positive_class!r} not among labels "
                                 f"{classes.tolist()[:10]}")
            positive_class = pc
        return (y == positive_class).astype(np.float32)
    if len(classes) != 2:
        raise ValueError(f"labels have {len(classes)} classes {classes.tolist()[:10]}; "
                         "pass positive_class=... to make a binary problem")
    return (y == classes.max()).astype(np.float32)


def load_dataset_file(path: str, label_column: int = -1, positive_class=None,
                      max_rows: int | None = None, seed: int = 0):
    """Load (X, y) from a local file.

    * ``.npz``: arrays ``X`` [N, D] and ``y`` [N] (keys ``X``/``x``/``features`` and
      ``y``/``labels``/``target``).
    * anything else (``.csv``, ``.txt``, ``.data``, ``.numeric``): numeric table, comma- or
      whitespace-separated (detected from the first line), an optional non-numeric header line
      is skipped; the label is column ``label_column`` (default last).

    Labels are mapped to {0, 1}: two classes -> larger label is 1; more classes need
    ``positive_class``. ``max_rows`` keeps a random subset of rows (seeded).
    """
    path = os.path.expanduser(str(path))
    if not os.path.exists(path):
        raise ValueError(f"data file {path!r} does not exist")
    if path.endswith(".npz"):
        z = np.load(path)
        xk = next((k for k in ("X", "x", "features") if k in z), None)
        yk = next((k for k in ("y", "labels", "target") if k in z), None)
        if xk is None or yk is None:
            raise ValueError(f"{path}: npz needs arrays X and y, found {list(z.keys())}")
        x, y = np.asarray(z[xk], np.float64), np.asarray(z[yk])
    else:
        with open(path) as f:
            first = f.readline()
        delim = "," if "," in first else None
        try:
            [float(t) for t in (first.split(",") if delim else first.split())]
            skip = 0
        except ValueError:
            skip = 1
        table = np.loadtxt(path, delimiter=delim, skiprows=skip, ndmin=2)
        y = table[:, label_column]
        x = np.delete(table, label_column % table.shape[1], axis=1)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"{path}: X must be [N, D] and y [N], got {x.shape}, {np.shape(y)}")
    y = _binarise(y, positive_class)
    if max_rows is not None and len(x) > max_rows:
        idx = np.sort(np.random.default_rng(seed).choice(len(x), max_rows, replace=False))
        x, y = x[idx], y[idx]
    return x, y


def load_dataset(name: str, path: str | None = None, **kw):
    """(X, y) for a named data set; ``credit``/``covtype`` (or any name) read ``path``."""
    if path is not None:
        return load_dataset_file(path, **kw)
    if name in ("credit", "covtype"):
        raise ValueError(f"data set {name!r} does not ship with any installed package; "
                         f"pass path=/local/file (csv/txt/npz), see docs/density.md")
    from sklearn import datasets as skd
    if name == "breast_cancer":
        d = skd.load_breast_cancer()
        return d.data.astype(np.float64), d.target.astype(np.float32)
    if name == "wine":
        d = skd.load_wine()
        return d.data.astype(np.float64), (d.target == 0).astype(np.float32)
    if name == "iris":
        d = skd.load_iris()
        keep = d.target > 0
        return d.data[keep].astype(np.float64), (d.target[keep] == 2).astype(np.float32)
    raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(DATASETS)} "
                     "(or pass path=...)")


def standardise(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance columns; constant columns dropped; a ones column appended."""
    x = np.asarray(x, np.float64)
    sd = x.std(0)
    keep = sd > 1e-12
    z = (x[:, keep] - x[:, keep].mean(0)) / sd[keep]
    return np.concatenate([z, np.ones((len(z), 1))], axis=1)


class BayesianLogisticRegression(Target):
    ground_truth_method = "nuts"

    def __init__(self, x, y, alpha: float = 1.0, hierarchical: bool = False,
                 a0: float = 1.0, b0: float = 0.01, name: str = "logreg",
                 dataset: str = "custom", init_std: float = 0.1):
        """``x`` [N, D'] design matrix INCLUDING the intercept column (see :func:`standardise`),
        ``y`` [N] in {0, 1}."""
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.float64).ravel()
        if x.ndim != 2 or len(x) != len(y):
            raise ValueError(f"x must be [N, D] and y [N], got {x.shape}, {y.shape}")
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("labels y must be 0 or 1")
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        self.name, self.dataset = name, dataset
        self._x, self._y = x, y
        self.x = jnp.asarray(x, jnp.float32)
        self.y = jnp.asarray(y, jnp.float32)
        self.num_data, self.num_features = x.shape
        self.alpha, self.hierarchical = float(alpha), bool(hierarchical)
        self.a0, self.b0 = float(a0), float(b0)
        self.dim = self.num_features + (1 if hierarchical else 0)
        self.init_std = float(init_std)

    @classmethod
    def from_dataset(cls, dataset: str = "breast_cancer", path: str | None = None,
                     alpha: float = 1.0, hierarchical: bool = False, max_rows: int | None = None,
                     positive_class=None, label_column: int = -1, seed: int = 0,
                     name: str | None = None, init_std: float = 0.1, **kw):
        if path is not None:
            x, y = load_dataset_file(path, label_column=label_column,
                                     positive_class=positive_class, max_rows=max_rows, seed=seed)
        else:
            x, y = load_dataset(dataset)
            if max_rows is not None and len(x) > max_rows:
                idx = np.sort(np.random.default_rng(seed).choice(len(x), max_rows, replace=False))
                x, y = x[idx], y[idx]
        return cls(standardise(x), y, alpha=alpha, hierarchical=hierarchical,
                   name=name or f"logreg_{dataset}", dataset=dataset, init_std=init_std, **kw)

    def params(self):
        # the data enter through a digest (they are large)
        import hashlib
        h = hashlib.sha1(np.ascontiguousarray(self._x).tobytes()
                         + np.ascontiguousarray(self._y).tobytes()).hexdigest()
        return {"data": h, "alpha": self.alpha, "hierarchical": self.hierarchical,
                "a0": self.a0, "b0": self.b0}

    def log_likelihood(self, w):
        z = self.x @ w
        return jnp.sum(self.y * jax.nn.log_sigmoid(z) + (1 - self.y) * jax.nn.log_sigmoid(-z))

    def log_prob(self, theta):
        if not self.hierarchical:
            return self.log_likelihood(theta) - 0.5 * self.alpha * jnp.sum(theta**2)
        w, log_a = theta[:-1], theta[-1]
        d = w.shape[0]
        lp_w = 0.5 * d * log_a - 0.5 * jnp.exp(log_a) * jnp.sum(w**2)
        lp_a = self.a0 * log_a - self.b0 * jnp.exp(log_a)   # Gamma(a0, b0) in log space
        return self.log_likelihood(w) + lp_w + lp_a

    def log_prior(self, theta):
        return self.log_prob(theta) - self.log_likelihood(theta[: self.num_features])

    def accuracy(self, w):
        """Test/training accuracy of the predictive mean of particles ``w [n, D']``."""
        w = jnp.atleast_2d(w)[:, : self.num_features]
        p = jnp.mean(jax.nn.sigmoid(self.x @ w.T), axis=1)
        return jnp.mean((p > 0.5) == (self.y > 0.5))

