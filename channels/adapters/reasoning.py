"""What a request asks of the model's reasoning, in one shape for every
adapter: OpenRouter's `reasoning` object, `reasoning_effort`, and the legacy switches."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_EFFORT = "medium"
# OpenRouter's ratios of the answer budget that an effort level gives to reasoning.
EFFORT_RATIOS = {
    "max": 0.95,
    "xhigh": 0.95,
    "high": 0.8,
    "medium": 0.5,
    "low": 0.2,
    "minimal": 0.1,
}
OPENAI_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh"})


@dataclass(frozen=True, slots=True)
class Reasoning:
    """Reasoning as asked: off (`enabled=False`), or on with an effort or an explicit token
    budget; `exclude` hides the reasoning text from the answer."""

    enabled: bool = True
    effort: str | None = None
    max_tokens: int | None = None
    exclude: bool = False

    def budget(self, answer_budget: int) -> int:
        """Reasoning tokens to allow: the explicit budget, else the effort's share of
        `answer_budget` (medium when only `enabled` was said)."""
        if self.max_tokens is not None:
            return self.max_tokens
        ratio = EFFORT_RATIOS.get(self.effort or DEFAULT_EFFORT, EFFORT_RATIOS[DEFAULT_EFFORT])
        return int(answer_budget * ratio)

    def openai_effort(self) -> str:
        """The nearest `reasoning_effort` value OpenAI accepts."""
        if not self.enabled:
            return "none"
        effort = self.effort or DEFAULT_EFFORT
        return "xhigh" if effort == "max" else effort if effort in OPENAI_EFFORTS else "medium"


def reasoning_of(body: Mapping[str, Any]) -> Reasoning | None:
    """The reasoning the request asks for, or None when it says nothing about it."""
    asked = body.get("reasoning")
    effort = body.get("reasoning_effort")
    legacy = body.get("include_reasoning")
    thinking = body.get("enable_thinking")
    if isinstance(asked, Mapping) and asked:
        effort = asked.get("effort") if isinstance(asked.get("effort"), str) else effort
        max_tokens = asked.get("max_tokens")
        budget = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else None
        enabled = asked.get("enabled") is not False and effort != "none"
        if asked.get("enabled") is False and (budget is not None or effort not in (None, "none")):
            enabled = True  # an explicit effort or budget wins over enabled: false
        return Reasoning(
            enabled=enabled,
            effort=effort if isinstance(effort, str) and effort != "none" else None,
            max_tokens=budget,
            exclude=asked.get("exclude") is True,
        )
    if isinstance(effort, str):
        return Reasoning(enabled=effort != "none", effort=None if effort == "none" else effort)
    if isinstance(thinking, bool):
        return Reasoning(enabled=thinking)
    return Reasoning() if legacy is True else None
