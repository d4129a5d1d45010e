"""A layer's extent is a box MapServer accepts, even for one point."""

from onemap.core.db import bbox_with_area


def test_one_point_gets_a_box_around_it():
    x0, y0, x1, y1 = bbox_with_area([112.602, 28.6225, 112.602, 28.6225])
    assert x0 < 112.602 < x1 and y0 < 28.6225 < y1
    assert abs((x1 - x0) - 0.001) < 1e-9 and abs((y1 - y0) - 0.001) < 1e-9


def test_points_on_a_line_keep_their_length():
    assert bbox_with_area([110.0, 28.0, 111.0, 28.0])[0::2] == [110.0, 111.0]
    assert bbox_with_area([110.0, 28.0, 111.0, 28.0])[1] < 28.0


def test_an_area_is_left_as_it_is():
    assert bbox_with_area([110.0, 28.0, 111.0, 29.0]) == [110.0, 28.0, 111.0, 29.0]
