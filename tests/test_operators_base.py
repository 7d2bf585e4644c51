"""What every operator shares in ``operators/_base.py``: ``assessing`` and ``set_on_operation``."""

from __future__ import annotations

from _operators_helpers import scenario, scenario_doc, scenario_profile

from recipemut.mutate.mutation import Mutation
from recipemut.mutate.operators import OperatorContext, hedge
from recipemut.mutate.operators._base import assessing, set_on_operation
from recipemut.recipe.edits import Edit


def test_assessing_reads_generate_and_why_not_off_one_pass() -> None:
    r = scenario()
    seen: list[str] = []

    def assess(ctx: OperatorContext, op_id: str) -> Mutation | str | None:
        seen.append(op_id)
        return set_on_operation(ctx, "t", op_id, "dedupe", True, "why") if op_id == r.topo_order[0] else "no"

    generate, why_not = assessing(assess, needs_profile=False, generate="G.", why_not="W.")
    ctx = OperatorContext.build(r, doc=scenario_doc())
    assert [m.id for m in generate(ctx)] == [f"t:{r.topo_order[0]}"]
    assert why_not(ctx) == dict.fromkeys(r.topo_order[1:], "no")
    assert seen == list(r.topo_order)  # once per operation for both
    assert (generate.__doc__, why_not.__doc__) == ("G.", "W.")


def test_assessing_with_needs_profile_proposes_nothing_without_a_profile() -> None:
    def assess(ctx: OperatorContext, op_id: str) -> Mutation | str | None:
        raise AssertionError("not assessed without a profile")

    generate, _ = assessing(assess, needs_profile=True, generate="", why_not="")
    assert generate(OperatorContext.build(scenario(), doc=scenario_doc())) == []
    assert hedge.generate(OperatorContext.build(scenario(), doc=scenario_doc())) == []
    assert hedge.generate.__doc__ and "heavy-tailed" in hedge.generate.__doc__


def test_set_on_operation_is_one_set_edit_described_by_its_reason() -> None:
    r = scenario()
    op = r.topo_order[0]
    ctx = OperatorContext.build(r, doc=scenario_doc(), profile=scenario_profile())
    m = set_on_operation(ctx, "dedupe", op, "dedupe", True, "it repeats")
    assert (m.id, m.targets, m.description) == (f"dedupe:{op}", (op,), "it repeats.")
    assert m.edits == (Edit("set", ("operations", op, "dedupe"), True),)
    assert m.recipe.ops[op].dedupe is True
