"""Partners (系统对接): one module per partner — the provincial platform, the
e-government system, the spatio-temporal cloud — and the outbox that
delivers to them. Depends on onemap.core only."""
