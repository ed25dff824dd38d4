"""SYNTHETIC weekly electricity load curves: a seeded, documented stand-in for the paper's data.

The paper (section 4.3, appendix E) trains its VAE on ~8 million real weekly consumption curves
aggregated over 10 households; no package ships such data (REFERENCE section 7), so the case
study uses this generator instead. Every curve it returns is SYNTHETIC: none is a measurement.

One curve is 168 hourly values in kW (hour 0 = Monday 00:00-01:00, day d = hours 24d..24d+23,
so Wednesday = hours 48-71), the sum of ``households`` (default 10) simulated homes. Per week:

* a weather index shared by all homes of the week: a season drawn uniformly over the year
  (cosine: +1 midwinter, -1 midsummer) plus a weekly anomaly N(0, 0.5^2); heating demand is
  ``cold = max(0, (season + 1) / 2 + anomaly)``;
* per home: a base load ~ LogNormal(log 0.25 kW, 0.3) (fridge, standby); a heating
  sensitivity ~ LogNormal(log 0.35 kW, 0.5) times ``cold``, stronger in the morning and the
  evening; a morning peak (around 07:00 +- 0.6 h, amplitude ~ 0.6 kW) and an evening peak
  (around 19:00 +- 0.8 h, amplitude ~ 1.0 kW), both jittered every day in time (0.4 h / 0.5 h)
  and amplitude (LogNormal(0, 0.2)); on Saturday and Sunday the morning peak comes 2 h later,
  is 30 % larger, and a midday activity bump (13:00, 0.4 kW) appears;
* appliance events (washing machine, oven, electric-vehicle charging): a Poisson(4) number per
  home and week, each 1-3 hours long at 1-2.5 kW, starting mostly in the day/evening;
* "away" weeks: with probability 0.06 a home is empty all week (holidays): only 80 % of its
  base load plus frost-protection heating (30 % of its heating) remain, no peaks, no events;
* hourly multiplicative noise LogNormal(0, 0.1) per home.

Measured on 10,000 weeks (seed 0): mean aggregated load 7.7 kW (std over hours and weeks
3.9 kW, minimum > 1 kW); the mean daily profile peaks at 19:00 (14.6 kW) with a smaller
morning peak (9.4 kW at 07:00) and a night floor (4.2 kW); weekends are 16 % above weekdays;
the weekly maximum has median 17.7 kW and 99 % quantile 25.5 kW; 47 % of the weeks have at
least one empty home. ``tests/test_btgm_cases.py`` checks the shape and these statistics.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HOURS", "WEDNESDAY", "synthetic_weekly_load"]

HOURS = 168
WEDNESDAY = slice(48, 72)
_MAX_EVENTS = 16


def _bump(t, centre, width):
    return np.exp(-0.5 * ((t - centre) / width) ** 2)


def synthetic_weekly_load(n_weeks: int, seed: int = 0, households: int = 10,
                          away_prob: float = 0.06, return_away: bool = False):
    """``n_weeks`` SYNTHETIC weekly curves [n_weeks, 168] (float32, kW), each the sum over
    ``households`` simulated homes (module docstring). Same seed -> same curves. With
    ``return_away`` also the number of empty homes per week [n_weeks]."""
    if n_weeks < 1 or households < 1:
        raise ValueError(f"n_weeks and households must be >= 1, got {n_weeks}, {households}")
    rng = np.random.default_rng(seed)
    W, H = n_weeks, households
    hour = np.arange(24.0)[None, None, None, :]          # [1, 1, 1, 24]
    weekend = (np.arange(7) >= 5)[None, None, :, None]    # [1, 1, 7, 1]

    season = np.cos(2 * np.pi * rng.uniform(size=W))
    cold = np.maximum(0.0, 0.5 * (season + 1.0) + rng.normal(0.0, 0.5, W))   # [W]

    base = rng.lognormal(np.log(0.25), 0.3, (W, H))
    heat = rng.lognormal(np.log(0.35), 0.5, (W, H)) * cold[:, None]
    am_time = rng.normal(7.0, 0.6, (W, H))[..., None, None]
    pm_time = rng.normal(19.0, 0.8, (W, H))[..., None, None]
    am_amp = rng.lognormal(np.log(0.6), 0.3, (W, H))[..., None, None]
    pm_amp = rng.lognormal(np.log(1.0), 0.3, (W, H))[..., None, None]
    am_t = am_time + rng.normal(0.0, 0.4, (W, H, 7, 1)) + 2.0 * weekend
    pm_t = pm_time + rng.normal(0.0, 0.5, (W, H, 7, 1))
    am_a = am_amp * rng.lognormal(0.0, 0.2, (W, H, 7, 1)) * (1.0 + 0.3 * weekend)
    pm_a = pm_amp * rng.lognormal(0.0, 0.2, (W, H, 7, 1))

    active = (am_a * _bump(hour, am_t, 1.0) + pm_a * _bump(hour, pm_t, 1.5)
              + weekend * 0.4 * _bump(hour, 13.0, 2.5))                       # [W, H, 7, 24]
    heat_shape = 0.6 + 0.4 * (_bump(hour, 7.0, 2.0) + _bump(hour, 20.0, 3.0))
    heating = np.broadcast_to(heat[..., None, None] * heat_shape, (W, H, 7, 24))

    # appliance events: start hour (day/evening weighted), duration 1-3 h, power 1-2.5 kW
    n_events = rng.poisson(4.0, (W, H))
    day_weight = 0.2 + _bump(np.arange(24.0), 12.0, 4.0) + _bump(np.arange(24.0), 19.0, 2.5)
    start_hod = rng.choice(24, size=(W, H, _MAX_EVENTS), p=day_weight / day_weight.sum())
    start = 24 * rng.integers(0, 7, (W, H, _MAX_EVENTS)) + start_hod
    duration = rng.integers(1, 4, (W, H, _MAX_EVENTS))
    power = rng.uniform(1.0, 2.5, (W, H, _MAX_EVENTS))
    power = power * (np.arange(_MAX_EVENTS) < n_events[..., None])
    events = np.zeros((W, H, HOURS))
    w_idx, h_idx = np.meshgrid(np.arange(W), np.arange(H), indexing="ij")
    for offset in range(3):                      # hours start .. start + duration - 1
        hour_idx = start + offset
        amount = power * (offset < duration) * (hour_idx < HOURS)
        np.add.at(events, (w_idx[..., None], h_idx[..., None], np.minimum(hour_idx, HOURS - 1)),
                  amount)

    load = base[..., None] + (active + heating).reshape(W, H, HOURS) + events
    away = rng.uniform(size=(W, H)) < away_prob
    empty = 0.8 * base[..., None] + 0.3 * heating.reshape(W, H, HOURS)
    load = np.where(away[..., None], empty, load)
    load = load * rng.lognormal(0.0, 0.1, (W, H, HOURS))
    total = load.sum(axis=1).astype(np.float32)
    if return_away:
        return total, away.sum(axis=1)
    return total
