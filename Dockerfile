# One image for every role: `smartedu worker`, `smartedu ingest`, `smartedu check`.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libchromaprint-tools fonts-noto-cjk antiword libgl1 libglib2.0-0 \
    libreoffice-writer-nogui libreoffice-impress-nogui libreoffice-calc-nogui \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config config
COPY pipeline pipeline
COPY workers workers
RUN pip install --no-cache-dir .

RUN useradd --system --uid 10001 --home-dir /nonexistent smartedu \
 && mkdir -p /tmp/smartedu && chown smartedu /tmp/smartedu
USER smartedu
ENV SMARTEDU_WORK_DIR=/tmp/smartedu \
    PYTHONUNBUFFERED=1

EXPOSE 9191
ENTRYPOINT ["smartedu"]
CMD ["worker"]
