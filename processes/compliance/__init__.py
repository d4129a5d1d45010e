"""合规性检测 — the compliance check: a project boundary against the plan and
the control lines, by the rule set of its business stage."""
