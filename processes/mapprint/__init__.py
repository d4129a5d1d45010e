"""打印输出: the staff application's current map as a PDF page."""
