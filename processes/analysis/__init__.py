"""查询统计 and 对比分析: areas by class and admin unit, and the differences
between two plan versions or two layers, computed in PostGIS."""
