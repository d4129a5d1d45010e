"""Units of area as planners report them: square metres (ellipsoidal),
hectares (公顷) and mu (亩)."""

M2_PER_HA = 10_000.0
M2_PER_MU = 10_000.0 / 15  # 1 亩 = 1/15 公顷 ≈ 666.67 m²

