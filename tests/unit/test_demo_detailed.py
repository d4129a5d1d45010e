"""The demo's detailed-plan plots: uses to the third level where the
classification has one, and conditions only for classes that carry them."""

from onemap.core.landuse import load_classes
from onemap.demo.detailed import conditions_of, level3
from onemap.demo.geometry import rng_for


def test_a_use_is_refined_to_its_third_level_where_there_is_one():
    classes = load_classes()
    refined = {level3("0701", rng_for(1, "t", k)) for k in range(20)}
    assert refined <= {"070101", "070102", "070103"} and len(refined) > 1
    assert all(classes[c].parent == "0701" for c in refined)
    assert level3("0801", rng_for(1, "t")) == "0801"   # no third level: kept


def test_conditions_follow_the_longest_prefix_and_roads_get_none():
    assert conditions_of("120802") == conditions_of("1208") != conditions_of("13")
    assert conditions_of("0702") != conditions_of("070102") == conditions_of("07")
    assert conditions_of("1207") is None and conditions_of("16") is None and conditions_of("1701") is None
