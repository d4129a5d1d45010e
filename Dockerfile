# The One Map gateway (pygeoapi, MapProxy, the viewer) for a server.
# Same code, same config/ files as `make up`; the database is the postgis service.
FROM python:3.12-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends gdal-bin mapserver-bin fonts-noto-cjk poppler-utils \
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/onemap.lock
COPY . .
RUN pip install --no-cache-dir --no-deps -e .
ENV ONEMAP_HOST=0.0.0.0 ONEMAP_PORT=8000 ONEMAP_VAR=/var/lib/onemap
EXPOSE 8000
CMD ["onemap", "serve"]
