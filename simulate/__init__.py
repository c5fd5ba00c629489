"""Communication-free coupling: protocols, exact collision probabilities, Monte Carlo.

Daliri, Musco and Suresh, "Coupling without Communication and Drafter-Invariant
Speculative Decoding", arXiv:2408.07978.
"""

from coupling.simulate.exact import (
    LIST_PROTOCOLS,
    PROTOCOLS,
    GapSplit,
    collision_probability,
    gap_split,
    gumbel_collision,
    gumbel_lower_bound,
    independent_collision,
    per_item_collision,
    tv_distance,
    weighted_jaccard,
    wmh_collision,
    wmh_joint_law,
    worst_case_bound,
)
from coupling.simulate.montecarlo import (
    ENGINES,
    EstimateResult,
    estimate,
    sample_pairs,
    wilson_interval,
)
from coupling.simulate.multidraft import (
    GLSColumns,
    GLSSample,
    ListMatching,
    gls_columns,
    gls_drafts,
    gls_pick,
    gls_sample,
    gls_target,
    list_matching,
    list_matching_bound,
    list_matching_probability,
)
from coupling.simulate.protocols import (
    gumbel_sample,
    independent_sample,
    inverse_cdf_sample,
    optimal_coupling_sample,
    wmh_darts_sample,
    wmh_sample,
)
from coupling.simulate.randomness import DOMAINS, domain_tag, uniform

__all__ = [
    "DOMAINS",
    "ENGINES",
    "LIST_PROTOCOLS",
    "PROTOCOLS",
    "EstimateResult",
    "GLSColumns",
    "GLSSample",
    "GapSplit",
    "ListMatching",
    "collision_probability",
    "domain_tag",
    "estimate",
    "gap_split",
    "gls_columns",
    "gls_drafts",
    "gls_pick",
    "gls_sample",
    "gls_target",
    "gumbel_collision",
    "gumbel_lower_bound",
    "gumbel_sample",
    "independent_collision",
    "independent_sample",
    "inverse_cdf_sample",
    "list_matching",
    "list_matching_bound",
    "list_matching_probability",
    "optimal_coupling_sample",
    "per_item_collision",
    "sample_pairs",
    "tv_distance",
    "uniform",
    "weighted_jaccard",
    "wilson_interval",
    "wmh_collision",
    "wmh_darts_sample",
    "wmh_joint_law",
    "wmh_sample",
    "worst_case_bound",
]
