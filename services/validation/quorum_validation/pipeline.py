"""A tenant's PDP pipeline and its gate policies, as plain data.

The default is the SPEC's table ("Default pipeline"); tenants may replace it, so the
invariants a pipeline must keep are checked here, once, at construction.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from quorum_validation.gate import (
    Commitment,
    CouncilRequirement,
    GatePolicy,
    Weighting,
)

__all__ = [
    "DEFAULT_STAGES",
    "Pipeline",
    "default_pipeline",
    "next_stage",
    "validate_stages",
]

DEFAULT_STAGES: tuple[str, ...] = ("IDEATION", "DISCOVERY", "DESIGN", "BUILD", "BETA", "LAUNCH")

# Stage names travel in events and API messages; one spelling avoids "Design" vs "DESIGN".
_STAGE_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")


def validate_stages(stages: Sequence[str]) -> None:
    """Raise ValueError naming the first problem with a list of stage names."""
    if len(stages) < 2:
        raise ValueError("a pipeline needs at least 2 stages (a start and a gated stage)")
    for stage in stages:
        if not _STAGE_NAME.match(stage):
            raise ValueError(f"stage name {stage!r} is not UPPER_SNAKE_CASE")
    seen: set[str] = set()
    for stage in stages:
        if stage in seen:
            raise ValueError(f"stage {stage} appears more than once")
        seen.add(stage)


def next_stage(stage: str, stages: Sequence[str] = DEFAULT_STAGES) -> str | None:
    """The stage after `stage`, or None at the last one. Unknown stages are an error."""
    try:
        index = list(stages).index(stage)
    except ValueError:
        raise ValueError(f"unknown stage {stage!r}") from None
    return stages[index + 1] if index + 1 < len(stages) else None


@dataclass(frozen=True)
class Pipeline:
    """Ordered stages; every stage after the first is guarded by exactly one gate policy."""

    stages: tuple[str, ...]
    policies: Mapping[str, GatePolicy] = field(hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        validate_stages(self.stages)
        first = self.stages[0]
        if first in self.policies:
            # Ideas start in the first stage; a gate into it could never be evaluated.
            raise ValueError(f"the first stage {first} cannot have a gate policy")
        for stage in self.stages[1:]:
            if stage not in self.policies:
                raise ValueError(f"stage {stage} has no gate policy")
        for key, policy in self.policies.items():
            if key not in self.stages:
                raise ValueError(f"policy for unknown stage {key}")
            if policy.stage != key:
                raise ValueError(f"policy filed under {key} leads into {policy.stage}")
        ordered = {stage: self.policies[stage] for stage in self.stages[1:]}
        object.__setattr__(self, "policies", MappingProxyType(ordered))

    @property
    def first_stage(self) -> str:
        return self.stages[0]

    def next_stage(self, stage: str) -> str | None:
        return next_stage(stage, self.stages)

    def policy_into(self, stage: str) -> GatePolicy:
        """The gate guarding entry into `stage`."""
        if stage not in self.stages:
            raise ValueError(f"unknown stage {stage!r}")
        if stage == self.first_stage:
            raise ValueError(f"the first stage {stage} has no gate")
        return self.policies[stage]


def _default_policy(
    stage: str, min_customers: int, min_segments: int, max_share: float
) -> GatePolicy:
    return GatePolicy(
        stage=stage,
        version=1,
        min_customers=min_customers,
        min_segments=min_segments,
        max_share=max_share,
        # ARR_LINEAR makes the anti-dominance rule bite on big accounts, which is the
        # point of the product (SPEC, "The scenario every newcomer should see").
        weighting=Weighting.ARR_LINEAR,
        affiliates_count_once=True,
        sponsor_excluded=False,
        max_age_days=None,
    )


# Cached: every consumed event of a tenant without its own pipeline asks for it, and
# a Pipeline is immutable, so one shared instance is safe.
@functools.cache
def default_pipeline(has_council: bool = True) -> Pipeline:
    """The SPEC's default pipeline.

    With has_council (the default) BUILD requires approval of every council of the
    tenant; the engine drops that criterion while the tenant has no council, so the
    same policy keeps working once a council is created.
    """
    council = CouncilRequirement(council_id="", quorum=0.5) if has_council else None
    policies = [
        _default_policy("DISCOVERY", 3, 2, 0.5),
        replace(_default_policy("DESIGN", 5, 2, 0.4), min_active=3),
        replace(_default_policy("BUILD", 6, 3, 0.35), council_approval=council),
        replace(
            _default_policy("BETA", 6, 3, 0.35),
            min_commitments=((Commitment.BETA_TESTER, 3),),
        ),
        _default_policy("LAUNCH", 8, 3, 0.3),
    ]
    return Pipeline(stages=DEFAULT_STAGES, policies={p.stage: p for p in policies})
