"""Code shared by the GENNES experiments, not part of the library: the exact GP and Expected
Improvement of the Bayesian-optimisation experiment (:mod:`.gp`, experiments/gennes_bo.py) and the
repeated L-BFGS-B baseline of Table 1 and acquisition maximiser of BO (:mod:`.lbfgs`,
experiments/gennes_table1.py, experiments/gennes_bo.py). Tested in tests/test_gennes_experiments.py.
"""
