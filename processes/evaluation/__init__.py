"""评估评价 Evaluation models on rasters: the double evaluation (双评价) and
the development and protection risk evaluation, computed in chunks with
rasterio windows and Dask, the method as data (config/evaluation/)."""
