"""The catalogue (数据目录服务): pycsw 2.6 with its repository in PostGIS.

Two sides, two virtualenvs:
- this package's top-level modules run in the project's `.venv`: the data
  directory, the metadata records and their ISO 19139 XML, the pycsw
  configurations, starting and stopping pycsw, publishing;
- `catalogue.server` runs in `.venv-pycsw` (pycsw needs SQLAlchemy 1.4):
  the WSGI application gunicorn serves and the repository set-up and loader.
  It imports nothing from `onemap`.
"""
