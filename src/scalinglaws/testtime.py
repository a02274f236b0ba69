"""Decisions about test-time compute: resampling against an imperfect verifier (Stroebl et al. 2024),
splitting a budget between solutions and verifications (Singhi et al. 2025), and the FLOPs exchange
rate between pretraining and inference (Snell et al. 2024).

**Resampling until a verifier accepts** (Stroebl, Kapoor and Narayanan 2024, arXiv:2411.17501). A
task is solved by one sample with probability r; the verifier accepts a correct sample with
probability ``completeness`` and a wrong one with probability ``fp`` (its false-positive rate). Per
attempt: ``p_ok = completeness r`` (accepted and correct), ``p_fp = fp (1 - r)`` (accepted and
wrong), ``beta = 1 - p_ok - p_fp`` (rejected: sample again). With K attempts the answer is correct
with probability ``p_ok (1 - beta^K) / (1 - beta)`` and wrong with ``p_fp (1 - beta^K) / (1 - beta)``;
else the system abstains. As K grows, accuracy tends to the ceiling ``p_ok / (p_ok + p_fp)`` per
task, which no compute lifts. With a reward ``v_ok`` for a correct answer, ``v_fp`` (< 0) for a wrong
one and 0 for abstaining, attempt j adds ``sum_t w_t beta_t^(j-1) (v_ok p_ok,t + v_fp p_fp,t)`` over
tasks t (weights w_t): the best K maximises the running sum.

**Solving or verifying** (Singhi et al. 2025): `solve_verify_frontier` finds, from measured success
rates, the best split of each budget between S solutions and V verifications of each; fitting
``S_opt = c_S C^a`` and ``V_opt = c_V C^b`` on the frontier (``power_law``, with intervals from its
bootstrap) gives how each should grow with compute.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

MAX_ATTEMPTS = 100_000  # the most attempts searched for the best number
_CHUNK = 256  # attempts evaluated at once (memory: problems x this)


def _check_probability(name: str, v) -> np.ndarray:
    a = np.atleast_1d(np.asarray(v, dtype=np.float64))
    bad = np.flatnonzero(~((a >= 0.0) & (a <= 1.0)))
    if bad.size:
        where = f" (problem {bad[0] + 1})" if a.size > 1 else ""
        raise InputError(f"{name} must be a probability in [0, 1]; got {float(a[bad[0]]):g}{where}")
    return a


def resampling(r, fp, ks, *, completeness: float = 1.0, weights=None, v_ok: float = 1.0,
               v_fp: float = -1.0) -> dict:
    """Accuracy, wrong-answer rate, abstention and expected reward of resampling until the verifier
    accepts, averaged over tasks (``r`` per task, ``fp`` per task or one rate, ``weights`` per task),
    at each number of attempts in ``ks``; plus the ceiling (``ks`` -> infinity) and the best number
    of attempts for the rewards (up to ``max(ks)``)."""
    r = _check_probability("the pass rate r", r)
    fp = np.broadcast_to(_check_probability("--fp-rate", fp), r.shape)
    c_v = float(_check_probability("--completeness", completeness)[0])
    w = np.ones(r.size) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != r.shape or not np.all(w >= 0) or not w.sum() > 0:
        raise InputError("task weights must be non-negative, one per task, not all 0")
    w = w / w.sum()
    ks = np.atleast_1d(np.asarray(ks, dtype=np.int64))
    if not np.all(ks >= 1) or ks.max() > MAX_ATTEMPTS:
        raise InputError(f"the numbers of attempts (--k) must lie in 1..{MAX_ATTEMPTS:.0e} (the best number is searched "
                         f"up to the largest); got {int(ks.min() if ks.min() < 1 else ks.max())}")
    for option, v in (("the reward of a correct answer", v_ok), ("--reward-wrong", v_fp)):
        if not np.isfinite(v):
            raise InputError(f"{option} must be a finite number; got {v:g}")
    p_ok, p_fp = c_v * r, fp * (1.0 - r)
    beta = 1.0 - p_ok - p_fp
    # sum_{j < K} beta^j = (1 - beta^K) / (1 - beta), and K where no attempt is ever accepted (beta = 1)
    with np.errstate(divide="ignore"):  # beta = 0: log 0 = -inf, and 1 - beta^K = 1
        reached = np.where(beta[:, None] < 1.0, -np.expm1(ks[None, :] * np.log(beta[:, None]))
                           / np.maximum(1.0 - beta[:, None], 1e-300), ks[None, :])
    accuracy = w @ (p_ok[:, None] * reached)
    wrong = w @ (p_fp[:, None] * reached)
    accepted = p_ok + p_fp
    ceiling = np.where(accepted > 0, p_ok / np.where(accepted > 0, accepted, 1.0), 0.0)
    gain = w * (v_ok * p_ok + v_fp * p_fp)
    marginal = np.concatenate([gain @ beta[:, None] ** np.arange(j0, min(j0 + _CHUNK, int(ks.max())))[None, :]
                               for j0 in range(0, int(ks.max()), _CHUNK)])  # attempt j adds sum_t gain_t beta_t^j
    running = np.concatenate([[0.0], np.cumsum(marginal)])
    best = int(np.argmax(running))
    return {"k": [int(v) for v in ks], "accuracy": list(map(float, accuracy)), "wrong": list(map(float, wrong)),
            "abstain": list(map(float, np.maximum(1.0 - accuracy - wrong, 0.0))),  # (not -4e-16 when none)
            "reward": list(map(float, v_ok * accuracy + v_fp * wrong)), "ceiling": float(w @ ceiling),
            "best_k": best, "best_reward": float(running[best]), "searched_up_to": int(ks.max())}


def flops_exchange(M, R):
    """Snell et al. 2024 (arXiv:2408.03314, sec. 7): the factor by which a model M times smaller must
    multiply its inference compute to match, in FLOPs, the model M times larger (pretraining 6 N D,
    inference 2 N D), where ``R = D_inference / D_pretrain``: ``M + 3 (M - 1) / R``."""
    M, R = np.asarray(M, dtype=np.float64), np.asarray(R, dtype=np.float64)
    if np.any(~(M >= 1)) or np.any(~(R > 0)):
        raise InputError("the exchange rate needs M >= 1 (how many times larger) and R > 0 (inference over "
                         "pretraining tokens)")
    return M + 3.0 * (M - 1.0) / R


def solve_verify_frontier(S, V, success, lam: float) -> dict:
    """Singhi et al. 2025 (arXiv:2504.01005): with S solutions and V verifications of each, the
    compute is proportional to ``C = S (1 + lam V)`` (``lam``: a verification's tokens over a
    solution's). From measured success rates of (S, V) configurations, the frontier: for each budget
    (each configuration's C, ascending), the best configuration that costs no more, kept where it
    beats every cheaper one. Returns ``{"C", "S", "V", "success"}`` (lists, the frontier's points)."""
    S, V, y = (np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (S, V, success))
    if not (S.shape == V.shape == y.shape) or not S.size:
        raise InputError("S, V and the success rates must be given one per configuration")
    for name, a, ok in (("S (solutions)", S, S >= 1), ("V (verifications per solution)", V, V >= 0),
                        ("the success rate", y, (y >= 0) & (y <= 1))):
        bad = np.flatnonzero(~ok)
        if bad.size:
            raise InputError(f"{name} out of range at configuration {bad[0] + 1}: {a[bad[0]]!r}")
    if not (np.isfinite(lam) and lam > 0):
        raise InputError(f"--lambda (a verification's tokens over a solution's) must be > 0; got {lam!r}")
    C = S * (1.0 + lam * V)
    order = np.lexsort((-y, C))  # by cost, the best first among equal costs
    keep, best = [], -np.inf
    for i in order:
        if y[i] > best:
            keep.append(i)
            best = y[i]
    keep = np.array(keep)
    return {"C": list(map(float, C[keep])), "S": list(map(float, S[keep])), "V": list(map(float, V[keep])),
            "success": list(map(float, y[keep]))}


__all__ = ["flops_exchange", "resampling", "solve_verify_frontier"]
