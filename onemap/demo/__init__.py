"""Demo data: a deterministic Yiyang-like city (益阳) — admin units, current
land use, the plan and its control lines, hazards, projects — generated from a
seed at a scale and loaded into PostGIS.

    generate_city(scale, seed) -> DemoCity        # onemap.demo.generate
    load_city(database_url, scale, seed) -> rows  # onemap.demo.load
"""
